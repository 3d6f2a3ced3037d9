"""NumPy backend: sample arrays for a scheme from a seeded ``numpy.random.Generator``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import special

from initlab import distributions as dist
from initlab.errors import ShapeError
from initlab.fans import Fans, Layout, compute_fans
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

_REJECTION_MIN_KEPT_MASS = 0.3


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def sample(
    scheme: Scheme | str,
    shape: Sequence[int],
    *,
    rng: np.random.Generator | int | None = None,
    fans: Fans | None = None,
    layout: Layout = "torch",
    groups: int = 1,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Return a new array of ``shape`` drawn from ``scheme``.

    Args:
        scheme: a :class:`~initlab.schemes.Scheme` or a spec string.
        shape: the array shape.
        rng: a ``numpy.random.Generator`` or an integer seed.
        fans: explicit fans; computed from ``shape`` and ``layout`` if None.
        layout: weight layout for the fans and for structured schemes.
        groups: the layer's groups, used when fans are computed here.
        dtype: output dtype. Values are drawn in float64 and cast.
    """
    scheme = parse_scheme(scheme)
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) == 0:
        warnings.warn(
            f"sampling a zero-element array of shape {shape} is a no-op", stacklevel=2
        )
        return np.zeros(shape, dtype=dtype)
    if fans is None:
        fans = compute_fans(shape, layout, groups=groups)
    distribution = scheme.resolve(fans, shape, layout)
    values = sample_distribution(distribution, shape, _as_generator(rng), layout)
    return values.astype(dtype, copy=False)


def sample_distribution(
    d: dist.Distribution,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    layout: Layout = "torch",
) -> np.ndarray:
    """Return float64 draws of ``shape`` from a primitive distribution."""
    if isinstance(d, dist.Constant):
        return np.full(shape, d.value, dtype=np.float64)
    if isinstance(d, dist.Normal):
        return rng.normal(d.mean, d.std, size=shape)
    if isinstance(d, dist.Uniform):
        return rng.uniform(d.low, d.high, size=shape)
    if isinstance(d, dist.TruncatedNormal):
        return _truncated_normal(d, shape, rng)
    if isinstance(d, dist.Orthogonal):
        return _orthogonal(d, shape, rng, layout)
    if isinstance(d, dist.Identity):
        if len(shape) != 2:
            raise ShapeError(f"identity needs a 2-D shape, got {shape}")
        return d.gain * np.eye(*shape)
    if isinstance(d, dist.Dirac):
        return _dirac(d, shape)
    if isinstance(d, dist.Sparse):
        return _sparse(d, shape, rng)
    raise TypeError(f"no numpy sampler for {d!r}")


def _truncated_normal(
    d: dist.TruncatedNormal, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    if d.std == 0:
        return np.full(shape, min(max(d.mean, d.low), d.high))

    if d.kept_mass() >= _REJECTION_MIN_KEPT_MASS:
        values = rng.normal(d.mean, d.std, size=shape).ravel()
        outside = np.flatnonzero((values < d.low) | (values > d.high))
        while outside.size:
            redraw = rng.normal(d.mean, d.std, size=outside.size)
            values[outside] = redraw
            outside = outside[(redraw < d.low) | (redraw > d.high)]
        return values.reshape(shape)

    # Inverse CDF on the lower tail, where ndtr keeps its relative precision.
    alpha = (d.low - d.mean) / d.std
    beta = (d.high - d.mean) / d.std
    sign = 1.0
    if alpha > 0:
        alpha, beta, sign = -beta, -alpha, -1.0
    cdf_low, cdf_high = special.ndtr(alpha), special.ndtr(beta)
    if not cdf_high > cdf_low:
        raise ShapeError(
            f"truncated normal on [{d.low}, {d.high}] keeps no representable probability mass"
        )
    z = np.clip(special.ndtri(rng.uniform(cdf_low, cdf_high, size=shape)), alpha, beta)
    return np.clip(d.mean + sign * d.std * z, d.low, d.high)


def _orthogonal(
    d: dist.Orthogonal, shape: tuple[int, ...], rng: np.random.Generator, layout: Layout
) -> np.ndarray:
    if len(shape) < 2:
        raise ShapeError(f"orthogonal needs at least 2 dimensions, got shape {shape}")
    rows, cols = d.rows, d.cols
    matrix = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(matrix)
    # Sign fix so that q is Haar-distributed.
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return d.gain * q.reshape(shape)


def _dirac(d: dist.Dirac, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) not in (3, 4, 5):
        raise ShapeError(f"dirac needs a 3-, 4- or 5-D shape, got {shape}")
    values = np.zeros(shape)
    out_per_group = shape[0] // d.groups
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(d.groups):
        for channel in range(min(out_per_group, shape[1])):
            values[(group * out_per_group + channel, channel, *centre)] = 1.0
    return values


def _sparse(
    d: dist.Sparse, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    if len(shape) != 2:
        raise ShapeError(f"sparse needs a 2-D shape, got {shape}")
    values = rng.normal(0.0, d.std, size=shape)
    zero_rows = np.argsort(rng.random(shape), axis=0)[: d.zeros_per_column()]
    np.put_along_axis(values, zero_rows, 0.0, axis=0)
    return values
