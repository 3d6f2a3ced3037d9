"""The HTML builder, shared plots, tables and the compare report files."""

import base64
import csv
import io
import json
import math
import re

import pytest
import torch
from matplotlib.figure import Figure
from rich.console import Console

from initlab.experiments.compare import CompareConfig, run_compare
from initlab.report import HtmlReport, ProgressDisplay, png_bytes, rich_table
from initlab.report.compare import (
    CSV_COLUMNS,
    summary_rows,
    summary_table,
    write_compare_report,
)
from initlab.report.plots import (
    curves_figure,
    depth_profile_figure,
    histogram_grid_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_result():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_compare(
            CompareConfig(
                model="mlp:2x16:tanh",
                inits=("zeros", "constant(0.02)", "he_normal"),
                seeds=2,
                epochs=2,
                probe_batch=32,
            )
        )
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def written(small_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, write_compare_report(small_result, out)


def _tiny_png():
    figure = Figure(figsize=(1, 1))
    figure.subplots().plot([0, 1], [1, 0])
    return png_bytes(figure)


def test_html_report_escapes_text():
    report = HtmlReport("a <b> & c")
    report.add_section("s", "<script>x</script>").add_text("1 < 2")
    page = report.render()
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;" in page
    assert "1 &lt; 2" in page


def test_html_report_embeds_png_as_data_uri():
    png = _tiny_png()
    page = HtmlReport("t").add_section("s").add_figure(png, "cap").render()
    encoded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(encoded) == png
    assert "<figcaption>cap</figcaption>" in page


def test_html_report_table_cells_and_alignment():
    section = HtmlReport("t").add_section("s")
    section.add_table(["name", "value"], [["he_normal", "0.95 ± 0.01"]])
    html = section.render()
    assert "<th>name</th>" in html
    assert '<td class="number">0.95 ± 0.01</td>' in html
    assert "<td>he_normal</td>" in html


def test_html_report_write_is_complete_page(tmp_path):
    path = HtmlReport("title").write(tmp_path / "sub" / "index.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.rstrip().endswith("</html>")


def test_png_bytes_is_png():
    assert _tiny_png().startswith(PNG_SIGNATURE)


def test_rich_table_keeps_names_whole():
    table = rich_table(
        ["init", "acc"], [["glorot_uniform", "0.9"]], numeric=[False, True]
    )
    console = Console(width=20, record=True, file=io.StringIO())
    console.print(table)
    assert "glorot_uniform" in console.export_text()


def test_progress_display_silent_off_terminal():
    stream = io.StringIO()
    with ProgressDisplay(Console(file=stream, force_terminal=False)) as progress:
        progress("training", 1, 3)
        progress("training", 3, 3)
    assert stream.getvalue() == ""


def test_curves_figure_log_scale_and_panels():
    series = {
        "a": ([2.0, 1.0, 0.5], [0.1, 0.1, 0.1]),
        "b": ([2.0, None, 1.0], [0, 0, 0]),
    }
    figure = curves_figure(
        [("loss", "ce", series, True), ("acc", "acc", series, False)]
    )
    axes = figure.axes
    assert axes[0].get_yscale() == "log"
    assert axes[1].get_yscale() == "linear"


def test_depth_profile_figure_leaves_out_zero_series():
    figure = depth_profile_figure(
        {"zeros": [0.0, 0.0], "small": [1e-2, 1e-4]},
        layer_labels=["1", "2"],
        title="t",
        ylabel="std",
    )
    assert figure.axes[0].get_yscale() == "log"
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels[0] == "zeros (0 at every layer, not shown)"


def test_histogram_grid_figure_one_panel_per_layer():
    histogram = {"edges": [0.0, 0.5, 1.0], "counts": [3, 4]}
    figure = histogram_grid_figure(
        {"a": [histogram, histogram], "b": [histogram, histogram]},
        layer_labels=["1", "2"],
        title="t",
    )
    assert len(figure.axes) == 4


def test_compare_report_writes_every_file(written):
    out, files = written
    names = sorted(path.name for path in out.iterdir())
    assert names == [
        "activation_std.png",
        "curves.png",
        "histograms.png",
        "index.html",
        "results.csv",
        "results.json",
    ]
    assert files.index_html == out / "index.html"


def test_compare_report_json_round_trips(written, small_result):
    out, _ = written
    assert json.loads((out / "results.json").read_text()) == small_result


def test_compare_report_csv_rows(written, small_result):
    out, _ = written
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3 * 2 * 3
    first = small_result["inits"]["zeros"]["seeds"][0]["history"]["test_loss"][0]
    assert float(rows[0]["test_loss"]) == first


def test_compare_report_html_is_self_contained(written):
    out, _ = written
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page


def test_compare_report_html_shows_tables(written):
    out, _ = written
    page = (out / "index.html").read_text(encoding="utf-8")
    for heading in ("Summary", "Training curves", "Signal at init", "Symmetry"):
        assert f"<h2>{heading}</h2>" in page
    assert "Probe verdicts at init" in page
    assert "<h2>Weights at init</h2>" in page


def test_compare_probe_has_target_std(small_result):
    # mlp:2x16:tanh on the digits: the first layer has fan_in 64, so He
    # normal targets sqrt(2 / 64).
    layers = small_result["inits"]["he_normal"]["seeds"][0]["probe"]["layers"]
    first = next(layer for layer in layers if layer["weight_std"] is not None)
    assert first["weight_target_std"] == pytest.approx(math.sqrt(2 / 64))


def test_compare_report_pngs_are_png(written):
    out, files = written
    for path in files.plots.values():
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_compare_summary_rows(small_result):
    rows = {row[0]: row for row in summary_rows(small_result)}
    assert rows["zeros"][5] == "1 / 1"
    assert rows["he_normal"][5] == ""
    assert re.fullmatch(r"\d\.\d{3} ± \d\.\d{3}", rows["he_normal"][1])


def test_compare_summary_table_lists_inits(small_result):
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(summary_table(small_result))
    text = console.export_text()
    for name in ("zeros", "constant(0.02)", "he_normal"):
        assert name in text
