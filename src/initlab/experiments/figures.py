"""Figures the experiments share: per-layer profiles in panels, and saving into a section.

Each function takes plain numbers and returns a ``matplotlib.figure.Figure``
built without pyplot, so no global figure state is involved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from initlab.report import Section, save_png
from initlab.report.plots import series_colors


def _array(values: Sequence[float | None]) -> np.ndarray:
    # None marks a value that was NaN or infinite before JSON: plot a gap.
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def profile_panels(
    panels: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    xlabel: str,
    ylabel: str,
    log: bool = True,
    columns: int = 3,
    x_values: Sequence[float] | None = None,
    reference: tuple[float, str] | None = None,
) -> Figure:
    """Return a grid of panels, each with one line per label against layer (or ``x_values``).

    ``panels`` holds ``(title, {label: values})``, where ``values`` is a
    sequence of y values, or an ``(x, y)`` pair of sequences for a series
    with its own x values. With ``log``, the y axis
    is logarithmic and values that are not positive are left out.
    ``reference`` draws a dashed horizontal line at a value, with a label.
    """
    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.6 * columns, 3.4 * rows + 0.7), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    labels: list[str] = []
    for _, series in panels:
        labels.extend(label for label in series if label not in labels)
    colors = dict(zip(labels, series_colors(len(labels)), strict=True))
    for axes, (title, series) in zip(grid, panels, strict=False):
        for label, values in series.items():
            own_x = None
            if isinstance(values, tuple):
                own_x, values = values
            array = _array(values)
            if log:
                array = np.where(array > 0, array, np.nan)
            if own_x is not None:
                x = np.asarray(own_x, dtype=float)
            elif x_values is not None:
                x = np.asarray(x_values, dtype=float)
            else:
                x = np.arange(1, len(array) + 1)
            axes.plot(
                x[: len(array)],
                array,
                marker="o" if len(array) <= 12 else None,
                markersize=3.5,
                color=colors[label],
                label=label,
            )
        if reference is not None:
            axes.axhline(
                reference[0],
                color="0.4",
                linestyle="--",
                linewidth=0.9,
                label=reference[1],
            )
        if log:
            axes.set_yscale("log")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title, fontsize=10)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
    for axes in grid[len(panels) :]:
        axes.set_visible(False)
    handles, names = [], []
    for axes in grid[: len(panels)]:
        for handle, name in zip(*axes.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    figure.legend(
        handles, names, loc="outside lower center", ncols=min(5, max(1, len(names)))
    )
    return figure


def add_figure(
    section: Section, figure: Figure, figure_dir: Path, filename: str, caption: str
) -> Path:
    """Write ``figure`` as ``figure_dir/filename`` (PNG) and embed it in ``section``."""
    path = Path(figure_dir) / filename
    section.add_figure(save_png(figure, path), caption, alt=caption)
    return path


def layer_labels(count: int, prefix: str = "layer") -> list[str]:
    """Return ``["layer 1", ..., "layer N"]``."""
    return [f"{prefix} {index}" for index in range(1, count + 1)]


def table_number(value: Any, digits: int = 3) -> str:
    """Format a table cell: numbers with ``digits`` significant digits, None as a dash."""
    from initlab.experiments.claims import number

    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(float(value), digits)
