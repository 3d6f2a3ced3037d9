"""Loss and accuracy of every replica on a whole split, in chunks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from initlab.training.network import StackedNetwork

# Cap on the float32 activations one evaluation chunk keeps at once
# (replicas x samples x widest layer), so that large data and many replicas
# evaluate in bounded memory.
_CHUNK_BYTES = 64 * 1024 * 1024


def _chunk_size(network: StackedNetwork) -> int:
    widest = max(
        [math.prod(network.input_shape), network.num_classes]
        + [_units_per_sample(network, layer) for layer in network.hidden_layers]
    )
    return max(1, _CHUNK_BYTES // (4 * network.replicas * widest))


def _units_per_sample(network: StackedNetwork, layer) -> int:
    if layer.kind == "conv":
        # A convolution keeps the spatial size before pooling; the input's
        # spatial size is the upper bound.
        return layer.width * math.prod(network.input_shape[1:])
    return layer.width


@torch.no_grad()
def evaluate_split(
    network: StackedNetwork, inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each replica's mean cross-entropy and accuracy on ``inputs``.

    ``inputs`` has shape ``(samples, *input_shape)`` and is shared by all
    replicas; both results have shape ``(replicas,)``. Dropout is off.
    """
    samples = inputs.shape[0]
    loss_sum = torch.zeros(network.replicas, dtype=torch.float64)
    correct = torch.zeros(network.replicas, dtype=torch.float64)
    step = _chunk_size(network)
    for start in range(0, samples, step):
        chunk = inputs[start : start + step]
        labels = targets[start : start + step]
        logits = network(chunk)  # (R, chunk, classes)
        losses = F.cross_entropy(
            logits.transpose(1, 2),
            labels.unsqueeze(0).expand(network.replicas, -1),
            reduction="none",
        )
        loss_sum += losses.sum(dim=1, dtype=torch.float64)
        correct += (logits.argmax(dim=2) == labels).sum(dim=1, dtype=torch.float64)
    return loss_sum / samples, correct / samples
