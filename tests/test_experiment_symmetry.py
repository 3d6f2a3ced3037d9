"""The symmetry experiment at its small size (2 epochs)."""

from __future__ import annotations

import pytest

from initlab.experiments import get


@pytest.fixture(scope="module")
def result():
    experiment = get("symmetry")
    return experiment.run(experiment.make_config("small"))


@pytest.fixture(scope="module")
def claims(result):
    return {item["id"]: item for item in result["claims"]}


def find(result, init, dropout):
    return next(
        r for r in result["runs"] if r["init"] == init and (r["dropout"] > 0) == dropout
    )


def test_symmetry_constants_without_dropout_claim_holds(claims):
    assert claims["constant-no-dropout-one-neuron"]["holds"]


def test_symmetry_constants_without_dropout_stay_one(result):
    for init in ("zeros", "constant(0.02)", "constant(0.5)"):
        counts = find(result, init, False)["distinct"]
        assert all(layer == 1 for epoch in counts for layer in epoch), init


def test_symmetry_small_constant_dropout_claim_holds(claims):
    assert claims["small-constant-dropout-breaks"]["holds"]


def test_symmetry_small_constant_dropout_all_distinct(result):
    assert find(result, "constant(0.02)", True)["distinct"][-1] == [50] * 5


def test_symmetry_zeros_dropout_claim_holds(claims):
    assert claims["zeros-dropout-stays"]["holds"]


def test_symmetry_zeros_hidden_weights_never_move(result):
    assert find(result, "zeros", True)["max_weight_change"] == [0.0] * 5


def test_symmetry_large_constant_dropout_claim_holds(claims):
    assert claims["large-constant-dropout-stays"]["holds"]


def test_symmetry_large_constant_pre_activations_near_25(result):
    # 50 units of tanh(...) = +-1 times 0.5 each, from layer 2 on.
    deeper = find(result, "constant(0.5)", True)["at_init"][1:]
    assert all(layer["mean_abs_pre_activation"] > 20 for layer in deeper)
    assert all(layer["zero_derivative_fraction"] > 0.9 for layer in deeper)


def test_symmetry_random_claim_holds(claims):
    assert claims["random-all-distinct"]["holds"]


def test_symmetry_random_distinct_from_start(result):
    assert find(result, "glorot_uniform", False)["distinct"][0] == [50] * 5


def test_symmetry_counts_every_epoch(result):
    assert len(find(result, "zeros", False)["distinct"]) == 3
