"""Training settings shared by the batched engine and the single-model loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from initlab.errors import ConfigError

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainingSettings:
    """How every replica trains.

    ``optimizer`` is ``"sgd"`` (plain gradient descent: no momentum, no
    weight decay) or ``"adam"`` (``torch.optim.Adam`` defaults apart from the
    learning rate). Both update each parameter element from its own gradient
    and state only, so stacking replicas changes nothing. The loss is the
    mean cross-entropy over a minibatch of ``batch_size`` samples; the last
    minibatch of an epoch contains the remainder.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.05
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(
                f"invalid epochs {self.epochs}: train for at least 1 epoch"
            )
        if self.batch_size < 1:
            raise ConfigError(
                f"invalid batch size {self.batch_size}: use a positive size such as 32"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(
                f"invalid learning rate {self.lr}: use a positive number such as 0.05"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"invalid optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}"
            )

    def make_optimizer(self, parameters) -> torch.optim.Optimizer:
        """Return the optimizer these settings name, over ``parameters``."""
        if self.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=self.lr)
        return torch.optim.SGD(parameters, lr=self.lr)
