"""Layer-aware fans and blocks against PyTorch's tensor rule, with exact numbers."""

import math

import pytest
import torch
from torch import nn

from initlab.initialize import Rule, initialize


def _fans(record, name):
    entry = record[name]
    return entry.fan_in, entry.fan_out


def test_layer_fans_depthwise_conv():
    model = nn.Conv2d(32, 32, 3, groups=32)
    assert _fans(initialize(model, "he_normal"), "weight") == (9, 9)


def test_tensor_fans_depthwise_conv_match_torch():
    model = nn.Conv2d(32, 32, 3, groups=32)
    assert _fans(initialize(model, "he_normal", fans="tensor"), "weight") == (9, 288)


def test_layer_fans_transposed_conv():
    model = nn.ConvTranspose2d(16, 32, 3)
    assert _fans(initialize(model, "he_normal"), "weight") == (144, 288)


def test_tensor_fans_transposed_conv_match_torch():
    model = nn.ConvTranspose2d(16, 32, 3)
    assert _fans(initialize(model, "he_normal", fans="tensor"), "weight") == (288, 144)


def test_layer_fans_grouped_transposed_conv():
    # Weight (8, 6, 3): 8 inputs in 2 groups, 6 outputs per group.
    model = nn.ConvTranspose1d(8, 12, 3, groups=2)
    assert _fans(initialize(model, "he_normal"), "weight") == (12, 18)


@pytest.mark.parametrize(
    "module",
    [
        nn.Linear(7, 5),
        nn.Bilinear(3, 4, 5),
        nn.Conv1d(6, 4, 5, groups=2),
        nn.Conv2d(32, 32, 3, groups=32),
        nn.Conv3d(2, 4, (1, 2, 3)),
        nn.ConvTranspose2d(16, 32, 3),
        nn.ConvTranspose3d(4, 6, 2, groups=2),
        nn.MultiheadAttention(16, 4),
        nn.LSTM(5, 6, proj_size=3),
        nn.GRU(5, 6),
        nn.Embedding(11, 4),
    ],
    ids=lambda module: type(module).__name__,
)
def test_tensor_fans_match_torch_rule(module):
    record = initialize(module, "glorot_uniform", fans="tensor")
    for entry in record.parameters:
        parameter = dict(module.named_parameters())[entry.name]
        if parameter.dim() < 2:
            continue
        expected = nn.init._calculate_fan_in_and_fan_out(parameter)
        assert (entry.fan_in, entry.fan_out) == expected, entry.name


def test_packed_attention_bound_per_block():
    model = nn.MultiheadAttention(64, 4)
    initialize(model, "glorot_uniform")
    bound = math.sqrt(6 / 128)
    assert round(bound, 6) == 0.216506
    for block in model.in_proj_weight.detach().split(64):
        assert block.abs().max().item() <= bound
        # 4096 draws per block: the largest is within 1% of the bound
        # except with probability 0.99^4096, about 1e-18.
        assert block.abs().max().item() > 0.99 * bound


def test_packed_attention_bound_tensor_rule():
    model = nn.MultiheadAttention(64, 4)
    initialize(model, "glorot_uniform", fans="tensor")
    bound = math.sqrt(6 / 256)
    assert round(bound, 6) == 0.153093
    values = model.in_proj_weight.detach()
    assert values.abs().max().item() <= bound
    assert values.abs().max().item() > 0.99 * bound


def test_packed_attention_record_blocks():
    record = initialize(nn.MultiheadAttention(64, 4), "glorot_uniform")
    entry = record["in_proj_weight"]
    assert (entry.blocks, entry.fan_in, entry.fan_out) == (3, 64, 64)


def _max_orthonormal_error(block: torch.Tensor) -> float:
    gram = block @ block.T
    return (gram - torch.eye(block.shape[0])).abs().max().item()


def test_lstm_weight_hh_orthogonal_per_gate():
    model = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    initialize(model, "orthogonal")
    for name in ("weight_hh_l0", "weight_hh_l1_reverse"):
        weight = getattr(model, name).detach()
        for gate in weight.split(16):
            assert _max_orthonormal_error(gate) < 1e-5, name


def test_lstm_tensor_rule_orthogonal_whole_matrix():
    model = nn.LSTM(8, 16)
    initialize(model, "orthogonal", fans="tensor")
    weight = model.weight_hh_l0.detach()
    # (64, 16): the 16 columns are orthonormal, the gate blocks are not.
    columns = weight.T @ weight
    assert (columns - torch.eye(16)).abs().max().item() < 1e-5
    assert _max_orthonormal_error(weight[:16]) > 0.1


def test_gru_weight_ih_three_gate_blocks():
    record = initialize(nn.GRU(5, 6), "orthogonal")
    assert record["weight_ih_l0"].blocks == 3
    assert record["weight_hh_l0"].blocks == 3


def test_lstm_cell_four_gate_blocks():
    record = initialize(nn.LSTMCell(5, 6), "he_normal")
    assert (record["weight_hh"].blocks, record["weight_hh"].fan_in) == (4, 6)


class Experts(nn.Module):
    """A stack of expert matrices, (experts, in, out), applied with einsum."""

    def __init__(self, experts: int, features_in: int, features_out: int):
        super().__init__()
        self.w = nn.Parameter(torch.empty(experts, features_in, features_out))

    def forward(self, x):
        return torch.einsum("eni,eio->eno", x, self.w)


def test_expert_stack_batch_axis_fans():
    model = nn.Sequential(Experts(4, 12, 20))
    rule = Rule("he_normal", in_axis=1, out_axis=2, batch_axis=0)
    record = initialize(model, {Experts: rule})
    entry = record["0.w"]
    assert (entry.fan_in, entry.fan_out, entry.blocks) == (12, 20, 4)


def test_expert_stack_orthogonal_per_expert():
    model = nn.Sequential(Experts(3, 8, 8))
    initialize(model, {"0.w": Rule("orthogonal", in_axis=1, out_axis=2, batch_axis=0)})
    for expert in model[0].w.detach():
        assert _max_orthonormal_error(expert) < 1e-5


def test_expert_stack_tensor_rule_ignores_axes():
    model = nn.Sequential(Experts(4, 12, 20))
    rule = Rule("he_normal", in_axis=1, out_axis=2, batch_axis=0)
    record = initialize(model, {Experts: rule}, fans="tensor")
    # PyTorch's rule reads (4, 12, 20) as (out, in, kernel).
    assert _fans(record, "0.w") == (240, 80)


def test_bias_borrows_weight_fans():
    record = initialize(nn.Conv2d(32, 32, 3, groups=32), "he_normal", bias="he_normal")
    assert _fans(record, "bias") == (9, 9)
