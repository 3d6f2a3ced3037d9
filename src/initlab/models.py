"""Model specs and builders: ``mlp:5x50:tanh``, ``mlp:784-256-256-10:relu``, ``cnn:16-32:relu``.

Grammar, fields separated by colons::

    mlp:LAYERS:ACTIVATION[:dropout=P]
    cnn:CHANNELS:ACTIVATION[:dropout=P]

``LAYERS`` takes two forms, following the usual way of writing each:

* hidden layers only, ``NxW``: ``5x50`` is five hidden layers of 50 units.
  The input width and the number of classes come from the data;
* the whole network, dash-separated from input to output, where a hidden
  entry ``WxN`` is N layers of width W: ``784-1024x8-10`` is 784 inputs,
  eight hidden layers of 1024 and 10 outputs, and ``784-256-256-10`` is
  written out in full.

The output layer is linear. ``CHANNELS`` lists the output channels of 3x3 convolutions, each
followed by the activation and 2x2 max pooling, then a linear classifier.
``ACTIVATION`` is any ``torch.nn`` activation by name, case-insensitive
(relu, tanh, sigmoid, gelu, silu, leakyrelu, ...), or ``linear`` for none.

A target may instead be ``package.module:factory``, a callable that returns
an ``nn.Module``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

from torch import nn

from initlab.errors import ModelSpecError

_LINEAR_NAMES = ("linear", "identity", "none")


@dataclass(frozen=True)
class MLPSpec:
    """A fully connected network: Linear, activation and optional dropout per hidden layer."""

    hidden: tuple[int, ...]
    activation: str
    in_features: int | None = None
    out_features: int | None = None
    dropout: float = 0.0

    def resolve(self, in_features: int | None, out_features: int | None) -> MLPSpec:
        """Fill the input and output widths from the data, checking explicit ones."""
        if (
            self.in_features is not None
            and in_features is not None
            and self.in_features != in_features
        ):
            raise ModelSpecError(
                f"the model spec's input width is {self.in_features} but the data has {in_features} features"
            )
        return replace(
            self,
            in_features=self.in_features
            if self.in_features is not None
            else in_features,
            out_features=self.out_features
            if self.out_features is not None
            else out_features,
        )

    @property
    def text(self) -> str:
        """The spec in its canonical string form."""
        runs = _run_lengths(self.hidden)
        if self.in_features is not None and self.out_features is not None:
            hidden = [f"{w}x{n}" if n > 1 else str(w) for n, w in runs]
            layers = [str(self.in_features), *hidden, str(self.out_features)]
        else:
            layers = [f"{n}x{w}" if n > 1 else str(w) for n, w in runs]
        dropout = f":dropout={self.dropout:g}" if self.dropout else ""
        return f"mlp:{'-'.join(layers)}:{self.activation}{dropout}"


@dataclass(frozen=True)
class CNNSpec:
    """A small convolutional classifier: conv 3x3, activation, max-pool 2x2 per stage."""

    channels: tuple[int, ...]
    activation: str
    dropout: float = 0.0

    @property
    def text(self) -> str:
        dropout = f":dropout={self.dropout:g}" if self.dropout else ""
        return f"cnn:{'-'.join(map(str, self.channels))}:{self.activation}{dropout}"


ModelSpec = MLPSpec | CNNSpec


def _run_lengths(widths: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for width in widths:
        if runs and runs[-1][1] == width:
            runs[-1] = (runs[-1][0] + 1, width)
        else:
            runs.append((1, width))
    return runs


def _is_full_network(text: str) -> bool:
    tokens = text.split("-")
    return (
        len(tokens) >= 2
        and tokens[0].strip().isdigit()
        and tokens[-1].strip().isdigit()
    )


def _parse_widths(text: str, spec: str) -> list[int]:
    # Hidden-only lists read NxW (count x width); full networks read WxN.
    width_first = _is_full_network(text)
    widths: list[int] = []
    for token in text.split("-"):
        match = re.fullmatch(r"(\d+)(?:x(\d+))?", token.strip())
        if not match:
            raise ModelSpecError(
                f"invalid layer list {text!r} in model spec {spec!r}: use widths such as 5x50 or 784-1024x8-10"
            )
        first, second = int(match.group(1)), int(match.group(2) or 1)
        if match.group(2) is None:
            count, width = 1, first
        elif width_first:
            width, count = first, second
        else:
            count, width = first, second
        if count < 1 or width < 1:
            raise ModelSpecError(
                f"layer counts and widths must be positive in model spec {spec!r}, got {token!r}"
            )
        widths.extend([width] * count)
    return widths


def _parse_options(fields: list[str], spec: str) -> dict[str, float]:
    options: dict[str, float] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep or key != "dropout":
            raise ModelSpecError(
                f"unknown option {field!r} in model spec {spec!r}: the only option is dropout=P"
            )
        try:
            dropout = float(value)
        except ValueError as error:
            raise ModelSpecError(
                f"invalid dropout {value!r} in model spec {spec!r}: expected a number in [0, 1)"
            ) from error
        if not 0 <= dropout < 1:
            raise ModelSpecError(
                f"dropout must be in [0, 1), got {dropout} in model spec {spec!r}"
            )
        options["dropout"] = dropout
    return options


def activation_module(name: str) -> nn.Module | None:
    """Return a fresh ``torch.nn`` activation module for ``name``, or None for linear.

    Raises:
        ModelSpecError: for a name that torch.nn does not define.
    """
    if name.lower() in _LINEAR_NAMES:
        return None
    classes = {
        cls_name.lower(): cls
        for cls_name, cls in vars(nn.modules.activation).items()
        if isinstance(cls, type) and issubclass(cls, nn.Module) and cls is not nn.Module
    }
    aliases = {"swish": "silu", "leaky_relu": "leakyrelu"}
    key = aliases.get(name.lower(), name.lower())
    if key not in classes or key in (
        "multiheadattention",
        "softmax2d",
        "softmax",
        "logsoftmax",
        "softmin",
    ):
        raise ModelSpecError(
            f"unknown activation {name!r}: use a torch.nn activation such as relu, tanh, sigmoid, gelu, silu"
        )
    return classes[key]()


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a model spec string.

    Raises:
        ModelSpecError: naming the part of the spec that is invalid.
    """
    fields = spec.strip().split(":")
    if len(fields) < 3 or fields[0] not in ("mlp", "cnn"):
        raise ModelSpecError(
            f"invalid model spec {spec!r}: expected mlp:LAYERS:ACTIVATION or cnn:CHANNELS:ACTIVATION, such as mlp:5x50:tanh"
        )
    kind, layers, activation = fields[0], fields[1], fields[2]
    options = _parse_options(fields[3:], spec)
    activation_module(activation)
    widths = _parse_widths(layers, spec)

    if kind == "cnn":
        return CNNSpec(tuple(widths), activation, options.get("dropout", 0.0))
    if _is_full_network(layers):
        return MLPSpec(
            tuple(widths[1:-1]),
            activation,
            widths[0],
            widths[-1],
            options.get("dropout", 0.0),
        )
    return MLPSpec(tuple(widths), activation, dropout=options.get("dropout", 0.0))


