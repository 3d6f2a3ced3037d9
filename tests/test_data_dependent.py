"""Tests for initlab.data_dependent: spec parsing and apply() for lsuv and pretrained."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from initlab.data_dependent import (
    DATA_DEPENDENT_DESCRIPTIONS,
    apply,
    is_data_dependent,
    parse_spec,
)
from initlab.errors import ConfigError, DataError, ModelSpecError
from initlab.models import build_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(0)
    x = generator.standard_normal((300, 20)).astype(np.float32)
    y = generator.integers(0, 3, size=300)
    return x, y


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lsuv", True),
        ("pretrained", True),
        ("lsuv(tol=0.05)", True),
        ("pretrained(denoising=0.2)", True),
        (" pretrained ( epochs=2 )", True),
        ("lsuv(tol=", True),
        ("he_normal", False),
        ("normal(std=0.01)", False),
        ("lsuvx", False),
        ("", False),
    ],
)
def test_is_data_dependent_names(spec, expected):
    assert is_data_dependent(spec) is expected


def test_descriptions_cover_every_name():
    assert set(DATA_DEPENDENT_DESCRIPTIONS) == {"lsuv", "pretrained"}
    for description in DATA_DEPENDENT_DESCRIPTIONS.values():
        assert "\n" not in description


def test_parse_spec_fills_defaults():
    name, options = parse_spec("pretrained(denoising=0.2, layer_model='autoencoder')")
    assert name == "pretrained"
    assert options["denoising"] == 0.2
    assert options["epochs"] == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("he_normal", "not a data-dependent initializer"),
        ("lsuv(tol=", "invalid initializer spec"),
        ("lsuv(0.1)", "pass options by keyword"),
        ("lsuv(tolerance=0.1)", "unknown option 'tolerance' for 'lsuv'"),
        ("pretrained(epochs=n)", "values must be literals"),
        ("pretrained()()", "invalid initializer spec"),
    ],
)
def test_parse_spec_bad_specs_raise(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(spec)


def test_apply_lsuv_record(data):
    x, y = data
    model = build_model("mlp:20-32-32-3:relu", (20,), 3)
    record = apply("lsuv(tol=0.01)", model, x, y, seed=0)
    assert record["name"] == "lsuv"
    assert record["options"]["tol"] == 0.01
    assert record["seconds"] >= 0
    assert [layer["name"] for layer in record["layers"]] == ["0", "2", "4"]
    for layer in record["layers"]:
        assert abs(layer["std_after"] - 1.0) <= 0.01
    json.dumps(record)


def test_apply_lsuv_same_seed_same_model(data):
    x, y = data
    first = build_model("mlp:20-32-3:relu", (20,), 3)
    second = build_model("mlp:20-32-3:relu", (20,), 3)
    third = build_model("mlp:20-32-3:relu", (20,), 3)
    apply("lsuv", first, x, y, seed=1)
    apply("lsuv", second, torch.from_numpy(x), torch.from_numpy(y), seed=1)
    apply("lsuv", third, x, y, seed=2)
    assert torch.equal(first[0].weight, second[0].weight)
    assert not torch.equal(first[0].weight, third[0].weight)


def test_apply_pretrained_record(data):
    x, y = data
    model = build_model("mlp:20-16-8-3:sigmoid", (20,), 3)
    record = apply("pretrained(epochs=2, denoising=0.1)", model, x, y, seed=0)
    assert record["name"] == "pretrained"
    assert record["options"]["denoising"] == 0.1
    assert [layer["name"] for layer in record["layers"]] == ["0", "2"]
    assert len(record["layers"][0]["losses"]) == 2
    json.dumps(record)


def test_apply_pretrained_rbm(data):
    x, y = data
    model = build_model("mlp:20-16-3:sigmoid", (20,), 3)
    record = apply("pretrained(layer_model='rbm', epochs=1)", model, x, y, seed=0)
    assert record["layers"][0]["layer_model"] == "rbm"


def _snapshot(model: nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in model.parameters()]


@pytest.mark.parametrize(
    ("spec", "model_spec", "error", "message"),
    [
        ("lsuv(tol=-1.0)", "mlp:20-8-3:relu", ConfigError, "tol must be a positive"),
        ("lsuv(batch_size=0)", "mlp:20-8-3:relu", ConfigError, "batch_size"),
        ("pretrained(epochs=0)", "mlp:20-8-3:relu", ConfigError, "epochs must be"),
        (
            "pretrained(layer_model='rbm')",
            "mlp:20-8-3:relu",
            ModelSpecError,
            "layer '0' has activation ReLU",
        ),
        ("pretrained", "mlp:20-3:relu", ModelSpecError, "has 1 Linear layer"),
    ],
)
def test_apply_bad_input_raises_before_change(data, spec, model_spec, error, message):
    x, y = data
    model = build_model(model_spec, (20,), 3)
    before = _snapshot(model)
    with pytest.raises(error, match=message):
        apply(spec, model, x, y, seed=0)
    after = list(model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_apply_missing_data_raises():
    model = build_model("mlp:20-8-3:relu", (20,), 3)
    with pytest.raises(DataError, match="needs training inputs"):
        apply("lsuv", model, None, None, seed=0)


def test_apply_label_count_mismatch_raises(data):
    x, y = data
    model = build_model("mlp:20-8-3:relu", (20,), 3)
    with pytest.raises(DataError, match="300 rows but the labels have 299"):
        apply("lsuv", model, x, y[:-1], seed=0)


def test_apply_bad_seed_raises(data):
    x, y = data
    model = build_model("mlp:20-8-3:relu", (20,), 3)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        apply("lsuv", model, x, y, seed=-1)


def test_apply_non_module_raises(data):
    x, y = data
    with pytest.raises(ModelSpecError, match="got str"):
        apply("lsuv", "mlp:20-8-3:relu", x, y, seed=0)


@pytest.mark.parametrize("spec", ["lsuv", "pretrained"])
def test_apply_wrong_input_width_raises_before_changes(spec):
    model = nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 2))
    before = model[0].weight.detach().clone()

    with pytest.raises(ModelSpecError, match=r"inputs of shape \(64, 7\)"):
        apply(spec, model, torch.randn(64, 7), None, seed=0)

    assert torch.equal(model[0].weight.detach(), before)
