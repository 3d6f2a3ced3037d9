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

from collections.abc import Sequence

import torch

from initlab.errors import ConfigError, ShapeError
from initlab.fans import Fans, Layout, compute_fans
from initlab.initialize.assignment import assign, with_fans
from initlab.initialize.execute import parameter_tasks, resolve_threads, run_tasks
from initlab.initialize.layer_fans import Geometry, batch_blocks, row_blocks, whole
from initlab.initialize.plan import ParameterPlan, combined_std, resolve_blocks
from initlab.initialize.rules import Rule, as_rule
from initlab.schemes import Scheme


def _region(
    full_shape: tuple[int, ...], shard_slices: Sequence[slice]
) -> tuple[range, ...]:
    if len(shard_slices) > len(full_shape):
        raise ShapeError(
            f"{len(shard_slices)} slices for a parameter of shape {full_shape}; "
            "give at most one slice per dimension"
        )
    region = []
    for axis, size in enumerate(full_shape):
        piece = shard_slices[axis] if axis < len(shard_slices) else slice(None)
        if not isinstance(piece, slice):
            raise ShapeError(
                f"shard_slices[{axis}] is {piece!r}: use slice objects, such as "
                "slice(i, i + 1) for a single index"
            )
        start, stop, step = piece.indices(size)
        if step < 1:
            raise ShapeError(
                f"shard_slices[{axis}] has step {step}: shards take positive steps"
            )
        region.append(range(start, stop, step))
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
        full_shape: the shape of the whole parameter.
        shard_slices: one slice per leading dimension (the rest are whole),
            with positive steps.
        scheme: the scheme, a spec string, or a
            :class:`~initlab.initialize.rules.Rule` with axes for a stack
            of experts (``batch_axis``).
        seed: as in :func:`~initlab.initialize.initialize`.
        fans: explicit fans of each block; computed from the block shape,
            ``layout`` and ``groups`` when None.
        blocks: equal blocks along axis 0 initialized as tensors of their
            own: 3 for a packed attention projection, the gate count (4 for
            an LSTM, 3 for a GRU) for fused recurrent weights, 1 otherwise.
        dtype, device: of the returned tensor; the values depend on both.
        threads: worker threads, as in :func:`~initlab.initialize.initialize`.

    The result equals the slice of what
    ``initialize(model, {param_name: scheme}, seed=seed)`` writes when the
    blocks and fans agree: ``blocks=3`` for ``in_proj_weight`` and the gate
    count for recurrent weights with ``fans="layer"``, ``groups`` and
    ``layout="torch_transposed"`` for grouped and transposed convolutions.

    Raises:
        ShapeError: for slices that do not fit ``full_shape`` or blocks
            that do not divide axis 0.
        SchemeError: for an unknown scheme.
    """
    if not isinstance(param_name, str) or not param_name:
        raise ConfigError(f"param_name must be a non-empty string, got {param_name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got seed={seed!r}")
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ConfigError(f"blocks must be a positive integer, got blocks={blocks!r}")
    rule = as_rule(scheme, param_name)
    shape = tuple(int(size) for size in full_shape)
    region = _region(shape, shard_slices)
    plan = _plan(
        param_name, shape, rule, fans, _geometry(shape, rule, layout, groups, blocks)
    )
    device = torch.device(device)
    out = torch.empty(tuple(len(r) for r in region), dtype=dtype, device=device)
    tasks = parameter_tasks(plan, out, region, seed)
    with torch.no_grad():
        run_tasks(tasks, resolve_threads(threads, device))
    return out
