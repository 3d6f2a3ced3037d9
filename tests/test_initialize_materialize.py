"""materialize: meta models allocated and initialized once, with eager statistics."""

import pytest
import torch
from scipy import stats
from torch import nn

from initlab.errors import ConfigError
from initlab.initialize import initialize, materialize


def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.LayerNorm(128),
        nn.ReLU(),
        nn.Linear(128, 32),
        nn.BatchNorm1d(32),
    )


def _meta(factory):
    with torch.device("meta"):
        return factory()


def test_materialize_allocates_every_tensor():
    model = _meta(_net)
    materialize(model, "cpu")
    tensors = list(model.parameters()) + list(model.buffers())
    assert all(t.device.type == "cpu" for t in tensors)


def test_materialize_norm_defaults():
    model = _meta(_net)
    materialize(model)
    assert torch.equal(model[1].weight, torch.ones(128))
    assert torch.equal(model[1].bias, torch.zeros(128))


def test_materialize_batchnorm_buffers():
    model = _meta(_net)
    materialize(model)
    assert torch.equal(model[4].running_mean, torch.zeros(32))
    assert torch.equal(model[4].running_var, torch.ones(32))
    assert model[4].num_batches_tracked.item() == 0


def test_materialize_matches_eager_statistics():
    torch.manual_seed(0)
    eager = _net()
    model = _meta(_net)
    materialize(model)
    for name in ("0.weight", "0.bias", "3.weight"):
        ours = model.get_parameter(name).detach().flatten().numpy()
        expected = eager.get_parameter(name).detach().flatten().numpy()
        assert stats.ks_2samp(ours, expected).pvalue > 1e-3, name


def test_materialize_equals_initialize():
    eager = _net()
    initialize(eager, preset="torch", seed=7)
    model = _meta(_net)
    materialize(model, seed=7)
    for name, parameter in eager.named_parameters():
        assert torch.equal(model.get_parameter(name), parameter), name


def test_materialize_keeps_ties():
    def tied():
        model = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 20, bias=False))
        model[1].weight = model[0].weight
        return model

    model = _meta(tied)
    record = materialize(model, rules="he_normal")
    assert model[1].weight is model[0].weight
    assert len(record) == 1


def test_materialize_keeps_real_tensors():
    model = _meta(_net)
    model[0] = nn.Linear(64, 128)
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    record = materialize(model)
    assert torch.equal(model[0].weight, torch.full((128, 64), 0.5))
    assert "not on meta" in {e.name: e.reason for e in record.left_alone}["0.weight"]


def test_materialize_keeps_loaded_running_statistics():
    model = _meta(_net)
    model[4] = nn.BatchNorm1d(32)
    with torch.no_grad():
        model[4].running_var.fill_(4.0)
    materialize(model)
    assert torch.equal(model[4].running_var, torch.full((32,), 4.0))


class Rotary(nn.Module):
    """A module with a buffer computed at construction and no reset_parameters()."""

    def __init__(self):
        super().__init__()
        self.register_buffer("frequencies", torch.arange(4.0))

    def forward(self, x):
        return x * self.frequencies


def test_materialize_unknown_meta_buffer_raises_before_allocation():
    model = _meta(lambda: nn.Sequential(nn.Linear(4, 4), Rotary()))
    with pytest.raises(ConfigError, match="buffer '1.frequencies'"):
        materialize(model)
    assert model[0].weight.is_meta


class Scaled(nn.Module):
    """A module initlab does not know, with its own reset_parameters()."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.empty(6))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.scale, 1.0, 2.0)


def test_materialize_calls_reset_parameters_seeded():
    first = _meta(lambda: nn.Sequential(nn.Linear(4, 6), Scaled()))
    second = _meta(lambda: nn.Sequential(nn.Linear(4, 6), Scaled()))
    record = materialize(first, seed=3)
    materialize(second, seed=3)
    assert torch.equal(first[1].scale, second[1].scale)
    assert first[1].scale.min().item() >= 1.0
    assert record["1.scale"].scheme == "reset_parameters()"
