"""The probe on the textbook setup: 1000 standard-normal inputs of width 100, five tanh layers of 50.

Reference figures come from an independent NumPy implementation of the
same setup, as means over 5 seeds with a seed-to-seed spread of about 4%
for most figures. Here each figure is averaged over 3 seeds and compared
with a tolerance a little wider than that spread.
"""

import functools
import statistics

import pytest
import torch
from torch import nn

from initlab.backends.torch import fill_
from initlab.probe import probe

SEEDS = (0, 1, 2)


def deep_net(scheme, seed, activation=nn.Tanh, depth=5, width=50, inputs=100):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), activation()]
        inputs = width
    model = nn.Sequential(*layers)
    generator = torch.Generator().manual_seed(seed)
    for module in model:
        if isinstance(module, nn.Linear):
            fill_(module.weight, scheme, generator=generator)
            nn.init.zeros_(module.bias)
    return model


def batch(seed):
    return torch.randn(1000, 100, generator=torch.Generator().manual_seed(100 + seed))


def probe_net(scheme, seed=0, activation=nn.Tanh, **options):
    model = deep_net(scheme, seed, activation)
    options.setdefault("upstream", "random")
    return probe(model, batch(seed), seed=seed, **options)


@functools.cache
def cached_report(scheme, seed=0, activation=nn.Tanh):
    # Shared by the tests that only read a report, to keep the file fast.
    return probe_net(scheme, seed, activation)


def seed_mean(scheme, pick, activation=nn.Tanh):
    return statistics.mean(
        pick(cached_report(scheme, seed, activation)) for seed in SEEDS
    )


def activations(report):
    return report.of_kind("activation")


def test_probe_small_init_last_layers_vanish():
    report = cached_report("normal(std=0.01)")
    verdicts = [record.verdict for record in activations(report)]
    assert verdicts[2:] == ["vanishing", "vanishing", "vanishing"]


def test_probe_small_init_layer5_std_below_1e4():
    report = cached_report("normal(std=0.01)")
    assert activations(report)[4].output_std < 1e-4


def test_probe_small_init_std_ratio_per_layer():
    # sqrt(50) * 0.01 = 0.0707: each layer multiplies the std by about 0.07.
    stds = [
        record.output_std for record in activations(cached_report("normal(std=0.01)"))
    ]
    for previous, current in zip(stds[1:], stds[2:], strict=False):
        assert current / previous == pytest.approx(0.0707, rel=0.1)


def test_probe_small_init_matches_reference():
    layer5 = seed_mean("normal(std=0.01)", lambda r: activations(r)[4].output_std)
    assert layer5 == pytest.approx(2.52e-6, rel=0.08)


def test_probe_standard_init_saturates_every_layer():
    report = cached_report("normal(std=1.0)")
    for record in activations(report):
        assert record.saturated_fraction > 0.5, record.label


def test_probe_standard_init_verdict_saturated():
    report = cached_report("normal(std=1.0)")
    assert {record.verdict for record in activations(report)} == {"saturated"}


def test_probe_standard_init_saturation_matches_reference():
    layer1 = seed_mean(
        "normal(std=1.0)", lambda r: activations(r)[0].saturated_fraction
    )
    layer5 = seed_mean(
        "normal(std=1.0)", lambda r: activations(r)[4].saturated_fraction
    )
    assert layer1 == pytest.approx(0.791, abs=0.02)
    assert layer5 == pytest.approx(0.689, abs=0.04)


def test_probe_standard_init_gradient_grows_backwards():
    # The tanh units saturate, yet the backward signal grows by about 2 per
    # layer towards the input in this 5-layer net.
    grad_at_input = seed_mean("normal(std=1.0)", lambda r: r.input_grad_std)
    assert grad_at_input == pytest.approx(26.0, rel=0.1)


def test_probe_glorot_normal_every_layer_ok():
    report = cached_report("glorot_normal")
    assert set(report.verdicts) == {"ok"}


def test_probe_glorot_normal_std_matches_reference():
    layer1 = seed_mean("glorot_normal", lambda r: activations(r)[0].output_std)
    layer3 = seed_mean("glorot_normal", lambda r: activations(r)[2].output_std)
    layer5 = seed_mean("glorot_normal", lambda r: activations(r)[4].output_std)
    assert layer1 == pytest.approx(0.668, rel=0.05)
    assert layer3 == pytest.approx(0.420, rel=0.06)
    assert layer5 == pytest.approx(0.328, rel=0.06)


def test_probe_glorot_normal_preactivation_std_analytic():
    # sqrt(fan_in * Var(w)) * std(x) = sqrt(100 * 2 / 150) = 1.155.
    first_linear = seed_mean(
        "glorot_normal", lambda r: r.of_kind("linear")[0].output_std
    )
    assert first_linear == pytest.approx(1.155, rel=0.03)


