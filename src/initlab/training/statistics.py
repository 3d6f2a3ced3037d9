"""Activation statistics of every replica's hidden layers on one batch."""

from __future__ import annotations

from typing import Any

import torch

from initlab.training.network import StackedNetwork

DEFAULT_BINS = 40


def _histogram(values: torch.Tensor, bins: int) -> dict[str, list[float]]:
    values = values[torch.isfinite(values)]
    if values.numel() == 0:
        return {"edges": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if not high > low:
        # A layer whose outputs are all equal still gets a visible bar.
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(values, bins=bins, min=low, max=high)
    edges = torch.linspace(low, high, bins + 1, dtype=torch.float64)
    return {"edges": edges.tolist(), "counts": [int(c) for c in counts.tolist()]}


@torch.no_grad()
def hidden_statistics(
    network: StackedNetwork, inputs: torch.Tensor, *, bins: int = DEFAULT_BINS
) -> list[list[dict[str, Any]]]:
    """Return, per replica and hidden layer, the output mean, std and histogram.

    ``inputs`` is one batch of shape ``(batch, *input_shape)`` shared by all
    replicas; dropout is off. The std is the population std over every
    sample and unit of the layer's activation output. The histogram spans
    the layer's own smallest to largest output, in ``bins`` equal bins.
    """
    outputs = network.hidden_outputs(inputs)
    per_replica: list[list[dict[str, Any]]] = []
    for replica in range(network.replicas):
        layers = []
        for layer, output in zip(network.hidden_layers, outputs, strict=True):
            values = output[replica].reshape(-1).to(torch.float64)
            layers.append(
                {
                    "name": layer.name,
                    "mean": float(values.mean()),
                    "std": float(values.std(unbiased=False)),
                    "histogram": _histogram(values.to(torch.float32), bins),
                }
            )
        per_replica.append(layers)
    return per_replica
