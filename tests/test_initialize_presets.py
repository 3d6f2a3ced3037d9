"""Framework presets: torch against freshly built modules, keras and flax by their definitions."""

import math

import pytest
import torch
from scipy import stats
from torch import nn

from initlab.errors import ConfigError
from initlab.initialize import initialize

# Every comparison is seeded, so a p-value above this floor is a fixed
# outcome, not a chance: a wrong bound or fan shifts the std by 15% or more,
# which these sample sizes detect with p far below 1e-6.
P_FLOOR = 1e-3


def _fresh(factory, seed: int):
    torch.manual_seed(seed)
    return factory()


TORCH_CASES = {
    "linear": lambda: nn.Linear(256, 128),
    "grouped_conv": lambda: nn.Conv2d(16, 32, 3, groups=4),
    "transposed_conv": lambda: nn.ConvTranspose2d(32, 16, 3),
    "bilinear": lambda: nn.Bilinear(10, 12, 40),
    "embedding": lambda: nn.Embedding(200, 32),
    "lstm": lambda: nn.LSTM(32, 64),
    "gru_cell": lambda: nn.GRUCell(16, 48),
    "attention": lambda: nn.MultiheadAttention(64, 4, add_bias_kv=True),
}


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_torch_preset_matches_fresh_modules(case):
    factory = TORCH_CASES[case]
    reference = _fresh(factory, 0)
    ours = _fresh(factory, 1)
    initialize(ours, preset="torch", seed=5)
    fresh = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        values = parameter.detach().flatten().numpy()
        expected = fresh[name].detach().flatten().numpy()
        if (expected == 0).all():
            assert (values == 0).all(), name
            continue
        assert stats.ks_2samp(values, expected).pvalue > P_FLOOR, name


def test_torch_preset_linear_bound():
    model = nn.Linear(400, 30)
    initialize(model, preset="torch")
    bound = 1 / math.sqrt(400)
    assert model.weight.abs().max().item() <= bound
    assert model.bias.abs().max().item() <= bound


def test_torch_preset_transposed_conv_bound():
    # PyTorch's tensor rule reads fan_in = 16 * 9 from the (32, 16, 3, 3) weight.
    model = nn.ConvTranspose2d(32, 16, 3)
    initialize(model, preset="torch")
    assert model.weight.abs().max().item() <= 1 / 12
    assert model.weight.abs().max().item() > 0.99 / 12


def test_torch_preset_attention_zero_biases():
    model = nn.MultiheadAttention(16, 2)
    initialize(model, preset="torch")
    assert torch.count_nonzero(model.in_proj_bias).item() == 0
    assert torch.count_nonzero(model.out_proj.bias).item() == 0


def test_torch_preset_prelu_and_norms():
    model = nn.Sequential(nn.PReLU(3, init=0.1), nn.LayerNorm(3), nn.BatchNorm1d(3))
    initialize(model, preset="torch")
    assert torch.allclose(model[0].weight, torch.full((3,), 0.1))
    assert torch.equal(model[1].weight, torch.ones(3))
    assert torch.equal(model[2].bias, torch.zeros(3))


def test_torch_preset_transformer_reinitializes_matrices():
    def factory():
        return nn.Transformer(16, 2, 1, 1, 32, dropout=0.0, batch_first=True)

    reference = _fresh(factory, 0)
    ours = _fresh(factory, 1)
    record = initialize(ours, preset="torch")
    name = "encoder.layers.0.linear1.weight"
    assert record[name].scheme == "glorot_uniform"
    values = ours.get_parameter(name).detach().flatten().numpy()
    expected = reference.get_parameter(name).detach().flatten().numpy()
    assert stats.ks_2samp(values, expected).pvalue > P_FLOOR


