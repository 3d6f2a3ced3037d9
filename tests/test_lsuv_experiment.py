"""Tests for the LSUV experiment at its small size."""

from __future__ import annotations

import json

import pytest
import torch

from initlab.errors import ConfigError
from initlab.experiments import check_result, get
from initlab.experiments import lsuv as experiment
from initlab.experiments.output import write_experiment


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_result() -> dict:
    return experiment.run(get("lsuv").make_config("small"))


def test_lsuv_experiment_follows_protocol(small_result):
    check_result("lsuv", small_result)
    json.dumps(small_result, allow_nan=False)
    assert [claim["id"] for claim in small_result["claims"]] == [
        "lsuv-unit-std",
        "lsuv-vs-he",
        "glorot-stalls",
    ]


def test_lsuv_experiment_unit_std_claim_holds(small_result):
    claims = {claim["id"]: claim for claim in small_result["claims"]}
    assert claims["lsuv-unit-std"]["holds"] is True


def test_lsuv_experiment_lsuv_trains(small_result):
    losses = small_result["inits"]["lsuv"]["train_loss"][0]
    assert len(losses) == len(small_result["steps"])
    assert losses[-1] < losses[0] - 0.5


def test_lsuv_experiment_glorot_barely_moves(small_result):
    # Glorot's Var(w) = 1/64 in these 64-wide layers halves the signal's
    # variance at every ReLU layer, so ten layers leave outputs that barely
    # depend on the input, and after a few dozen steps the loss is near ln 10.
    losses = small_result["inits"]["glorot_uniform"]["train_loss"][0]
    assert abs(losses[0] - 2.3026) < 0.05
    assert losses[-1] > 2.2


def test_lsuv_experiment_records_lsuv_layers(small_result):
    records = small_result["data_dependent"]["lsuv"]
    assert [record["seed"] for record in records] == [0]
    assert len(records[0]["layers"]) == 10
    assert all(layer["calls"] == 1 for layer in records[0]["layers"])


def test_lsuv_experiment_same_config_same_result():
    config = experiment.Config(
        depth=4, seeds=1, steps=10, eval_every=5, checkpoint=5, max_train=128
    )
    first, second = experiment.run(config), experiment.run(config)
    first.pop("timing")
    second.pop("timing")
    assert first == second


def test_lsuv_experiment_writes_report(small_result, tmp_path):
    page = write_experiment(get("lsuv"), small_result, tmp_path)
    assert page.exists()
    assert (tmp_path / "lsuv-curves.png").exists()
    assert (tmp_path / "lsuv-lsuv-std.png").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"depth": 1}, "depth counts weight layers"),
        ({"checkpoint": 70}, "checkpoint must be a multiple of eval_every"),
        ({"checkpoint": 1000}, "checkpoint must be a multiple"),
        ({"inits": ("lsuv(tolerance=1)",)}, "unknown option 'tolerance'"),
        ({"inits": ("no_such_init",)}, "unknown scheme"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"seed": True}, "seed must be a non-negative integer"),
        ({"depth": True}, "depth counts weight layers"),
    ],
)
def test_lsuv_experiment_bad_config_raises(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get("lsuv").make_config("small", overrides)
