"""The batched engine: train every replica of a :class:`StackedNetwork` at once.

Each step of one epoch, for every replica ``r`` at the same time:

1. take the next ``batch_size`` indices of replica ``r``'s own permutation of
   the training split, drawn at the start of the epoch from its generator;
2. draw replica ``r``'s dropout masks from the same generator (replicas with
   dropout rate 0 draw nothing);
3. compute replica ``r``'s mean cross-entropy on its minibatch;
4. back-propagate the sum of the replicas' losses, whose gradient with
   respect to replica ``r``'s parameters is that of its own loss, and step an
   optimizer whose update is elementwise, so every replica keeps its own
   optimizer state.

A replica therefore follows the same trajectory as the same model trained
alone by :func:`initlab.training.single.train_single` with the same
generator, up to float32 rounding from summing in another order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from initlab.training.dropout import stacked_dropout_masks
from initlab.training.evaluation import evaluate_split
from initlab.training.history import History
from initlab.training.network import StackedNetwork
from initlab.training.settings import TrainingSettings

EpochCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Splits:
    """Training and test tensors: float32 inputs and int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test) -> Splits:
        """Build splits from NumPy arrays or tensors, converting the dtypes."""
        return cls(
            torch.as_tensor(x_train, dtype=torch.float32),
            torch.as_tensor(y_train, dtype=torch.int64),
            torch.as_tensor(x_test, dtype=torch.float32),
            torch.as_tensor(y_test, dtype=torch.int64),
        )

    @classmethod
    def from_dataset(cls, dataset: Any) -> Splits:
        """Build splits from an :class:`initlab.data.Dataset`'s train and test arrays."""
        return cls.from_arrays(
            dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
        )


def _check_replica_lists(network, generators, dropout_rates) -> None:
    if len(generators) != network.replicas:
        raise ValueError(
            f"expected one generator per replica ({network.replicas}), got {len(generators)}"
        )
    if len(dropout_rates) != network.replicas:
        raise ValueError(
            f"expected one dropout rate per replica ({network.replicas}), got {len(dropout_rates)}"
        )
    for rate in dropout_rates:
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rates must be in [0, 1), got {rate}")
    if any(rate > 0 for rate in dropout_rates) and not network.dropout_shapes:
        raise ValueError(
            "dropout rates above 0 need a spec with dropout sites; build the "
            "network from a spec with dropout=P (P > 0) and pass rate 0 for the "
            "replicas that train without dropout"
        )


def measure(network: StackedNetwork, splits: Splits) -> dict[str, torch.Tensor]:
    """Return every replica's loss and accuracy on both splits, dropout off."""
    train_loss, train_accuracy = evaluate_split(network, splits.x_train, splits.y_train)
    test_loss, test_accuracy = evaluate_split(network, splits.x_test, splits.y_test)
    return {
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
    }


def train_replicas(
    network: StackedNetwork,
    splits: Splits,
    settings: TrainingSettings,
    generators: Sequence[torch.Generator],
    dropout_rates: Sequence[float] | None = None,
    *,
    on_epoch: EpochCallback | None = None,
) -> History:
    """Train all replicas of ``network`` in place and return their history.

    Args:
        network: the replicas, already initialized.
        splits: the data; every replica trains on the whole training split.
        settings: epochs, batch size, learning rate and optimizer.
        generators: one generator per replica for its data order and its
            dropout masks. Replicas may not share a generator object.
        dropout_rates: one rate per replica, all 0 when None. A rate above 0
            needs a network built from a spec with dropout, whose sites it
            uses; the spec's own rate is ignored.
        on_epoch: called as ``on_epoch(epoch, epochs)`` after each epoch.
    """
    rates = [0.0] * network.replicas if dropout_rates is None else list(dropout_rates)
    _check_replica_lists(network, generators, rates)
    if len({id(generator) for generator in generators}) != len(generators):
        raise ValueError("each replica needs its own generator object")

    samples = splits.x_train.shape[0]
    optimizer = settings.make_optimizer(network.parameters())
    history = History(network.replicas)
    network.eval()
    history.append(measure(network, splits))

    for epoch in range(1, settings.epochs + 1):
        network.train()
        # (R, samples): row r is replica r's data order for this epoch.
        order = torch.stack(
            [torch.randperm(samples, generator=generator) for generator in generators]
        )
        for start in range(0, samples, settings.batch_size):
            indices = order[:, start : start + settings.batch_size]  # (R, B)
            batch = indices.shape[1]
            masks = [
                stacked_dropout_masks((batch, *shape), rates, generators)
                for shape in network.dropout_shapes
            ]
            logits = network(splits.x_train[indices], masks)  # (R, B, classes)
            losses = F.cross_entropy(
                logits.reshape(-1, logits.shape[2]),
                splits.y_train[indices].reshape(-1),
                reduction="none",
            )  # (R * B,)
            optimizer.zero_grad(set_to_none=True)
            # Every replica's minibatch has B samples, so the sum over
            # replicas of each one's mean loss is the total divided by B.
            (losses.sum() / batch).backward()
            optimizer.step()
        network.eval()
        history.append(measure(network, splits))
        if on_epoch is not None:
            on_epoch(epoch, settings.epochs)
    return history
