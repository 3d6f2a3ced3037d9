"""initialize and materialize on unusual models and inputs: clear errors, nothing changed."""

import numpy as np
import pytest
import torch
from torch import nn

from initlab import initialize_shard
from initlab.errors import ConfigError
from initlab.initialize import initialize, materialize


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(
        torch.equal(p.detach(), before[name]) for name, p in model.named_parameters()
    )


@pytest.mark.parametrize("seed", [2**63, -1, 1.5, True, "3"])
def test_invalid_seed_rejected_before_changes(seed):
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    before = _snapshot(model)

    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        initialize(model, "he_normal", seed=seed)

    assert _unchanged(model, before)


def test_numpy_seed_accepted_as_int():
    first, second = nn.Linear(4, 3), nn.Linear(4, 3)

    record = initialize(first, "he_normal", seed=np.int64(3))
    initialize(second, "he_normal", seed=3)

    assert type(record.seed) is int
    assert torch.equal(first.weight, second.weight)


def test_largest_seed_accepted():
    record = initialize(nn.Linear(4, 3), "he_normal", seed=2**63 - 1)
    assert record.seed == 2**63 - 1


def test_non_module_rejected():
    with pytest.raises(ConfigError, match="needs a torch.nn.Module, got list"):
        initialize([nn.Linear(2, 2)], "he_normal")


def test_float8_random_scheme_rejected_before_changes():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[1].to(torch.float8_e4m3fn)
    before = model[0].weight.detach().clone()

    with pytest.raises(ConfigError, match="float8_e4m3fn"):
        initialize(model, "he_normal")

    assert torch.equal(model[0].weight.detach(), before)


def test_expanded_parameter_rejected():
    layer = nn.Linear(4, 3)
    layer.weight = nn.Parameter(torch.zeros(1, 4).expand(3, 4))
    with pytest.raises(ConfigError, match="share memory"):
        initialize(layer, "he_normal")


def test_bias_inside_a_word_is_not_a_bias():
    class Gain(nn.Module):
        def __init__(self):
            super().__init__()
            self.unbiased_gain = nn.Parameter(torch.full((3,), 5.0))

    record = initialize(Gain(), {Gain: "ones"})
    assert record["unbiased_gain"].rule == "type Gain"


def test_recurrent_biases_still_biases():
    record = initialize(nn.LSTM(3, 4), "orthogonal")
    assert record["bias_ih_l0"].scheme == "zeros"


@pytest.mark.parametrize("preset", ["torch", "keras", "flax"])
def test_preset_leaves_parametrized_weight_alone(preset):
    layer = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
    record = initialize(layer, preset=preset)
    reasons = {entry.name: entry.reason for entry in record.left_alone}
    assert "as after weight_norm or a parametrization" in reasons["bias"]


def test_orthogonal_same_for_every_thread_count():
    serial, threaded = nn.Linear(64, 192), nn.Linear(64, 192)

    initialize(serial, "orthogonal", threads=1)
    initialize(threaded, "orthogonal", threads=2)

    assert torch.equal(serial.weight, threaded.weight)


def test_orthogonal_shard_matches_multi_layer_model():
    model = nn.Sequential(*(nn.Linear(64, 192) for _ in range(4)))
    initialize(model, "orthogonal", threads=2)

    shard = initialize_shard("0.weight", (192, 64), (slice(0, 96),), "orthogonal")

    assert torch.equal(shard, model[0].weight.detach()[:96])


def test_inference_mode_model_with_threads():
    with torch.inference_mode():
        layer = nn.Linear(1024, 2048)
        record = initialize(layer, "he_normal", threads=2)
    assert record["weight"].measured_std == pytest.approx((2 / 1024) ** 0.5, rel=0.02)


def test_materialize_meta_device_rejected():
    layer = nn.Linear(3, 2, device="meta")
    with pytest.raises(ConfigError, match="invalid device 'meta'"):
        materialize(layer, "meta")
    assert layer.weight.is_meta


def test_materialize_unknown_device_rejected():
    with pytest.raises(ConfigError, match="invalid device 'gpu0'"):
        materialize(nn.Linear(3, 2, device="meta"), "gpu0")


def test_materialize_lazy_module_rejected_before_allocation():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(3, 4), nn.LazyLinear(2))

    with pytest.raises(ConfigError, match="'1.weight' belongs to a lazy module"):
        materialize(model, "cpu")

    assert model[0].weight.is_meta


def test_materialize_invalid_seed_before_allocation():
    layer = nn.Linear(3, 2, device="meta")
    with pytest.raises(ConfigError, match="below 2\\*\\*63"):
        materialize(layer, "cpu", seed=2**64)
    assert layer.weight.is_meta


def test_measured_std_with_large_mean():
    # float32 sums of squares near 100 per value keep too few digits for a
    # std of 0.001; the record must still be within sampling error.
    record = initialize(nn.Linear(256, 256), "normal(mean=10, std=0.001)")
    assert record["weight"].measured_std == pytest.approx(0.001, rel=0.02)


def test_record_lookup_of_left_alone_gives_reason():
    record = initialize(nn.Linear(4, 3), "he_normal", bias=None)
    with pytest.raises(KeyError, match="'bias' was left alone: bias=None"):
        record["bias"]


def test_target_std_of_huge_normal_in_float64():
    # Squaring a std of 1e200 overflows a Python float; the record must
    # still give the target instead of raising.
    record = initialize(nn.Linear(4, 3).double(), "normal(std=1e200)")
    assert record["weight"].target_std == pytest.approx(1e200)
