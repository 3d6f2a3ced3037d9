"""Fans of every layout: exact values, PyTorch's own rule, Keras's rule, errors."""

import numpy as np
import pytest
import torch

from initlab.errors import ShapeError
from initlab.fans import Fans, compute_fans, torch_fans

# (shape, layout, groups, fan_in, fan_out), each worked out by hand.
EXACT_CASES = [
    # Dense: torch (out, in), Keras (in, out).
    ((50, 100), "torch", 1, 100, 50),
    ((100, 50), "keras", 1, 100, 50),
    # Conv2d 32 -> 64 channels, 3x3 kernel: receptive field 9.
    ((64, 32, 3, 3), "torch", 1, 32 * 9, 64 * 9),
    ((3, 3, 32, 64), "keras", 1, 32 * 9, 64 * 9),
    # Conv1d and Conv3d.
    ((16, 8, 5), "torch", 1, 8 * 5, 16 * 5),
    ((8, 4, 3, 3, 3), "torch", 1, 4 * 27, 8 * 27),
    # Grouped conv 32 -> 64 in 4 groups: weight (64, 8, 3, 3); each output
    # receives 8 channels, each input feeds 64 / 4 = 16 channels.
    ((64, 8, 3, 3), "torch", 4, 8 * 9, 16 * 9),
    ((3, 3, 8, 64), "keras", 4, 8 * 9, 16 * 9),
    # Depthwise conv, 32 channels: weight (32, 1, 3, 3), groups 32.
    ((32, 1, 3, 3), "torch", 32, 9, 9),
    # ConvTranspose2d 16 -> 8: weight (in, out, k, k).
    ((16, 8, 3, 3), "torch_transposed", 1, 16 * 9, 8 * 9),
    # Grouped ConvTranspose2d 16 -> 8 in 2 groups: weight (16, 4, 3, 3).
    ((16, 4, 3, 3), "torch_transposed", 2, 8 * 9, 4 * 9),
]


@pytest.mark.parametrize(
    ("shape", "layout", "groups", "fan_in", "fan_out"), EXACT_CASES
)
def test_compute_fans_exact(shape, layout, groups, fan_in, fan_out):
    fans = compute_fans(shape, layout, groups=groups)
    assert fans.fan_in == fan_in
    assert fans.fan_out == fan_out


@pytest.mark.parametrize(
    "shape", [(50, 100), (64, 32, 3, 3), (16, 8, 5), (8, 4, 3, 3, 3), (1, 1), (7, 0, 3)]
)
def test_compute_fans_torch_layout_matches_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert tuple(compute_fans(shape, "torch")) == expected


def test_compute_fans_torch_rule_ignores_groups_and_transposition():
    # PyTorch's own rule on a grouped or transposed weight is the plain
    # "torch" layout with groups=1, which the other layouts correct.
    weight = torch.nn.ConvTranspose2d(16, 8, 3, groups=2).weight
    torch_rule = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    assert tuple(compute_fans(weight.shape, "torch")) == torch_rule
    assert compute_fans(weight.shape, "torch_transposed", groups=2) != torch_rule


@pytest.mark.parametrize("layout", ["torch", "torch_transposed", "keras"])
def test_compute_fans_zero_dims_keras_rule(layout):
    assert compute_fans((), layout) == Fans(1, 1)


@pytest.mark.parametrize("layout", ["torch", "torch_transposed", "keras"])
def test_compute_fans_one_dim_keras_rule(layout):
    assert compute_fans((7,), layout) == Fans(7, 7)


def test_compute_fans_one_dim_zero_size():
    assert compute_fans((0,)) == Fans(0, 0)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_torch_fans_rejects_fewer_than_two_dims(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        torch_fans(shape)


def test_torch_fans_message_matches_torch():
    with pytest.raises(ValueError) as ours:
        torch_fans((5,))
    with pytest.raises(ValueError) as theirs:
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(5))
    assert str(ours.value) == str(theirs.value)


def test_fans_avg():
    assert Fans(100, 50).fan_avg == 75.0


def test_compute_fans_accepts_numpy_integers():
    shape = np.zeros((50, 100)).shape
    assert compute_fans(tuple(np.int64(d) for d in shape)) == Fans(100, 50)


def test_compute_fans_accepts_torch_size():
    assert compute_fans(torch.Size([64, 32, 3, 3])) == Fans(288, 576)


