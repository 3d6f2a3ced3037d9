"""Fan-in and fan-out of a weight shape under each framework's layout.

A layer ``y = W x`` with ``fan_in`` inputs per output unit has
``Var(y) = fan_in * Var(w) * Var(x)``, so every variance-scaling scheme is a
function of the fans. Which axis contains the inputs depends on the framework:

======================  ============================  ==========================================
layout                  weight shape                  fans
======================  ============================  ==========================================
``"torch"``             ``(out, in/groups, *k)``      in = shape[1]*k, out = shape[0]*k/groups
``"torch_transposed"``  ``(in, out/groups, *k)``      in = shape[0]*k/groups, out = shape[1]*k
``"keras"``             ``(*k, in/groups, out)``      in = shape[-2]*k, out = shape[-1]*k/groups
explicit axes           any                           in = prod(in axes)*k, out = prod(out axes)*k
======================  ============================  ==========================================

where ``k`` is the receptive field: the product of the kernel dimensions,
or with explicit axes the product of every axis that is not an in, out or
batch axis. PyTorch's own rule (``torch.nn.init._calculate_fan_in_and_fan_out``
in torch 2.13) is the ``"torch"`` layout with ``groups=1``: it ignores groups
and reads a transposed convolution's weight as if it were a plain one.
Keras's ``compute_fans`` is the ``"keras"`` layout with ``groups=1``. The
explicit axes follow ``jax.nn.initializers``, which multiplies the
receptive field in; Keras's ``input_axes``/``output_axes`` do not.

Shapes with fewer than two dimensions follow Keras's rule in every layout:
a 1-D shape ``(n,)`` has ``fan_in = fan_out = n`` and a 0-D shape has
``1, 1``. :func:`torch_fans` keeps PyTorch's ValueError for them instead.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Literal, NamedTuple

from initlab.errors import ShapeError

Layout = Literal["torch", "torch_transposed", "keras"]
LAYOUTS: tuple[str, ...] = ("torch", "torch_transposed", "keras")


class Fans(NamedTuple):
    """Number of inputs and outputs per unit of a weight tensor."""

    fan_in: float
    fan_out: float

    @property
    def fan_avg(self) -> float:
        """Mean of ``fan_in`` and ``fan_out``, the Glorot denominator over two."""
        return (self.fan_in + self.fan_out) / 2.0


def compute_fans(
    shape: Sequence[int],
    layout: Layout = "torch",
    *,
    groups: int = 1,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
    batch_axis: int | Sequence[int] = (),
) -> Fans:
    """Compute ``(fan_in, fan_out)`` of a weight ``shape``.

    Args:
        shape: the weight shape, a sequence of non-negative integers.
        layout: ``"torch"``, ``"torch_transposed"`` or ``"keras"``, see the
            module docstring. Ignored when ``in_axis`` or ``out_axis`` is given.
        groups: the layer's ``groups`` (grouped and depthwise convolutions).
            Each output unit then receives ``in/groups`` channels and each
            input feeds ``out/groups`` channels.
        in_axis, out_axis, batch_axis: explicit axes as in
            ``jax.nn.initializers.variance_scaling``: an axis or a sequence of
            axes, negative values counting from the end. When only one of
            ``in_axis`` and ``out_axis`` is given, the other defaults to -2 or
            -1 as in JAX. Axes in ``batch_axis`` (stacked experts, for
            example) count towards neither fan, and every other axis is part
            of the receptive field.

    Raises:
        ShapeError: for a non-integer or negative dimension, an unknown
            layout, invalid or overlapping axes, ``groups`` that is not a
            positive integer or does not divide the channel count, or
            ``groups`` combined with explicit axes.
    """
    shape = _validate_shape(shape)
    groups = _validate_groups(groups)

    if in_axis is not None or out_axis is not None:
        if groups != 1:
            raise ShapeError(
                f"groups={groups} cannot be combined with explicit in_axis and "
                "out_axis: fold the group size into the axes, or use a layout"
            )
        return _fans_from_axes(shape, in_axis, out_axis, batch_axis)
    if layout not in LAYOUTS:
        raise ShapeError(
            f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}, "
            "or pass in_axis and out_axis"
        )

    # Keras's rule for shapes that are not matrices: a 0-D shape is a single
    # unit and a 1-D shape (n,) has n inputs and n outputs.
    if len(shape) == 0:
        return Fans(1, 1)
    if len(shape) == 1:
        return Fans(shape[0], shape[0])

    if layout == "keras":
        receptive_field = math.prod(shape[:-2])
        out_channels = shape[-1]
        _check_divisible(out_channels, groups, "out_channels = shape[-1]")
        return Fans(
            shape[-2] * receptive_field, out_channels // groups * receptive_field
        )

    receptive_field = math.prod(shape[2:])
    if layout == "torch":
        out_channels, in_per_group = shape[0], shape[1]
        _check_divisible(out_channels, groups, "out_channels = shape[0]")
        return Fans(
            in_per_group * receptive_field, out_channels // groups * receptive_field
        )

    in_channels, out_per_group = shape[0], shape[1]
    _check_divisible(in_channels, groups, "in_channels = shape[0]")
    return Fans(
        in_channels // groups * receptive_field, out_per_group * receptive_field
    )


def torch_fans(shape: Sequence[int]) -> Fans:
    """Compute fans exactly as ``torch.nn.init`` does, raising for fewer than 2 dims.

    Raises:
        ValueError: with PyTorch's message for fewer than two dimensions.
    """
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    return compute_fans(shape, "torch")


def _as_index(value: object) -> int:
    """Return ``value`` as an int if it is an integer (numpy integers too), else raise TypeError."""
    # bool is an int subclass, but True as a dimension or axis is a bug.
    if isinstance(value, bool):
        raise TypeError("bool is not a valid integer here")
    return operator.index(value)


def _validate_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        dims = tuple(_as_index(d) for d in shape)
    except TypeError as error:
        raise ShapeError(
            f"shape must be a sequence of integers, got {shape!r}"
        ) from error
    if any(d < 0 for d in dims):
        raise ShapeError(
            f"shape {dims} has a negative dimension; every dimension must be >= 0"
        )
    return dims


def _validate_groups(groups: int) -> int:
    try:
        value = _as_index(groups)
    except TypeError:
        value = 0
    if value < 1:
        raise ShapeError(f"groups must be a positive integer, got groups={groups!r}")
    return value


def _check_divisible(channels: int, groups: int, what: str) -> None:
    if channels % groups != 0:
        raise ShapeError(
            f"{what} is {channels}, which groups={groups} does not divide; "
            "use a groups value that divides the channel count"
        )


def _normalize_axes(axes: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    try:
        axes_tuple = (_as_index(axes),)
    except TypeError:
        try:
            axes_tuple = tuple(_as_index(axis) for axis in axes)
        except TypeError as error:
            raise ShapeError(
                f"{name} must be an integer or a sequence of integers, got {name}={axes!r}"
            ) from error
    normalized = []
    for axis in axes_tuple:
        if not -ndim <= axis < ndim:
            raise ShapeError(
                f"{name}={axis} is out of range for a shape with {ndim} dimensions; "
                f"valid axes are {-ndim} to {ndim - 1}"
            )
        normalized.append(axis % ndim)
    return tuple(normalized)


def _fans_from_axes(
    shape: tuple[int, ...],
    in_axis: int | Sequence[int] | None,
    out_axis: int | Sequence[int] | None,
    batch_axis: int | Sequence[int],
) -> Fans:
    if len(shape) < 2:
        raise ShapeError(
            f"explicit in_axis and out_axis need at least 2 dimensions, got shape {shape}"
        )
    in_axes = _normalize_axes(-2 if in_axis is None else in_axis, len(shape), "in_axis")
    out_axes = _normalize_axes(
        -1 if out_axis is None else out_axis, len(shape), "out_axis"
    )
    batch_axes = _normalize_axes(batch_axis, len(shape), "batch_axis")

    used = in_axes + out_axes + batch_axes
    if len(set(used)) != len(used):
        raise ShapeError(
            f"in_axis {in_axes}, out_axis {out_axes} and batch_axis {batch_axes} "
            "must name different axes, each once"
        )

    in_size = math.prod(shape[a] for a in in_axes)
    out_size = math.prod(shape[a] for a in out_axes)
    receptive_field = math.prod(d for a, d in enumerate(shape) if a not in used)
    return Fans(in_size * receptive_field, out_size * receptive_field)
