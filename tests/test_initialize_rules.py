"""Rules: one scheme, ordered mappings, auto, biases, defaults, errors and the record."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initlab.errors import ConfigError, SchemeError
from initlab.initialize import initialize, initialize_shard


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


class Scale(nn.Module):
    """A module initlab has no default for."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((4,), 7.0))

    def forward(self, x):
        return x * self.gamma


def _model() -> nn.Sequential:
    return nn.Sequential(
        nn.Embedding(10, 4, padding_idx=0),
        nn.Linear(4, 8),
        nn.LayerNorm(8),
        nn.ReLU(),
        nn.Linear(8, 4),
        Scale(),
    )


def test_single_scheme_sets_every_weight():
    model = _model()
    record = initialize(model, "normal(std=0.5)")
    assert record["1.weight"].scheme == "normal(std=0.5)"
    assert record["4.weight"].scheme == "normal(std=0.5)"


def test_single_scheme_zero_biases():
    model = _model()
    initialize(model, "he_normal")
    assert torch.count_nonzero(model[1].bias).item() == 0


def test_normalization_defaults():
    model = _model()
    with torch.no_grad():
        model[2].weight.fill_(3.0)
        model[2].bias.fill_(3.0)
    initialize(model, "he_normal")
    assert torch.equal(model[2].weight, torch.ones(8))
    assert torch.equal(model[2].bias, torch.zeros(8))


def test_embedding_default_and_padding_row():
    model = _model()
    record = initialize(model, "he_normal")
    assert record["0.weight"].rule.startswith("embedding default")
    assert torch.count_nonzero(model[0].weight[0]).item() == 0


def test_embedding_rule_keeps_padding_row():
    model = _model()
    initialize(model, {nn.Embedding: "normal(std=0.02)", nn.Linear: "he_normal"})
    assert torch.count_nonzero(model[0].weight[0]).item() == 0
    assert torch.count_nonzero(model[0].weight[1]).item() == 4


def test_unknown_module_left_alone_and_listed():
    model = _model()
    record = initialize(model, "he_normal")
    assert torch.equal(model[5].gamma, torch.full((4,), 7.0))
    assert [entry.name for entry in record.left_alone] == ["5.gamma"]


def test_mapping_first_match_wins():
    model = _model()
    record = initialize(
        model, {"4.*": "zeros", nn.Linear: "orthogonal", "*.weight": "ones"}
    )
    assert record["4.weight"].scheme == "zeros"
    assert record["1.weight"].scheme == "orthogonal"
    assert record["2.weight"].scheme == "ones"


def test_mapping_pattern_matches_biases():
    model = _model()
    record = initialize(model, {nn.Linear: "he_normal", "*.bias": "constant(0.1)"})
    assert torch.allclose(model[1].bias, torch.full((8,), 0.1))
    assert record["1.bias"].rule == "pattern '*.bias'"


def test_mapping_type_key_skips_biases():
    model = _model()
    initialize(model, {nn.Linear: "ones"})
    assert torch.count_nonzero(model[1].bias).item() == 0


def test_mapping_unmatched_layer_left_alone():
    model = _model()
    record = initialize(model, {"1.weight": "he_normal"})
    reasons = {entry.name: entry.reason for entry in record.left_alone}
    assert reasons["4.weight"] == "no rule matches it"
    assert reasons["4.bias"] == "its layer's weights are left alone"


def test_custom_module_by_type_key():
    model = _model()
    initialize(model, {Scale: "ones", nn.Linear: "he_normal"})
    assert torch.equal(model[5].gamma, torch.ones(4))


def test_bias_none_leaves_biases():
    model = _model()
    with torch.no_grad():
        model[1].bias.fill_(2.0)
    initialize(model, "he_normal", bias=None)
    assert torch.equal(model[1].bias, torch.full((8,), 2.0))


def test_bias_scheme_applies():
    model = _model()
    record = initialize(model, "he_normal", bias="normal(std=0.01)")
    assert record["1.bias"].target_std == 0.01


def test_pattern_matching_nothing_raises_before_changes():
    model = _model()
    before = _snapshot(model)
    with pytest.raises(ConfigError) as error:
        initialize(model, {"encoder.*": "he_normal", nn.Linear: "zeros"})
    message = str(error.value)
    assert "'encoder.*'" in message
    assert "1.weight, 1.bias, 2.weight" in message
    assert _unchanged(model, before)


def test_type_matching_nothing_raises():
    with pytest.raises(ConfigError, match="Conv2d matches no module"):
        initialize(_model(), {nn.Conv2d: "he_normal"})


def test_unknown_scheme_names_parameters():
    model = _model()
    before = _snapshot(model)
    with pytest.raises(SchemeError) as error:
        initialize(model, "he_normel")
    message = str(error.value)
    assert "he_normel" in message
    assert "the model's parameters are: 0.weight, 1.weight" in message
    assert _unchanged(model, before)


def test_unknown_scheme_in_mapping_names_key():
    with pytest.raises(SchemeError, match="invalid rule for Linear"):
        initialize(_model(), {nn.Linear: "gloro"})


def test_shape_error_names_parameter_before_changes():
    model = nn.Sequential(nn.Linear(3, 3), nn.Conv2d(2, 2, 3))
    before = _snapshot(model)
    with pytest.raises(ValueError, match="'1.weight'"):
        initialize(model, "identity")
    assert _unchanged(model, before)


def test_rules_and_preset_exclusive():
    with pytest.raises(ConfigError, match="exactly one of rules and preset"):
        initialize(_model(), "he_normal", preset="torch")