# Explicit axes, as jax.nn.initializers.variance_scaling reads them.
AXES_CASES = [
    # The JAX defaults (in -2, out -1) give the Keras layout.
    ((3, 3, 32, 64), {"in_axis": -2, "out_axis": -1}, (288, 576)),
    # Only one axis given: the other keeps its JAX default.
    ((3, 3, 32, 64), {"out_axis": -1}, (288, 576)),
    ((64, 32), {"in_axis": 1, "out_axis": 0}, (32, 64)),
    # A batch axis counts towards neither fan nor the receptive field.
    ((4, 10, 20), {"in_axis": 1, "out_axis": 2, "batch_axis": 0}, (10, 20)),
    ((2, 3, 3, 4, 8), {"in_axis": -2, "out_axis": -1, "batch_axis": 0}, (36, 72)),
    # Several input axes multiply.
    ((2, 3, 5), {"in_axis": (0, 1), "out_axis": 2}, (6, 5)),
    ((2, 3, 5, 7), {"in_axis": [0, 1], "out_axis": [2, 3]}, (6, 35)),
    # Negative and numpy axes.
    ((5, 6, 7), {"in_axis": np.int64(-3), "out_axis": -1}, (30, 42)),
]


@pytest.mark.parametrize(("shape", "axes", "expected"), AXES_CASES)
def test_compute_fans_explicit_axes(shape, axes, expected):
    assert tuple(compute_fans(shape, **axes)) == expected


def test_compute_fans_explicit_axes_ignore_layout():
    assert compute_fans((64, 32), "keras", in_axis=1, out_axis=0) == Fans(32, 64)


@pytest.mark.parametrize(
    ("shape", "kwargs", "fragment"),
    [
        ((3, -1), {}, "negative dimension"),
        ((2.5, 3), {}, "sequence of integers"),
        (("a", 3), {}, "sequence of integers"),
        ((True, 3), {}, "sequence of integers"),
        (5, {}, "sequence of integers"),
        ((3, 3), {"layout": "jax"}, "unknown layout 'jax'"),
        ((3, 3), {"groups": 0}, "groups must be a positive integer"),
        ((3, 3), {"groups": -2}, "groups must be a positive integer"),
        ((3, 3), {"groups": 1.5}, "groups must be a positive integer"),
        ((3, 3), {"groups": True}, "groups must be a positive integer"),
        ((3, 3), {"groups": "2"}, "groups must be a positive integer"),
        ((6, 3, 3, 3), {"groups": 4}, "groups=4 does not divide"),
        ((3, 3, 2, 6), {"layout": "keras", "groups": 4}, "groups=4 does not divide"),
        ((6, 3, 3, 3), {"layout": "torch_transposed", "groups": 4}, "does not divide"),
        ((4, 4), {"in_axis": 2}, "in_axis=2 is out of range"),
        ((4, 4), {"out_axis": -3}, "out_axis=-3 is out of range"),
        ((4, 4, 4), {"in_axis": 0, "out_axis": 1, "batch_axis": 5}, "batch_axis=5"),
        ((4, 4), {"in_axis": 0, "out_axis": 0}, "must name different axes"),
        ((4, 4), {"in_axis": -1}, "must name different axes"),
        ((4, 4, 4), {"in_axis": 0, "out_axis": 1, "batch_axis": 1}, "different axes"),
        ((4, 4, 4), {"in_axis": (0, 0), "out_axis": 2}, "different axes"),
        ((4, 4), {"in_axis": "x"}, "in_axis must be an integer"),
        ((4, 4), {"in_axis": 1.0}, "in_axis must be an integer"),
        ((4,), {"in_axis": 0}, "at least 2 dimensions"),
        ((4, 4), {"in_axis": 0, "out_axis": 1, "groups": 2}, "cannot be combined"),
    ],
)
def test_compute_fans_invalid_input(shape, kwargs, fragment):
    with pytest.raises(ShapeError, match=fragment):
        compute_fans(shape, **kwargs)


def test_compute_fans_shape_error_is_value_error():
    with pytest.raises(ValueError):
        compute_fans((3, -1))


def test_compute_fans_axis_error_names_valid_range():
    with pytest.raises(ShapeError, match="valid axes are -2 to 1"):
        compute_fans((4, 4), in_axis=2)
