"""The terminal table of a probe report: one row per record, verdicts coloured."""

from __future__ import annotations

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


def probe_table(report: ProbeReport) -> Table:
    """Return a rich table of ``report``: output and gradient statistics, weights, verdict."""
    title = "Probe" + (f": {report.label}" if report.label else "")
    table = Table(title=title, caption=_caption(report), caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    table.add_column("type", no_wrap=True)
    for column in (
        "mean",
        "std",
        "std/in",
        "sat",
        "zero",
        "dead",
        "grad std",
        "W std",
        "W target",
        "|dW|/|W|",
    ):
        table.add_column(column, justify="right")
    table.add_column("verdict", no_wrap=True)
    for record in report.layers:
        table.add_row(
            str(record.index),
            record.label,
            record.module_type,
            _number(record.output_mean),
            _number(record.output_std),
            _number(record.std_ratio),
            _fraction(record.saturated_fraction),
            _fraction(record.zero_fraction),
            _fraction(record.dead_fraction),
            _number(record.grad_std),
            _number(record.weight_std),
            _number(record.weight_target_std),
            _number(record.weight_grad_ratio),
            _verdict(record),
        )
    return table


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
