"""Render the results of ``initlab compare``: JSON, CSV, PNG plots and one HTML page.

Every function reads the plain-data result of
:func:`initlab.experiments.compare.run_compare` (or the same data loaded
back from ``results.json``), so a report can be rebuilt without training.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from initlab.atomic import write_json, write_text
from initlab.report.figures import save_png
from initlab.report.html import HtmlReport
from initlab.report.plots import (
    curves_figure,
    depth_profile_figure,
    histogram_grid_figure,
)
from initlab.report.tables import rich_table

CSV_COLUMNS = (
    "init",
    "seed",
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
)

SUMMARY_COLUMNS = (
    "init",
    "test accuracy",
    "test loss",
    "epochs to 90%",
    "init cost (s)",
    "distinct neurons (no dropout / dropout)",
)
_SUMMARY_NUMERIC = (False, True, True, True, True, False)
# Shorter headers for an 80-column terminal; the caption explains them.
_TERMINAL_COLUMNS = ("init", "test acc", "test loss", "90% at", "init s", "distinct")
_TERMINAL_CAPTION = (
    "test acc: final test accuracy, mean ± std over seeds. 90% at: first epoch "
    "whose mean test accuracy reaches 90% of the best init's. init s: seconds a "
    "data-dependent init took. distinct: fewest distinct neurons in a hidden "
    "layer, without / with dropout."
)


@dataclass(frozen=True)
class ReportFiles:
    """Paths of everything :func:`write_compare_report` wrote."""

    results_json: Path
    results_csv: Path
    index_html: Path
    plots: dict[str, Path]


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _symmetry_cell(result: dict[str, Any], name: str) -> str:
    entry = result["symmetry"].get(name)
    if entry is None:
        return ""
    # The minimum count over hidden layers and seeds, so "1" means that some
    # layer stayed fully symmetric.
    counts = [
        min(entry[key]["min"], default=0) for key in ("without_dropout", "with_dropout")
    ]
    return f"{counts[0]} / {counts[1]}"


def _init_cost(result: dict[str, Any], name: str) -> str:
    seconds = result["timing"].get("data_dependent_seconds", {}).get(name)
    return "" if not seconds else f"{float(np.mean(seconds)):.2f}"


def summary_rows(result: dict[str, Any]) -> list[list[str]]:
    """Return one row per init for :data:`SUMMARY_COLUMNS`.

    Accuracy is the final test accuracy, mean +- sample std over seeds.
    Init cost is the mean wall time of a data-dependent init per seed
    (blank for schemes, whose sampling time is negligible). Distinct
    neurons, for zero and constant inits, is the smallest count over hidden
    layers and seeds, without and with dropout.
    """
    rows = []
    for name, entry in result["inits"].items():
        summary = entry["summary"]
        epochs = summary["epochs_to_90pct"]
        rows.append(
            [
                name,
                f"{_number(summary['test_accuracy_mean'])} ± "
                f"{_number(summary['test_accuracy_std'])}",
                _number(summary["test_loss_mean"]),
                "never" if epochs is None else str(epochs),
                _init_cost(result, name),
                _symmetry_cell(result, name),
            ]
        )
    return rows


def _title(result: dict[str, Any]) -> str:
    return f"{result['model']['spec']} on {result['data']['name']}"


def _subtitle(result: dict[str, Any]) -> str:
    config = result["config"]
    return (
        f"{config['optimizer']} lr {config['lr']}, batch {config['batch']}, "
        f"{config['epochs']} epochs, {config['seeds']} seeds from seed "
        f"{config['seed']}, biases 0"
    )


def summary_table(result: dict[str, Any]) -> Table:
    """Return the terminal summary: final accuracy, loss, speed and symmetry per init."""
    return rich_table(
        _TERMINAL_COLUMNS,
        summary_rows(result),
        title=f"initlab compare: {_title(result)}\n{_subtitle(result)}",
        caption=_TERMINAL_CAPTION,
        numeric=_SUMMARY_NUMERIC,
    )


def csv_text(result: dict[str, Any]) -> str:
    """Return ``results.csv``: one row per init, seed and epoch (epoch 0 is at init)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, entry in result["inits"].items():
        for run in entry["seeds"]:
            history = run["history"]
            for epoch in range(len(history["test_accuracy"])):
                values = [history[column][epoch] for column in CSV_COLUMNS[3:]]
                writer.writerow(
                    [name, run["seed"], epoch]
                    + ["" if value is None else repr(value) for value in values]
                )
    return buffer.getvalue()


