"""The activations experiment at its small size: tanh, relu and gelu, 30 layers."""

from __future__ import annotations

import math

import pytest

from initlab.experiments import get
from initlab.experiments.activations import default_activations, length_map_slope


@pytest.fixture(scope="module")
def result():
    experiment = get("activations")
    return experiment.run(experiment.make_config("small"))


@pytest.fixture(scope="module")
def claims(result):
    return {item["id"]: item for item in result["claims"]}


def test_activations_default_has_no_aliases():
    names = default_activations()
    assert "tanh" in names
    assert "swish" not in names
    assert "linear" not in names


def test_activations_tanh_keeps_magnitude_claim_holds(claims):
    assert claims["tanh-forward-gain-keeps-magnitude"]["holds"]


def test_activations_tanh_chaotic_claim_holds(claims):
    assert claims["tanh-forward-gain-chaotic"]["holds"]


def test_activations_tanh_chi_matches_gains(result):
    # (1.59254 / 1.46741)^2 from the quadrature gains.
    assert result["activations"]["tanh"]["chi_at_forward_gain"] == pytest.approx(
        1.1779, abs=1e-3
    )


def test_activations_tanh_gradient_grows_at_forward_gain(result):
    factor = result["activations"]["tanh"]["networks"]["forward"][
        "gradient_variance_factor_per_layer"
    ]
    assert 1.1 < factor < 1.26


def test_activations_tanh_decorrelates_claim_holds(claims):
    assert claims["tanh-forward-gain-decorrelates"]["holds"]


def test_activations_tanh_gain_one_keeps_correlation(result):
    correlation = result["activations"]["tanh"]["networks"]["one"]["correlation"]
    assert correlation[-1] > 0.3


def test_activations_relu_correlates_inputs(result):
    correlation = result["activations"]["relu"]["networks"]["forward"]["correlation"]
    assert correlation[-1] > 0.9


def test_activations_gelu_drift_reported_not_hidden(claims):
    # gelu's length map has slope 1.14 at q = 1, so the magnitude drifts
    # over 30 layers, and the claim that every activation keeps it must fail.
    claim = claims["forward-gain-keeps-magnitude"]
    assert not claim["holds"]
    assert "gelu" in claim["measured"]


def test_activations_drift_explained_claim_holds(claims):
    assert claims["drift-where-length-map-not-attracting"]["holds"]


def test_activations_relu_length_map_is_neutral():
    assert length_map_slope("relu", math.sqrt(2)) == pytest.approx(1.0, abs=1e-6)


def test_activations_torch_gain_only_where_table_has_it(result):
    assert result["activations"]["tanh"]["gains"]["torch"] == pytest.approx(5 / 3)
    assert "torch" not in result["activations"]["gelu"]["gains"]
