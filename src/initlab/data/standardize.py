"""Per-feature standardisation with statistics of the training split.

Every variance argument behind the initialization schemes assumes inputs of
zero mean and unit variance, so each feature ``j`` becomes
``(x[:, j] - mean[j]) / std[j]``. The ``mean`` and the population ``std``
(``ddof=0``) come from the training split only, so no test statistics leak
into training. A feature that is constant on the training split (``std`` is
0, such as the always-blank corner pixels of the digits images) is only
centred: dividing by 0 is undefined, and the centred training values are
already exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Rows per block when computing statistics and transforming, so that a
# 60,000 x 784 MNIST training split never needs a full float64 copy.
_BLOCK_ROWS = 8192


@dataclass(frozen=True)
class Standardization:
    """Per-feature ``mean`` and ``std`` of a training split (float64)."""

    mean: np.ndarray
    std: np.ndarray
    constant: np.ndarray

    @property
    def scale(self) -> np.ndarray:
        """The divisor per feature: ``std``, or 1 where the feature is constant."""
        return np.where(self.constant, 1.0, self.std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise ``x`` of shape ``(n, features)`` into a new float32 array."""
        scale = self.scale
        out = np.empty(x.shape, dtype=np.float32)
        for start in range(0, x.shape[0], _BLOCK_ROWS):
            block = np.asarray(x[start : start + _BLOCK_ROWS], dtype=np.float64)
            out[start : start + _BLOCK_ROWS] = (block - self.mean) / scale
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as plain lists of floats and ints."""
        return {
            "mean": [float(value) for value in self.mean],
            "std": [float(value) for value in self.std],
            "unscaled_features": [int(i) for i in np.flatnonzero(self.constant)],
        }


def fit_standardization(x_train: np.ndarray) -> Standardization:
    """Compute per-feature mean and std of ``x_train`` of shape ``(n, features)``.

    Two passes in float64 (the mean, then the mean squared deviation), which
    is more accurate than ``E[x^2] - E[x]^2`` for features with a large mean.
    A feature counts as constant when its maximum equals its minimum, an
    exact test that needs no tolerance.
    """
    n = x_train.shape[0]
    total = np.zeros(x_train.shape[1], dtype=np.float64)
    for start in range(0, n, _BLOCK_ROWS):
        total += x_train[start : start + _BLOCK_ROWS].sum(axis=0, dtype=np.float64)
    mean = total / n

    squares = np.zeros_like(mean)
    for start in range(0, n, _BLOCK_ROWS):
        block = np.asarray(x_train[start : start + _BLOCK_ROWS], dtype=np.float64)
        squares += ((block - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / n)

    constant = x_train.max(axis=0) == x_train.min(axis=0)
    # The float mean of a constant column can differ from its value in the
    # last bit, so take the value itself: centred training values are then
    # exactly 0 and the std exactly 0.
    mean[constant] = x_train[0, constant]
    std[constant] = 0.0
    return Standardization(mean=mean, std=std, constant=constant)
