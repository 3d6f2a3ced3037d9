"""Per-epoch losses and accuracies of a set of replicas."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass
class History:
    """Losses and accuracies of ``replicas`` replicas after each epoch.

    Each metric is a float64 array of shape ``(epochs + 1, replicas)``: row 0
    is measured at initialization, before any update, and row ``e`` after
    epoch ``e``. Losses are mean cross-entropy and accuracies the fraction of
    correct predictions, both over a whole split with dropout off.
    """

    replicas: int
    rows: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def append(self, metrics: dict[str, torch.Tensor]) -> None:
        """Add one row: a ``(replicas,)`` tensor per name in :data:`METRICS`."""
        for name in METRICS:
            values = metrics[name].detach().to(torch.float64).cpu().numpy()
            self.rows.setdefault(name, []).append(values)

    def metric(self, name: str) -> np.ndarray:
        """Return the ``(epochs + 1, replicas)`` array of one metric."""
        return np.stack(self.rows[name])

    def replica(self, index: int) -> dict[str, list[float]]:
        """Return one replica's curves as lists of floats, one per row."""
        return {name: self.metric(name)[:, index].tolist() for name in METRICS}

    @property
    def epochs(self) -> int:
        """Number of epochs recorded after initialization."""
        return len(self.rows.get(METRICS[0], [])) - 1
