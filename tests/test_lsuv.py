"""Tests for initlab.lsuv: unit output std per layer, centering, in-place activations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initlab.data import load
from initlab.errors import ConfigError, DataError, ModelSpecError
from initlab.lsuv import lsuv_
from initlab.models import build_model, linear_layers


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # These models are tiny: with two threads on a shared machine torch
    # spends more time synchronising than computing.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits_batch() -> torch.Tensor:
    dataset = load("digits", seed=0)
    return torch.from_numpy(dataset.x_train[:256])


def _deep_relu(inplace: bool) -> nn.Sequential:
    torch.manual_seed(0)
    model = build_model("mlp:64-64x11-10:relu", (64,), 10)
    if inplace:
        for index, module in enumerate(model):
            if isinstance(module, nn.ReLU):
                model[index] = nn.ReLU(inplace=True)
    return model


def _output_statistics(
    model: nn.Module, batch: torch.Tensor
) -> dict[str, list[tuple[float, float]]]:
    """Measure every Linear and conv output's (std, mean) per call, independently of lsuv."""
    measured: dict[str, list[tuple[float, float]]] = {}
    handles = []
    for name, layer in linear_layers(model):

        def hook(module, inputs, output, name=name):
            values = output.detach().double()
            std = values.std(unbiased=False).item()
            measured.setdefault(name, []).append((std, values.mean().item()))

        handles.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    return measured


def test_lsuv_every_layer_std_within_tolerance(digits_batch):
    model = _deep_relu(inplace=False)
    lsuv_(model, digits_batch)
    measured = _output_statistics(model, digits_batch)
    assert len(measured) == 12
    for name, calls in measured.items():
        std = calls[0][0]
        assert 0.9 <= std <= 1.1, f"layer {name}: output std {std}"


def test_lsuv_inplace_relu_matches_out_of_place(digits_batch):
    plain = _deep_relu(inplace=False)
    inplace = _deep_relu(inplace=True)
    plain_records = lsuv_(plain, digits_batch, tol=0.01)
    inplace_records = lsuv_(inplace, digits_batch, tol=0.01)
    for (name, a), (_, b) in zip(
        linear_layers(plain), linear_layers(inplace), strict=True
    ):
        assert torch.equal(a.weight, b.weight), f"layer {name} weights differ"
    assert plain_records == inplace_records


def test_lsuv_inplace_relu_measures_pre_activation(digits_batch):
    # ReLU(inplace=True) turns the Linear output non-negative in place; a
    # hook that read the tensor later would see a positive mean and a
    # smaller std. The record must show the layer's own output.
    model = _deep_relu(inplace=True)
    records = lsuv_(model, digits_batch, tol=0.01)
    measured = _output_statistics(_strip_inplace(model), digits_batch)
    for record in records:
        std, mean = measured[record.name][0]
        assert record.std_after == pytest.approx(std, rel=1e-6)
        assert record.mean_after == pytest.approx(mean, abs=1e-6)


def _strip_inplace(model: nn.Sequential) -> nn.Sequential:
    return nn.Sequential(*[nn.ReLU() if isinstance(m, nn.ReLU) else m for m in model])


def test_lsuv_center_means_below_tolerance(digits_batch):
    model = _deep_relu(inplace=True)
    records = lsuv_(model, digits_batch, center=True, tol=1e-3)
    measured = _output_statistics(_strip_inplace(model), digits_batch)
    for name, calls in measured.items():
        std, mean = calls[0]
        assert abs(mean) < 1e-3, f"layer {name}: output mean {mean}"
        assert abs(std - 1.0) <= 1e-3, f"layer {name}: output std {std}"
    assert all(record.converged for record in records)


def test_lsuv_records_before_after_and_iterations(digits_batch):
    model = _deep_relu(inplace=False)
    records = lsuv_(model, digits_batch)
    assert [r.name for r in records] == [name for name, _ in linear_layers(model)]
    for record in records:
        assert record.calls == 1
        assert record.converged
        assert abs(record.std_after - 1.0) <= 0.1
        assert 0 <= record.iterations <= 10
    # Orthogonal weights on ReLU inputs lose variance, so deeper layers start
    # below 1 and need at least one rescaling.
    assert records[5].std_before < 0.9
    assert records[5].iterations >= 1


def test_lsuv_zero_biases_and_orthogonal_start(digits_batch):
    model = _deep_relu(inplace=False)
    records = lsuv_(model, digits_batch, max_iter=1, tol=10.0)
    for record, (_, layer) in zip(records, linear_layers(model), strict=True):
        assert record.iterations == 0
        assert torch.count_nonzero(layer.bias) == 0
        rows, cols = layer.weight.shape
        product = layer.weight @ layer.weight.t() if rows <= cols else None
        if product is None:
            product = layer.weight.t() @ layer.weight
        identity = torch.eye(product.shape[0])
        assert torch.allclose(product, identity, atol=1e-5), f"layer {record.name}"


def test_lsuv_same_seed_same_weights(digits_batch):
    first, second, third = (_deep_relu(False) for _ in range(3))
    lsuv_(first, digits_batch, seed=3)
    lsuv_(second, digits_batch, seed=3)
    lsuv_(third, digits_batch, seed=4)
    assert torch.equal(first[0].weight, second[0].weight)
    assert not torch.equal(first[0].weight, third[0].weight)


