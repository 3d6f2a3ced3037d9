"""Distinct neurons in a layer: how far training broke the symmetry of an init.

Units that start with equal incoming weights and biases receive equal
gradients, so plain gradient descent keeps them equal and a layer of 50
units computes one function. Two units of a layer count as the same when
their incoming weights and biases differ by at most ``tolerance`` times the
layer's largest absolute weight (default 1e-4) in every entry. The distinct
count is the number of groups of units linked by that relation.
"""

from __future__ import annotations

import torch

DEFAULT_TOLERANCE = 1e-4


def count_distinct_neurons(
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Return the number of distinct units of one layer.

    Args:
        weight: the layer's weight, units first: ``(out, in)`` for a Linear
            layer, ``(out, in, *kernel)`` for a convolution.
        bias: the ``(out,)`` bias, or None.
        tolerance: the largest difference, relative to ``max |weight|``, at
            which two units count as the same.

    A layer whose weights are all 0 has a threshold of 0, so its units are
    the same only when they are exactly equal.
    """
    rows = weight.detach().reshape(weight.shape[0], -1).to(torch.float64)
    if bias is not None:
        rows = torch.cat([rows, bias.detach().reshape(-1, 1).to(torch.float64)], 1)
    if rows.shape[0] == 0:
        return 0
    threshold = tolerance * float(weight.detach().abs().max())
    # (out, out): largest entrywise difference between each pair of units.
    distance = (rows.unsqueeze(0) - rows.unsqueeze(1)).abs().amax(dim=2)
    linked = distance <= threshold
    return _count_components(linked)


def _count_components(linked: torch.Tensor) -> int:
    # Union-find over the pairs of units that count as the same.
    parent = list(range(linked.shape[0]))

    def root(unit: int) -> int:
        while parent[unit] != unit:
            parent[unit] = parent[parent[unit]]
            unit = parent[unit]
        return unit

    for first, second in torch.nonzero(torch.triu(linked, diagonal=1)).tolist():
        parent[root(first)] = root(second)
    return len({root(unit) for unit in range(len(parent))})
