"""``rules="auto"``: pick each layer's scheme from the activation that follows it.

For each Linear and convolution, the activation applied to its output is
found by tracing the model with :mod:`torch.fx`. The search walks forward
through dropout, pooling, normalization, reshapes and residual additions
until it reaches an activation, another layer or the output. Models that
cannot be traced (data-dependent control flow) fall back to module order:
the first activation module after the layer, before the next layer. Then:

==================================  ============================================
activation                          scheme
==================================  ============================================
ReLU family (ReLU, ReLU6, LeakyReLU  He normal, ``std = sqrt(2 / ((1 + a^2) fan_in))``
PReLU, RReLU with slope ``a``)
tanh, sigmoid                       Glorot normal, ``std = sqrt(2 / (fan_in + fan_out))``
SELU, softmax, none                 LeCun normal, ``std = sqrt(1 / fan_in)``
any other (GELU, SiLU, ELU, ...)    ``std = g / sqrt(fan_in)`` with the forward gain
                                    ``g = 1 / sqrt(E[phi(z)^2])``, ``z ~ N(0, 1)``
==================================  ============================================

Attention projections (followed by a dot product, not an activation) get
LeCun normal; recurrent layers get Glorot normal input weights and
orthogonal recurrent weights, gate by gate (Saxe, McClelland and Ganguli,
2014, for the orthogonal recurrence).
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from initlab import schemes as s
from initlab.gains import forward_gain
from initlab.initialize.layer_fans import (
    CONV_TYPES,
    LINEAR_TYPES,
    NORM_TYPES,
    RECURRENT_TYPES,
    TRANSPOSED_CONV_TYPES,
)

logger = logging.getLogger("initlab.initialize")

AUTO_LAYER_TYPES = LINEAR_TYPES + CONV_TYPES + TRANSPOSED_CONV_TYPES
_LEAF_TYPES = (
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
) + RECURRENT_TYPES


@dataclass(frozen=True)
class Activation:
    """The activation found after a layer and the scheme family it calls for.

    ``family`` is ``"relu"`` (with negative ``slope``), ``"glorot"``,
    ``"lecun"`` or ``"gain"`` (with the activation as ``function``).
    """

    name: str
    family: str
    slope: float = 0.0
    function: Callable[[Any], Any] | None = None
    found_by: str = "traced"

    def scheme(self) -> s.Scheme:
        """Return the scheme for a layer followed by this activation."""
        if self.family == "relu":
            if self.slope == 0:
                return s.he_normal()
            # He et al. (2015): Var(w) = 2 / ((1 + a^2) fan_in) for slope a.
            gain = (2.0 / (1.0 + self.slope**2)) ** 0.5
            return s.he_normal(gain)
        if self.family == "glorot":
            return s.glorot_normal()
        if self.family == "lecun":
            return s.lecun_normal()
        gain = forward_gain(self.function)
        return s.VarianceScaling(
            gain**2,
            "fan_in",
            "untruncated_normal",
            name=f"variance_scaling(gain {gain:.5g} for {self.name})",
        )

    def with_origin(self, found_by: str) -> Activation:
        return Activation(self.name, self.family, self.slope, self.function, found_by)


NONE = Activation("none", "lecun")


@functools.lru_cache(maxsize=1)
def _activation_modules() -> tuple[type[nn.Module], ...]:
    module = nn.modules.activation
    return tuple(
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, nn.Module)
        and cls.__module__ == module.__name__
        and cls is not nn.MultiheadAttention
    )


_SOFTMAX_MODULES = (nn.Softmax, nn.LogSoftmax, nn.Softmin, nn.Softmax2d)
_PASS_MODULE_PACKAGES = (
    "torch.nn.modules.dropout",
    "torch.nn.modules.pooling",
    "torch.nn.modules.padding",
    "torch.nn.modules.pixelshuffle",
    "torch.nn.modules.upsampling",
)
_PASS_MODULES = (
    nn.Identity,
    nn.Flatten,
    nn.Unflatten,
    nn.LocalResponseNorm,
) + NORM_TYPES


def classify_module(module: nn.Module) -> Activation | str:
    """Return the Activation a module applies, or ``"pass"`` or ``"stop"``."""
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return Activation(type(module).__name__.lower(), "relu")
    if isinstance(module, nn.LeakyReLU):
        return Activation(
            f"leaky_relu({module.negative_slope:g})", "relu", module.negative_slope
        )
    if isinstance(module, nn.PReLU):
        # The learned slope starts at the constructor's ``init`` (0.25 by default).
        slope = float(getattr(module, "init", 0.25))
        return Activation(f"prelu({slope:g})", "relu", slope)
    if isinstance(module, nn.RReLU):
        slope = (module.lower + module.upper) / 2
        return Activation(f"rrelu(mean slope {slope:g})", "relu", slope)
    if isinstance(module, (nn.Tanh, nn.Sigmoid)):
        return Activation(type(module).__name__.lower(), "glorot")
    if isinstance(module, nn.SELU):
        return Activation("selu", "lecun")
    if isinstance(module, _SOFTMAX_MODULES):
        return "stop"
    if isinstance(module, _activation_modules()):
        return Activation(type(module).__name__.lower(), "gain", function=module)
    if isinstance(module, _PASS_MODULES) or type(module).__module__.startswith(
        _PASS_MODULE_PACKAGES
    ):
        return "pass"
    return "stop"


_RELU_FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, F.relu6}
_LEAKY_FUNCTIONS = {F.leaky_relu, F.leaky_relu_}
_GLOROT_FUNCTIONS = {torch.tanh, F.tanh, torch.sigmoid, F.sigmoid}
_SELU_FUNCTIONS = {F.selu, torch.selu}
_SOFTMAX_FUNCTIONS = {F.softmax, F.log_softmax, F.softmin, torch.softmax}
_GAIN_FUNCTIONS = {
    F.gelu,
    F.silu,
    F.elu,
    F.celu,
    F.mish,
    F.softplus,
    F.softsign,
    F.hardtanh,
    F.hardswish,
    F.hardsigmoid,
    F.tanhshrink,
    F.logsigmoid,
    torch.sin,
}
_PASS_FUNCTIONS = {
    operator.add,
    operator.iadd,
    operator.mul,
    operator.imul,
    operator.truediv,
    operator.getitem,
    torch.add,
    torch.mul,
    torch.flatten,
    torch.reshape,
    torch.cat,
    torch.stack,
    torch.transpose,
    torch.permute,
    torch.squeeze,
    torch.unsqueeze,
    F.dropout,
    F.dropout1d,
    F.dropout2d,
    F.dropout3d,
    F.alpha_dropout,
    F.max_pool1d,
    F.max_pool2d,
    F.max_pool3d,
    F.avg_pool1d,
    F.avg_pool2d,
    F.avg_pool3d,
    F.adaptive_avg_pool1d,
    F.adaptive_avg_pool2d,
    F.adaptive_avg_pool3d,
    F.adaptive_max_pool1d,
    F.adaptive_max_pool2d,
    F.adaptive_max_pool3d,
    F.layer_norm,
    F.batch_norm,
    F.group_norm,
    F.instance_norm,
    F.rms_norm,
    F.pad,
    F.interpolate,
}
_RELU_METHODS = {"relu", "relu_"}
_GLOROT_METHODS = {"tanh", "tanh_", "sigmoid", "sigmoid_"}
_PASS_METHODS = {
    "view",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "contiguous",
    "squeeze",
    "unsqueeze",
    "expand",
    "to",
    "float",
    "type_as",
    "chunk",
    "split",
    "add",
    "add_",
    "mul",
    "mul_",
}


def _constant_args(node: fx.Node) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """Return a call's arguments after the first, or None if any is a traced value."""
    rest = node.args[1:]
    values = (*rest, *node.kwargs.values())
    if any(isinstance(value, fx.Node) for value in values):
        return None
    return tuple(rest), dict(node.kwargs)


