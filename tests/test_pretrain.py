"""Tests for initlab.pretrain: greedy layer-wise pretraining with autoencoders and RBMs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initlab.backends.torch import fill_, make_generator
from initlab.data import load
from initlab.errors import ConfigError, DataError, ModelSpecError
from initlab.models import build_model, linear_layers
from initlab.pretrain import Autoencoder, greedy_layerwise
from initlab.pretrain.autoencoder import corrupt


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # These models are tiny: with two threads on a shared machine torch
    # spends more time synchronising than computing.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load("digits", seed=0)


@pytest.fixture(scope="module")
def x_small(digits) -> torch.Tensor:
    return torch.from_numpy(digits.x_train[:400])


def _sigmoid_mlp(spec: str = "mlp:64-32-16-10:sigmoid", seed: int = 0) -> nn.Sequential:
    model = build_model(spec, (64,), 10)
    generator = make_generator(seed)
    for _, layer in linear_layers(model):
        fill_(layer.weight, "glorot_uniform", generator=generator)
        nn.init.zeros_(layer.bias)
    return model


def _parameters(model: nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in model.parameters()]


def _unchanged(model: nn.Module, before: list[torch.Tensor]) -> bool:
    after = list(model.parameters())
    return all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_pretrain_reconstruction_error_falls(x_small):
    result = greedy_layerwise(_sigmoid_mlp(), x_small, epochs=4, seed=0)
    assert [record.name for record in result.layers] == ["0", "2"]
    for record in result.layers:
        assert len(record.losses) == 4
        assert record.losses[-1] < record.losses[0], f"layer {record.name}"
        assert record.final_error < record.initial_error, f"layer {record.name}"
        assert record.seconds >= 0


def test_pretrain_first_layer_reproduces_encoder(x_small):
    model = _sigmoid_mlp()
    result = greedy_layerwise(model, x_small, epochs=2, seed=0)
    encoder = result.layer_models[0]
    assert torch.equal(model[0].weight, encoder.weight)
    assert torch.equal(model[0].bias, encoder.bias)
    with torch.no_grad():
        from_model = model[1](model[0](x_small))
        from_encoder = encoder.encode(x_small)
    assert torch.equal(from_model, from_encoder)


def test_pretrain_second_layer_trains_on_first_codes(x_small):
    model = _sigmoid_mlp()
    result = greedy_layerwise(model, x_small, epochs=2, seed=0)
    with torch.no_grad():
        codes = model[1](model[0](x_small))
        from_model = model[3](model[2](codes))
        from_encoder = result.layer_models[1].encode(codes)
    assert torch.equal(from_model, from_encoder)


def test_pretrain_output_layer_keeps_its_init(x_small):
    model = _sigmoid_mlp()
    weight, bias = model[4].weight.clone(), model[4].bias.clone()
    greedy_layerwise(model, x_small, epochs=1, seed=0)
    assert torch.equal(model[4].weight, weight)
    assert torch.equal(model[4].bias, bias)


def _fine_tune(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int
) -> nn.Module:
    generator = make_generator(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], 32):
            rows = order[start : start + 32]
            optimizer.zero_grad()
            F.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
    return model


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def test_pretrain_beats_small_normal_on_digits(digits):
    # 4 hidden sigmoid layers of 100 units, SGD learning rate 0.1, batch 32:
    # from N(0, 0.01^2) the signal vanishes and the network stays near chance
    # for these few epochs, while the pretrained one learns.
    x_train = torch.from_numpy(digits.x_train)
    y_train = torch.from_numpy(digits.y_train)
    x_test = torch.from_numpy(digits.x_test)
    y_test = torch.from_numpy(digits.y_test)

    def small_normal() -> nn.Module:
        model = build_model("mlp:4x100:sigmoid", (64,), 10)
        generator = make_generator(0)
        for _, layer in linear_layers(model):
            fill_(layer.weight, "normal(std=0.01)", generator=generator)
            nn.init.zeros_(layer.bias)
        return model

    pretrained = small_normal()
    greedy_layerwise(pretrained, x_train, epochs=3, batch_size=64, lr=3e-3, seed=0)
    baseline = small_normal()
    _fine_tune(pretrained, x_train, y_train, epochs=5)
    _fine_tune(baseline, x_train, y_train, epochs=5)
    pretrained_accuracy = _accuracy(pretrained, x_test, y_test)
    baseline_accuracy = _accuracy(baseline, x_test, y_test)
    assert pretrained_accuracy > 0.5
    assert baseline_accuracy < 0.2
    assert pretrained_accuracy > baseline_accuracy + 0.3


def test_pretrain_same_seed_same_weights(x_small):
    first, second, third = _sigmoid_mlp(), _sigmoid_mlp(), _sigmoid_mlp()
    options = {"epochs": 1, "denoising": 0.2}
    greedy_layerwise(first, x_small, seed=5, **options)
    greedy_layerwise(second, x_small, seed=5, **options)
    greedy_layerwise(third, x_small, seed=6, **options)
    assert torch.equal(first[0].weight, second[0].weight)
    assert torch.equal(first[2].weight, second[2].weight)
    assert not torch.equal(first[0].weight, third[0].weight)


def test_pretrain_init_scheme_sets_start(x_small):
    # From zero weights every hidden unit of a tied autoencoder gets the same
    # gradient, so the rows of the trained encoder stay identical.
    result = greedy_layerwise(_sigmoid_mlp(), x_small, epochs=1, init="zeros", seed=0)
    weight = result.layer_models[0].weight
    assert torch.count_nonzero(weight) > 0
    assert torch.equal(weight, weight[:1].expand_as(weight))


@pytest.mark.parametrize("noise", ["masking", "gaussian"])
def test_pretrain_denoising_reduces_clean_error(x_small, noise):
    plain = greedy_layerwise(_sigmoid_mlp(), x_small, epochs=3, seed=0)
    denoising = greedy_layerwise(
        _sigmoid_mlp(), x_small, epochs=3, denoising=0.3, noise=noise, seed=0
    )
    first = denoising.layers[0]
    assert first.final_error < first.initial_error
    assert first.losses != plain.layers[0].losses


def test_corrupt_masking_zeroes_expected_fraction():
    generator = make_generator(0)
    noisy = corrupt(torch.ones(200, 100), "masking", 0.25, generator)
    fraction = float((noisy == 0).float().mean())
    assert abs(fraction - 0.25) < 0.01
    assert set(noisy.unique().tolist()) == {0.0, 1.0}


def test_corrupt_gaussian_adds_noise_of_level_std():
    generator = make_generator(0)
    clean = torch.zeros(200, 100)
    noisy = corrupt(clean, "gaussian", 0.5, generator)
    assert abs(float(noisy.std()) - 0.5) < 0.01


def test_pretrain_untied_decoder_has_own_weight(x_small):
    result = greedy_layerwise(_sigmoid_mlp(), x_small, epochs=2, tied=False, seed=0)
    unit = result.layer_models[0]
    assert isinstance(unit, Autoencoder)
    assert not unit.tied
    assert unit.decoder_weight.shape == (64, 32)
    assert result.layers[0].final_error < result.layers[0].initial_error


def test_pretrain_tied_decoder_is_transpose():
    unit = Autoencoder(6, 3, [nn.Sigmoid()], [], tied=True)
    unit.reset_parameters(
        __import__("initlab").parse_scheme("glorot_uniform"), make_generator(0)
    )
    codes = torch.rand(4, 3)
    expected = codes @ unit.weight + unit.decoder_bias
    assert torch.allclose(unit.decode(codes), expected)
    assert [name for name, _ in unit.named_parameters()] == [
        "weight",
        "bias",
        "decoder_bias",
    ]


def test_pretrain_rbm_reconstruction_error_falls(x_small):
    model = _sigmoid_mlp()
    result = greedy_layerwise(
        model, x_small, layer_model="rbm", epochs=4, optimizer="sgd", lr=0.01, seed=0
    )
    first, second = result.layer_models
    assert first.gaussian_visible
    assert not second.gaussian_visible
    for record in result.layers:
        assert record.layer_model == "rbm"
        assert record.final_error < record.initial_error, f"layer {record.name}"
    assert torch.equal(model[0].weight, first.weight)


def test_pretrain_rbm_rejects_non_sigmoid_layer(x_small):
    model = build_model("mlp:64-32-16-10:tanh", (64,), 10)
    with pytest.raises(ModelSpecError, match="layer '0' has activation Tanh"):
        greedy_layerwise(model, x_small, layer_model="rbm")


def test_pretrain_flatten_and_nested_sequential(digits):
    images = torch.from_numpy(digits.x_train[:100]).reshape(100, 1, 8, 8)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Dropout(0.1)),
        nn.Linear(16, 10),
    )
    result = greedy_layerwise(model, images, epochs=1, seed=0)
    assert [record.name for record in result.layers] == ["1.0"]
    assert result.layers[0].activation == "Tanh"


def test_pretrain_accepts_dataset_and_numpy(digits):
    from_dataset = greedy_layerwise(_sigmoid_mlp(), digits, epochs=1, seed=0)
    from_array = greedy_layerwise(
        _sigmoid_mlp(), np.asarray(digits.x_train), epochs=1, seed=0
    )
    assert from_dataset.layers[0].losses == from_array.layers[0].losses


def test_pretrain_as_dict_is_plain_data(x_small):
    import json

    result = greedy_layerwise(_sigmoid_mlp(), x_small, epochs=1, seed=0)
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["options"]["layer_model"] == "autoencoder"
    assert len(payload["layers"]) == 2
    assert "layer_models" not in payload


def test_pretrain_on_epoch_called_per_layer_and_epoch(x_small):
    calls = []
    greedy_layerwise(
        _sigmoid_mlp(),
        x_small,
        epochs=2,
        seed=0,
        on_epoch=lambda name, epoch, loss: calls.append((name, epoch)),
    )
    assert calls == [("0", 0), ("0", 1), ("2", 0), ("2", 1)]


def test_pretrain_quiet_when_not_terminal(x_small, capsys):
    greedy_layerwise(_sigmoid_mlp(), x_small, epochs=1, seed=0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_pretrain_progress_bar_per_layer(x_small, capsys):
    greedy_layerwise(_sigmoid_mlp(), x_small, epochs=2, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "layer 0 (autoencoder)" in captured.err
    assert "layer 2 (autoencoder)" in captured.err
    assert "2/2" in captured.err


class _NotSequential(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_NotSequential(), "needs an nn.Sequential of Linear layers"),
        (
            nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(30, 10)),
            "layer '2' takes 30 inputs but the Linear layer before it, '0', has 32",
        ),
        (
            nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.Linear(32, 10)),
            r"layer '1' \(BatchNorm1d, after 0\) cannot be pretrained",
        ),
        (
            nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 10)),
            r"layer '0' \(Conv2d, before the first Linear layer\)",
        ),
        (nn.Sequential(nn.Linear(64, 10)), "has 1 Linear layer"),
    ],
)
def test_pretrain_bad_model_raises_before_training(x_small, model, message):
    before = _parameters(model)
    calls = []
    with pytest.raises(ModelSpecError, match=message):
        greedy_layerwise(model, x_small, on_epoch=lambda *args: calls.append(args))
    assert calls == []
    assert _unchanged(model, before)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "needs training inputs"),
        (torch.zeros(0, 64), "at least one sample"),
        (torch.zeros(10, 63), "does not fit layer '0', which takes 64 features"),
        (torch.zeros(10, 64, dtype=torch.int64), "must be floating point"),
        (torch.full((10, 64), float("nan")), "NaN"),
        ("digits", "must be a tensor, an array or a Dataset"),
    ],
)
def test_pretrain_bad_data_raises_before_training(data, message):
    model = _sigmoid_mlp()
    before = _parameters(model)
    with pytest.raises(DataError, match=message):
        greedy_layerwise(model, data)
    assert _unchanged(model, before)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layer_model": "vae"}, "invalid layer_model 'vae'"),
        ({"noise": "salt"}, "invalid noise 'salt'"),
        ({"optimizer": "rmsprop"}, "invalid optimizer 'rmsprop'"),
        ({"epochs": 0}, "epochs must be an integer of at least 1"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"lr": -0.1}, "lr must be positive"),
        ({"lr": float("inf")}, "lr must be finite"),
        ({"denoising": 1.0}, r"must be in \[0, 1\)"),
        ({"denoising": -0.5, "noise": "gaussian"}, "must be at least 0"),
        ({"layer_model": "rbm", "denoising": 0.1}, "denoising applies to autoencoders"),
        ({"layer_model": "rbm", "tied": False}, "always ties its weights"),
        ({"init": "not_a_scheme"}, "invalid init 'not_a_scheme'"),
        ({"tied": "yes"}, "tied must be True or False"),
        ({"seed": -1}, "seed must be an integer of at least 0"),
    ],
)
def test_pretrain_bad_options_raise_before_training(x_small, options, message):
    model = _sigmoid_mlp()
    before = _parameters(model)
    with pytest.raises(ConfigError, match=message):
        greedy_layerwise(model, x_small, **options)
    assert _unchanged(model, before)