def test_keras_preset_lstm_forget_bias_sums_to_one():
    model = nn.LSTM(8, 16, num_layers=2)
    initialize(model, preset="keras")
    for layer in range(2):
        total = getattr(model, f"bias_ih_l{layer}") + getattr(
            model, f"bias_hh_l{layer}"
        )
        expected = torch.cat([torch.zeros(16), torch.ones(16), torch.zeros(32)])
        assert torch.equal(total.detach(), expected)


def test_keras_preset_recurrent_kernel_one_matrix():
    model = nn.LSTM(8, 16)
    initialize(model, preset="keras")
    weight = model.weight_hh_l0.detach()
    columns = weight.T @ weight
    assert (columns - torch.eye(16)).abs().max().item() < 1e-5
    gate = weight[:16]
    assert (gate @ gate.T - torch.eye(16)).abs().max().item() > 0.1


def test_keras_preset_dense_glorot_bound():
    model = nn.Linear(300, 100)
    initialize(model, preset="keras")
    bound = math.sqrt(6 / 400)
    assert model.weight.abs().max().item() <= bound
    assert model.weight.abs().max().item() > 0.99 * bound
    assert torch.count_nonzero(model.bias).item() == 0


def test_keras_preset_transposed_conv_swapped_fans():
    record = initialize(nn.ConvTranspose2d(16, 32, 3), preset="keras")
    assert (record["weight"].fan_in, record["weight"].fan_out) == (288, 144)


def test_keras_preset_attention_kernel_fans():
    record = initialize(nn.MultiheadAttention(32, 4, kdim=20), preset="keras")
    # Keras's EinsumDense reads fans from the input and output axes of its
    # (20, 4, 8) key kernel: 20 inputs, 32 outputs.
    assert (record["k_proj_weight"].fan_in, record["k_proj_weight"].fan_out) == (20, 32)
    out = record["out_proj.weight"]
    assert (out.fan_in, out.fan_out) == (32, 32)


def test_keras_preset_embedding_bound():
    model = nn.Embedding(500, 8)
    initialize(model, preset="keras")
    assert model.weight.abs().max().item() <= 0.05


def test_flax_preset_dense_truncated_lecun():
    model = nn.Linear(256, 512)
    entry = initialize(model, preset="flax")["weight"]
    # The parent normal, cut at 2 of its stds, has std sqrt(1/256) / 0.8796.
    cut = 2 * math.sqrt(1 / 256) / 0.87962566103423978
    assert model.weight.abs().max().item() <= cut
    assert entry.target_std == pytest.approx(1 / 16)
    assert abs(entry.measured_std * 16 - 1) < 0.02


def test_flax_preset_embedding_std():
    entry = initialize(nn.Embedding(1000, 64), preset="flax")["weight"]
    assert entry.target_std == pytest.approx(1 / 8)
    assert abs(entry.measured_std * 8 - 1) < 0.02


def test_flax_preset_recurrent_gates_orthogonal():
    model = nn.GRU(8, 16)
    initialize(model, preset="flax")
    for gate in model.weight_hh_l0.detach().split(16):
        assert (gate @ gate.T - torch.eye(16)).abs().max().item() < 1e-5


def test_flax_preset_transposed_conv_fan_in():
    record = initialize(nn.ConvTranspose2d(16, 32, 3), preset="flax")
    assert record["weight"].fan_in == 144


def test_preset_leaves_unknown_module():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = nn.Parameter(torch.ones(2))

    record = initialize(nn.Sequential(nn.Linear(2, 2), Gate()), preset="keras")
    assert record.left_alone[0].name == "1.alpha"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fans": "tensor"}, "fans='tensor' applies to rules only"),
        ({"bias": "ones"}, "bias='ones' applies to rules only"),
        ({"bias": None}, "bias=None applies to rules only"),
    ],
)
def test_preset_rejects_options_it_fixes(options, message):
    layer = nn.Linear(4, 3)
    before = layer.weight.detach().clone()

    with pytest.raises(ConfigError, match=message):
        initialize(layer, preset="torch", **options)

    assert torch.equal(layer.weight.detach(), before)
