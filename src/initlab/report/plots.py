"""Plots shared by the reports: curves with spread, profiles by depth, histograms.

Each function takes plain numbers and returns a ``matplotlib.figure.Figure``;
none of them reads files or results. Series are dicts from a label (an init
name) to values, drawn in the order given with the ``tab10`` colours, then
``tab20`` for more than ten series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def series_colors(count: int) -> list[tuple[float, float, float, float]]:
    """Return ``count`` distinct colours, the same ones for the same order of labels."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]


def _as_array(values: Sequence[float | None]) -> np.ndarray:
    # None marks a value that was NaN or infinite before JSON; plot a gap.
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _positive(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return finite.size > 0 and bool(np.all(finite > 0))


def band_panel(
    axes,
    series: Mapping[str, tuple[Sequence[float | None], Sequence[float | None]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log: bool = False,
) -> None:
    """Draw mean curves with a shaded mean +- std band on ``axes``.

    ``series`` maps a label to ``(mean, std)``, each one value per x step
    starting at 0. With ``log``, the y axis is logarithmic when every value
    is positive, and the band is clipped below at the smallest mean.
    """
    colors = series_colors(len(series))
    all_means = []
    for color, (label, (mean, std)) in zip(colors, series.items(), strict=True):
        mean_values, std_values = _as_array(mean), _as_array(std)
        steps = np.arange(len(mean_values))
        axes.plot(steps, mean_values, color=color, label=label, linewidth=1.4)
        low, high = mean_values - std_values, mean_values + std_values
        if log:
            floor = np.nanmin(mean_values[mean_values > 0], initial=np.inf)
            low = np.maximum(low, floor if np.isfinite(floor) else 1e-12)
        axes.fill_between(steps, low, high, color=color, alpha=0.18, linewidth=0)
        all_means.append(mean_values)
    if log and all(_positive(values) for values in all_means):
        axes.set_yscale("log")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)


def curves_figure(
    panels: Sequence[tuple[str, str, Mapping[str, tuple[Sequence, Sequence]], bool]],
    *,
    xlabel: str = "epoch",
    columns: int = 2,
) -> Figure:
    """Return a grid of :func:`band_panel` panels sharing one legend.

    ``panels`` contains ``(title, ylabel, series, log)`` per panel.
    """
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(5.2 * columns, 3.6 * rows + 0.9), layout="constrained")
    grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).reshape(-1)
    for axes, (title, ylabel, series, log) in zip(grid, panels, strict=False):
        band_panel(axes, series, title=title, xlabel=xlabel, ylabel=ylabel, log=log)
    for axes in grid[len(panels) :]:
        axes.set_visible(False)
    handles, labels = grid[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside lower center", ncols=min(5, len(labels) or 1)
    )
    return figure


def depth_profile_figure(
    profiles: Mapping[str, Sequence[float | None]],
    *,
    layer_labels: Sequence[str],
    title: str,
    ylabel: str,
    log: bool = True,
) -> Figure:
    """Return one line per label of a statistic against layer depth.

    ``profiles`` maps a label to one value per layer, in forward order. With
    ``log``, the y axis is logarithmic and values of 0 or below are left out.
    """
    figure = Figure(figsize=(7.5, 4.4), layout="constrained")
    axes = figure.subplots()
    colors = series_colors(len(profiles))
    depths = np.arange(1, len(layer_labels) + 1)
    arrays = {label: _as_array(values) for label, values in profiles.items()}
    use_log = log and any(np.any(values > 0) for values in arrays.values())
    for color, (label, values) in zip(colors, arrays.items(), strict=True):
        if use_log and not np.any(values > 0):
            # A log axis cannot show 0; keep the series in the legend.
            label = f"{label} (0 at every layer, not shown)"
        shown = np.where(values > 0, values, np.nan) if use_log else values
        axes.plot(depths, shown, marker="o", color=color, label=label)
    if use_log:
        axes.set_yscale("log")
    axes.set_xticks(depths, list(layer_labels))
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("layer")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8)
    return figure


def histogram_grid_figure(
    histograms: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
    *,
    layer_labels: Sequence[str],
    title: str,
) -> Figure:
    """Return a grid of histograms: one row per label, one column per layer.

    Each histogram is ``{"edges": [...], "counts": [...]}`` with one more
    edge than counts. Every panel keeps its own x range, because the scales
    of different inits differ by orders of magnitude.
    """
    rows, columns = len(histograms), max(1, len(layer_labels))
    # A fixed layout: constrained layout takes tens of seconds on 50 panels.
    figure = Figure(figsize=(1.9 * columns + 1.6, 0.95 * rows + 0.9))
    figure.subplots_adjust(
        left=1.5 / (1.9 * columns + 1.6),
        right=0.98,
        top=1 - 0.55 / (0.95 * rows + 0.9),
        bottom=0.3 / (0.95 * rows + 0.9),
        hspace=0.55,
        wspace=0.2,
    )
    grid = figure.subplots(rows, columns, squeeze=False)
    colors = series_colors(rows)
    for row, (color, (label, layers)) in enumerate(
        zip(colors, histograms.items(), strict=True)
    ):
        for column, histogram in enumerate(layers):
            axes = grid[row][column]
            edges = np.asarray(histogram["edges"], dtype=float)
            counts = np.asarray(histogram["counts"], dtype=float)
            if counts.size:
                axes.stairs(counts, edges, fill=True, color=color, alpha=0.8)
                # Two ticks, at the ends of the range, keep the panels readable.
                axes.set_xticks(
                    [edges[0], edges[-1]], [f"{edges[0]:.2g}", f"{edges[-1]:.2g}"]
                )
            axes.tick_params(labelsize=6, length=2, pad=1)
            axes.set_yticks([])
            if row == 0:
                axes.set_title(layer_labels[column], fontsize=8)
        grid[row][0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    figure.suptitle(title, fontsize=10)
    return figure