def classify_function(node: fx.Node) -> Activation | str:
    """Return the Activation a call_function or call_method node applies, or "pass"/"stop"."""
    target = node.target
    if node.op == "call_method":
        if target in _RELU_METHODS:
            return Activation("relu", "relu")
        if target in _GLOROT_METHODS:
            return Activation(str(target).rstrip("_"), "glorot")
        return "pass" if target in _PASS_METHODS else "stop"

    if target in _RELU_FUNCTIONS:
        return Activation(getattr(target, "__name__", "relu").rstrip("_"), "relu")
    if target in _LEAKY_FUNCTIONS:
        slope = node.kwargs.get(
            "negative_slope", node.args[1] if len(node.args) > 1 else 0.01
        )
        if isinstance(slope, fx.Node):
            slope = 0.01
        return Activation(f"leaky_relu({slope:g})", "relu", float(slope))
    if target in _GLOROT_FUNCTIONS:
        return Activation(target.__name__, "glorot")
    if target in _SELU_FUNCTIONS:
        return Activation("selu", "lecun")
    if target in _SOFTMAX_FUNCTIONS:
        return "stop"
    if target in _GAIN_FUNCTIONS:
        arguments = _constant_args(node)
        if arguments is None:
            function = target
        else:
            args, kwargs = arguments

            def function(x: Any, _f=target, _a=args, _k=kwargs) -> Any:
                return _f(x, *_a, **_k)

        return Activation(target.__name__, "gain", function=function)
    return "pass" if target in _PASS_FUNCTIONS else "stop"


