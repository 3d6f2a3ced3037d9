"""Probe reports: JSON round trip, CSV rows, the terminal table and the PNG plots."""

import csv
import io
import json
import math

import pytest
import torch
from rich.console import Console
from torch import nn

from initlab.errors import ConfigError
from initlab.probe import (
    ProbeReport,
    plot_activation_histograms,
    plot_activation_std,
    plot_gradient_std,
    probe,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tanh_report(scale=1.0, label=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh())
    with torch.no_grad():
        for module in model:
            if isinstance(module, nn.Linear):
                module.weight.mul_(scale)
                module.bias.zero_()
    return probe(model, randn(64, 10), upstream="random", label=label)


def test_report_json_round_trip():
    report = tanh_report()
    again = ProbeReport.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()


def test_report_json_header_fields():
    data = json.loads(tanh_report(label="glorot").to_json())
    assert data["format"] == "initlab-probe"
    assert data["version"] == 1
    assert data["label"] == "glorot"
    assert data["thresholds"]["vanishing_ratio"] == 0.01


def test_report_json_layer_fields():
    layer = json.loads(tanh_report().to_json())["layers"][1]
    assert layer["name"] == "1"
    assert layer["module_type"] == "Tanh"
    assert layer["output_shape"] == [64, 12]
    assert len(layer["histogram"]["edges"]) == len(layer["histogram"]["counts"]) + 1


def test_report_json_nonfinite_values_become_null():
    model = nn.Sequential(nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.fill_(math.nan)
    text = probe(model, randn(8, 3)).to_json()
    layer = json.loads(text)["layers"][0]
    assert layer["output_std"] is None
    assert layer["verdict"] == "non-finite"


def test_report_from_dict_rejects_other_formats():
    with pytest.raises(ValueError, match="not an initlab-probe report"):
        ProbeReport.from_dict({"format": "something", "version": 1, "layers": []})


def test_report_csv_one_row_per_record():
    report = tanh_report(scale=0.0)
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert len(rows) == len(report)
    assert rows[0]["verdict"] == "symmetric"
    assert rows[0]["flags"] == "symmetric;vanishing"
    assert rows[0]["symmetric_group_count"] == "1"
    assert rows[0]["symmetric_unit_count"] == "12"
    assert rows[0]["output_shape"] == "64x12"


def test_report_histogram_density_integrates_to_one():
    histogram = tanh_report().layers[1].histogram
    widths = [b - a for a, b in zip(histogram.edges, histogram.edges[1:], strict=False)]
    area = sum(d * w for d, w in zip(histogram.density(), widths, strict=True))
    assert area == pytest.approx(1.0)


def test_report_find_unknown_module_lists_names():
    with pytest.raises(KeyError, match="recorded: 0, 1, 2, 3"):
        tanh_report().find("9")


def test_report_table_shows_verdicts():
    console = Console(record=True, width=200)
    tanh_report(scale=0.0, label="zeros").render(console)
    text = console.export_text()
    assert "Probe: zeros" in text
    assert "symmetric (+vanishing)" in text
    assert "Tanh" in text


def test_report_table_narrow_console_drops_columns():
    console = Console(record=True, width=70)
    tanh_report(label="narrow").render(console)
    text = console.export_text()
    assert "…" not in text
    assert "verdict" in text
    assert "W target" not in text


def test_report_table_caption_describes_pass():
    console = Console(record=True, width=200)
    tanh_report().render(console)
    assert "random upstream gradient" in console.export_text()


def test_plot_activation_std_writes_png(tmp_path):
    reports = {"small": tanh_report(0.1), "large": tanh_report(3.0)}
    path = plot_activation_std(reports, tmp_path / "std.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_gradient_std_writes_png(tmp_path):
    path = plot_gradient_std([tanh_report(label="a")], tmp_path / "grad.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_gradient_std_without_gradients_raises(tmp_path):
    report = probe(nn.Sequential(nn.Linear(3, 2), nn.Tanh()), randn(8, 3))
    with pytest.raises(ConfigError, match="no gradient statistics"):
        plot_gradient_std(report, tmp_path / "grad.png")
    assert not (tmp_path / "grad.png").exists()


def test_plot_activation_histograms_one_panel_per_report(tmp_path):
    reports = {"small": tanh_report(0.1), "large": tanh_report(3.0)}
    path = plot_activation_histograms(reports, tmp_path / "hist.png", log_density=True)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_without_reports_raises(tmp_path):
    with pytest.raises(ConfigError, match="no probe reports"):
        plot_activation_std({}, tmp_path / "std.png")
