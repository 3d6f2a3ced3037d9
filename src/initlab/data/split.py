"""Deterministic stratified train/test split for data sets that come unsplit."""

from __future__ import annotations

import math

import numpy as np

from initlab.errors import DataError


def stratified_split(
    y: np.ndarray, *, test_fraction: float, seed: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted training and test indices into ``y``.

    The test split has ``floor(test_fraction * n + 0.5)`` samples (at least
    1 and at most ``n - 1``). Each class gets a share proportional to its
    count: the floor of ``n_test * count / n``, with the samples left over
    going to the classes with the largest remainders (ties to the lower
    class index). Every class keeps at least one training sample, so the
    test split can come out smaller for tiny data sets. Which samples of a
    class go to the test split is drawn with ``numpy.random.default_rng(seed)``.
    """
    n = y.shape[0]
    if n < 2:
        raise DataError(
            f"{source}: {n} sample cannot be split into training and test "
            "samples; provide at least 2"
        )
    n_test = min(max(math.floor(test_fraction * n + 0.5), 1), n - 1)

    classes, counts = np.unique(y, return_counts=True)
    exact = n_test * counts / n
    shares = np.minimum(np.floor(exact).astype(np.int64), counts - 1)
    by_remainder = np.argsort(-(exact - shares), kind="stable")
    left = n_test - int(shares.sum())
    while left > 0:
        room = [i for i in by_remainder if shares[i] < counts[i] - 1]
        if not room:
            break
        for i in room[:left]:
            shares[i] += 1
        left = n_test - int(shares.sum())

    rng = np.random.default_rng(seed)
    test_parts = []
    for label, share in zip(classes, shares, strict=True):
        members = np.flatnonzero(y == label)
        test_parts.append(rng.permutation(members)[:share])
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(n), test, assume_unique=True)
    return train, test
