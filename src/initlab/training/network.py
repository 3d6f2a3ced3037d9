"""A stack of independent replicas of one network, trained as one computation.

:class:`StackedNetwork` contains the parameters of ``replicas`` copies of
the network that :func:`initlab.models.build_model` builds from an ``mlp``
or ``cnn`` spec, each with a leading replica axis. One forward pass computes
every replica on its own batch:

* Linear layers are batched matrix products, ``h @ W[r]^T + b[r]`` for every
  replica ``r`` at once (``torch.baddbmm``). Their weights are stored
  transposed, ``(replicas, in, out)``, because the product and its weight
  gradient then need no transposed copy. :meth:`StackedNetwork.weight`
  returns the ``(out, in)`` view of one replica;
* 3x3 convolutions are one grouped convolution with ``groups=replicas``, so
  replica ``r`` sees only its own input channels and filters;
* activations, max pooling and dropout masks act elementwise or per channel.

No operation mixes replicas, so the gradient of the summed loss with respect
to replica ``r``'s parameters is the gradient of replica ``r``'s own loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from initlab.errors import ConfigError
from initlab.models import (
    CNNSpec,
    MLPSpec,
    ModelSpec,
    activation_module,
    linear_layers,
)


@dataclass(frozen=True)
class LayerShape:
    """One trainable layer: its kind, weight shape for a single replica, and depth.

    ``depth`` counts the trainable layers from 1 at the input, so the output
    layer of a network with five hidden layers has depth 6.
    """

    kind: str
    weight_shape: tuple[int, ...]
    depth: int
    hidden: bool

    @property
    def name(self) -> str:
        """A short label such as ``"linear 2"`` or ``"conv 1"``."""
        return f"{self.kind} {self.depth}"

    @property
    def width(self) -> int:
        """Number of units (Linear) or output channels (convolution)."""
        return self.weight_shape[0]

    @property
    def storage_shape(self) -> tuple[int, ...]:
        """The stored shape for one replica: ``(in, out)`` for Linear layers."""
        if self.kind == "linear":
            return (self.weight_shape[1], self.weight_shape[0])
        return self.weight_shape


def _stateless_activation(name: str) -> nn.Module | None:
    activation = activation_module(name)
    if activation is not None and any(True for _ in activation.parameters()):
        raise ConfigError(
            f"activation {name!r} has learnable parameters, which replicas "
            "cannot share in one batched run; use a parameter-free activation "
            "such as relu, leakyrelu, tanh or gelu"
        )
    return activation


class StackedNetwork(nn.Module):
    """``replicas`` independent copies of the network an mlp or cnn spec describes.

    Inputs have shape ``(replicas, batch, *input_shape)``, one batch per
    replica, or ``(batch, *input_shape)`` for one batch shared by every
    replica (evaluation). Outputs have shape ``(replicas, batch, classes)``.
    """

    def __init__(
        self,
        spec: ModelSpec,
        input_shape: Sequence[int],
        num_classes: int,
        replicas: int,
    ) -> None:
        super().__init__()
        if replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {replicas}")
        self.spec = spec
        self.input_shape = tuple(int(size) for size in input_shape)
        self.num_classes = int(num_classes)
        self.replicas = int(replicas)
        self.activation = _stateless_activation(spec.activation)
        if isinstance(spec, MLPSpec):
            self.layers = self._mlp_layers(spec)
        elif isinstance(spec, CNNSpec):
            self.layers = self._cnn_layers(spec)
        else:
            raise ConfigError(
                f"a batched run needs an mlp or cnn spec, got {type(spec).__name__}"
            )
        self.weights = nn.ParameterList(
            nn.Parameter(torch.zeros((self.replicas, *layer.storage_shape)))
            for layer in self.layers
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.zeros((self.replicas, layer.width)))
            for layer in self.layers
        )

    # Layer bookkeeping ---------------------------------------------------

    def _mlp_layers(self, spec: MLPSpec) -> list[LayerShape]:
        features = math.prod(self.input_shape)
        resolved = spec.resolve(features, self.num_classes)
        if resolved.out_features != self.num_classes:
            raise ConfigError(
                f"model spec {spec.text!r} has {resolved.out_features} outputs "
                f"but the data has {self.num_classes} classes; drop the output "
                "width from the spec or make it match"
            )
        layers: list[LayerShape] = []
        width = features
        for depth, hidden in enumerate(resolved.hidden, start=1):
            layers.append(LayerShape("linear", (hidden, width), depth, True))
            width = hidden
        depth = len(layers) + 1
        layers.append(LayerShape("linear", (self.num_classes, width), depth, False))
        return layers

    def _cnn_layers(self, spec: CNNSpec) -> list[LayerShape]:
        if len(self.input_shape) != 3:
            raise ConfigError(
                f"model spec {spec.text!r} needs image inputs of shape "
                f"(channels, height, width), got {self.input_shape}; use an mlp "
                "spec or image data such as digits or mnist-5k"
            )
        channels, height, width = self.input_shape
        layers: list[LayerShape] = []
        self.pools: list[bool] = []
        for depth, out_channels in enumerate(spec.channels, start=1):
            layers.append(
                LayerShape("conv", (out_channels, channels, 3, 3), depth, True)
            )
            # build_model pools only while both sides are at least 2.
            pool = min(height, width) >= 2
            self.pools.append(pool)
            if pool:
                height, width = height // 2, width // 2
            channels = out_channels
        self.flat_features = channels * height * width
        depth = len(layers) + 1
        layers.append(
            LayerShape("linear", (self.num_classes, self.flat_features), depth, False)
        )
        return layers

    @property
    def hidden_layers(self) -> list[LayerShape]:
        """The hidden layers, in forward order (every layer but the output)."""
        return [layer for layer in self.layers if layer.hidden]

    @property
    def dropout_shapes(self) -> list[tuple[int, ...]]:
        """The per-sample shape of each dropout site, in forward order.

        An mlp spec with dropout has one site after each hidden activation; a
        cnn spec has one before the output layer. Empty without dropout.
        """
        if self.spec.dropout == 0:
            return []
        if isinstance(self.spec, CNNSpec):
            return [(self.flat_features,)]
        return [(layer.width,) for layer in self.hidden_layers]

    # Forward -------------------------------------------------------------

    def forward(
        self,
        inputs: torch.Tensor,
        masks: Sequence[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        """Return logits of shape ``(replicas, batch, classes)``.

        ``masks`` contains one ``(replicas, batch, *site_shape)`` tensor or None
        per dropout site (see :attr:`dropout_shapes`); None means no dropout.
        """
        logits, _ = self._run(inputs, masks, keep_hidden=False)
        return logits

    def hidden_outputs(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return each hidden layer's activation output, without dropout.

        Each tensor has shape ``(replicas, batch, *unit_shape)``.
        """
        _, hidden = self._run(inputs, None, keep_hidden=True)
        return hidden

    def _run(
        self,
        inputs: torch.Tensor,
        masks: Sequence[torch.Tensor | None] | None,
        keep_hidden: bool,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        shared = inputs.dim() == 1 + len(self.input_shape)
        masks = list(masks) if masks is not None else []
        if isinstance(self.spec, CNNSpec):
            return self._run_cnn(inputs, shared, masks, keep_hidden)
        return self._run_mlp(inputs, shared, masks, keep_hidden)

    def _activate(self, values: torch.Tensor) -> torch.Tensor:
        return values if self.activation is None else self.activation(values)

    def weight(self, index: int, replica: int) -> torch.Tensor:
        """Return layer ``index``'s weight of ``replica`` in the standalone layout.

        That is ``(out, in)`` for Linear layers and ``(out, in, 3, 3)`` for
        convolutions. The result is a view of the parameter, so writing to it
        (under ``torch.no_grad()``) changes the replica.
        """
        stored = self.weights[index][replica]
        return stored.t() if self.layers[index].kind == "linear" else stored

    def _linear(self, h: torch.Tensor, index: int) -> torch.Tensor:
        weight, bias = self.weights[index], self.biases[index]  # (R, in, out)
        if h.dim() == 2:
            # One batch shared by all replicas: a single (batch, in) @ (in, R*out)
            # product, viewed as (R, batch, out).
            replicas, features, out = weight.shape
            product = h @ weight.transpose(0, 1).reshape(features, replicas * out)
            return product.view(-1, replicas, out).transpose(0, 1) + bias.unsqueeze(1)
        # (R, batch, in) @ (R, in, out) + (R, 1, out)
        return torch.baddbmm(bias.unsqueeze(1), h, weight)

    def _run_mlp(self, inputs, shared, masks, keep_hidden):
        h = inputs.flatten(1) if shared else inputs.flatten(2)
        hidden: list[torch.Tensor] = []
        for index in range(len(self.layers) - 1):
            h = self._activate(self._linear(h, index))
            if keep_hidden:
                hidden.append(h)
            if index < len(masks) and masks[index] is not None:
                h = h * masks[index]
        return self._linear(h, len(self.layers) - 1), hidden

    def _run_cnn(self, inputs, shared, masks, keep_hidden):
        replicas = self.replicas
        if shared:
            # (B, C, H, W) -> (B, R*C, H, W): every replica reads the same image.
            batch = inputs.shape[0]
            h = inputs.unsqueeze(1).expand(batch, replicas, *inputs.shape[1:])
        else:
            batch = inputs.shape[1]
            h = inputs.transpose(0, 1)
        h = h.reshape(batch, replicas * self.input_shape[0], *self.input_shape[1:])
        hidden: list[torch.Tensor] = []
        for index, pool in enumerate(self.pools):
            weight, bias = self.weights[index], self.biases[index]
            # Replica r owns input channels [r*C, (r+1)*C) and its own filters.
            h = F.conv2d(
                h,
                weight.reshape(-1, *weight.shape[2:]),
                bias.reshape(-1),
                padding=1,
                groups=replicas,
            )
            h = self._activate(h)
            if keep_hidden:
                hidden.append(
                    h.reshape(batch, replicas, -1, *h.shape[2:]).transpose(0, 1)
                )
            if pool:
                h = F.max_pool2d(h, 2)
        # (B, R*C, H, W) -> (R, B, C*H*W), the order nn.Flatten gives one replica.
        h = h.reshape(batch, replicas, -1).transpose(0, 1)
        if masks and masks[0] is not None:
            h = h * masks[0]
        return self._linear(h, len(self.layers) - 1), hidden

    # Moving replicas in and out -------------------------------------------

    @torch.no_grad()
    def load_replica(self, replica: int, model: nn.Module) -> None:
        """Copy the weights and biases of a standalone model into ``replica``.

        ``model`` is what :func:`initlab.models.build_model` builds for the
        same spec, input shape and classes, with any dropout rate. Its Linear
        and convolution layers are matched to this stack's layers in order.
        """
        for index, module in enumerate(self._standalone_layers(model)):
            self.weight(index, replica).copy_(module.weight)
            if module.bias is not None:
                self.biases[index][replica].copy_(module.bias)
            else:
                self.biases[index][replica].zero_()

    @torch.no_grad()
    def store_replica(self, replica: int, model: nn.Module) -> nn.Module:
        """Copy ``replica``'s weights and biases into a standalone model; return it."""
        for index, module in enumerate(self._standalone_layers(model)):
            module.weight.copy_(self.weight(index, replica))
            if module.bias is not None:
                module.bias.copy_(self.biases[index][replica])
        return model

    def _standalone_layers(self, model: nn.Module) -> list[nn.Module]:
        modules = [module for _, module in linear_layers(model)]
        shapes = [tuple(module.weight.shape) for module in modules]
        expected = [layer.weight_shape for layer in self.layers]
        if shapes != expected:
            raise ValueError(
                f"the standalone model's layer weight shapes {shapes} differ from "
                f"this stack's {expected}; build it with initlab.models.build_model "
                "from the same spec and data"
            )
        return modules