def build_mlp(spec: MLPSpec) -> nn.Sequential:
    """Build an ``nn.Sequential`` for a resolved MLP spec (input width known)."""
    if spec.in_features is None:
        raise ModelSpecError(
            f"model spec {spec.text!r} needs an input width: give it in the spec or through the data"
        )
    layers: list[nn.Module] = []
    width = spec.in_features
    for hidden in spec.hidden:
        layers.append(nn.Linear(width, hidden))
        activation = activation_module(spec.activation)
        if activation is not None:
            layers.append(activation)
        if spec.dropout:
            layers.append(nn.Dropout(spec.dropout))
        width = hidden
    if spec.out_features is not None:
        layers.append(nn.Linear(width, spec.out_features))
    return nn.Sequential(*layers)


def build_cnn(
    spec: CNNSpec, input_shape: tuple[int, ...], num_classes: int
) -> nn.Sequential:
    """Build a CNN for images of ``input_shape`` (channels, height, width)."""
    if len(input_shape) != 3:
        raise ModelSpecError(
            f"a cnn spec needs image inputs of shape (channels, height, width), got {input_shape}"
        )
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in spec.channels:
        layers.append(nn.Conv2d(channels, out_channels, kernel_size=3, padding=1))
        activation = activation_module(spec.activation)
        if activation is not None:
            layers.append(activation)
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers.append(nn.Flatten())
    if spec.dropout:
        layers.append(nn.Dropout(spec.dropout))
    layers.append(nn.Linear(channels * height * width, num_classes))
    return nn.Sequential(*layers)


