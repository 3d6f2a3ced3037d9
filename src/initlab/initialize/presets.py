"""Framework presets: give a PyTorch model the defaults of PyTorch, Keras or Flax.

Each preset maps a module to what that framework's equivalent layer does
at construction, with that framework's fan rule, so a model ported between
frameworks starts from the same distributions.

``torch`` (PyTorch 2.13's ``reset_parameters``):

* Linear and conv weights ``kaiming_uniform_(a=sqrt(5))``, that is
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and biases the same bound, with
  the tensor rule (so a transposed conv reads ``fan_in = shape[1] * k``);
  Bilinear ``U(-1/sqrt(in1), 1/sqrt(in1))``;
* Embedding ``N(0, 1)``; recurrent layers ``U(-1/sqrt(H), 1/sqrt(H))``
  for every parameter;
* MultiheadAttention: ``xavier_uniform_`` on the packed ``(3E, E)``
  projection as one matrix, zero projection biases, ``xavier_normal_`` on
  ``bias_k`` and ``bias_v``;
* ``nn.Transformer``: ``xavier_uniform_`` again on every parameter with
  more than one dimension;
* PReLU at its ``init`` slope, normalization weight 1 and bias 0.

``keras`` (Keras 3):

* Dense and conv kernels ``glorot_uniform`` with Keras's fans, which for
  PyTorch's weights are the tensor rule: Keras stores a transposed conv's
  kernel as ``(*k, out, in)`` and reads its fans as if it were a plain
  conv, so they come out swapped like PyTorch's; zero biases;
* Embedding ``U(-0.05, 0.05)``;
* LSTM, GRU and SimpleRNN: input kernels ``glorot_uniform`` over the fused
  gates, the recurrent kernel orthogonal as one ``(H, gates * H)`` matrix,
  as Keras does (so gate blocks are not each orthogonal), zero biases with
  an LSTM's forget gate at 1. PyTorch adds ``bias_ih`` and ``bias_hh``, so
  the forget gate of ``bias_ih`` alone is set to 1 and the effective bias
  is exactly 1;
* MultiHeadAttention: ``glorot_uniform`` on each einsum kernel, whose
  fans Keras 3.15's EinsumDense takes from its input and output axes: a
  ``(D, heads, head_dim)`` query kernel has fans ``(D, heads * head_dim)``,
  so each block of the packed ``(3E, E)`` projection is its own matrix;
* PReLU slope 0, normalization weight 1 and bias 0.

``flax`` (Flax linen):

* Dense and Conv kernels ``lecun_normal``, truncated at 2 std with the
  0.87962566 correction, ``fan_in`` = inputs per output (a transposed
  conv's ``fan_in`` is its input channels times the kernel); zero biases;
* Embed ``N(0, 1 / features)``;
* recurrent cells: one Dense per gate, so ``lecun_normal`` input kernels
  and orthogonal recurrent kernels gate by gate, zero biases;
* attention projections ``lecun_normal`` with ``fan_in`` = input features,
  zero biases; PReLU slope 0.01, normalization weight 1 and bias 0.

Modules a preset does not know are left alone and listed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from initlab import schemes as s
from initlab.fans import compute_fans
from initlab.initialize.assignment import Assignment, Labelled, assign, with_fans
from initlab.initialize.layer_fans import (
    CONV_TYPES,
    EMBEDDING_TYPES,
    NORM_TYPES,
    RECURRENT_TYPES,
    TRANSPOSED_CONV_TYPES,
    gate_count,
    row_blocks,
    tensor_geometry,
    whole,
)

PRESETS = ("torch", "keras", "flax")

_LAYER_TYPES = (nn.Linear,) + CONV_TYPES + TRANSPOSED_CONV_TYPES


def _symmetric_uniform(bound: float, label: str) -> s.Scheme:
    return Labelled(s.Uniform(-bound, bound), label)


def _parameters(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {
        name: tuple(parameter.shape)
        for name, parameter in module.named_parameters(recurse=False)
        if parameter is not None
    }


def _norm(module: nn.Module, rule: str) -> dict[str, Assignment]:
    out = {}
    for name, shape in _parameters(module).items():
        scheme = s.ZEROS if "bias" in name else s.ONES
        out[name] = assign(scheme, tensor_geometry(shape), rule)
    return out


def _ancestors_include(ancestors: Sequence[nn.Module], kind: type) -> bool:
    return any(isinstance(ancestor, kind) for ancestor in ancestors)


def _torch_layer(
    module: nn.Module, rule: str, zero_bias: bool
) -> dict[str, Assignment]:
    shapes = _parameters(module)
    geometry = tensor_geometry(shapes["weight"])
    out = {"weight": assign(s.torch_default(), geometry, rule)}
    if "bias" in shapes:
        fan_in = geometry.fans.fan_in
        if zero_bias:
            bias = s.ZEROS
        else:
            # PyTorch: bound = 1 / sqrt(fan_in), or 0 for a zero fan_in.
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            bias = _symmetric_uniform(bound, "uniform(+-1/sqrt(fan_in))")
        out["bias"] = assign(
            bias, with_fans(tensor_geometry(shapes["bias"]), geometry.fans), rule
        )
    return out


def _torch(
    module: nn.Module, ancestors: Sequence[nn.Module]
) -> dict[str, Assignment] | None:
    rule = "preset torch"
    shapes = _parameters(module)
    if isinstance(module, _LAYER_TYPES):
        parent = ancestors[-1] if ancestors else None
        # MultiheadAttention zeroes its output projection's bias.
        zero_bias = (
            isinstance(parent, nn.MultiheadAttention) and module is parent.out_proj
        )
        out = _torch_layer(module, rule, zero_bias)
    elif isinstance(module, nn.Bilinear):
        bound = 1 / math.sqrt(shapes["weight"][1])
        scheme = _symmetric_uniform(bound, "uniform(+-1/sqrt(in1_features))")
        out = {
            name: assign(scheme, tensor_geometry(shape), rule)
            for name, shape in shapes.items()
        }
    elif isinstance(module, EMBEDDING_TYPES):
        out = {
            "weight": Assignment(
                (s.Normal(0.0, 1.0),),
                tensor_geometry(shapes["weight"]),
                rule,
                _padding_rows(module),
            )
        }
    elif isinstance(module, RECURRENT_TYPES):
        hidden = module.hidden_size
        bound = 1.0 / math.sqrt(hidden) if hidden > 0 else 0.0
        scheme = _symmetric_uniform(bound, "uniform(+-1/sqrt(hidden_size))")
        out = {
            name: assign(scheme, tensor_geometry(shape), rule)
            for name, shape in shapes.items()
        }
    elif isinstance(module, nn.MultiheadAttention):
        out = {}
        for name, shape in shapes.items():
            if name.endswith("proj_weight"):
                out[name] = assign(s.glorot_uniform(), tensor_geometry(shape), rule)
            elif name in ("bias_k", "bias_v"):
                out[name] = assign(s.glorot_normal(), tensor_geometry(shape), rule)
            else:
                out[name] = assign(s.ZEROS, tensor_geometry(shape), rule)
    elif isinstance(module, NORM_TYPES):
        out = _norm(module, rule)
    elif isinstance(module, nn.PReLU):
        out = {
            "weight": assign(
                s.Constant(float(module.init)), tensor_geometry(shapes["weight"]), rule
            )
        }
    else:
        return None

    if _ancestors_include(ancestors, nn.Transformer):
        # nn.Transformer._reset_parameters: xavier_uniform_ on every
        # parameter with more than one dimension, after the layers' own init.
        rule = "preset torch (nn.Transformer)"
        for name, shape in shapes.items():
            if len(shape) > 1:
                out[name] = assign(s.glorot_uniform(), tensor_geometry(shape), rule)
    return out


def _padding_rows(module: nn.Module) -> tuple[int, ...]:
    padding = getattr(module, "padding_idx", None)
    return () if padding is None else (int(padding),)


_KERAS_GLOROT = s.VarianceScaling(1.0, "fan_avg", "uniform", name="GlorotUniform")
_KERAS_ORTHOGONAL = s.Orthogonal(1.0)
_KERAS_EMBEDDING = s.Uniform(-0.05, 0.05)


def _keras(
    module: nn.Module, ancestors: Sequence[nn.Module]
) -> dict[str, Assignment] | None:
    rule = "preset keras"
    shapes = _parameters(module)
    if isinstance(module, _LAYER_TYPES):
        geometry = tensor_geometry(shapes["weight"])
        out = {"weight": assign(_KERAS_GLOROT, geometry, rule)}
        if "bias" in shapes:
            out["bias"] = assign(s.ZEROS, tensor_geometry(shapes["bias"]), rule)
        return out
    if isinstance(module, EMBEDDING_TYPES):
        return {
            "weight": Assignment(
                (_KERAS_EMBEDDING,),
                tensor_geometry(shapes["weight"]),
                rule,
                _padding_rows(module),
            )
        }
    if isinstance(module, RECURRENT_TYPES):
        return _keras_recurrent(module, shapes, rule)
    if isinstance(module, nn.MultiheadAttention):
        out = {}
        for name, shape in shapes.items():
            if name == "in_proj_weight":
                geometry = row_blocks(shape, 3, note="query, key and value kernels")
                out[name] = assign(_KERAS_GLOROT, geometry, rule)
            elif name.endswith("proj_weight"):
                out[name] = assign(_KERAS_GLOROT, tensor_geometry(shape), rule)
            else:
                out[name] = assign(s.ZEROS, tensor_geometry(shape), rule)
        return out
    if isinstance(module, NORM_TYPES):
        return _norm(module, rule)
    if isinstance(module, nn.PReLU):
        return {"weight": assign(s.ZEROS, tensor_geometry(shapes["weight"]), rule)}
    return None


def _keras_recurrent(
    module: nn.Module, shapes: dict[str, tuple[int, ...]], rule: str
) -> dict[str, Assignment]:
    gates = gate_count(module)
    out = {}
    for name, shape in shapes.items():
        if name.startswith("weight_hh"):
            out[name] = assign(_KERAS_ORTHOGONAL, tensor_geometry(shape), rule)
        elif name.startswith(("weight_ih", "weight_hr")):
            out[name] = assign(_KERAS_GLOROT, tensor_geometry(shape), rule)
        elif name.startswith("bias_ih") and gates == 4:
            # Keras's unit_forget_bias: gates are (input, forget, cell,
            # output) in both frameworks, so block 1 is the forget gate.
            geometry = row_blocks(shape, 4, note="forget gate 1")
            out[name] = Assignment((s.ZEROS, s.ONES, s.ZEROS, s.ZEROS), geometry, rule)
        else:
            out[name] = assign(s.ZEROS, tensor_geometry(shape), rule)
    return out


_FLAX_KERNEL = s.lecun_truncated_normal()


def _flax(
    module: nn.Module, ancestors: Sequence[nn.Module]
) -> dict[str, Assignment] | None:
    rule = "preset flax"
    shapes = _parameters(module)
    if isinstance(module, _LAYER_TYPES):
        weight = shapes["weight"]
        if isinstance(module, TRANSPOSED_CONV_TYPES):
            fans = compute_fans(weight, "torch_transposed", groups=module.groups)
            geometry = whole(weight, fans, "torch_transposed")
        else:
            geometry = tensor_geometry(weight)
        out = {"weight": assign(_FLAX_KERNEL, geometry, rule)}
        if "bias" in shapes:
            out["bias"] = assign(s.ZEROS, tensor_geometry(shapes["bias"]), rule)
        return out
    if isinstance(module, EMBEDDING_TYPES):
        shape = shapes["weight"]
        # Flax's Embed: variance_scaling(1, "fan_in", "normal", out_axis=0),
        # whose fan_in is the number of features.
        scheme = Labelled(
            s.Normal(0.0, 1.0 / math.sqrt(shape[1])), "normal(std=1/sqrt(features))"
        )
        return {
            "weight": Assignment(
                (scheme,), tensor_geometry(shape), rule, _padding_rows(module)
            )
        }
    if isinstance(module, RECURRENT_TYPES):
        gates = gate_count(module)
        out = {}
        for name, shape in shapes.items():
            if name.startswith("weight_hh"):
                out[name] = assign(s.Orthogonal(1.0), row_blocks(shape, gates), rule)
            elif name.startswith("weight_ih"):
                out[name] = assign(_FLAX_KERNEL, row_blocks(shape, gates), rule)
            elif name.startswith("weight_hr"):
                out[name] = assign(_FLAX_KERNEL, tensor_geometry(shape), rule)
            else:
                out[name] = assign(s.ZEROS, tensor_geometry(shape), rule)
        return out
    if isinstance(module, nn.MultiheadAttention):
        out = {}
        for name, shape in shapes.items():
            if name == "in_proj_weight":
                out[name] = assign(_FLAX_KERNEL, row_blocks(shape, 3), rule)
            elif name.endswith("proj_weight"):
                out[name] = assign(_FLAX_KERNEL, tensor_geometry(shape), rule)
            else:
                out[name] = assign(s.ZEROS, tensor_geometry(shape), rule)
        return out
    if isinstance(module, NORM_TYPES):
        return _norm(module, rule)
    if isinstance(module, nn.PReLU):
        return {
            "weight": assign(s.Constant(0.01), tensor_geometry(shapes["weight"]), rule)
        }
    return None


def preset_assignments(
    preset: str, module: nn.Module, ancestors: Sequence[nn.Module]
) -> dict[str, Assignment] | None:
    """Return the preset's assignment for each of ``module``'s own parameters.

    None means the preset does not know the module type. ``ancestors`` are
    the modules that contain ``module``, outermost first.
    """
    builder = {"torch": _torch, "keras": _keras, "flax": _flax}[preset]
    return builder(module, ancestors)


__all__ = ["PRESETS", "preset_assignments"]