def _hidden_layer_names(result: dict[str, Any]) -> list[str]:
    first = next(iter(result["inits"].values()))
    return [layer["name"] for layer in first["seeds"][0]["activations"]]


def _std_by_depth(result: dict[str, Any]) -> dict[str, list[float | None]]:
    profiles = {}
    for name, entry in result["inits"].items():
        per_seed = np.array(
            [
                [
                    np.nan if layer["std"] is None else layer["std"]
                    for layer in run["activations"]
                ]
                for run in entry["seeds"]
            ],
            dtype=float,
        )
        mean = per_seed.mean(axis=0) if per_seed.size else per_seed
        profiles[name] = [None if not np.isfinite(v) else float(v) for v in mean]
    return profiles


def make_plots(result: dict[str, Any], out_dir: Path) -> dict[str, tuple[Path, bytes]]:
    """Draw and write the PNG plots; return ``{key: (path, png bytes)}``."""
    inits = result["inits"]
    panels = []
    for metric, title, log in (
        ("train_loss", "training loss", True),
        ("test_loss", "test loss", True),
        ("train_accuracy", "training accuracy", False),
        ("test_accuracy", "test accuracy", False),
    ):
        series = {
            name: (entry["mean"][metric], entry["std"][metric])
            for name, entry in inits.items()
        }
        ylabel = "cross-entropy" if "loss" in metric else "accuracy"
        panels.append((title, ylabel, series, log))
    plots: dict[str, tuple[Path, bytes]] = {}
    figures = {"curves": curves_figure(panels)}

    layers = _hidden_layer_names(result)
    if layers:
        figures["activation_std"] = depth_profile_figure(
            _std_by_depth(result),
            layer_labels=layers,
            title="activation std by depth at init (mean over seeds)",
            ylabel="std of the activation output",
        )
        figures["histograms"] = histogram_grid_figure(
            {
                name: [layer["histogram"] for layer in entry["seeds"][0]["activations"]]
                for name, entry in inits.items()
            },
            layer_labels=layers,
            title=f"activation histograms at init (seed {result['config']['seed']})",
        )
    for key, figure in figures.items():
        path = out_dir / f"{key}.png"
        plots[key] = (path, save_png(figure, path))
    return plots


def _first_seed_probes(result: dict[str, Any]) -> list[tuple[str, list[dict]]]:
    """Return each init's name and probe layers for the first seed, leaving out inits without a probe."""
    found = []
    for name, entry in result["inits"].items():
        probe = entry["seeds"][0].get("probe")
        if probe:
            found.append((name, probe.get("layers", [])))
    return found


def _probe_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    columns: list[str] = ["init"]
    rows: list[list[str]] = []
    for name, layers in _first_seed_probes(result):
        if len(columns) == 1:
            columns += [
                f"{layer.get('name', index)} ({layer.get('module_type', '')})"
                for index, layer in enumerate(layers)
            ]
        rows.append([name] + [str(layer.get("verdict", "")) for layer in layers])
    return columns, rows


def _weight_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return each init's measured and target weight std per layer, for the first seed."""
    columns: list[str] = ["init"]
    rows: list[list[str]] = []
    for name, layers in _first_seed_probes(result):
        weighted = [layer for layer in layers if layer.get("weight_std") is not None]
        if len(columns) == 1:
            columns += [str(layer.get("name", "")) for layer in weighted]
        rows.append([name] + [_std_pair(layer) for layer in weighted])
    return columns, rows


def _std_pair(layer: dict[str, Any]) -> str:
    measured = f"{layer['weight_std']:.4g}"
    target = layer.get("weight_target_std")
    return measured if target is None else f"{measured} / {target:.4g}"


