"""Fans and blocks of a parameter, read from the module that owns it.

PyTorch computes fans from the weight's shape alone, which goes wrong in
four common places:

* grouped and depthwise convolutions: a ``Conv2d(32, 32, 3, groups=32)``
  weight has shape ``(32, 1, 3, 3)``. Each output depends on 9 inputs and
  each input feeds 9 outputs, so the fans are 9 and 9, where the tensor
  rule gives 9 and 288;
* transposed convolutions: a ``ConvTranspose2d(16, 32, 3)`` weight has
  shape ``(16, 32, 3, 3)`` with the *input* channels first, so fan_in is
  16 * 9 = 144, where the tensor rule reads 32 * 9 = 288;
* packed attention projections: ``MultiheadAttention.in_proj_weight`` of
  shape ``(3E, E)`` holds three ``(E, E)`` matrices (query, key, value),
  each with fans ``(E, E)``, where the tensor rule gives ``(E, 3E)``;
* fused recurrent weights: an LSTM's ``weight_hh_l0`` of shape ``(4H, H)``
  holds one ``(H, H)`` matrix per gate, and orthogonal initialization
  should make each gate's matrix orthogonal, not the stack;

and a fifth that no shape can reveal: stacked expert weights such as
``(experts, in, out)``, whose batch axis counts towards neither fan. Those
take their axes from a :class:`~initlab.initialize.rules.Rule`.

With ``fans="layer"`` a parameter is cut into *blocks*, each initialized as
a tensor of its own with its own fans. ``fans="tensor"`` keeps one block
with PyTorch's tensor rule, ``torch.nn.init._calculate_fan_in_and_fan_out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from initlab.errors import ShapeError
from initlab.fans import Fans, Layout, compute_fans
from initlab.initialize.streams import Region, full_region

FAN_MODES = ("layer", "tensor")

LINEAR_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Bilinear)
CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED_CONV_TYPES: tuple[type[nn.Module], ...] = (
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
RECURRENT_TYPES: tuple[type[nn.Module], ...] = (nn.RNNBase, nn.RNNCellBase)
EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
)
# Layers whose weights the rules initialize.
WEIGHT_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    LINEAR_TYPES
    + CONV_TYPES
    + TRANSPOSED_CONV_TYPES
    + RECURRENT_TYPES
    + (nn.MultiheadAttention,)
)


@dataclass(frozen=True)
class Block:
    """One block of a parameter, initialized as a tensor of its own.

    ``region`` is where the block lies in the parameter. ``drop_axis`` is
    an axis of length 1 in ``region`` that the block's own ``shape`` leaves
    out: the batch axis of one expert in a stack.
    """

    region: Region
    shape: tuple[int, ...]
    fans: Fans
    layout: Layout
    drop_axis: int | None = None


@dataclass(frozen=True)
class Geometry:
    """The blocks a parameter is cut into, with a short note for the record."""

    blocks: tuple[Block, ...]
    note: str = ""

    @property
    def fans(self) -> Fans:
        """The fans of the first block (every block of a weight has the same)."""
        return self.blocks[0].fans


def whole(shape: Sequence[int], fans: Fans, layout: Layout = "torch") -> Geometry:
    """Return the geometry of a parameter initialized as one block."""
    shape = tuple(shape)
    return Geometry((Block(full_region(shape), shape, fans, layout),))


def row_blocks(
    shape: Sequence[int], count: int, layout: Layout = "torch", note: str = ""
) -> Geometry:
    """Cut axis 0 into ``count`` equal blocks, each with fans of its own shape."""
    shape = tuple(shape)
    if count == 1:
        return whole(shape, compute_fans(shape, layout), layout)
    if not shape or shape[0] % count:
        raise ShapeError(
            f"cannot cut shape {shape} into {count} equal blocks along axis 0"
        )
    rows = shape[0] // count
    block_shape = (rows, *shape[1:])
    fans = compute_fans(block_shape, layout)
    rest = tuple(range(size) for size in shape[1:])
    blocks = tuple(
        Block((range(i * rows, (i + 1) * rows), *rest), block_shape, fans, layout)
        for i in range(count)
    )
    return Geometry(blocks, note or f"{count} blocks of {block_shape}")


def batch_blocks(
    shape: Sequence[int],
    batch_axis: int,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
) -> Geometry:
    """Cut a stack of matrices into one block per index of ``batch_axis``.

    The fans come from :func:`~initlab.fans.compute_fans` with the explicit
    axes, so the batch axis counts towards neither fan.
    """
    shape = tuple(shape)
    if not -len(shape) <= batch_axis < len(shape):
        raise ShapeError(
            f"batch_axis={batch_axis} is out of range for a parameter of shape {shape}"
        )
    axis = batch_axis % len(shape)
    fans = compute_fans(shape, in_axis=in_axis, out_axis=out_axis, batch_axis=axis)
    block_shape = shape[:axis] + shape[axis + 1 :]
    # Structured schemes (orthogonal) read a block as a matrix: Keras's
    # layout when the output axis is the block's last axis, PyTorch's
    # otherwise.
    out_axes = _normalized(out_axis if out_axis is not None else -1, len(shape))
    layout: Layout = "keras" if max(out_axes) == len(shape) - 1 else "torch"
    blocks = []
    for index in range(shape[axis]):
        region = tuple(
            range(index, index + 1) if dim == axis else range(size)
            for dim, size in enumerate(shape)
        )
        blocks.append(Block(region, block_shape, fans, layout, drop_axis=axis))
    return Geometry(tuple(blocks), f"{shape[axis]} blocks along batch axis {axis}")


def _normalized(axes: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    values = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(axis % ndim for axis in values)


def gate_count(module: nn.Module) -> int:
    """Return how many gates a recurrent module stacks in each weight (LSTM 4, GRU 3, RNN 1)."""
    if isinstance(module, nn.RNNBase):
        mode = module.mode
    elif isinstance(module, nn.LSTMCell):
        mode = "LSTM"
    elif isinstance(module, nn.GRUCell):
        mode = "GRU"
    else:
        mode = "RNN"
    return {"LSTM": 4, "GRU": 3}.get(mode, 1)


def is_bias(local_name: str) -> bool:
    """Return whether a parameter's own name marks it as a bias (bias, bias_ih_l0, in_proj_bias).

    "bias" must be a whole underscore-separated word of the name, so a
    custom parameter such as ``unbiased_gain`` is not taken for a bias.
    """
    return "bias" in local_name.split("_")


def tensor_geometry(shape: Sequence[int]) -> Geometry:
    """Return PyTorch's tensor rule: one block, fans from the shape in PyTorch's layout."""
    shape = tuple(shape)
    return whole(shape, compute_fans(shape, "torch"), "torch")


def layer_geometry(
    module: nn.Module,
    local_name: str,
    shape: Sequence[int],
    *,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
    batch_axis: int | None = None,
) -> Geometry:
    """Return the blocks and fans of ``module``'s parameter ``local_name`` of ``shape``.

    Explicit axes (from a rule) win over what the module type implies.

    Raises:
        ShapeError: when the shape does not fit the module (a weight whose
            first axis the gate count does not divide, invalid axes).
    """
    shape = tuple(shape)
    if batch_axis is not None:
        return batch_blocks(shape, batch_axis, in_axis, out_axis)
    if in_axis is not None or out_axis is not None:
        fans = compute_fans(shape, in_axis=in_axis, out_axis=out_axis)
        return whole(shape, fans, "torch")

    if isinstance(module, CONV_TYPES) and module.groups != 1:
        fans = compute_fans(shape, "torch", groups=module.groups)
        return Geometry(whole(shape, fans).blocks, f"groups={module.groups}")
    if isinstance(module, TRANSPOSED_CONV_TYPES):
        fans = compute_fans(shape, "torch_transposed", groups=module.groups)
        return Geometry(
            whole(shape, fans, "torch_transposed").blocks,
            "transposed" + (f", groups={module.groups}" if module.groups != 1 else ""),
        )
    if isinstance(module, nn.MultiheadAttention) and local_name == "in_proj_weight":
        return row_blocks(shape, 3, note="query, key and value blocks")
    if isinstance(module, RECURRENT_TYPES) and local_name.startswith(
        ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ):
        gates = gate_count(module)
        note = f"{gates} gates" if gates > 1 else ""
        return row_blocks(shape, gates, note=note)
    return tensor_geometry(shape)
