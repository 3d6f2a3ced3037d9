"""The probe on every model shape: MLPs, CNNs, residual blocks, reused modules, tuple outputs."""

import pytest
import torch
from torch import nn

from initlab.models import build_model
from initlab.probe import probe


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return self.norm(x + self.body(x))


class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 8)
        self.blocks = nn.Sequential(Residual(8), Residual(8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class SharedLayer(nn.Module):
    """Calls one Linear twice, as a weight-tied network does."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(5, 5)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.shared(self.act(self.shared(x)))


class PairOutput(nn.Module):
    def forward(self, x):
        return x * 2.0, x.argmax(dim=1)


class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.pair = PairOutput()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        sequence, (hidden, _) = self.lstm(x)
        doubled, _ = self.pair(hidden[-1])
        return self.head(doubled), sequence


class AttentionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        mixed, _ = self.attention(x, x, x)
        return self.head(mixed.mean(dim=1))


class TokenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, tokens):
        return self.head(self.embed(tokens).mean(dim=1))


def test_probe_mlp_records_every_leaf_in_order():
    model = build_model("mlp:4-6x2-3:relu", (4,), 3)
    report = probe(model, randn(16, 4))
    assert [r.module_type for r in report] == [
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Linear",
    ]


def test_probe_mlp_record_names_qualified():
    model = build_model("mlp:4-6x2-3:relu", (4,), 3)
    report = probe(model, randn(16, 4))
    assert [r.name for r in report] == ["0", "1", "2", "3", "4"]


def test_probe_cnn_records_conv_and_pool():
    model = build_model("cnn:4-8:relu", (1, 8, 8), 10)
    report = probe(model, randn(16, 1, 8, 8), torch.arange(16) % 10)
    kinds = [r.module_type for r in report]
    assert kinds == [
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
    ]


def test_probe_cnn_gradients_on_every_layer_after_input():
    model = build_model("cnn:4-8:relu", (1, 8, 8), 10)
    report = probe(model, randn(16, 1, 8, 8), torch.arange(16) % 10)
    for record in report:
        assert record.grad_std is not None, record.label


def test_probe_cnn_conv_units_are_channels():
    model = build_model("cnn:4-8:relu", (1, 8, 8), 10)
    with torch.no_grad():
        model[0].weight.fill_(0.5)
        model[0].bias.zero_()
    record = probe(model, randn(16, 1, 8, 8)).find("0")
    assert record.symmetric_groups == [[0, 1, 2, 3]]
    assert record.activations_identical is True
    assert record.verdict == "symmetric"


def test_probe_grouped_conv_matches_within_groups_only():
    conv = nn.Conv2d(4, 4, 3, groups=2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    record = probe(nn.Sequential(conv), randn(8, 4, 6, 6)).find("0")
    assert record.symmetric_groups == [[0, 1], [2, 3]]


def test_probe_depthwise_conv_has_no_symmetric_units():
    conv = nn.Conv2d(3, 3, 3, groups=3)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
    record = probe(nn.Sequential(conv), randn(8, 3, 6, 6)).find("0")
    assert record.symmetric_groups == []


def test_probe_transposed_conv_units_are_output_channels():
    deconv = nn.ConvTranspose2d(2, 3, 3, bias=False)
    with torch.no_grad():
        deconv.weight.copy_(randn(2, 1, 3, 3).expand(2, 3, 3, 3))
    record = probe(nn.Sequential(deconv), randn(8, 2, 5, 5)).find("0")
    assert record.symmetric_groups == [[0, 1, 2]]


def test_probe_residual_records_leaves_of_blocks():
    report = probe(ResidualNet(), randn(32, 6), upstream="random")
    names = [r.name for r in report]
    assert names == [
        "stem",
        "blocks.0.body.0",
        "blocks.0.body.1",
        "blocks.0.norm",
        "blocks.1.body.0",
        "blocks.1.body.1",
        "blocks.1.norm",
        "head",
    ]


def test_probe_residual_norm_output_unit_std():
    report = probe(ResidualNet(), randn(32, 6), upstream="random")
    assert report.find("blocks.1.norm").output_std == pytest.approx(1.0, rel=0.01)


def test_probe_shared_module_records_each_call():
    report = probe(SharedLayer(), randn(64, 5), upstream="random")
    assert [(r.name, r.call_index) for r in report] == [
        ("shared", 0),
        ("act", 0),
        ("shared", 1),
    ]


def test_probe_shared_module_calls_differ():
    model = SharedLayer()
    inputs = randn(64, 5)
    report = probe(model, inputs, upstream="random")
    first, second = report.find("shared", 0), report.find("shared", 1)
    expected_first = model.shared(inputs).detach().std(correction=0)
    assert first.output_std == pytest.approx(float(expected_first), rel=1e-5)
    assert second.output_std != pytest.approx(first.output_std)


def upstream_std(shape, seed=0):
    # probe() draws the random upstream gradient from a generator seeded with `seed`.
    values = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return float(values.double().std(correction=0))


def test_probe_shared_module_gradient_per_call():
    report = probe(SharedLayer(), randn(64, 5), upstream="random")
    # The last call's output is the model's output, so its gradient is the
    # upstream gradient itself.
    assert report.find("shared", 1).grad_std == pytest.approx(upstream_std((64, 5)))
    assert report.find("shared", 0).grad_std is not None


def test_probe_tuple_outputs_use_first_float_tensor():
    report = probe(TupleNet(), randn(8, 7, 4), upstream="random")
    assert report.find("lstm").output_shape == (8, 7, 6)
    assert report.find("pair").output_shape == (8, 6)


def test_probe_tuple_model_output_backpropagates_first_tensor():
    report = probe(TupleNet(), randn(8, 7, 4), upstream="random")
    assert report.find("head").grad_std == pytest.approx(upstream_std((8, 2)))


def test_probe_module_with_own_parameters_recorded():
    report = probe(AttentionNet(), randn(4, 5, 8), upstream="random")
    assert [r.name for r in report] == ["attention", "head"]


class SumOutput(nn.Module):
    def forward(self, x):
        return x.pow(2).sum()


def test_probe_scalar_output_module_recorded():
    model = nn.Sequential(nn.Linear(3, 4), SumOutput())
    report = probe(model, randn(8, 3), upstream="random")
    record = report.find("1")
    assert record.output_shape == ()
    assert record.output_std == 0.0
    assert record.grad_std is not None


def test_probe_integer_inputs_use_first_output_as_reference():
    tokens = torch.randint(0, 20, (16, 5), generator=torch.Generator().manual_seed(0))
    report = probe(TokenNet(), tokens, upstream="random")
    assert report.input_std is None
    assert report.reference_std == report.find("embed").output_std


def test_probe_eval_mode_uses_running_statistics():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    with torch.no_grad():
        model[1].running_mean.fill_(100.0)
    model.eval()
    record = probe(model, randn(32, 4)).find("1")
    assert record.output_mean < -50


def test_probe_train_mode_uses_batch_statistics():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    with torch.no_grad():
        model[1].running_mean.fill_(100.0)
    record = probe(model, randn(32, 4)).find("1")
    assert record.output_mean == pytest.approx(0.0, abs=1e-5)


def test_probe_dropout_masks_follow_seed():
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    inputs = randn(64, 10)
    first = probe(model, inputs, seed=3).find("1").output_std
    again = probe(model, inputs, seed=3).find("1").output_std
    other = probe(model, inputs, seed=4).find("1").output_std
    assert first == again
    assert first != other


def test_probe_inplace_activation_on_input():
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(4, 2))
    inputs = randn(8, 4)
    before = inputs.clone()
    report = probe(model, inputs, upstream="random")
    assert torch.equal(inputs, before)
    assert report.input_grad_std is not None


def test_probe_inplace_relu_after_linear_keeps_linear_statistics():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(inplace=True))
    inputs = randn(64, 6)
    expected = model[0](inputs).detach()
    record = probe(model, inputs).find("0")
    assert record.output_mean == pytest.approx(float(expected.mean()), rel=1e-5)
    assert record.output_min == pytest.approx(float(expected.min()))


def test_probe_loss_fn_with_targets():
    model = nn.Linear(3, 2)
    inputs, targets = randn(16, 3), randn(16, 2, seed=1)
    report = probe(model, inputs, targets, nn.functional.l1_loss)
    expected = nn.functional.l1_loss(model(inputs), targets).detach()
    assert report.loss == pytest.approx(float(expected))


def test_probe_loss_fn_without_targets():
    model = nn.Linear(3, 2)
    report = probe(model, randn(16, 3), loss_fn=lambda output: output.pow(2).mean())
    assert report.backward == "loss"
    assert report.layers[0].grad_std is not None


def test_probe_upstream_tensor_is_the_output_gradient():
    model = nn.Linear(3, 2)
    upstream = torch.full((16, 2), 0.5)
    record = probe(model, randn(16, 3), upstream=upstream).layers[0]
    assert record.grad_std == 0.0
    assert record.grad_norm == pytest.approx(0.5 * 32**0.5)


def test_probe_under_no_grad_still_backpropagates():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    with torch.no_grad():
        report = probe(model, randn(16, 3), upstream="random")
    assert report.input_grad_std is not None
    assert report.layers[0].grad_std is not None


def test_probe_forward_only_has_no_gradients():
    report = probe(nn.Sequential(nn.Linear(3, 2), nn.Tanh()), randn(16, 3))
    assert report.backward is None
    assert all(r.grad_std is None and r.weight_grad_norm is None for r in report)