def test_rules_or_preset_required():
    with pytest.raises(ConfigError, match="exactly one of rules and preset"):
        initialize(_model())


def test_invalid_options_raise():
    model = _model()
    with pytest.raises(ConfigError, match="fans"):
        initialize(model, "he_normal", fans="shape")
    with pytest.raises(ConfigError, match="seed"):
        initialize(model, "he_normal", seed=-1)
    with pytest.raises(ConfigError, match="preset"):
        initialize(model, preset="jax")
    with pytest.raises(ConfigError, match="rule key"):
        initialize(model, {3: "he_normal"})


def test_tied_parameter_initialized_once():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    model[1].weight = model[0].weight
    record = initialize(model, "he_normal", seed=3)
    assert [entry.name for entry in record.parameters] == ["0.weight"]
    assert record["1.weight"].aliases == ("1.weight",)
    # One draw under the first name: the embedding default, N(0, 1).
    expected = initialize_shard("0.weight", (10, 4), (), "normal(std=1.0)", seed=3)
    assert torch.equal(model[1].weight.detach(), expected)


def test_zero_element_parameter_left_alone():
    with pytest.warns(UserWarning, match="zero-element"):
        model = nn.Linear(0, 3)
    record = initialize(model, "he_normal")
    assert record.left_alone[0].reason == "it has zero elements"


def test_lazy_parameters_left_alone():
    model = nn.Sequential(nn.Linear(3, 4), nn.LazyLinear(2))
    record = initialize(model, "he_normal")
    reasons = {entry.name: entry.reason for entry in record.left_alone}
    assert set(reasons) == {"1.weight", "1.bias"}
    assert "forward pass" in reasons["1.weight"]


def test_record_is_json():
    record = initialize(_model(), "he_normal")
    data = json.loads(json.dumps(record.to_dict()))
    assert data["parameters"][0]["name"] == "0.weight"
    assert data["left_alone"][0]["name"] == "5.gamma"


def test_record_target_and_measured_std():
    model = nn.Linear(400, 300)
    entry = initialize(model, "he_normal")["weight"]
    assert entry.target_std == math.sqrt(2 / 400)
    assert abs(entry.measured_std / entry.target_std - 1) < 0.01


def test_record_unknown_name_raises():
    with pytest.raises(KeyError, match="no initialized parameter"):
        initialize(nn.Linear(2, 2), "he_normal")["missing"]


def test_auto_schemes_by_activation():
    model = nn.Sequential(
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Linear(8, 8),
        nn.Dropout(0.1),
        nn.Tanh(),
        nn.Linear(8, 8),
        nn.SELU(),
        nn.Linear(8, 8),
        nn.LeakyReLU(0.2),
        nn.Linear(8, 8),
        nn.GELU(),
        nn.Linear(8, 3),
    )
    record = initialize(model, "auto")
    assert record["0.weight"].scheme == "he_normal"
    assert record["2.weight"].scheme == "glorot_normal"
    assert record["5.weight"].scheme == "lecun_normal"
    assert record["7.weight"].target_std == pytest.approx(
        math.sqrt(2 / (1 + 0.2**2) / 8)
    )
    # GELU's forward gain: 1 / sqrt(E[gelu(z)^2]) = 1.53353.
    assert record["9.weight"].target_std == pytest.approx(
        1.53353 / math.sqrt(8), rel=1e-5
    )
    assert record["11.weight"].rule == "auto: none (traced)"


class FunctionalNet(nn.Module):
    """Activations as functions, a residual addition and batch norm in between."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.skip = nn.Conv2d(3, 8, 1)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        y = F.relu(self.norm(self.conv(x)) + self.skip(x))
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.sigmoid(self.head(y))


def test_auto_traces_functional_activations():
    record = initialize(FunctionalNet(), "auto")
    assert record["conv.weight"].rule == "auto: relu (traced)"
    assert record["skip.weight"].rule == "auto: relu (traced)"
    assert record["head.weight"].scheme == "glorot_normal"


class Branching(nn.Module):
    """A forward pass that torch.fx cannot trace (it branches on a value)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))

    def forward(self, x):
        if x.sum() > 0:
            return self.layers(x)
        return -self.layers(x)


def test_auto_falls_back_to_module_order():
    record = initialize(Branching(), "auto")
    assert record["layers.0.weight"].rule == "auto: tanh (module order)"
    assert record["layers.2.weight"].rule == "auto: none (module order)"


def test_auto_transformer_layer_activation():
    model = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
    record = initialize(model, "auto")
    assert record["linear1.weight"].scheme == "he_normal"
    assert record["linear2.weight"].scheme == "lecun_normal"
    assert record["self_attn.in_proj_weight"].scheme == "lecun_normal"


def test_auto_recurrent_weights():
    record = initialize(nn.LSTM(4, 6), "auto")
    assert record["weight_hh_l0"].scheme == "orthogonal"
    assert record["weight_ih_l0"].scheme == "glorot_normal"


def test_data_dependent_rule_needs_data():
    model = _model()
    before = _snapshot(model)
    with pytest.raises(ConfigError, match="data="):
        initialize(model, "lsuv")
    assert _unchanged(model, before)


def test_data_with_plain_rule_raises():
    with pytest.raises(ConfigError, match="only by the data-dependent rules"):
        initialize(_model(), "he_normal", data=torch.zeros(2, 4))


def test_data_dependent_rule_delegates():
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    result = initialize(model, "lsuv", data=(x, None), seed=1)
    assert result["name"] == "lsuv"
