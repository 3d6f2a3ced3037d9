"""The forward experiment at its small size, against figures computed independently.

The reference values are analytic (layer-1 std and saturation follow from
the weight variance) or come from an independent NumPy implementation of
the same setup, averaged over 5 seeds.
"""

from __future__ import annotations

import math

import pytest

from initlab.experiments import get


@pytest.fixture(scope="module")
def result():
    experiment = get("forward")
    return experiment.run(experiment.make_config("small"))


@pytest.fixture(scope="module")
def claims(result):
    return {item["id"]: item for item in result["claims"]}


def test_forward_small_claim_holds(claims):
    assert claims["tanh-small-vanishes"]["holds"]


def test_forward_small_falls_14_fold_per_layer(result):
    std = result["networks"]["tanh"]["normal(std=0.01)"]["std"]
    fold = (std[0] / std[-1]) ** (1 / 4)
    assert 12 < fold < 16.5
    assert std[-1] < 1e-4


def test_forward_small_layer1_std_matches_analytic(result):
    # Pre-activation std sqrt(100 * 0.01^2) = 0.1, where tanh is nearly linear.
    std = result["networks"]["tanh"]["normal(std=0.01)"]["std"][0]
    assert std == pytest.approx(0.0997, rel=0.05)


def test_forward_standard_claim_holds(claims):
    assert claims["tanh-standard-saturates"]["holds"]


def test_forward_standard_saturation_matches_reference(result):
    saturated = result["networks"]["tanh"]["normal(std=1.0)"]["saturated"]
    # Layer 1: P(|z| > atanh(0.99)) for z ~ N(0, 10^2) is 0.791.
    assert saturated[0] == pytest.approx(0.791, abs=0.03)
    assert saturated[-1] == pytest.approx(0.689, abs=0.03)


def test_forward_glorot_claim_holds(claims):
    assert claims["tanh-glorot-gentle"]["holds"]


def test_forward_glorot_std_matches_reference(result):
    std = result["networks"]["tanh"]["glorot_normal"]["std"]
    assert std[0] == pytest.approx(0.668, abs=0.03)
    assert std[-1] == pytest.approx(0.328, abs=0.03)


def test_forward_relu_claim_holds(claims):
    assert claims["relu-sparsity-scale-free"]["holds"]


def test_forward_relu_he_pre_activation_std_is_sqrt2(result):
    assert result["networks"]["relu"]["he_normal"]["pre_std"][0] == pytest.approx(
        math.sqrt(2), rel=0.05
    )


def test_forward_tanh_means_near_zero(result):
    for init, data in result["networks"]["tanh"].items():
        assert all(abs(mean) < 0.01 for mean in data["mean"]), init


def test_forward_sigmoid_means_near_half(result):
    # From layer 2 on, the 0.5 mean of the previous layer gives every unit
    # its own offset sum(w) / 2, so the mean over 50 units moves a little.
    for init, data in result["networks"]["sigmoid"].items():
        assert all(abs(mean - 0.5) < 0.06 for mean in data["mean"]), init


def test_forward_histograms_have_one_per_layer(result):
    histograms = result["networks"]["tanh"]["glorot_uniform"]["histogram"]
    assert len(histograms) == 5
    assert len(histograms[0]["edges"]) == len(histograms[0]["counts"]) + 1
