"""The orthogonal experiment at its small size: D = 2, 8 and 32, at most 400 steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from initlab.data import load
from initlab.experiments import get
from initlab.experiments.orthogonal import moments


@pytest.fixture(scope="module")
def result():
    experiment = get("orthogonal")
    return experiment.run(experiment.make_config("small"))


@pytest.fixture(scope="module")
def claims(result):
    return {item["id"]: item for item in result["claims"]}


def test_orthogonal_depth_independent_claim_holds(claims):
    assert claims["orthogonal-depth-independent"]["holds"]


def test_orthogonal_reaches_criterion_under_300_at_32(result):
    assert result["best"]["32"]["orthogonal"]["steps_to_criterion"] < 300


def test_orthogonal_gaussian_claim_holds(claims):
    assert claims["gaussian-slows-with-depth"]["holds"]


def test_orthogonal_gaussian_slower_at_8_than_at_2(result):
    best = result["best"]
    assert (
        best["8"]["lecun_normal"]["steps_to_criterion"]
        > best["2"]["lecun_normal"]["steps_to_criterion"]
    )


def test_orthogonal_gaussian_not_reached_at_32(result):
    assert result["best"]["32"]["lecun_normal"]["steps_to_criterion"] is None


def test_moments_optimum_matches_least_squares():
    dataset = load("digits", seed=0)
    x, y = dataset.x_train.astype(np.float64), dataset.y_train
    targets = np.eye(10)[y]
    solution, *_ = np.linalg.lstsq(x, targets, rcond=None)
    direct = 0.5 * np.mean(np.sum((targets - x @ solution) ** 2, axis=1))
    data = moments(torch.as_tensor(dataset.x_train), torch.as_tensor(y), 10)
    assert data.optimum == pytest.approx(direct, rel=1e-9)


def test_moments_loss_matches_full_batch_loss():
    dataset = load("digits", seed=0)
    x = torch.as_tensor(dataset.x_train, dtype=torch.float64)
    y = torch.as_tensor(dataset.y_train)
    data = moments(x, y, 10)
    weight = torch.randn(1, 10, 64, generator=torch.Generator().manual_seed(0))
    weight = weight.to(torch.float64)
    targets = torch.nn.functional.one_hot(y, 10).to(torch.float64)
    direct = 0.5 * ((targets - x @ weight[0].T) ** 2).sum(1).mean()
    assert float(data.loss(weight)[0]) == pytest.approx(float(direct), rel=1e-10)
