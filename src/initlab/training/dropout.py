"""Dropout whose masks come from an explicit generator.

``torch.nn.Dropout`` draws its masks from the global random state, so a
replica trained in a batch could never see the masks it would see alone.
Here the mask of one replica for an activation of shape ``shape`` is always
``(U >= p) * (1 / (1 - p))``, with ``U`` uniform on [0, 1) from the
replica's generator. A unit is kept with probability ``1 - p``, and kept
units are scaled by ``1 / (1 - p)`` so the expected activation is unchanged
(inverted dropout, as in ``nn.Dropout``). The batched engine and
:class:`GeneratorDropout` both draw masks with :func:`dropout_mask_`, so the
same generator state gives the same mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def dropout_mask_(
    out: torch.Tensor, rate: float, generator: torch.Generator
) -> torch.Tensor:
    """Fill the float32 tensor ``out`` with an inverted-dropout mask and return it."""
    # uniform_ fills in place with the numbers torch.rand(shape) would draw.
    out.uniform_(0.0, 1.0, generator=generator)
    return out.ge_(rate).mul_(1.0 / (1.0 - rate))


def dropout_mask(
    shape: Sequence[int], rate: float, generator: torch.Generator
) -> torch.Tensor:
    """Draw one inverted-dropout mask of ``shape`` with drop probability ``rate``."""
    return dropout_mask_(torch.empty(tuple(shape)), rate, generator)


def stacked_dropout_masks(
    shape: Sequence[int],
    rates: Sequence[float],
    generators: Sequence[torch.Generator],
) -> torch.Tensor | None:
    """Draw a ``(replicas, *shape)`` mask, one replica at a time from its own generator.

    Replicas with rate 0 get a mask of ones and draw nothing, exactly as they
    would draw nothing when trained alone. Returns None when every rate is 0.
    """
    if not any(rate > 0 for rate in rates):
        return None
    masks = torch.ones((len(rates), *shape))
    for replica, (rate, generator) in enumerate(zip(rates, generators, strict=True)):
        if rate > 0:
            dropout_mask_(masks[replica], rate, generator)
    return masks


class GeneratorDropout(nn.Module):
    """``nn.Dropout`` with masks from ``generator`` instead of the global random state."""

    def __init__(self, rate: float, generator: torch.Generator) -> None:
        super().__init__()
        self.rate = rate
        self.generator = generator

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return inputs
        return inputs * dropout_mask(inputs.shape, self.rate, self.generator)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


def use_generator_dropout(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Replace every ``nn.Dropout`` in ``model`` (in place) by a :class:`GeneratorDropout`."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Dropout):
            setattr(model, name, GeneratorDropout(child.p, generator))
        else:
            use_generator_dropout(child, generator)
    return model