def _symmetry_rows(result: dict[str, Any]) -> tuple[list[str], list[list[object]]]:
    columns: list[str] = ["init", "dropout"]
    rows: list[list[object]] = []
    for name, entry in result["symmetry"].items():
        if len(columns) == 2:
            columns += [
                f"{layer} ({width} units)"
                for layer, width in zip(entry["layers"], entry["widths"], strict=True)
            ]
        for key in ("without_dropout", "with_dropout"):
            variant = entry[key]
            cells = [
                low if low == high else f"{low}-{high}"
                for low, high in zip(variant["min"], variant["max"], strict=True)
            ]
            rows.append([name, f"{variant['dropout']:g}", *cells])
    return columns, rows


def build_html(
    result: dict[str, Any], plots: dict[str, tuple[Path, bytes]]
) -> HtmlReport:
    """Return the HTML page that shows the summary, plots and tables of ``result``."""
    report = HtmlReport(
        f"initlab compare: {_title(result)}", subtitle=_subtitle(result)
    )
    report.add_section(
        "Summary",
        "Final test accuracy (mean ± sample std over seeds), final test loss, the "
        "first epoch whose mean test accuracy reaches 90% of the best mean test "
        "accuracy of any init at any epoch, the time a data-dependent init took, "
        "and for zero and constant inits the fewest distinct neurons of any "
        "hidden layer and seed, without and with dropout.",
    ).add_table(SUMMARY_COLUMNS, summary_rows(result))

    if "curves" in plots:
        report.add_section(
            "Training curves",
            "Loss and accuracy on the whole training and test splits after every "
            "epoch (epoch 0 is at init), dropout off. Lines are the mean over "
            "seeds and bands the mean ± one std.",
        ).add_figure(plots["curves"][1], "Loss (log scale) and accuracy per epoch.")
    if "activation_std" in plots:
        report.add_section(
            "Signal at init",
            "Std of each hidden layer's activation output on one training batch "
            "at init. A std that shrinks with depth means a vanishing signal; "
            "one near 1 for tanh means saturated units.",
        ).add_figure(
            plots["activation_std"][1], "Activation std by depth at init."
        ).add_figure(
            plots["histograms"][1],
            "Activation histograms at init, one row per init and one column per "
            "hidden layer; each panel has its own x range.",
        )

    probe_columns, probe_rows = _probe_rows(result)
    if probe_rows:
        report.add_section(
            "Probe verdicts at init",
            "The probe's verdict per layer for the first seed, from a forward and "
            "backward pass on the same training batch.",
        ).add_table(probe_columns, probe_rows)

    weight_columns, weight_rows = _weight_rows(result)
    if weight_rows:
        report.add_section(
            "Weights at init",
            "Std of each layer's weights as drawn, then the std the init's scheme "
            "targets for that layer's fans (measured / target), for the first seed. "
            "Data-dependent inits show the measured std alone.",
        ).add_table(weight_columns, weight_rows)

    symmetry_columns, symmetry_rows = _symmetry_rows(result)
    if symmetry_rows:
        report.add_section(
            "Symmetry",
            "Distinct neurons per hidden layer after training, for inits whose "
            "units all start equal. Two neurons are the same when their incoming "
            "weights and bias differ by at most 1e-4 times the layer's largest "
            "weight. A range gives the smallest and largest count over seeds.",
        ).add_table(symmetry_columns, symmetry_rows)

    details = report.add_section(
        "Run", "The config, data and timing of this run, as in results.json."
    )
    details.add_code(
        json.dumps(
            {
                "config": result["config"],
                "data": result["data"],
                "model": result["model"],
                "timing": result["timing"],
            },
            indent=2,
        )
    )
    return report


def write_compare_report(
    result: dict[str, Any], out_dir: str | os.PathLike[str]
) -> ReportFiles:
    """Write results.json, results.csv, the PNG plots and index.html into ``out_dir``.

    Each file is written atomically, so an interrupted run leaves complete
    files of this run or of the previous one, never a truncated file.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    results_json = write_json(directory / "results.json", result)
    results_csv = write_text(directory / "results.csv", csv_text(result))
    plots = make_plots(result, directory)
    index_html = build_html(result, plots).write(directory / "index.html")
    return ReportFiles(
        results_json,
        results_csv,
        index_html,
        {key: path for key, (path, _) in plots.items()},
    )
