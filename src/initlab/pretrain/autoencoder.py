"""One-hidden-layer autoencoders for greedy layer-wise pretraining.

Bengio, Lamblin, Popovici and Larochelle, "Greedy Layer-Wise Training of
Deep Networks" (NIPS 2006, published 2007), train each hidden layer as the
encoder of an autoencoder on the codes of the layer below. The denoising
variant (Vincent, Larochelle, Bengio and Manzagol, "Extracting and Composing
Robust Features with Denoising Autoencoders", ICML 2008) corrupts the input
and reconstructs the clean one.

Here the encoder is ``h = f(W x + c)`` with the hidden layer's own
activation ``f``, and the decoder is ``r = g(W' h + b)`` with
``W' = W^T`` when the weights are tied. ``g`` is the activation that
produced ``x`` (none for the network's input), so the reconstruction lies in
the range of the codes it reconstructs. The loss is the mean squared error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from initlab.backends.torch import fill_
from initlab.schemes import Scheme


class Autoencoder(nn.Module):
    """An autoencoder whose encoder has the shape of one hidden Linear layer.

    ``weight`` and ``bias`` have the shapes of the hidden layer's
    ``nn.Linear`` (``(out_features, in_features)`` and ``(out_features,)``),
    so they can be copied into it unchanged.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activations: list[nn.Module],
        output_activations: list[nn.Module],
        *,
        tied: bool,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.decoder_weight = (
            None if tied else nn.Parameter(torch.empty(in_features, out_features))
        )
        self.decoder_bias = nn.Parameter(torch.zeros(in_features))
        self.activations = nn.Sequential(*activations)
        self.output_activations = nn.Sequential(*output_activations)

    @property
    def tied(self) -> bool:
        return self.decoder_weight is None

    def reset_parameters(self, scheme: Scheme, generator: torch.Generator) -> None:
        """Fill the weights from ``scheme`` with ``generator``; zero the biases."""
        with torch.no_grad():
            fill_(self.weight, scheme, generator=generator)
            if self.decoder_weight is not None:
                fill_(self.decoder_weight, scheme, generator=generator)
            self.bias.zero_()
            self.decoder_bias.zero_()

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return the codes ``f(W x + c)``, computed as the model's layer computes them."""
        return self.activations(F.linear(inputs, self.weight, self.bias))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction ``g(W' h + b)``."""
        weight = self.weight.t() if self.decoder_weight is None else self.decoder_weight
        return self.output_activations(F.linear(codes, weight, self.decoder_bias))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(inputs))


def corrupt(
    inputs: torch.Tensor, noise: str, level: float, generator: torch.Generator
) -> torch.Tensor:
    """Return a corrupted copy of ``inputs`` for a denoising autoencoder.

    ``masking`` sets each value to 0 with probability ``level``;
    ``gaussian`` adds independent ``N(0, level^2)`` noise. Level 0 returns
    ``inputs`` itself.
    """
    if level == 0:
        return inputs
    if noise == "masking":
        keep = torch.rand(inputs.shape, generator=generator, device=inputs.device)
        return inputs * (keep >= level).to(inputs.dtype)
    noise_values = torch.randn(
        inputs.shape, generator=generator, device=inputs.device, dtype=inputs.dtype
    )
    return inputs + level * noise_values


def reconstruction_error(
    autoencoder: Autoencoder, inputs: torch.Tensor, batch_size: int = 4096
) -> float:
    """Return the mean squared error of the clean reconstruction of ``inputs``."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, inputs.shape[0], batch_size):
            chunk = inputs[start : start + batch_size]
            total += float(F.mse_loss(autoencoder(chunk), chunk, reduction="sum"))
    return total / inputs.numel()
