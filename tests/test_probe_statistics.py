"""The probe's statistics against direct computations on the same tensors."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from initlab.errors import ConfigError
from initlab.initialize import initialize
from initlab.probe import Thresholds, probe, symmetry
from initlab.probe import statistics as st
from initlab.probe.verdicts import layer_flags, verdict


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def captured_outputs(model, inputs):
    outputs = {}
    handles = [
        module.register_forward_hook(
            lambda m, a, out, name=name: outputs.setdefault(name, out.detach().clone())
        )
        for name, module in model.named_modules()
        if name
    ]
    model(inputs)
    for handle in handles:
        handle.remove()
    return outputs


def mixed_model():
    return nn.Sequential(
        nn.Linear(12, 16),
        nn.Tanh(),
        nn.Linear(16, 16),
        nn.ReLU(),
        nn.Linear(16, 16),
        nn.Sigmoid(),
        nn.Linear(16, 16),
        nn.Hardtanh(-0.5, 0.5),
        nn.Linear(16, 16),
        nn.ReLU6(),
    )


def test_probe_forward_statistics_match_direct():
    torch.manual_seed(0)
    model = mixed_model()
    inputs = randn(200, 12) * 3
    outputs = captured_outputs(model, inputs)
    report = probe(model, inputs)
    for record in report:
        values = outputs[record.name].double()
        assert record.output_mean == pytest.approx(
            float(values.mean()), rel=1e-5, abs=1e-7
        )
        assert record.output_std == pytest.approx(
            float(values.std(correction=0)), rel=1e-5
        )
        assert record.output_min == float(values.min())
        assert record.output_max == float(values.max())
        assert record.nonfinite_fraction == 0.0


def test_probe_saturation_matches_direct():
    torch.manual_seed(0)
    model = mixed_model()
    inputs = randn(200, 12) * 3
    outputs = captured_outputs(model, inputs)
    report = probe(model, inputs)
    expected = {
        "1": (outputs["1"].abs() > 0.99).double().mean(),
        "5": ((outputs["5"] < 0.01) | (outputs["5"] > 0.99)).double().mean(),
        "7": ((outputs["7"] <= -0.5) | (outputs["7"] >= 0.5)).double().mean(),
        "9": (outputs["9"] >= 6).double().mean(),
    }
    for name, fraction in expected.items():
        assert report.find(name).saturated_fraction == pytest.approx(float(fraction))


def test_probe_zero_and_dead_fractions_match_direct():
    torch.manual_seed(0)
    model = mixed_model()
    with torch.no_grad():
        model[2].bias[:5] = -100.0
    inputs = randn(200, 12) * 3
    relu_output = captured_outputs(model, inputs)["3"]
    record = probe(model, inputs).find("3")
    assert record.zero_fraction == pytest.approx(
        float((relu_output == 0).double().mean())
    )
    dead = (relu_output == 0).all(dim=0).double().mean()
    assert record.dead_fraction == pytest.approx(float(dead))
    assert record.dead_fraction >= 5 / 16


def test_probe_histogram_matches_histc():
    torch.manual_seed(0)
    model = mixed_model()
    inputs = randn(200, 12) * 3
    outputs = captured_outputs(model, inputs)
    report = probe(model, inputs, bins=16)
    first = report.find("0")
    values = outputs["0"]
    expected = torch.histc(values, 16, float(values.min()), float(values.max()))
    assert first.histogram.counts == [int(c) for c in expected]
    assert first.histogram.edges[0] == first.output_min
    assert first.histogram.edges[-1] == first.output_max


def test_probe_histogram_of_tanh_spans_fixed_range():
    report = probe(nn.Sequential(nn.Linear(4, 8), nn.Tanh()), randn(64, 4))
    histogram = report.find("1").histogram
    assert histogram.edges[0] == -1.0
    assert histogram.edges[-1] == 1.0
    assert histogram.total == 64 * 8


def test_probe_light_histogram_from_fixed_sample():
    model = nn.Sequential(nn.Linear(8, 256), nn.ReLU())
    inputs = randn(64, 8)
    first = probe(model, inputs, light=True, sample_size=1000).find("1").histogram
    again = probe(model, inputs, light=True, sample_size=1000).find("1").histogram
    assert first.sampled is True
    assert first.total == 1000
    assert first.counts == again.counts


def test_probe_light_moments_equal_full():
    model = mixed_model()
    inputs = randn(100, 12)
    full, light = probe(model, inputs), probe(model, inputs, light=True)
    for a, b in zip(full, light, strict=True):
        assert (a.output_std, a.saturated_fraction, a.zero_fraction) == (
            b.output_std,
            b.saturated_fraction,
            b.zero_fraction,
        )


def test_probe_light_leaves_out_weight_statistics():
    record = probe(mixed_model(), randn(100, 12), light=True, upstream="random").layers[
        0
    ]
    assert record.symmetric_groups is None
    assert record.weight_std is None
    assert record.weight_grad_norm is None
    assert record.grad_std is not None


def test_probe_gradient_statistics_match_autograd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    inputs, targets = randn(40, 5), torch.arange(40) % 3
    report = probe(model, inputs, targets)

    leaf = inputs.clone().requires_grad_(True)
    hidden = model[0](leaf)
    hidden.retain_grad()
    loss = nn.functional.cross_entropy(model[2](model[1](hidden)), targets)
    loss.backward()
    record = report.find("0")
    assert record.grad_std == pytest.approx(
        float(hidden.grad.std(correction=0)), rel=1e-5
    )
    assert record.grad_norm == pytest.approx(float(hidden.grad.norm()), rel=1e-5)
    assert report.input_grad_std == pytest.approx(
        float(leaf.grad.std(correction=0)), rel=1e-5
    )
    weight_grad = float(model[0].weight.grad.norm())
    assert record.weight_grad_norm == pytest.approx(weight_grad, rel=1e-5)
    assert record.weight_grad_ratio == pytest.approx(
        weight_grad / float(model[0].weight.detach().norm()), rel=1e-5
    )


def test_probe_weight_std_and_target():
    model = nn.Sequential(nn.Linear(100, 50))
    nn.init.xavier_normal_(model[0].weight, generator=torch.Generator().manual_seed(0))
    record = probe(model, randn(8, 100), applied={"0.weight": "glorot_normal"}).layers[
        0
    ]
    assert record.weight_target_std == pytest.approx(math.sqrt(2 / 150))
    assert record.weight_std == pytest.approx(
        float(model[0].weight.detach().double().std(correction=0)), rel=1e-6
    )


def test_probe_target_from_initialize_record():
    # With fans="tensor" a depthwise conv gets PyTorch's fans 9 and 72, so
    # Glorot's std is sqrt(2 / 81); the layer's own fans 9 and 9 would give
    # sqrt(2 / 18). The probe must show the std that the record gives.
    model = nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), nn.ReLU())
    record = initialize(model, "glorot_normal", fans="tensor", seed=0)

    report = probe(model, randn(4, 8, 6, 6), applied=record)

    assert report.layers[0].weight_target_std == pytest.approx(math.sqrt(2 / 81))


def test_probe_rejects_record_of_other_model():
    record = initialize(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)), "he_normal")
    with pytest.raises(ConfigError, match="'1.weight'"):
        probe(nn.Sequential(nn.Linear(3, 2)), randn(4, 3), applied=record)


def test_probe_constant_weight_std_is_zero():
    model = nn.Sequential(nn.Linear(100, 50))
    nn.init.constant_(model[0].weight, 0.1)
    assert probe(model, randn(8, 100)).layers[0].weight_std == 0.0


def test_probe_nonfinite_outputs_verdict():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    with torch.no_grad():
        model[0].weight[0, 0] = math.inf
    record = probe(model, randn(16, 4)).find("0")
    assert record.nonfinite_fraction == pytest.approx(16 / 48)
    assert record.verdict == "non-finite"
    assert record.histogram is None


def test_moments_shifted_sums_keep_precision():
    values = 1000.0 + 0.01 * randn(100_000)
    work = torch.empty_like(values)
    sums = [float(t) for t in st.moments_tensor(values, work)]
    mean, std, norm = st.finish_moments(*sums, values.numel())
    exact = values.double()
    assert mean == pytest.approx(float(exact.mean()), rel=1e-9)
    assert std == pytest.approx(float(exact.std(correction=0)), rel=1e-3)
    assert norm == pytest.approx(float(exact.norm()), rel=1e-6)


def test_nonfinite_count_counts_nan_and_inf():
    values = torch.tensor([1.0, math.nan, math.inf, -math.inf, 0.0])
    assert float(st.nonfinite_count_tensor(values, torch.empty(5))) == 3.0


def test_shrink_count_strict_inequality():
    values = torch.tensor([0.5, 0.99, 0.991, -0.995, 1.0, 0.0])
    assert float(st.shrink_count_tensor(values, torch.empty(6), 0.0, 0.99)) == 3.0


def test_zero_and_dead_hardswish_negative_values():
    values = torch.tensor([[0.0, -0.2, 0.0], [0.0, 0.0, 0.3]]).reshape(-1)
    nonzero, dead = st.zero_and_dead_tensor(values, torch.empty(6), torch.ones(2), True)
    assert float(nonzero) == 2.0
    assert float(dead) == 1.0


def test_histogram_tensor_scatter_matches_bincount():
    values = randn(1000)
    low, high = values.min(), values.max()

    def counts(scatter):
        work = torch.empty(1000)
        index = torch.empty(1000, dtype=torch.int32)
        return st.histogram_tensor(values, work, index, low, high, 10, scatter=scatter)

    assert counts(True).tolist() == counts(False).tolist()


def test_histogram_tensor_puts_maximum_in_last_bin():
    values = torch.tensor([0.0, 0.25, 0.5, 1.0])
    counts = st.histogram_tensor(
        values,
        torch.empty(4),
        torch.empty(4, dtype=torch.int32),
        torch.tensor(0.0),
        torch.tensor(1.0),
        4,
    )
    assert counts.tolist() == [1, 1, 1, 1]


def test_finish_histogram_constant_values_one_bin():
    edges, counts = st.finish_histogram([5.0, 0.0, 0.0], 2.0, 2.0)
    assert edges == [1.5, 2.5]
    assert counts == [5]


def test_symmetric_groups_identical_rows():
    rows = randn(6, 10)
    rows[4] = rows[1]
    rows[5] = rows[1]
    groups = symmetry.symmetric_groups(
        rows, None, np.zeros(6, dtype=int), 1e-6, torch.Generator().manual_seed(0)
    )
    assert groups == [[1, 4, 5]]


def test_symmetric_groups_bias_breaks_symmetry():
    rows = torch.ones(3, 4)
    bias = torch.tensor([0.0, 0.5, 0.0])
    groups = symmetry.symmetric_groups(
        rows, bias, np.zeros(3, dtype=int), 1e-6, torch.Generator().manual_seed(0)
    )
    assert groups == [[0, 2]]


def test_symmetric_groups_within_tolerance():
    rows = randn(4, 50)
    rows[3] = rows[0] + 1e-9
    groups = symmetry.symmetric_groups(
        rows, None, np.zeros(4, dtype=int), 1e-6, torch.Generator().manual_seed(0)
    )
    assert groups == [[0, 3]]


def test_outputs_identical_detects_difference():
    assert symmetry.outputs_identical([1.0, 1.0, 2.0], [[0, 1]]) is True
    assert symmetry.outputs_identical([1.0, 1.0, 2.0], [[0, 2]]) is False


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["non-finite", "symmetric", "dead", "saturated", "exploding", "vanishing"],
            "non-finite",
        ),
        (["symmetric", "vanishing"], "symmetric"),
        (["dead", "saturated"], "dead"),
        (["saturated", "exploding"], "saturated"),
        (["exploding"], "exploding"),
        (["vanishing"], "vanishing"),
        ([], "ok"),
    ],
)
def test_verdict_precedence(flags, expected):
    assert verdict(flags) == expected


def test_layer_flags_ratio_thresholds():
    thresholds = Thresholds()
    common = {
        "thresholds": thresholds,
        "reference_std": 2.0,
        "nonfinite_fraction": 0.0,
        "symmetric_unit_fraction": None,
        "dead_fraction": None,
        "saturated_fraction": None,
    }
    assert layer_flags(output_std=0.019, **common) == ["vanishing"]
    assert layer_flags(output_std=0.021, **common) == []
    assert layer_flags(output_std=201.0, **common) == ["exploding"]


def test_thresholds_reject_inverted_ratios():
    with pytest.raises(ValueError, match="vanishing_ratio must be below"):
        Thresholds(vanishing_ratio=10.0, exploding_ratio=1.0)
