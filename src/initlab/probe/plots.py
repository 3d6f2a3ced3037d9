"""PNG plots of probe reports: activation std, gradient std and activation histograms by depth.

Every function takes one :class:`~initlab.probe.report.ProbeReport`, a
sequence of them, or a mapping from label to report (one per
initialization, for comparison), draws one curve per report or per layer,
and writes the figure atomically with :func:`initlab.atomic.save_figure`.
Figures are built with ``matplotlib.figure.Figure`` directly, so no pyplot
state or interactive backend is involved.

Depth is the position of a layer among the records plotted. By default
those are the activation records, the signal between weight layers. A
model without activation modules plots its Linear and conv records, and
``kinds`` chooses others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from initlab.atomic import save_figure
from initlab.errors import ConfigError
from initlab.probe.report import LayerRecord, ProbeReport

Reports = ProbeReport | Sequence[ProbeReport] | Mapping[str, ProbeReport]

_DPI = 120


def labelled_reports(reports: Reports) -> list[tuple[str, ProbeReport]]:
    """Return ``(label, report)`` pairs: mapping keys, else each report's label, else its position."""
    if isinstance(reports, ProbeReport):
        reports = [reports]
    if isinstance(reports, Mapping):
        pairs = [(str(label), report) for label, report in reports.items()]
    else:
        pairs = [
            (report.label or f"report {index + 1}", report)
            for index, report in enumerate(reports)
        ]
    if not pairs:
        raise ConfigError("no probe reports to plot: pass at least one")
    return pairs


def depth_records(
    report: ProbeReport, kinds: Sequence[str] | None = None
) -> list[LayerRecord]:
    """Return the records plotted against depth: ``kinds`` if given, else activations, else Linear and conv."""
    if kinds is not None:
        return report.of_kind(*kinds)
    return report.of_kind("activation") or report.of_kind("linear", "conv")


def plot_activation_std(
    reports: Reports,
    path: str | os.PathLike[str],
    *,
    kinds: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Plot the std of each layer's output against depth, one line per report, on a log scale.

    A dotted line marks each report's reference std (the input's), so a
    line falling two decades below it is where the ``vanishing`` flag
    starts with the default thresholds.
    """
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    for index, (label, report) in enumerate(labelled_reports(reports)):
        records = depth_records(report, kinds)
        points = [
            (depth, record.output_std)
            for depth, record in enumerate(records, start=1)
            if _positive(record.output_std)
        ]
        color = f"C{index % 10}"
        _draw_line(axes, points, label, color)
        if _positive(report.reference_std):
            axes.axhline(report.reference_std, color=color, linestyle=":", linewidth=1)
    axes.set_yscale("log")
    axes.set_xlabel("depth (layer, in execution order)")
    axes.set_ylabel("std of the layer's output")
    axes.set_title(title or "Activation std by depth")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize="small")
    return save_figure(figure, path, dpi=_DPI)


def plot_gradient_std(
    reports: Reports,
    path: str | os.PathLike[str],
    *,
    kinds: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Plot the std of the gradient with respect to each layer's output against depth, log scale.

    Raises:
        ConfigError: when no report has gradient statistics (probe with
            targets, a loss or ``upstream="random"``).
    """
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    drawn = False
    for index, (label, report) in enumerate(labelled_reports(reports)):
        points = [
            (depth, record.grad_std)
            for depth, record in enumerate(depth_records(report, kinds), start=1)
            if _positive(record.grad_std)
        ]
        drawn = _draw_line(axes, points, label, f"C{index % 10}") or drawn
    if not drawn:
        raise ConfigError(
            "no gradient statistics to plot: probe with targets, a loss_fn or upstream='random'"
        )
    axes.set_yscale("log")
    axes.set_xlabel("depth (layer, in execution order)")
    axes.set_ylabel("std of the gradient at the layer's output")
    axes.set_title(title or "Gradient std by depth")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize="small")
    return save_figure(figure, path, dpi=_DPI)


def plot_activation_histograms(
    reports: Reports,
    path: str | os.PathLike[str],
    *,
    kinds: Sequence[str] | None = None,
    title: str | None = None,
    log_density: bool = False,
) -> Path:
    """Plot each layer's output histogram as a curve, one panel per report.

    The normalised histogram of every layer's activations is overlaid in
    one panel: the per-layer view of activations that Glorot and Bengio
    studied in "Understanding the difficulty of training deep feedforward
    neural networks" (AISTATS 2010). Curves go from the first layer (dark)
    to the last (light), so a distribution that narrows, widens or piles up
    at the bounds with depth shows at a glance. ``log_density`` puts the density on a log scale,
    which keeps the rest visible next to the spike at zero of ReLU layers.

    Raises:
        ConfigError: when no report has histograms.
    """
    pairs = labelled_reports(reports)
    figure = Figure(figsize=(6.4, 2.6 * len(pairs) + 0.6), layout="constrained")
    panels = figure.subplots(len(pairs), 1, squeeze=False)[:, 0]
    colormap = colormaps["viridis"]
    drawn = False
    for axes, (label, report) in zip(panels, pairs, strict=True):
        records = [
            record
            for record in depth_records(report, kinds)
            if record.histogram is not None
        ]
        for depth, record in enumerate(records, start=1):
            histogram = record.histogram
            centres = [
                (low + high) / 2
                for low, high in zip(histogram.edges, histogram.edges[1:], strict=False)
            ]
            shade = 0.9 * (depth - 1) / max(len(records) - 1, 1)
            axes.plot(
                centres,
                histogram.density(),
                color=colormap(shade),
                linewidth=1.2,
                label=f"layer {depth} ({record.label})",
            )
            drawn = True
        if log_density:
            axes.set_yscale("log")
        axes.set_title(label, fontsize="medium")
        axes.set_ylabel("density")
        if records:
            axes.legend(fontsize="x-small", ncols=2)
    if not drawn:
        raise ConfigError(
            "no histograms to plot: probe with the 'histogram' statistic (on by default)"
        )
    panels[-1].set_xlabel("output value")
    figure.suptitle(title or "Activation values by layer")
    return save_figure(figure, path, dpi=_DPI)


def _draw_line(axes, points: list[tuple[int, float]], label: str, color: str) -> bool:
    if not points:
        return False
    depths, values = zip(*points, strict=True)
    axes.plot(depths, values, marker="o", markersize=4, color=color, label=label)
    axes.set_xticks(range(1, max(depths) + 1))
    return True


def _positive(value: float | None) -> bool:
    # Log axes cannot show zero, negative or missing values.
    return value is not None and value > 0 and value != float("inf")
