"""The terminal table of a probe report: one row per record, verdicts coloured.

A full row has 14 columns, which needs about 130 characters. On a narrower
console the least important columns are left out (the mean first, then the
weight columns), so the numbers that remain are never cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from initlab.probe.report import LayerRecord, ProbeReport

VERDICT_STYLES = {
    "ok": "green",
    "vanishing": "yellow",
    "exploding": "red",
    "saturated": "magenta",
    "dead": "red",
    "symmetric": "bold red",
    "non-finite": "bold white on red",
}

# Border and padding characters that rich adds per column.
_COLUMN_OVERHEAD = 3


def probe_table(report: ProbeReport, width: int | None = None) -> Table:
    """Return a rich table of ``report`` with the columns that fit in ``width`` characters (all if None)."""
    columns = _columns()
    cells = {
        header: [format_cell(record) for record in report.layers]
        for header, _, format_cell in columns
    }
    visible = _columns_that_fit(columns, cells, width)

    title = "Probe" + (f": {report.label}" if report.label else "")
    table = Table(title=title, caption=_caption(report), caption_justify="left")
    for header, justify, _ in columns:
        if header in visible:
            table.add_column(header, justify=justify, no_wrap=True)
    for row in range(len(report.layers)):
        table.add_row(
            *(cells[header][row] for header, _, _ in columns if header in visible)
        )
    return table


def _columns() -> list[tuple[str, str, Callable[[LayerRecord], str | Text]]]:
    """Return ``(header, justify, cell formatter)`` for every column, in display order."""
    return [
        ("#", "right", lambda r: str(r.index)),
        ("layer", "left", lambda r: r.label),
        ("type", "left", lambda r: r.module_type),
        ("mean", "right", lambda r: _number(r.output_mean)),
        ("std", "right", lambda r: _number(r.output_std)),
        ("std/in", "right", lambda r: _number(r.std_ratio)),
        ("sat", "right", lambda r: _fraction(r.saturated_fraction)),
        ("zero", "right", lambda r: _fraction(r.zero_fraction)),
        ("dead", "right", lambda r: _fraction(r.dead_fraction)),
        ("grad std", "right", lambda r: _number(r.grad_std)),
        ("W std", "right", lambda r: _number(r.weight_std)),
        ("W target", "right", lambda r: _number(r.weight_target_std)),
        ("|dW|/|W|", "right", lambda r: _number(r.weight_grad_ratio)),
        ("verdict", "left", _verdict),
    ]


# Columns in the order they are kept as the console narrows.
_PRIORITY = (
    "layer",
    "verdict",
    "std",
    "std/in",
    "grad std",
    "sat",
    "dead",
    "type",
    "zero",
    "W std",
    "W target",
    "|dW|/|W|",
    "#",
    "mean",
)


def _columns_that_fit(
    columns: list[tuple[str, str, Callable[[LayerRecord], str | Text]]],
    cells: dict[str, list[str | Text]],
    width: int | None,
) -> set[str]:
    if width is None:
        return {header for header, _, _ in columns}
    visible: set[str] = set()
    used = 1
    for header in _PRIORITY:
        needed = max([len(header)] + [len(cell) for cell in cells[header]])
        needed += _COLUMN_OVERHEAD
        # The layer and verdict columns stay even on a very narrow console.
        if used + needed > width and len(visible) >= 2:
            continue
        visible.add(header)
        used += needed
    return visible


def _caption(report: ProbeReport) -> str:
    parts = [
        f"input {_shape(report.input_shape)}, std {_number(report.input_std)}",
        "train mode" if report.training else "eval mode",
    ]
    if report.backward == "loss":
        parts.append(f"loss {_number(report.loss)}")
    elif report.backward is not None:
        parts.append(f"{report.backward} upstream gradient")
    else:
        parts.append("forward only")
    if report.input_grad_std is not None:
        parts.append(f"input grad std {_number(report.input_grad_std)}")
    if report.light:
        parts.append("light mode")
    return "; ".join(parts)


def _verdict(record: LayerRecord) -> Text:
    text = Text(record.verdict, style=VERDICT_STYLES.get(record.verdict, ""))
    others = [flag for flag in record.flags if flag != record.verdict]
    if others:
        text.append(f" (+{', '.join(others)})", style="dim")
    return text


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}"


def _fraction(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}"


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(map(str, shape))