def test_probe_glorot_normal_gradient_matches_reference():
    # The gradient arriving at layer l's input is the gradient at the output
    # of activation l - 1, and at the network's input for l = 1.
    at_input = seed_mean("glorot_normal", lambda r: r.input_grad_std)
    into_layer3 = seed_mean("glorot_normal", lambda r: activations(r)[1].grad_std)
    into_layer5 = seed_mean("glorot_normal", lambda r: activations(r)[3].grad_std)
    assert at_input == pytest.approx(0.281, rel=0.08)
    assert into_layer3 == pytest.approx(0.672, rel=0.06)
    assert into_layer5 == pytest.approx(0.899, rel=0.06)


def test_probe_he_normal_tanh_matches_reference():
    layer5 = seed_mean("he_normal", lambda r: activations(r)[4].output_std)
    assert layer5 == pytest.approx(0.567, rel=0.06)


@pytest.mark.parametrize("scheme", ["zeros", "constant(0.1)"])
def test_probe_constant_init_every_hidden_layer_symmetric(scheme):
    report = cached_report(scheme)
    assert [record.verdict for record in report.of_kind("linear")] == ["symmetric"] * 5


@pytest.mark.parametrize("scheme", ["zeros", "constant(0.1)"])
def test_probe_constant_init_one_group_of_all_units(scheme):
    for record in cached_report(scheme).of_kind("linear"):
        assert record.symmetric_groups == [list(range(50))]


@pytest.mark.parametrize("scheme", ["zeros", "constant(0.1)"])
def test_probe_constant_init_outputs_identical(scheme):
    for record in cached_report(scheme).of_kind("linear"):
        assert record.activations_identical is True


def test_probe_zero_init_symmetric_outranks_vanishing():
    record = cached_report("zeros").of_kind("linear")[1]
    assert record.flags == ["symmetric", "vanishing"]
    assert record.verdict == "symmetric"


def test_probe_random_init_has_no_symmetric_groups():
    for record in cached_report("glorot_normal").of_kind("linear"):
        assert record.symmetric_groups == []


def test_probe_relu_large_negative_bias_is_dead():
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    with torch.no_grad():
        model[0].bias.fill_(-10.0)
    inputs = torch.randn(256, 20, generator=torch.Generator().manual_seed(0))
    record = probe(model, inputs).find("1")
    assert record.dead_fraction == 1.0
    assert record.zero_fraction == 1.0
    assert record.verdict == "dead"


def test_probe_relu_half_zero_few_dead():
    report = cached_report("he_normal", activation=nn.ReLU)
    first = activations(report)[0]
    assert first.zero_fraction == pytest.approx(0.5, abs=0.03)
    assert first.dead_fraction < 0.05


def test_probe_relu_sparsity_independent_of_scale():
    # ReLU is positively homogeneous: scaling every weight of a zero-bias
    # network leaves the pattern of zeros unchanged.
    inputs = batch(0)
    fractions = []
    for scale in (0.01, 1.0, 5.0):
        model = deep_net("normal(std=1.0)", 3, nn.ReLU)
        with torch.no_grad():
            for module in model:
                if isinstance(module, nn.Linear):
                    module.weight.mul_(scale)
        report = probe(model, inputs)
        fractions.append(
            [(r.zero_fraction, r.dead_fraction) for r in activations(report)]
        )
    assert fractions[0] == fractions[1]
    assert fractions[1] == fractions[2]


def test_probe_relu_standard_init_explodes():
    report = cached_report("normal(std=1.0)", activation=nn.ReLU)
    assert [r.verdict for r in activations(report)][2:] == ["exploding"] * 3


def test_probe_sigmoid_standard_saturation_matches_reference():
    layer1 = seed_mean(
        "normal(std=1.0)", lambda r: activations(r)[0].saturated_fraction, nn.Sigmoid
    )
    assert layer1 == pytest.approx(0.646, abs=0.02)


def test_probe_sigmoid_small_std_accurate_near_mean_half():
    # Outputs near 0.5 with a std near 0.008: the shifted sums keep the std
    # exact where E[x^2] - E[x]^2 in float32 would lose about 1e-3 of it.
    model = deep_net("normal(std=0.01)", 0, nn.Sigmoid)
    inputs = batch(0)
    report = probe(model, inputs)
    outputs = model(inputs).detach().double()
    assert report.layers[-1].output_std == pytest.approx(
        float(outputs.std(correction=0)), rel=1e-5
    )


def test_probe_thresholds_move_the_vanishing_limit():
    report = probe_net("normal(std=0.01)", thresholds={"vanishing_ratio": 1e-6})
    assert "vanishing" not in report.verdicts
