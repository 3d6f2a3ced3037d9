"""Restricted Boltzmann machines trained with one step of contrastive divergence.

Hinton, Osindero and Teh, "A Fast Learning Algorithm for Deep Belief Nets"
(Neural Computation, 2006), and Hinton and Salakhutdinov, "Reducing the
Dimensionality of Data with Neural Networks" (Science, 2006), pretrain a
sigmoid network one RBM at a time. The hidden units are Bernoulli:

    p(h = 1 | v) = sigmoid(W v + c)

so the hidden probabilities are exactly the sigmoid layer's output. The
first RBM takes standardised real-valued inputs and has Gaussian visible
units of unit variance, ``v | h ~ N(W^T h + b, 1)``; the RBMs above take
sigmoid codes and have Bernoulli visible units,
``p(v = 1 | h) = sigmoid(W^T h + b)``.

CD-1 (Hinton, "Training Products of Experts by Minimizing Contrastive
Divergence", 2002) estimates the log-likelihood gradient as

    dW = <h v^T>_data - <h v^T>_reconstruction

from one Gibbs step: hidden probabilities from the data, a binary hidden
sample, the visible means as the reconstruction, and hidden probabilities
from the reconstruction. Following Hinton's "A Practical Guide to Training
Restricted Boltzmann Machines" (2010), the statistics use probabilities
rather than samples everywhere except the hidden sample that drives the
reconstruction.
"""

from __future__ import annotations

import torch
from torch import nn

from initlab.backends.torch import fill_
from initlab.schemes import Scheme


class RBM(nn.Module):
    """An RBM whose weight has the shape of one hidden Linear layer, ``(hidden, visible)``."""

    def __init__(self, visible: int, hidden: int, *, gaussian_visible: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(hidden, visible))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.visible_bias = nn.Parameter(torch.zeros(visible))
        self.gaussian_visible = gaussian_visible

    def reset_parameters(self, scheme: Scheme, generator: torch.Generator) -> None:
        """Fill the weight from ``scheme`` with ``generator``; zero the biases."""
        with torch.no_grad():
            fill_(self.weight, scheme, generator=generator)
            self.bias.zero_()
            self.visible_bias.zero_()

    def encode(self, visible: torch.Tensor) -> torch.Tensor:
        """Return ``p(h = 1 | v)``, the sigmoid layer's output."""
        return torch.sigmoid(
            torch.nn.functional.linear(visible, self.weight, self.bias)
        )

    def visible_mean(self, hidden: torch.Tensor) -> torch.Tensor:
        """Return ``E[v | h]``: ``W^T h + b`` for Gaussian units, its sigmoid for Bernoulli ones."""
        activation = hidden @ self.weight + self.visible_bias
        return activation if self.gaussian_visible else torch.sigmoid(activation)

    def forward(self, visible: torch.Tensor) -> torch.Tensor:
        """Return the mean-field reconstruction, with hidden probabilities in place of samples."""
        return self.visible_mean(self.encode(visible))

    def contrastive_divergence_(
        self, visible: torch.Tensor, generator: torch.Generator
    ) -> float:
        """Store the negated CD-1 gradient in ``.grad`` and return the batch's reconstruction MSE.

        The gradient is negated so that any torch optimizer's ``step()``
        moves the parameters up the estimated log-likelihood gradient.
        """
        with torch.no_grad():
            hidden_data = self.encode(visible)
            hidden_sample = torch.bernoulli(hidden_data, generator=generator)
            reconstruction = self.visible_mean(hidden_sample)
            hidden_model = self.encode(reconstruction)

            batch = visible.shape[0]
            positive = hidden_data.t() @ visible
            negative = hidden_model.t() @ reconstruction
            self.weight.grad = (negative - positive) / batch
            self.bias.grad = (hidden_model - hidden_data).mean(dim=0)
            self.visible_bias.grad = (reconstruction - visible).mean(dim=0)
            return float((reconstruction - visible).square().mean())


def reconstruction_error(
    rbm: RBM, visible: torch.Tensor, batch_size: int = 4096
) -> float:
    """Return the mean squared error of the mean-field reconstruction of ``visible``."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, visible.shape[0], batch_size):
            chunk = visible[start : start + batch_size]
            total += float((rbm(chunk) - chunk).square().sum())
    return total / visible.numel()