def build_model(
    spec: ModelSpec | str, input_shape: tuple[int, ...], num_classes: int | None
) -> nn.Module:
    """Build the model a spec describes for inputs of ``input_shape`` (one sample, no batch axis).

    MLPs flatten image inputs, so ``input_shape`` (1, 8, 8) gives 64 input features.
    """
    if isinstance(spec, str):
        spec = parse_model_spec(spec)
    if num_classes is not None and (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ModelSpecError(
            f"invalid number of classes {num_classes!r}: use a positive integer, "
            "such as 10 for the digits"
        )
    if any(size < 1 for size in input_shape):
        raise ModelSpecError(
            f"invalid input shape {input_shape!r}: every size must be a positive integer"
        )
    if isinstance(spec, CNNSpec):
        if num_classes is None:
            raise ModelSpecError("a cnn spec needs the number of classes")
        return build_cnn(spec, input_shape, num_classes)
    in_features = 1
    for size in input_shape:
        in_features *= size
    resolved = spec.resolve(in_features, num_classes)
    model = build_mlp(resolved)
    if len(input_shape) > 1:
        model = nn.Sequential(nn.Flatten(), *model)
    return model


def _first_line(error: BaseException) -> str:
    """Return the exception's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _build_spec_model(
    target: str, input_shape: tuple[int, ...], num_classes: int | None
) -> nn.Module:
    try:
        return build_model(target, input_shape, num_classes)
    except (RuntimeError, MemoryError) as error:
        # torch reports a failed allocation, or a size past int64, as RuntimeError.
        raise ModelSpecError(
            f"model spec {target!r} is too large to build ({_first_line(error)}): "
            "use smaller widths"
        ) from error


def _call_factory(target: str, factory: Callable[..., object]) -> object:
    try:
        inspect.signature(factory).bind()
    except TypeError as error:
        raise ModelSpecError(
            f"{target!r} must be callable with no arguments and return an nn.Module: {error}"
        ) from error
    except ValueError:
        # Some builtins have no signature to inspect, so the call below reports
        # a wrong argument count as a factory failure instead.
        pass
    try:
        return factory()
    except Exception as error:
        raise ModelSpecError(
            f"factory {target!r} failed with {_first_line(error)}: fix the factory "
            "or pass another target"
        ) from error


def load_target(
    target: str, input_shape: tuple[int, ...], num_classes: int | None
) -> nn.Module:
    """Build a model from a spec string or a ``package.module:factory`` target.

    Raises:
        ModelSpecError: when a spec is invalid or too large to allocate, the
            module cannot be imported, the factory is missing, needs
            arguments or raises, or it does not return an ``nn.Module``.
    """
    if target.split(":", 1)[0] in ("mlp", "cnn"):
        return _build_spec_model(target, input_shape, num_classes)
    module_name, sep, factory_name = target.partition(":")
    if not sep or not module_name or not factory_name:
        raise ModelSpecError(
            f"invalid target {target!r}: use a model spec such as mlp:5x50:tanh or package.module:factory"
        )
    # A console script does not put the working directory on sys.path the
    # way `python -m` does, so add it to find the user's own packages.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelSpecError(
            f"cannot import module {module_name!r} of target {target!r}: {error}"
        ) from error
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelSpecError(
            f"module {module_name!r} has no callable {factory_name!r} (target {target!r})"
        )
    model = _call_factory(target, factory)
    if not isinstance(model, nn.Module):
        raise ModelSpecError(
            f"{target!r} returned {type(model).__name__}, not a torch.nn.Module"
        )
    return model


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return the Linear and conv layers of ``model`` with their qualified names, in module order."""
    kinds = (
        nn.Linear,
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
    )
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, kinds)
    ]


def count_parameters(model: nn.Module) -> int:
    """Return the number of distinct parameters (tied ones counted once)."""
    seen: set[int] = set()
    total = 0
    for parameter in model.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    return total


__all__ = [
    "CNNSpec",
    "MLPSpec",
    "ModelSpec",
    "activation_module",
    "build_model",
    "count_parameters",
    "linear_layers",
    "load_target",
    "parse_model_spec",
]
