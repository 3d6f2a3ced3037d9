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
    for index, layer in enumerate(network.layers):
        # Fill a contiguous tensor in the standalone layout, so the draws land
        # where they would in the standalone layer, then copy it in.
        values = torch.empty(layer.weight_shape)
        fill_(values, scheme, generator=generator)
        network.weight(index, replica).copy_(values)
        network.biases[index][replica].fill_(bias)
