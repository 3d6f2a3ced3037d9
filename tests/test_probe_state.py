"""The probe leaves the model as it found it, also when the pass raises, and names failing layers."""

import pytest
import torch
from torch import nn

from initlab.errors import ConfigError
from initlab.probe import ProbeError, probe
from initlab.probe import statistics as probe_statistics


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def stateful_model():
    model = nn.Sequential(
        nn.Linear(6, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(8, 3),
    )
    model[4].bias.requires_grad_(False)
    return model


def snapshot(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


def hook_count(model):
    return sum(
        len(module._forward_hooks)
        + len(module._forward_pre_hooks)
        + len(module._backward_hooks)
        for module in model.modules()
    )


class Explodes(nn.Module):
    def forward(self, x):
        raise ValueError("deliberate failure in forward")


def test_probe_keeps_parameters_and_buffers():
    model = stateful_model()
    before = snapshot(model)
    probe(model, randn(32, 6), torch.arange(32) % 3)
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), name


def test_probe_keeps_batchnorm_running_statistics_in_train_mode():
    model = stateful_model()
    batch_norm = model[1]
    mean_before = batch_norm.running_mean.clone()
    probe(model, randn(32, 6) + 5.0, torch.arange(32) % 3)
    assert torch.equal(batch_norm.running_mean, mean_before)
    assert int(batch_norm.num_batches_tracked) == 0


class Counter(nn.Module):
    """Rebinds its buffer on every call instead of updating it in place."""

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls = self.calls + 1
        return x


def test_probe_restores_rebound_buffer():
    model = nn.Sequential(Counter(), nn.Linear(3, 2))
    original = model[0].calls
    probe(model, randn(4, 3))
    assert model[0].calls is original
    assert float(original) == 0.0


def test_probe_keeps_grad_fields():
    model = stateful_model()
    marker = torch.full_like(model[0].weight, 7.0)
    model[0].weight.grad = marker
    probe(model, randn(32, 6), torch.arange(32) % 3)
    assert model[0].weight.grad is marker
    assert torch.equal(marker, torch.full_like(marker, 7.0))
    assert model[0].bias.grad is None


def test_probe_keeps_global_rng_state():
    model = stateful_model()
    state = torch.get_rng_state()
    probe(model, randn(32, 6), torch.arange(32) % 3)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("training", [True, False])
def test_probe_keeps_train_and_eval_mode(training):
    model = stateful_model().train(training)
    model[3].train(not training)
    report = probe(model, randn(32, 6))
    assert model.training is training
    assert model[3].training is (not training)
    assert report.training is training


def test_probe_removes_hooks():
    model = stateful_model()
    probe(model, randn(32, 6), torch.arange(32) % 3)
    assert hook_count(model) == 0


def test_probe_removes_hooks_when_forward_raises():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), Explodes())
    rng_state = torch.get_rng_state()
    with pytest.raises(ValueError, match="deliberate failure"):
        probe(model, randn(16, 4) + 3.0, upstream="random")
    assert hook_count(model) == 0
    assert torch.equal(model[1].running_mean, torch.zeros(4))
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_probe_hook_failure_names_layer_and_input_shape(monkeypatch):
    def broken(flat, work):
        raise RuntimeError("statistics broke")

    monkeypatch.setattr(probe_statistics, "moments_tensor", broken)
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 5)))
    with pytest.raises(ProbeError) as caught:
        probe(model, randn(4, 3))
    message = str(caught.value)
    assert "'0.0'" in message
    assert "Linear" in message
    assert "input shape (4, 3)" in message
    assert "statistics broke" in message


def test_probe_gradient_hook_failure_names_layer(monkeypatch):
    calls = []
    original = probe_statistics.moments_tensor

    def broken_second_time(flat, work):
        # The forward hook of the only layer calls this first, its
        # gradient hook second.
        calls.append(flat.numel())
        if len(calls) == 2:
            raise RuntimeError("gradient statistics broke")
        return original(flat, work)

    monkeypatch.setattr(probe_statistics, "moments_tensor", broken_second_time)
    model = nn.Sequential(nn.Linear(3, 5))
    with pytest.raises(ProbeError, match="on the gradient of layer '0'") as caught:
        probe(model, randn(4, 3), upstream="random", light=True)
    assert "input shape (4, 3)" in str(caught.value)
    assert hook_count(model) == 0


def test_probe_hook_failure_removes_hooks(monkeypatch):
    def broken(flat, work):
        raise RuntimeError("statistics broke")

    monkeypatch.setattr(probe_statistics, "moments_tensor", broken)
    model = nn.Sequential(nn.Linear(3, 5))
    with pytest.raises(ProbeError):
        probe(model, randn(4, 3))
    assert hook_count(model) == 0


def test_probe_does_not_modify_inputs():
    inputs = randn(32, 6)
    before = inputs.clone()
    probe(stateful_model(), inputs, torch.arange(32) % 3)
    assert torch.equal(inputs, before)
    assert not inputs.requires_grad


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"upstream": "random", "targets": torch.zeros(4, dtype=torch.long)},
            "not both",
        ),
        ({"upstream": "gaussian"}, "upstream must be"),
        ({"thresholds": {"vanish": 0.1}}, "unknown threshold 'vanish'"),
        ({"thresholds": {"dead_fraction": 2.0}}, "dead_fraction"),
        ({"statistics": ["moments", "entropy"]}, "unknown statistic 'entropy'"),
        ({"bins": 0}, "bins must be"),
        ({"applied": {"9.weight": "he_normal"}}, "'9.weight'"),
        ({"applied": {"0.weight": "he_nrmal"}}, "he_nrmal"),
    ],
)
def test_probe_invalid_argument_raises_before_touching_model(options, message):
    model = nn.Sequential(nn.Linear(3, 2))
    before = snapshot(model)
    with pytest.raises(ConfigError, match=message):
        probe(model, randn(4, 3), **options)
    assert hook_count(model) == 0
    assert torch.equal(model.state_dict()["0.weight"], before["0.weight"])


def test_probe_empty_batch_raises():
    with pytest.raises(ConfigError, match="at least one sample"):
        probe(nn.Linear(3, 2), torch.zeros(0, 3))


def test_probe_lazy_module_raises():
    model = nn.Sequential(nn.LazyLinear(4))
    with pytest.raises(ConfigError, match="uninitialized lazy"):
        probe(model, randn(2, 3))


def test_probe_upstream_shape_mismatch_raises():
    with pytest.raises(ConfigError, match="upstream has shape"):
        probe(nn.Linear(3, 2), randn(4, 3), upstream=torch.zeros(4, 3))


def test_probe_frozen_model_warns_and_skips_gradients():
    model = nn.Linear(3, 2).requires_grad_(False)
    with pytest.warns(RuntimeWarning, match="requires grad"):
        report = probe(model, randn(4, 3), light=True, upstream="random")
    assert report.layers[0].grad_std is None
