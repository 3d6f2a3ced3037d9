"""Find the stack of Linear layers that greedy layer-wise pretraining can train.

A pretrainable model is an ``nn.Sequential`` (nested ones are read in
order) of Linear layers, each followed by zero or more activation and
dropout modules, with an optional ``nn.Flatten`` before the first Linear.
Every Linear but the last is a hidden layer; the last is the output layer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from initlab.errors import ModelSpecError

# Modules that may sit between two Linear layers. Dropout is an identity
# when the codes are computed, because pretraining reads the network in
# eval mode; denoising is the autoencoder's own corruption.
_DROPOUT = (nn.Dropout, nn.AlphaDropout, nn.FeatureAlphaDropout)
_ACTIVATION_MODULE = nn.modules.activation.__name__


@dataclass
class HiddenLayer:
    """One hidden layer of the stack: its Linear and the activations after it."""

    name: str
    linear: nn.Linear
    activations: list[nn.Module]

    def activation_copies(self) -> list[nn.Module]:
        """Return fresh copies of the activations, for an autoencoder's encoder."""
        return [copy.deepcopy(module) for module in self.activations]

    @property
    def activation_name(self) -> str:
        """The activation class names joined by '+', or 'linear' for none."""
        return "+".join(type(m).__name__ for m in self.activations) or "linear"


@dataclass
class LinearStack:
    """The hidden layers and the output layer of a pretrainable model."""

    flatten: bool
    hidden: list[HiddenLayer]
    output_name: str
    output: nn.Linear

    @property
    def in_features(self) -> int:
        return self.hidden[0].linear.in_features


def _is_activation(module: nn.Module) -> bool:
    return type(module).__module__ == _ACTIVATION_MODULE and not isinstance(
        module, nn.MultiheadAttention
    )


def _leaves(module: nn.Sequential, prefix: str) -> list[tuple[str, nn.Module]]:
    """Flatten nested Sequentials into (qualified name, module) pairs in call order."""
    leaves: list[tuple[str, nn.Module]] = []
    for name, child in module.named_children():
        qualified = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            leaves.extend(_leaves(child, f"{qualified}."))
        else:
            leaves.append((qualified, child))
    return leaves


def find_linear_stack(model: nn.Module) -> LinearStack:
    """Return the hidden and output Linear layers of ``model``.

    Raises:
        ModelSpecError: naming the layer and the reason. It is raised for a
            model that is not an ``nn.Sequential`` of Linear layers with
            activations, for consecutive Linear layers whose sizes do not
            match, and for fewer than two Linear layers (no hidden layer).
    """
    if not isinstance(model, nn.Sequential):
        raise ModelSpecError(
            f"greedy layer-wise pretraining needs an nn.Sequential of Linear layers "
            f"and activations, got {type(model).__name__}; build the model as "
            "nn.Sequential or from an mlp spec such as mlp:4x100:sigmoid"
        )
    flatten = False
    linears: list[tuple[str, nn.Linear, list[nn.Module]]] = []
    for name, module in _leaves(model, ""):
        if isinstance(module, nn.Linear):
            if linears:
                previous_name, previous, _ = linears[-1]
                if previous.out_features != module.in_features:
                    raise ModelSpecError(
                        f"layer {name!r} takes {module.in_features} inputs but the Linear "
                        f"layer before it, {previous_name!r}, has {previous.out_features} "
                        "outputs; the widths of consecutive Linear layers must match"
                    )
            linears.append((name, module, []))
        elif isinstance(module, nn.Flatten) and not linears:
            flatten = True
        elif isinstance(module, (nn.Identity, *_DROPOUT)):
            continue
        elif _is_activation(module) and linears:
            linears[-1][2].append(module)
        else:
            where = "after" if linears else "before"
            reference = linears[-1][0] if linears else "the first Linear layer"
            raise ModelSpecError(
                f"layer {name!r} ({type(module).__name__}, {where} {reference}) cannot be "
                "pretrained layer-wise: only Linear layers, torch.nn activations, dropout "
                "and a leading Flatten are supported"
            )
    if len(linears) < 2:
        raise ModelSpecError(
            f"greedy layer-wise pretraining needs at least one hidden Linear layer "
            f"before the output layer, but the model has {len(linears)} Linear layer(s)"
        )
    # Activations after the output layer, such as a softmax, are not needed.
    output_name, output, _ = linears[-1]
    hidden = [HiddenLayer(name, linear, acts) for name, linear, acts in linears[:-1]]
    return LinearStack(flatten, hidden, output_name, output)
