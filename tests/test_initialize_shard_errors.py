"""initialize_shard: every invalid argument raises an initlab error before any work."""

import numpy as np
import pytest
import torch

import initlab.initialize.shard as shard_module
from initlab import Fans, initialize_shard
from initlab.errors import ConfigError, ShapeError
from initlab.initialize import Rule


def _shard(**overrides):
    arguments = {
        "param_name": "w",
        "full_shape": (100, 4),
        "shard_slices": (),
        "scheme": "he_normal",
    }
    arguments.update(overrides)
    return initialize_shard(**arguments)


INVALID_CALLS = {
    "step zero": ({"shard_slices": (slice(0, 4, 0),)}, ShapeError, "step 0"),
    "step negative": ({"shard_slices": (slice(4, 0, -1),)}, ShapeError, "step -1"),
    "bare slice": ({"shard_slices": slice(0, 4)}, ShapeError, "sequence of slices"),
    "slices None": ({"shard_slices": None}, ShapeError, "sequence of slices"),
    "slices string": ({"shard_slices": "0:4"}, ShapeError, "sequence of slices"),
    "integer index": ({"shard_slices": (1,)}, ShapeError, "use slice objects"),
    "float start": ({"shard_slices": (slice(0.5, 2),)}, ShapeError, r"start is 0\.5"),
    "float stop": ({"shard_slices": (slice(0, 2.0),)}, ShapeError, r"stop is 2\.0"),
    "float step": ({"shard_slices": (slice(0, 2, 1.0),)}, ShapeError, r"step is 1\.0"),
    "bool bound": ({"shard_slices": (slice(True, 2),)}, ShapeError, "start is True"),
    "start past end": (
        {"shard_slices": (slice(200, 300),)},
        ShapeError,
        "start is 200, outside axis 0 of size 100",
    ),
    "stop past end": (
        {"shard_slices": (slice(0, 101),)},
        ShapeError,
        "stop is 101, outside axis 0",
    ),
    "start before front": (
        {"shard_slices": (slice(-101, None),)},
        ShapeError,
        "start is -101, outside axis 0",
    ),
    "stop past end axis 1": (
        {"shard_slices": (slice(None), slice(0, 5))},
        ShapeError,
        "stop is 5, outside axis 1 of size 4",
    ),
    "reversed bounds": (
        {"shard_slices": (slice(6, 5),)},
        ShapeError,
        "starts at index 6 after its stop 5",
    ),
    "reversed negative": (
        {"shard_slices": (slice(-2, 3),)},
        ShapeError,
        "starts at index 98 after its stop 3",
    ),
    "too many slices": (
        {"shard_slices": (slice(None),) * 3},
        ShapeError,
        "at most one slice per dimension",
    ),
    "negative size": ({"full_shape": (-4, 4)}, ShapeError, r"full_shape=\(-4, 4\)"),
    "string shape": ({"full_shape": "44"}, ShapeError, "full_shape='44'"),
    "bare int shape": ({"full_shape": 4}, ShapeError, "full_shape=4"),
    "shape None": ({"full_shape": None}, ShapeError, "full_shape=None"),
    "float size": ({"full_shape": (3.7, 4)}, ShapeError, r"full_shape=\(3\.7, 4\)"),
    "whole float size": ({"full_shape": (4.0, 4)}, ShapeError, "non-negative integers"),
    "bool size": ({"full_shape": (True, 4)}, ShapeError, "non-negative integers"),
    "fans tuple": ({"fans": (4, 4)}, ConfigError, r"fans=\(4, 4\)"),
    "fans string": ({"fans": "layer"}, ConfigError, "fans='layer'"),
    "fans number": ({"fans": 4.0}, ConfigError, r"Fans\(\*pair\)"),
    "fans negative": ({"fans": Fans(-1, 4)}, ConfigError, "fans.fan_in"),
    "fans nan": ({"fans": Fans(4, float("nan"))}, ConfigError, "fans.fan_out"),
    "fans string entry": ({"fans": Fans("4", 4)}, ConfigError, "fans.fan_in"),
    "meta device": ({"device": "meta"}, ConfigError, "nothing to fill"),
    "meta device object": (
        {"device": torch.device("meta")},
        ConfigError,
        "nothing to fill",
    ),
    "unknown device": ({"device": "cpux"}, ConfigError, "invalid device 'cpux'"),
    "device number": ({"device": 1.5}, ConfigError, "invalid device 1.5"),
    "dtype string": ({"dtype": "float32"}, ConfigError, "dtype='float32'"),
    "seed too large": ({"seed": 2**63}, ConfigError, str(2**63)),
    "seed negative": ({"seed": -1}, ConfigError, "seed=-1"),
    "seed float": ({"seed": 1.5}, ConfigError, "seed=1.5"),
    "seed bool": ({"seed": True}, ConfigError, "seed=True"),
    "blocks zero": ({"blocks": 0}, ConfigError, "blocks=0"),
    "blocks float": ({"blocks": 2.0}, ConfigError, r"blocks=2\.0"),
    "groups zero": ({"groups": 0}, ShapeError, "groups=0"),
    "groups string": ({"groups": "2"}, ShapeError, "groups='2'"),
    "unknown layout": ({"layout": "tf"}, ShapeError, "unknown layout 'tf'"),
    "unknown layout with axes": (
        {"layout": "tf", "scheme": Rule("he_normal", in_axis=1, out_axis=0)},
        ShapeError,
        "unknown layout 'tf'",
    ),
    "threads zero": ({"threads": 0}, ConfigError, "threads=0"),
    "empty name": ({"param_name": ""}, ConfigError, "param_name"),
}


