"""PyTorch's gain table and the numeric forward and backward gains."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from initlab.errors import SchemeError
from initlab.gains import (
    backward_gain,
    calculate_gain,
    forward_gain,
    gaussian_moment,
    known_activations,
    resolve_activation,
)

TABLE_NAMES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_calculate_gain_matches_torch(name):
    assert calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("slope", [None, 0, 0.0, 0.2, 1, -0.5, 3, math.sqrt(5)])
def test_calculate_gain_leaky_relu_slope_matches_torch(slope):
    expected = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert calculate_gain("leaky_relu", slope) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("linear", 1.0),
        ("conv2d", 1.0),
        ("sigmoid", 1.0),
        ("tanh", 5.0 / 3),
        ("relu", math.sqrt(2.0)),
        ("leaky_relu", math.sqrt(2.0 / (1 + 0.01**2))),
        ("selu", 0.75),
    ],
)
def test_calculate_gain_table_values(name, expected):
    assert calculate_gain(name) == expected


def test_calculate_gain_leaky_relu_slope_formula():
    assert calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / (1 + 0.2**2))


@pytest.mark.parametrize("name", ["gelu", "Relu", "softmax", ""])
def test_calculate_gain_unknown_name_raises(name):
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        calculate_gain(name)


def test_calculate_gain_unknown_message_matches_torch():
    with pytest.raises(ValueError) as ours:
        calculate_gain("gelu")
    with pytest.raises(ValueError) as theirs:
        torch.nn.init.calculate_gain("gelu")
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("slope", [True, False, [0.1], "0.1", np.int64(1)])
def test_calculate_gain_invalid_slope_raises_like_torch(slope):
    with pytest.raises(ValueError, match="not a valid number"):
        calculate_gain("leaky_relu", slope)
    with pytest.raises(ValueError, match="not a valid number"):
        torch.nn.init.calculate_gain("leaky_relu", slope)


def test_forward_gain_relu_is_sqrt2():
    assert forward_gain("relu") == pytest.approx(math.sqrt(2.0), abs=1e-9)


def test_backward_gain_relu_is_sqrt2():
    assert backward_gain("relu") == pytest.approx(math.sqrt(2.0), abs=1e-9)


@pytest.mark.parametrize("name", ["identity", "linear"])
def test_forward_gain_identity_is_one(name):
    assert forward_gain(name) == pytest.approx(1.0, abs=1e-9)


def test_backward_gain_identity_is_one():
    assert backward_gain("identity") == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "expected"), [("gelu", 1.53353), ("silu", 1.67653), ("tanh", 1.59254)]
)
def test_forward_gain_reference_values(name, expected):
    assert forward_gain(name) == pytest.approx(expected, abs=1e-5)


def test_forward_gain_gelu_uses_exact_erf():
    exact = forward_gain("gelu")
    tanh_approximation = forward_gain("gelu_tanh")
    assert exact == pytest.approx(1.53353, abs=1e-5)
    assert abs(exact - tanh_approximation) > 1e-6


def test_forward_gain_selu_keeps_unit_second_moment():
    # SELU's constants make E[selu(z)^2] = 1 for z ~ N(0, 1).
    assert forward_gain("selu") == pytest.approx(1.0, abs=1e-6)


def test_forward_gain_leaky_relu_slope():
    slope = 0.2
    expected = math.sqrt(2.0 / (1 + slope**2))
    assert forward_gain("leaky_relu", slope) == pytest.approx(expected, abs=1e-9)


def test_forward_gain_against_scipy_quad():
    def integrand(z):
        return (z * stats.norm.cdf(z)) ** 2 * stats.norm.pdf(z)

    moment, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13)
    assert forward_gain("gelu") == pytest.approx(1 / math.sqrt(moment), abs=1e-9)


def test_forward_gain_python_callable_matches_torch_name():
    assert forward_gain(math.tanh) == pytest.approx(forward_gain("tanh"), abs=1e-12)


def test_forward_gain_python_relu_lambda():
    gain = forward_gain(lambda value: max(value, 0.0))
    assert gain == pytest.approx(math.sqrt(2.0), abs=1e-9)


def test_backward_gain_python_relu_by_central_difference():
    gain = backward_gain(lambda value: max(value, 0.0))
    assert gain == pytest.approx(math.sqrt(2.0), abs=1e-8)


def test_forward_gain_numpy_callable():
    assert forward_gain(np.tanh) == pytest.approx(forward_gain("tanh"), abs=1e-12)


def test_forward_gain_torch_module():
    module = torch.nn.SiLU()
    assert forward_gain(module) == pytest.approx(forward_gain("silu"), abs=1e-12)


def test_backward_gain_torch_callable_uses_autograd():
    assert backward_gain(torch.tanh) == pytest.approx(1.46741, abs=1e-5)


def test_forward_gain_name_is_case_insensitive():
    assert forward_gain("GELU") == forward_gain("gelu")


# Closed forms for z ~ N(0, 1): int_0^a z^2 phi(z) dz = (Phi(a) - 1/2) - a phi(a).
def _second_moment_on(a):
    return (stats.norm.cdf(a) - 0.5) - a * stats.norm.pdf(a)


KINKED_CASES = [
    # (activation, E[phi^2], E[phi'^2])
    (F.relu, 0.5, 0.5),
    (
        F.relu6,
        _second_moment_on(6.0) + 36.0 * stats.norm.sf(6.0),
        stats.norm.cdf(6.0) - 0.5,
    ),
    (
        F.hardtanh,
        2 * _second_moment_on(1.0) + 2 * stats.norm.sf(1.0),
        2 * stats.norm.cdf(1.0) - 1,
    ),
    (lambda x: F.leaky_relu(x, 0.3), (1 + 0.09) / 2, (1 + 0.09) / 2),
]


@pytest.mark.parametrize(("activation", "forward", "backward"), KINKED_CASES)
def test_gaussian_moment_kinks_match_closed_form(activation, forward, backward):
    assert gaussian_moment(activation) == pytest.approx(forward, rel=1e-12)
    assert gaussian_moment(activation, derivative=True) == pytest.approx(
        backward, rel=1e-12
    )


def test_gaussian_moment_kink_off_the_panel_grid():
    # A kink at 0.3, which is not a panel edge: E[(z - c)_+^2] in closed form.
    c = 0.3
    exact = (1 + c * c) * stats.norm.sf(c) - c * stats.norm.pdf(c)
    moment = gaussian_moment(lambda x: torch.clamp(x - c, min=0))
    assert moment == pytest.approx(exact, rel=1e-9)


def test_tanh_at_forward_gain_is_chaotic():
    # Unit second moment is the fixed point at the forward gain, so the
    # per-layer factor of the mean squared gradient is (forward / backward)^2.
    gain = forward_gain("tanh")
    chi = (gain / backward_gain("tanh")) ** 2
    # tanh'(z)^2 = (1 - tanh(z)^2)^2, integrated independently by scipy.
    sech4, _ = integrate.quad(
        lambda z: stats.norm.pdf(z) * (1 - np.tanh(z) ** 2) ** 2, -40, 40
    )
    assert chi == pytest.approx(gain**2 * sech4, rel=1e-9)
    assert chi == pytest.approx(1.1778, abs=1e-4)
    # Gradient std over 50 layers: sqrt(chi^50) = chi^25, about 60-fold.
    assert chi**25 == pytest.approx(59.8, abs=0.1)


def test_sigmoid_second_moment_is_mostly_the_mean():
    moment = gaussian_moment(torch.sigmoid)
    assert moment == pytest.approx(0.293379, abs=1e-6)
    assert 0.25 / moment == pytest.approx(0.852, abs=1e-3)


@pytest.mark.parametrize(
    "name", ["gelu", "silu", "mish", "elu", "softplus", "hardtanh", "tanh", "sigmoid"]
)
def test_known_activations_lists(name):
    assert name in known_activations()


@pytest.mark.parametrize("name", known_activations())
def test_forward_gain_every_known_activation_is_finite(name):
    gain = forward_gain(name)
    assert math.isfinite(gain)
    assert gain > 0


def test_resolve_activation_unknown_name_lists_close_names():
    with pytest.raises(SchemeError, match="did you mean gelu"):
        resolve_activation("gelo")


def test_resolve_activation_unknown_name_lists_known_names():
    with pytest.raises(SchemeError, match="known names are .*silu"):
        resolve_activation("nope")


def test_resolve_activation_rejects_non_callable():
    with pytest.raises(SchemeError, match="name or a callable, got int"):
        resolve_activation(42)


def test_resolve_activation_slope_only_for_leaky_relu():
    with pytest.raises(SchemeError, match="only applies to 'leaky_relu'"):
        resolve_activation("relu", negative_slope=0.1)


def test_resolve_activation_slope_rejected_for_callable():
    with pytest.raises(SchemeError, match="bind it into the callable"):
        resolve_activation(torch.tanh, negative_slope=0.1)


@pytest.mark.parametrize("slope", [True, "0.1", math.nan, [0.1]])
def test_resolve_activation_invalid_slope(slope):
    with pytest.raises(SchemeError, match="negative_slope must be a finite number"):
        resolve_activation("leaky_relu", negative_slope=slope)


def test_forward_gain_zero_function_raises():
    with pytest.raises(SchemeError, match="no gain can restore a zero signal"):
        forward_gain(lambda x: x * 0)


def test_backward_gain_constant_function_raises():
    with pytest.raises(SchemeError, match="no gain can restore a zero gradient"):
        backward_gain(lambda value: 1.0)


def test_gaussian_moment_non_finite_raises():
    with pytest.raises(SchemeError, match="inf or NaN"):
        gaussian_moment(lambda x: torch.log(x))


def test_gaussian_moment_unevaluable_function_raises():
    def needs_a_string(value):
        return len(value)

    with pytest.raises(SchemeError, match="cannot evaluate the activation"):
        gaussian_moment(needs_a_string)