class _Shared(nn.Module):
    """Calls one Linear twice in a row, so its input depends on its own weights."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(64, 32)
        self.shared = nn.Linear(32, 32)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.stem(x))
        h = torch.tanh(self.shared(h))
        h = torch.tanh(self.shared(h))
        return self.head(h)


def test_lsuv_module_called_twice_pools_both_calls(digits_batch):
    model = _Shared()
    records = {r.name: r for r in lsuv_(model, digits_batch, tol=0.01)}
    assert records["shared"].calls == 2
    assert records["head"].calls == 1
    outputs: list[torch.Tensor] = []
    handle = model.shared.register_forward_hook(
        lambda module, inputs, output: outputs.append(output.detach().clone())
    )
    with torch.no_grad():
        model(digits_batch)
    handle.remove()
    pooled = torch.cat(outputs).double().std(unbiased=False).item()
    assert len(outputs) == 2
    assert records["shared"].std_after == pytest.approx(pooled, rel=1e-6)
    assert abs(records["shared"].std_after - 1.0) <= 0.01


def test_lsuv_conv_model_within_tolerance():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(64, 1, 8, 8, generator=generator)
    model = build_model("cnn:8-16:relu", (1, 8, 8), 10)
    records = lsuv_(model, images)
    assert [r.kind for r in records] == ["Conv2d", "Conv2d", "Linear"]
    measured = _output_statistics(model, images)
    for name, calls in measured.items():
        assert 0.9 <= calls[0][0] <= 1.1, f"layer {name}: output std {calls[0][0]}"


def test_lsuv_restores_modes_and_hooks(digits_batch):
    model = build_model("mlp:64-32-32-10:tanh:dropout=0.5", (64,), 10)
    model.train()
    model[2].eval()  # a mixed state must come back as it was
    handle = model[0].register_forward_hook(lambda *args: None)
    modes = [m.training for m in model.modules()]
    hooks = [len(m._forward_hooks) for m in model.modules()]
    lsuv_(model, digits_batch)
    assert [m.training for m in model.modules()] == modes
    assert [len(m._forward_hooks) for m in model.modules()] == hooks
    handle.remove()


def test_lsuv_dropout_does_not_randomise_measurements(digits_batch):
    model = build_model("mlp:64-32-32-10:tanh:dropout=0.5", (64,), 10)
    model.train()
    records = lsuv_(model, digits_batch, tol=1e-3)
    model.eval()
    measured = _output_statistics(model, digits_batch)
    for record in records:
        assert record.std_after == pytest.approx(measured[record.name][0][0], rel=1e-6)


def test_lsuv_scales_weights_only(digits_batch):
    model = nn.Sequential(
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)
    )
    with torch.no_grad():
        model[1].weight.fill_(2.0)
        model[1].bias.fill_(0.5)
    running_mean = model[1].running_mean.clone()
    lsuv_(model, digits_batch)
    assert torch.all(model[1].weight == 2.0)
    assert torch.all(model[1].bias == 0.5)
    assert torch.equal(model[1].running_mean, running_mean)


def test_lsuv_dead_layer_warns(digits_batch):
    model = nn.Sequential(nn.Linear(64, 8), nn.Linear(8, 4))
    zeros = torch.zeros(16, 64)
    with pytest.warns(UserWarning, match="output std on the batch is 0"):
        records = lsuv_(model, zeros)
    assert records[0].converged is False


class _WithUnused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(64, 10)
        self.unused = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_lsuv_uncalled_layer_warns(digits_batch):
    model = _WithUnused()
    with pytest.warns(UserWarning, match="never called them: unused"):
        records = lsuv_(model, digits_batch)
    assert records[-1].name == "unused"
    assert records[-1].calls == 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"tol": 0.0}, ConfigError, "tol must be a positive"),
        ({"tol": float("nan")}, ConfigError, "tol must be a positive"),
        ({"target_std": -1.0}, ConfigError, "target_std must be a positive"),
        ({"max_iter": 0}, ConfigError, "max_iter must be an integer"),
        ({"max_iter": 2.5}, ConfigError, "max_iter must be an integer"),
    ],
)
def test_lsuv_bad_options_raise_before_change(digits_batch, options, error, message):
    model = _deep_relu(inplace=False)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(error, match=message):
        lsuv_(model, digits_batch, **options)
    for old, new in zip(before, model.parameters(), strict=True):
        assert torch.equal(old, new)


def test_lsuv_model_without_layers_raises(digits_batch):
    with pytest.raises(ModelSpecError, match="no Linear or conv layer"):
        lsuv_(nn.Sequential(nn.ReLU()), digits_batch)


def test_lsuv_missing_batch_raises():
    with pytest.raises(DataError, match="needs a calibration batch"):
        lsuv_(_deep_relu(False), None)


def test_lsuv_empty_batch_raises():
    with pytest.raises(DataError, match="no elements"):
        lsuv_(_deep_relu(False), torch.zeros(0, 64))


def test_lsuv_non_finite_batch_raises(digits_batch):
    batch = digits_batch.clone()
    batch[0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        lsuv_(_deep_relu(False), batch)


def test_lsuv_shape_error_leaves_model_unchanged():
    model = _deep_relu(inplace=False)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(RuntimeError):
        lsuv_(model, torch.randn(8, 5))
    for old, new in zip(before, model.parameters(), strict=True):
        assert torch.equal(old, new)
