"""The reference loop: train one standalone model, as a replica would train alone.

This is the plain PyTorch loop the batched engine must agree with: an
``nn.Module``, a ``torch.optim`` optimizer and one minibatch after another.
The data order and dropout masks come from ``generator`` in the same order
as in :func:`initlab.training.engine.train_replicas`: one permutation at the
start of each epoch, then each dropout site's mask in forward order at every
step. It is also the sequential baseline of the comparison benchmark.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from initlab.training.dropout import use_generator_dropout
from initlab.training.engine import EpochCallback, Splits
from initlab.training.history import History
from initlab.training.settings import TrainingSettings


@torch.no_grad()
def _measure(model: nn.Module, splits: Splits) -> dict[str, torch.Tensor]:
    metrics: dict[str, torch.Tensor] = {}
    for split, inputs, targets in (
        ("train", splits.x_train, splits.y_train),
        ("test", splits.x_test, splits.y_test),
    ):
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        accuracy = (logits.argmax(dim=1) == targets).to(torch.float64).mean()
        metrics[f"{split}_loss"] = loss.reshape(1)
        metrics[f"{split}_accuracy"] = accuracy.reshape(1)
    return metrics


def train_single(
    model: nn.Module,
    splits: Splits,
    settings: TrainingSettings,
    generator: torch.Generator,
    *,
    on_epoch: EpochCallback | None = None,
) -> History:
    """Train ``model`` in place and return its history (one replica).

    Every ``nn.Dropout`` in ``model`` is replaced by one that draws its masks
    from ``generator``.
    """
    use_generator_dropout(model, generator)
    samples = splits.x_train.shape[0]
    optimizer = settings.make_optimizer(model.parameters())
    history = History(1)
    model.eval()
    history.append(_measure(model, splits))

    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(samples, generator=generator)
        for start in range(0, samples, settings.batch_size):
            indices = order[start : start + settings.batch_size]
            loss = F.cross_entropy(
                model(splits.x_train[indices]), splits.y_train[indices]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        history.append(_measure(model, splits))
        if on_epoch is not None:
            on_epoch(epoch, settings.epochs)
    return history
