"""Initialize one replica of a :class:`StackedNetwork` from a scheme."""

from __future__ import annotations

import torch

from initlab.backends.torch import fill_
from initlab.schemes import Scheme
from initlab.training.network import StackedNetwork


@torch.no_grad()
def initialize_replica(
    network: StackedNetwork,
    replica: int,
    scheme: Scheme | str,
    generator: torch.Generator,
    *,
    bias: float = 0.0,
) -> None:
    """Fill ``replica``'s weights from ``scheme`` and set its biases to ``bias``.

    Layers are filled in forward order from one ``generator``. Each weight is
    sampled with the shape it has in the standalone model (``(out, in)`` or
    ``(out, in, 3, 3)``, PyTorch layout), so the fans, and therefore the
    scale of every fan-based scheme, are those of the standalone layer.
    """
    for weight, biases in zip(network.weights, network.biases, strict=True):
        fill_(weight.data[replica], scheme, generator=generator)
        biases.data[replica].fill_(bias)
