"""The backward experiment at its small size, against independently measured figures."""

from __future__ import annotations

import pytest

from initlab.experiments import get


@pytest.fixture(scope="module")
def result():
    experiment = get("backward")
    return experiment.run(experiment.make_config("small"))


@pytest.fixture(scope="module")
def claims(result):
    return {item["id"]: item for item in result["claims"]}


def test_backward_small_claim_holds(claims):
    assert claims["tanh-small-gradient-vanishes"]["holds"]


def test_backward_small_input_gradient_matches_reference(result):
    grad = result["random_upstream"]["tanh"]["normal(std=0.01)"]["grad_in"]
    assert grad[0] == pytest.approx(1.79e-6, rel=0.15)


def test_backward_saturated_units_claim_holds(claims):
    assert claims["tanh-standard-saturated-units-pass-little"]["holds"]


def test_backward_saturated_share_is_tiny(result):
    assert max(result["tanh_standard_saturated_share"]) < 0.01


def test_backward_standard_growth_claim_holds(claims):
    assert claims["tanh-standard-gradient-grows"]["holds"]


def test_backward_standard_input_gradient_matches_reference(result):
    grad = result["random_upstream"]["tanh"]["normal(std=1.0)"]["grad_in"]
    assert grad[0] == pytest.approx(26.0, rel=0.12)
    assert grad[-1] == pytest.approx(1.99, rel=0.1)


def test_backward_glorot_claim_holds(claims):
    assert claims["tanh-glorot-gradient-stable"]["holds"]


def test_backward_glorot_input_gradient_matches_reference(result):
    grad = result["random_upstream"]["tanh"]["glorot_uniform"]["grad_in"]
    assert grad[0] == pytest.approx(0.273, rel=0.12)


def test_backward_relu_he_input_gradient_matches_reference(result):
    grad = result["random_upstream"]["relu"]["he_normal"]["grad_in"]
    assert grad[0] == pytest.approx(0.68, rel=0.25)


def test_backward_digits_small_claim_holds(claims):
    assert claims["digits-small-gradient-vanishes"]["holds"]


def test_backward_digits_standard_claim_holds(claims):
    assert claims["digits-standard-gradient-grows"]["holds"]


def test_backward_digits_glorot_claim_holds(claims):
    assert claims["digits-glorot-gradient-stable"]["holds"]


def test_backward_digits_loss_starts_near_ln10_for_small(result):
    assert result["digits"]["networks"]["normal(std=0.01)"]["loss"] == pytest.approx(
        2.3026, abs=1e-3
    )