class _LayerTracer(fx.Tracer):
    """Trace into containers; keep layers, activations and attention as leaves."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, _LEAF_TYPES) or not any(
            True for _ in module.children()
        )


def _activation_after(node: fx.Node, modules: dict[str, nn.Module]) -> Activation:
    """Walk forward from a layer's node, breadth first, to the first activation."""
    frontier = list(node.users)
    seen = set(frontier)
    while frontier:
        user = frontier.pop(0)
        if user.op == "call_module":
            verdict = classify_module(modules[str(user.target)])
        elif user.op in ("call_function", "call_method"):
            verdict = classify_function(user)
        else:
            verdict = "stop"
        if isinstance(verdict, Activation):
            return verdict
        if verdict == "pass":
            for following in user.users:
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
    return NONE


def traced_activations(model: nn.Module) -> dict[str, Activation] | None:
    """Return the activation after each Linear and conv call in the traced model.

    Returns None when the model cannot be traced. A layer called more than
    once keeps the activation after its first call.
    """
    try:
        graph = _LayerTracer().trace(model)
    # Tracing runs the model's own forward pass on proxies, and code that
    # branches on values raises its own exception type. So any failure here
    # means "not traceable", and the caller falls back to module order.
    except Exception as error:  # noqa: BLE001
        logger.info(
            "torch.fx could not trace %s (%s: %s); using module order for rules='auto'",
            type(model).__name__,
            type(error).__name__,
            error,
        )
        return None
    modules = dict(model.named_modules())
    found: dict[str, Activation] = {}
    for node in graph.nodes:
        if node.op != "call_module":
            continue
        name = str(node.target)
        if name in found or not isinstance(modules.get(name), AUTO_LAYER_TYPES):
            continue
        found[name] = _activation_after(node, modules).with_origin("traced")
    return found


def _transformer_activation(parent: nn.Module) -> Activation:
    """Return the activation a Transformer{Encoder,Decoder}Layer applies after ``linear1``."""
    activation = parent.activation
    if isinstance(activation, nn.Module):
        verdict = classify_module(activation)
    elif activation in _RELU_FUNCTIONS:
        verdict = Activation("relu", "relu")
    else:
        verdict = Activation(
            getattr(activation, "__name__", "activation"), "gain", function=activation
        )
    return verdict if isinstance(verdict, Activation) else NONE


def module_order_activations(model: nn.Module) -> dict[str, Activation]:
    """Return the activation after each Linear and conv, reading modules in registration order."""
    named = list(model.named_modules())
    parents = {
        f"{name}.{child_name}" if name else child_name: module
        for name, module in named
        for child_name, _child in module.named_children()
    }
    leaves = [
        (name, module)
        for name, module in named
        if not any(True for _ in module.children())
        or isinstance(module, RECURRENT_TYPES)
    ]
    found: dict[str, Activation] = {}
    for position, (name, module) in enumerate(leaves):
        if not isinstance(module, AUTO_LAYER_TYPES):
            continue
        parent = parents.get(name)
        if (
            isinstance(parent, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer))
            and name.rsplit(".", 1)[-1] == "linear1"
        ):
            found[name] = _transformer_activation(parent).with_origin("module order")
            continue
        activation = NONE
        for _later_name, later in leaves[position + 1 :]:
            verdict = classify_module(later)
            if isinstance(verdict, Activation):
                activation = verdict
                break
            if verdict == "stop":
                break
        found[name] = activation.with_origin("module order")
    return found


def find_activations(model: nn.Module) -> dict[str, Activation]:
    """Return the activation after every Linear and conv layer of ``model``, by qualified name.

    Traced results win; layers the trace does not reach (inside attention
    or transformer layers) and untraceable models use module order.
    """
    found = module_order_activations(model)
    traced = traced_activations(model)
    if traced:
        found.update(traced)
    return found
