"""``initialize_shard``: the slice of a parameter that one shard owns, without the rest.

Tensor-parallel and sharded training keep only a slice of each large
parameter per device. Because every chunk draws from a stream keyed by
``(seed, parameter name, block, chunk)``, the slice can be computed alone
and is bit-identical to slicing the tensor that
:func:`~initlab.initialize.initialize` writes. Only the chunks that meet
the slice are drawn (a column slice of a matrix meets every chunk, so it
costs a full draw but only the slice's memory plus one chunk per thread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import torch

from initlab.errors import ConfigError, ShapeError
from initlab.fans import LAYOUTS, Fans, Layout, compute_fans
from initlab.initialize.assignment import assign, with_fans
from initlab.initialize.execute import parameter_tasks, resolve_threads, run_tasks
from initlab.initialize.layer_fans import Geometry, batch_blocks, row_blocks, whole
from initlab.initialize.plan import (
    ParameterPlan,
    as_integer,
    check_seed,
    combined_std,
    resolve_blocks,
)
from initlab.initialize.rules import Rule, as_rule
from initlab.schemes import Scheme


def _check_blocks(blocks: object) -> int:
    value = as_integer(blocks)
    if value is None or value < 1:
        raise ConfigError(f"blocks must be a positive integer, got blocks={blocks!r}")
    return value


def _check_groups(groups: object) -> int:
    # ShapeError, the type compute_fans raises for the same value.
    value = as_integer(groups)
    if value is None or value < 1:
        raise ShapeError(f"groups must be a positive integer, got groups={groups!r}")
    return value


def _check_layout(layout: object) -> None:
    if layout not in LAYOUTS:
        raise ShapeError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")


def _check_fans(fans: object) -> None:
    if fans is None:
        return
    if not isinstance(fans, Fans):
        raise ConfigError(
            f"fans must be initlab.Fans(fan_in, fan_out) or None, got fans={fans!r}. "
            "Wrap a pair as Fans(*pair), or leave fans=None to compute them "
            "from the shape"
        )
    for field, value in zip(fans._fields, fans, strict=True):
        if (
            isinstance(value, bool)
            or not isinstance(value, Real)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(
                f"fans.{field} must be a non-negative finite number, got {value!r}"
            )


def _check_dtype(dtype: object) -> None:
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(
            f"dtype must be a torch.dtype such as torch.float32, got dtype={dtype!r}"
        )


def _check_device(device: object) -> torch.device:
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(
            f"invalid device {device!r}: use a torch.device or a string such as "
            f"'cpu' or 'cuda:0' ({error})"
        ) from None
    if parsed.type == "meta":
        raise ConfigError(
            f"device={device!r} stores no values, so there is nothing to fill: "
            "pass a device with memory such as 'cpu', or create the meta tensor "
            "with torch.empty(..., device='meta')"
        )
    backend = getattr(torch, parsed.type, None)
    is_available = getattr(backend, "is_available", None)
    if callable(is_available) and not is_available():
        raise ConfigError(
            f"device={device!r} is not available in this PyTorch build or on this "
            "machine: pass device='cpu' or an available accelerator"
        )
    return parsed


def _check_options_agree(rule: Rule, blocks: int, groups: int) -> None:
    """Reject option pairs where ``_geometry`` would silently use only one."""
    axes = {
        "batch_axis": rule.batch_axis,
        "in_axis": rule.in_axis,
        "out_axis": rule.out_axis,
    }
    rule_axes = ", ".join(
        f"{name}={value!r}" for name, value in axes.items() if value is not None
    )
    if blocks > 1 and groups > 1:
        raise ConfigError(
            f"blocks={blocks} and groups={groups} cannot be combined, because "
            "blocks cut axis 0 into tensors of their own and groups set the fans "
            "of one tensor. Pass only one of them"
        )
    if blocks > 1 and rule_axes:
        raise ConfigError(
            f"blocks={blocks} cannot be combined with a Rule that sets "
            f"{rule_axes}, because the rule's axes define the blocks and fans. "
            "Pass blocks=1 or a Rule without axes"
        )
    if groups > 1 and rule_axes:
        raise ConfigError(
            f"groups={groups} cannot be combined with a Rule that sets "
            f"{rule_axes}, because the rule's axes define the fans. Pass "
            "groups=1 or a Rule without axes"
        )


def _check_shape(full_shape: object) -> tuple[int, ...]:
    message = (
        f"full_shape must be a sequence of non-negative integers such as "
        f"(4096, 1024), got full_shape={full_shape!r}"
    )
    if isinstance(full_shape, (str, bytes)):
        raise ShapeError(message)
    try:
        sizes = tuple(as_integer(size) for size in full_shape)
    except TypeError:
        raise ShapeError(message) from None
    if any(size is None or size < 0 for size in sizes):
        raise ShapeError(message)
    return sizes


def _check_bound(piece: slice, axis: int, field: str) -> int | None:
    value = getattr(piece, field)
    if value is None:
        return None
    bound = as_integer(value)
    if bound is None:
        raise ShapeError(
            f"shard_slices[{axis}].{field} is {value!r}: slice bounds must be "
            "integers or None"
        )
    return bound


def _axis_range(piece: object, axis: int, size: int) -> range:
    if not isinstance(piece, slice):
        raise ShapeError(
            f"shard_slices[{axis}] is {piece!r}: use slice objects, such as "
            "slice(i, i + 1) for a single index"
        )
    start = _check_bound(piece, axis, "start")
    stop = _check_bound(piece, axis, "stop")
    step = _check_bound(piece, axis, "step")

    if step is not None and step < 1:
        raise ShapeError(
            f"shard_slices[{axis}] has step {step}: shards take positive steps, "
            "so use a step of 1 or more"
        )
    for field, bound in (("start", start), ("stop", stop)):
        if bound is not None and not -size <= bound <= size:
            raise ShapeError(
                f"shard_slices[{axis}].{field} is {bound}, outside axis {axis} of "
                f"size {size}: use a bound from {-size} to {size}"
            )

    first, last, step = slice(start, stop, step).indices(size)
    if first > last:
        raise ShapeError(
            f"shard_slices[{axis}] is {piece!r}, which starts at index {first} "
            f"after its stop {last}. Give start <= stop, or slice(i, i) for an "
            "empty shard"
        )
    return range(first, last, step)


def _region(full_shape: tuple[int, ...], shard_slices: object) -> tuple[range, ...]:
    if isinstance(shard_slices, (slice, str, bytes)) or not isinstance(
        shard_slices, Sequence
    ):
        raise ShapeError(
            f"shard_slices must be a sequence of slices, one per leading "
            f"dimension, got {shard_slices!r}. Wrap a single slice as "
            "(slice(start, stop),)"
        )
    if len(shard_slices) > len(full_shape):
        raise ShapeError(
            f"{len(shard_slices)} slices for a parameter of shape {full_shape}; "
            "give at most one slice per dimension"
        )
    region = []
    for axis, size in enumerate(full_shape):
        piece = shard_slices[axis] if axis < len(shard_slices) else slice(None)
        region.append(_axis_range(piece, axis, size))
    return tuple(region)


def _geometry(
    shape: tuple[int, ...], rule: Rule, layout: Layout, groups: int, blocks: int
) -> Geometry:
    """Return the blocks ``initialize`` would cut the parameter into."""
    if rule.batch_axis is not None:
        return batch_blocks(shape, rule.batch_axis, rule.in_axis, rule.out_axis)
    if blocks > 1:
        return row_blocks(shape, blocks, layout)
    if rule.in_axis is not None or rule.out_axis is not None:
        fans = compute_fans(shape, in_axis=rule.in_axis, out_axis=rule.out_axis)
        return whole(shape, fans, layout)
    return whole(shape, compute_fans(shape, layout, groups=groups), layout)


def _plan(
    name: str,
    shape: tuple[int, ...],
    rule: Rule,
    fans: Fans | None,
    geometry: Geometry,
) -> ParameterPlan:
    if fans is not None:
        geometry = with_fans(geometry, fans)
    blocks = resolve_blocks(assign(rule.scheme, geometry, "shard"), repr(name))
    return ParameterPlan(
        name=name,
        aliases=(),
        module="",
        shape=shape,
        scheme=rule.label,
        rule="shard",
        note=geometry.note,
        blocks=blocks,
        zero_rows=(),
        target_std=combined_std(blocks),
    )


def initialize_shard(
    param_name: str,
    full_shape: Sequence[int],
    shard_slices: Sequence[slice],
    scheme: Scheme | str | Rule,
    *,
    seed: int = 0,
    fans: Fans | None = None,
    layout: Layout = "torch",
    groups: int = 1,
    blocks: int = 1,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    threads: int | None = None,
) -> torch.Tensor:
    """Return ``full[shard_slices]`` for the parameter ``param_name``, drawing only what it needs.

    Args:
        param_name: the parameter's qualified name in the model, such as
            ``"layers.3.mlp.weight"``; it keys the streams.
        full_shape: the shape of the whole parameter, a sequence of
            non-negative integers.
        shard_slices: a sequence of slices, one per leading dimension (the
            rest are whole), with integer or None bounds and positive
            steps. A bound may be negative to count from the end, as in
            Python, but must lie in ``[-size, size]``, and the start must
            not come after the stop. ``slice(i, i)`` gives an empty shard.
        scheme: the scheme, a spec string, or a
            :class:`~initlab.initialize.rules.Rule` with axes for a stack
            of experts (``batch_axis``).
        seed: an integer in ``[0, 2**63)``, as in
            :func:`~initlab.initialize.initialize`.
        fans: explicit :class:`~initlab.fans.Fans` of each block; computed
            from the block shape, ``layout`` and ``groups`` when None.
        blocks: equal blocks along axis 0 initialized as tensors of their
            own: 3 for a packed attention projection, the gate count (4 for
            an LSTM, 3 for a GRU) for fused recurrent weights, 1 otherwise.
            More than one block rules out ``groups`` > 1 and a Rule with axes.
        dtype, device: of the returned tensor; the values depend on both.
            The meta device stores no values and is rejected.
        threads: worker threads, as in :func:`~initlab.initialize.initialize`.

    The result equals the slice of what
    ``initialize(model, {param_name: scheme}, seed=seed)`` writes when the
    blocks and fans agree: ``blocks=3`` for ``in_proj_weight`` and the gate
    count for recurrent weights with ``fans="layer"``, ``groups`` and
    ``layout="torch_transposed"`` for grouped and transposed convolutions.
    Every argument is checked before anything is allocated or drawn, except
    that a random scheme finds an integer, boolean or complex ``dtype`` only
    when it fills the returned tensor.

    Raises:
        ShapeError: for a ``full_shape`` that is not a sequence of
            non-negative integers, slices that do not fit it, an unknown
            layout, ``groups`` that is not a positive integer, or blocks
            and groups that do not divide the channels.
        ConfigError: for an invalid name, seed, ``blocks``, ``fans``,
            dtype, device or thread count, and for ``blocks`` > 1 combined
            with ``groups`` > 1 or a Rule with axes, or ``groups`` > 1
            combined with a Rule with axes.
        SchemeError: for an unknown scheme.
        NotImplementedError: for a ``dtype`` that is not floating point with
            a scheme that draws random values, as ``torch.nn.init`` raises.
    """
    if not isinstance(param_name, str) or not param_name:
        raise ConfigError(f"param_name must be a non-empty string, got {param_name!r}")
    seed = check_seed(seed)
    blocks = _check_blocks(blocks)
    groups = _check_groups(groups)
    _check_layout(layout)
    _check_fans(fans)
    _check_dtype(dtype)
    device = _check_device(device)
    threads = resolve_threads(threads, device)

    rule = as_rule(scheme, param_name)
    _check_options_agree(rule, blocks, groups)
    shape = _check_shape(full_shape)
    region = _region(shape, shard_slices)
    plan = _plan(
        param_name, shape, rule, fans, _geometry(shape, rule, layout, groups, blocks)
    )

    out = torch.empty(tuple(len(r) for r in region), dtype=dtype, device=device)
    tasks = parameter_tasks(plan, out, region, seed)
    with torch.no_grad():
        run_tasks(tasks, threads)
    return out