@pytest.mark.parametrize("case", INVALID_CALLS, ids=str)
def test_shard_rejects_invalid_argument(case):
    overrides, error, message = INVALID_CALLS[case]
    with pytest.raises(error, match=message):
        _shard(**overrides)


CONFLICTS = {
    "blocks and groups": (
        {"full_shape": (6, 4), "blocks": 3, "groups": 2},
        ("blocks=3", "groups=2"),
    ),
    "blocks and batch axis": (
        {
            "full_shape": (3, 4, 4),
            "blocks": 3,
            "scheme": Rule("he_normal", batch_axis=0),
        },
        ("blocks=3", "batch_axis=0"),
    ),
    "blocks and in axis": (
        {
            "full_shape": (6, 4),
            "blocks": 3,
            "scheme": Rule("he_normal", in_axis=1, out_axis=0),
        },
        ("blocks=3", "in_axis=1"),
    ),
    "groups and batch axis": (
        {
            "full_shape": (2, 4, 4),
            "groups": 2,
            "scheme": Rule("he_normal", batch_axis=0),
        },
        ("groups=2", "batch_axis=0"),
    ),
    "groups and out axis": (
        {
            "full_shape": (4, 4),
            "groups": 2,
            "scheme": Rule("he_normal", in_axis=1, out_axis=0),
        },
        ("groups=2", "out_axis=0"),
    ),
}


@pytest.mark.parametrize("case", CONFLICTS, ids=str)
def test_shard_rejects_conflicting_options(case):
    overrides, names = CONFLICTS[case]
    with pytest.raises(ConfigError) as caught:
        _shard(**overrides)
    first, second = names
    assert first in str(caught.value)
    assert second in str(caught.value)


def test_shard_rejects_unavailable_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="not available"):
        _shard(device="cuda")


def test_shard_seed_message_names_range():
    with pytest.raises(
        ConfigError, match=r"seed must be a non-negative integer below 2\*\*63"
    ):
        _shard(seed=2**63)


def _fail_if_called(*args, **kwargs):
    raise AssertionError("initialize_shard allocated or drew before its checks")


@pytest.mark.parametrize("case", [*INVALID_CALLS, *CONFLICTS], ids=str)
def test_shard_checks_before_allocating(case, monkeypatch):
    # Conflicts carry no expected type here: every case raises an initlab error.
    overrides = {**INVALID_CALLS, **CONFLICTS}[case][0]
    monkeypatch.setattr(shard_module.torch, "empty", _fail_if_called)
    monkeypatch.setattr(shard_module, "parameter_tasks", _fail_if_called)
    monkeypatch.setattr(shard_module, "run_tasks", _fail_if_called)
    with pytest.raises((ShapeError, ConfigError)):
        _shard(**overrides)


def test_shard_largest_seed_accepted():
    shard = _shard(seed=2**63 - 1)
    assert shard.shape == (100, 4)


def test_shard_numpy_seed_matches_int():
    expected = _shard(seed=3)
    shard = _shard(seed=np.int64(3))
    assert torch.equal(shard, expected)


def test_shard_numpy_sizes_and_bounds_accepted():
    expected = _shard(shard_slices=(slice(10, 20),))
    shard = _shard(
        full_shape=np.array([100, 4]),
        shard_slices=(slice(np.int64(10), np.int64(20)),),
    )
    assert torch.equal(shard, expected)


def test_shard_negative_bounds_count_from_end():
    full = _shard()
    shard = _shard(shard_slices=(slice(-10, None), slice(-3, -1)))
    assert torch.equal(shard, full[-10:, -3:-1])


def test_shard_bounds_at_limits_accepted():
    full = _shard()
    shard = _shard(shard_slices=(slice(-100, 100),))
    assert torch.equal(shard, full)


@pytest.mark.parametrize("empty", [slice(5, 5), slice(100, 100), slice(0, 0)])
def test_shard_empty_slice_in_bounds(empty):
    shard = _shard(shard_slices=(empty,))
    assert shard.shape == (0, 4)


def test_shard_fans_accept_numpy_floats():
    expected = _shard(fans=Fans(4.0, 100.0))
    shard = _shard(fans=Fans(np.float64(4.0), np.float64(100.0)))
    assert torch.equal(shard, expected)
