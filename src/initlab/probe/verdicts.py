"""Flags and the verdict of one probed layer, from documented thresholds.

A layer gets every flag whose condition holds, and one verdict: the first of
its flags in :data:`PRECEDENCE`, or ``"ok"`` when it has none. The order puts
the condition that explains the others first. A zero-initialized Linear
layer, for example, is both ``symmetric`` and ``vanishing`` (its output std
is 0), and the symmetry is the cause, so its verdict is ``symmetric``.

=============  =====================================================  ===========================
flag           condition                                              applies to
=============  =====================================================  ===========================
``non-finite``  ``nonfinite_fraction > nonfinite_fraction``            every layer
``symmetric``   fraction of units that duplicate another unit          Linear and conv layers
                ``> symmetric_fraction``
``dead``        ``dead_fraction > dead_fraction``                     ReLU-family activations
``saturated``   ``saturated_fraction > saturated_fraction``           bounded activations
``exploding``   ``output_std / reference_std > exploding_ratio``      every layer
``vanishing``   ``output_std / reference_std < vanishing_ratio``      every layer
=============  =====================================================  ===========================

The reference std is the std of the probe's input (of the first recorded
output when the input is not floating point, such as token ids).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from initlab.errors import ConfigError

NON_FINITE = "non-finite"
SYMMETRIC = "symmetric"
DEAD = "dead"
SATURATED = "saturated"
EXPLODING = "exploding"
VANISHING = "vanishing"
OK = "ok"

PRECEDENCE: tuple[str, ...] = (
    NON_FINITE,
    SYMMETRIC,
    DEAD,
    SATURATED,
    EXPLODING,
    VANISHING,
)
"""Flags in the order that decides the verdict: the first one present wins."""

VERDICTS: tuple[str, ...] = (*PRECEDENCE, OK)


@dataclass(frozen=True)
class Thresholds:
    """Limits that turn a layer's statistics into flags.

    Attributes:
        vanishing_ratio: flag ``vanishing`` when the output std is below this
            multiple of the reference std. The default 0.01 (two orders of
            magnitude) flags a plain five-layer tanh network with weights
            ``0.01 * N(0, 1)`` from its second layer, where the std has
            fallen to about 0.007, and leaves Glorot's 0.33 at the fifth
            layer alone.
        exploding_ratio: flag ``exploding`` when the output std is above
            this multiple of the reference std (default 100, the mirror of
            ``vanishing_ratio``).
        saturated_fraction: flag ``saturated`` when more than this fraction
            of a bounded activation's outputs lie in its flat regions
            (default 0.5, most of them).
        dead_fraction: flag ``dead`` when more than this fraction of a
            ReLU-family activation's units are zero for every sample of the
            batch (default 0.25). A unit that is zero for the whole batch
            passes no signal forward and gets no gradient. With a batch of
            fewer than about 32 samples, live units can be zero for every
            sample by chance, so use a larger batch before trusting it.
        nonfinite_fraction: flag ``non-finite`` when more than this fraction
            of the outputs are NaN or infinite (default 0: any at all).
        symmetric_fraction: flag ``symmetric`` when more than this fraction
            of a Linear or conv layer's units duplicate another unit of the
            layer, that is weights and bias equal within ``symmetry_rtol``
            (default 0: any duplicate). Duplicated units compute the same
            function and, with the layers above equally symmetric, get the
            same gradient, so training never separates them.
        symmetry_rtol: two units are identical when the largest absolute
            difference of their weights and biases is at most this fraction
            of the layer's largest absolute weight (default 1e-6).
        saturation_margin: how close to its bound an output must be to count
            as saturated: tanh and softsign ``|a| > 1 - margin``, sigmoid
            ``a < margin`` or ``a > 1 - margin`` (default 0.01). Hardtanh,
            ReLU6 and hardsigmoid count outputs exactly at their limits,
            where their gradient is zero.
    """

    vanishing_ratio: float = 0.01
    exploding_ratio: float = 100.0
    saturated_fraction: float = 0.5
    dead_fraction: float = 0.25
    nonfinite_fraction: float = 0.0
    symmetric_fraction: float = 0.0
    symmetry_rtol: float = 1e-6
    saturation_margin: float = 0.01

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(
                    f"threshold {field.name} must be a finite number >= 0, got {field.name}={value!r}"
                )
        for name in (
            "saturated_fraction",
            "dead_fraction",
            "nonfinite_fraction",
            "symmetric_fraction",
        ):
            if getattr(self, name) > 1:
                raise ConfigError(
                    f"threshold {name} is a fraction and must be in [0, 1], got {name}={getattr(self, name)!r}"
                )
        if not 0 < self.saturation_margin < 0.5:
            raise ConfigError(
                f"threshold saturation_margin must be in (0, 0.5), got saturation_margin={self.saturation_margin!r}"
            )
        if self.vanishing_ratio >= self.exploding_ratio:
            raise ConfigError(
                f"threshold vanishing_ratio must be below exploding_ratio, got {self.vanishing_ratio!r} >= {self.exploding_ratio!r}"
            )

    def to_dict(self) -> dict[str, float]:
        """Return the thresholds as a plain dict, for JSON."""
        return {field.name: float(getattr(self, field.name)) for field in fields(self)}


def resolve_thresholds(
    thresholds: Thresholds | Mapping[str, Any] | None,
) -> Thresholds:
    """Return a :class:`Thresholds` from None (the defaults), a mapping or an instance.

    Raises:
        ConfigError: for an unknown name or an invalid value.
    """
    if thresholds is None:
        return Thresholds()
    if isinstance(thresholds, Thresholds):
        return thresholds
    if not isinstance(thresholds, Mapping):
        raise ConfigError(
            f"thresholds must be a Thresholds, a mapping or None, got {type(thresholds).__name__}"
        )
    names = [field.name for field in fields(Thresholds)]
    unknown = sorted(set(thresholds) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown threshold {', '.join(map(repr, unknown))}: valid names are {', '.join(names)}"
        )
    return Thresholds(**thresholds)


def layer_flags(
    *,
    thresholds: Thresholds,
    reference_std: float | None,
    output_std: float | None,
    nonfinite_fraction: float | None,
    symmetric_unit_fraction: float | None,
    dead_fraction: float | None,
    saturated_fraction: float | None,
) -> list[str]:
    """Return the flags of one layer, in :data:`PRECEDENCE` order.

    A statistic that is None (it does not apply to the layer, or was not
    computed) raises no flag. NaN statistics raise no flag either, except
    through ``nonfinite_fraction``.
    """
    flags: list[str] = []
    if _above(nonfinite_fraction, thresholds.nonfinite_fraction):
        flags.append(NON_FINITE)
    if _above(symmetric_unit_fraction, thresholds.symmetric_fraction):
        flags.append(SYMMETRIC)
    if _above(dead_fraction, thresholds.dead_fraction):
        flags.append(DEAD)
    if _above(saturated_fraction, thresholds.saturated_fraction):
        flags.append(SATURATED)

    ratio = std_ratio(output_std, reference_std)
    if ratio is not None and ratio > thresholds.exploding_ratio:
        flags.append(EXPLODING)
    if ratio is not None and ratio < thresholds.vanishing_ratio:
        flags.append(VANISHING)
    return flags


def verdict(flags: list[str]) -> str:
    """Return the first flag in :data:`PRECEDENCE` order, or ``"ok"``."""
    for flag in PRECEDENCE:
        if flag in flags:
            return flag
    return OK


def std_ratio(output_std: float | None, reference_std: float | None) -> float | None:
    """Return ``output_std / reference_std``, or None when either is missing, non-finite or the reference is 0."""
    if output_std is None or reference_std is None:
        return None
    if not (math.isfinite(output_std) and math.isfinite(reference_std)):
        return None
    if reference_std <= 0:
        return None
    return output_std / reference_std


def _above(value: float | None, limit: float) -> bool:
    return value is not None and math.isfinite(value) and value > limit
