"""The probe's result: one :class:`LayerRecord` per module call, and the report around them.

Serialisation (the schema is documented in docs/probe.md):

* :meth:`ProbeReport.to_dict` returns plain JSON types. Floats that are NaN
  or infinite become None, because JSON has no such numbers; the record's
  ``nonfinite_fraction`` and ``verdict`` still show what happened.
* :meth:`ProbeReport.to_json` and :meth:`ProbeReport.from_json` round-trip
  a report.
* :meth:`ProbeReport.to_csv` writes one row per record with the scalar
  fields, the flags joined by ``;`` and the symmetric groups as counts.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from initlab.probe.verdicts import Thresholds

FORMAT = "initlab-probe"
VERSION = 1


@dataclass
class Histogram:
    """Counts of a layer's output values in equal bins.

    ``edges`` has one more entry than ``counts``. ``sampled`` is True when the
    counts come from a fixed random sample of the values (light mode) rather
    than from all of them.
    """

    edges: list[float]
    counts: list[int]
    sampled: bool = False

    @property
    def total(self) -> int:
        """Number of values counted."""
        return int(sum(self.counts))

    def density(self) -> list[float]:
        """Return the counts normalised so that the histogram integrates to 1."""
        total = self.total
        widths = [
            high - low for low, high in zip(self.edges, self.edges[1:], strict=False)
        ]
        if total == 0:
            return [0.0] * len(self.counts)
        return [
            count / (total * width) if width > 0 else 0.0
            for count, width in zip(self.counts, widths, strict=True)
        ]


@dataclass
class LayerRecord:
    """Statistics of one call of one module; fields that do not apply are None.

    Forward fields describe the module's output (the first floating-point
    tensor it returns) over the whole batch. ``grad_*`` describe the
    gradient of the loss (or of the upstream gradient) with respect to
    that output. ``weight_*`` describe the module's ``weight`` parameter
    and repeat on every call of a module called more than once, where
    ``weight_grad_norm`` is the gradient summed over the calls.
    """

    index: int
    """Position in execution order, from 0."""
    name: str
    """Qualified module name, as in ``model.named_modules()``; the root is ``""``."""
    module_type: str
    kind: str
    """``"linear"``, ``"conv"``, ``"activation"``, ``"norm"`` or ``"other"``."""
    call_index: int
    """Index of this call among the calls of the module, from 0."""
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    output_mean: float | None = None
    output_std: float | None = None
    output_min: float | None = None
    output_max: float | None = None
    std_ratio: float | None = None
    """``output_std`` divided by the report's ``reference_std``."""
    saturated_fraction: float | None = None
    zero_fraction: float | None = None
    dead_fraction: float | None = None
    nonfinite_fraction: float | None = None
    histogram: Histogram | None = None
    grad_std: float | None = None
    grad_norm: float | None = None
    weight_std: float | None = None
    weight_target_std: float | None = None
    weight_grad_norm: float | None = None
    weight_grad_ratio: float | None = None
    """``weight_grad_norm / ||weight||``."""
    symmetric_groups: list[list[int]] | None = None
    """Groups of two or more units with identical weights and bias."""
    activations_identical: bool | None = None
    """Whether every symmetric group's units gave identical outputs over the batch."""
    flags: list[str] = field(default_factory=list)
    verdict: str = "ok"

    @property
    def label(self) -> str:
        """The module name for tables and plots, with ``#k`` for call k > 0."""
        name = self.name or "(root)"
        return f"{name}#{self.call_index}" if self.call_index else name

    def to_dict(self) -> dict[str, Any]:
        """Return the record as plain JSON types (non-finite floats become None)."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "histogram":
                value = None if value is None else _histogram_to_dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            elif isinstance(value, list):
                value = [list(v) if isinstance(v, list) else v for v in value]
            data[item.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerRecord:
        """Build a record from :meth:`to_dict`'s output."""
        values = dict(data)
        for name in ("input_shape", "output_shape"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        if values.get("histogram") is not None:
            values["histogram"] = Histogram(**values["histogram"])
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


_CSV_SKIPPED = ("histogram", "symmetric_groups", "flags")


def _histogram_to_dict(histogram: Histogram) -> dict[str, Any]:
    return {
        "edges": [float(edge) for edge in histogram.edges],
        "counts": [int(count) for count in histogram.counts],
        "sampled": histogram.sampled,
    }


@dataclass
class ProbeReport:
    """Per-layer statistics of one probe pass, in execution order, with the pass's settings."""

    layers: list[LayerRecord]
    input_shape: tuple[int, ...] | None
    input_std: float | None
    """Std of the (first) input tensor; None when it is not floating point."""
    reference_std: float | None
    """The std that ``std_ratio`` divides by: ``input_std``, or the first recorded output's std."""
    input_grad_std: float | None = None
    """Std of the gradient with respect to the input, when computed."""
    loss: float | None = None
    backward: str | None = None
    """``"loss"``, ``"random"``, ``"tensor"`` (a given upstream gradient) or None."""
    training: bool = True
    """Whether the model was in train mode."""
    light: bool = False
    seed: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)
    label: str | None = None
    """A name for comparisons, such as the scheme that was applied."""

    def __iter__(self) -> Iterator[LayerRecord]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def verdicts(self) -> list[str]:
        """Each record's verdict, in execution order."""
        return [record.verdict for record in self.layers]

    def find(self, name: str, call_index: int = 0) -> LayerRecord:
        """Return the record of module ``name``'s call ``call_index``.

        Raises:
            KeyError: when the module has no such record, listing the names.
        """
        for record in self.layers:
            if record.name == name and record.call_index == call_index:
                return record
        names = ", ".join(dict.fromkeys(record.label for record in self.layers))
        raise KeyError(
            f"no record for module {name!r} call {call_index}; recorded: {names}"
        )

    def of_kind(self, *kinds: str) -> list[LayerRecord]:
        """Return the records whose ``kind`` is one of ``kinds``, in execution order."""
        return [record for record in self.layers if record.kind in kinds]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON types; the schema is in docs/probe.md."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "label": self.label,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "input_std": _finite_or_none(self.input_std),
            "reference_std": _finite_or_none(self.reference_std),
            "input_grad_std": _finite_or_none(self.input_grad_std),
            "loss": _finite_or_none(self.loss),
            "backward": self.backward,
            "training": self.training,
            "light": self.light,
            "seed": self.seed,
            "thresholds": self.thresholds.to_dict(),
            "layers": [record.to_dict() for record in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeReport:
        """Build a report from :meth:`to_dict`'s output.

        Raises:
            ValueError: when ``data`` is not a probe report of a known version.
        """
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(
                f"not an {FORMAT} report of version {VERSION}: got format={data.get('format')!r}, "
                f"version={data.get('version')!r}"
            )
        input_shape = data.get("input_shape")
        return cls(
            layers=[LayerRecord.from_dict(layer) for layer in data["layers"]],
            input_shape=None if input_shape is None else tuple(input_shape),
            input_std=data.get("input_std"),
            reference_std=data.get("reference_std"),
            input_grad_std=data.get("input_grad_std"),
            loss=data.get("loss"),
            backward=data.get("backward"),
            training=bool(data.get("training", True)),
            light=bool(data.get("light", False)),
            seed=int(data.get("seed", 0)),
            thresholds=Thresholds(**data.get("thresholds", {})),
            label=data.get("label"),
        )

    @classmethod
    def from_json(cls, text: str) -> ProbeReport:
        """Build a report from :meth:`to_json`'s output."""
        return cls.from_dict(json.loads(text))

    def to_csv(self) -> str:
        """Return one CSV row per record, with a header row.

        Shapes are written as ``256x1024``, flags joined by ``;``, and the
        symmetric groups as ``symmetric_group_count`` and
        ``symmetric_unit_count``. Histograms are left out; they are in the
        JSON.
        """
        columns = [
            item.name for item in fields(LayerRecord) if item.name not in _CSV_SKIPPED
        ]
        columns += ["symmetric_group_count", "symmetric_unit_count", "flags"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for record in self.layers:
            row = record.to_dict()
            groups = record.symmetric_groups
            row["symmetric_group_count"] = None if groups is None else len(groups)
            row["symmetric_unit_count"] = (
                None if groups is None else sum(len(group) for group in groups)
            )
            row["flags"] = ";".join(record.flags)
            writer.writerow([_csv_cell(row[column]) for column in columns])
        return buffer.getvalue()

    def table(self, width: int | None = None) -> Any:
        """Return a ``rich.table.Table`` with one row per record and coloured verdicts.

        ``width`` (characters) leaves out the least important columns that
        do not fit; None keeps all 14.
        """
        from initlab.probe.table import probe_table

        return probe_table(self, width)

    def render(self, console: Any = None) -> None:
        """Print :meth:`table` to a ``rich.console.Console``, fitted to its width (a new one on stdout if None)."""
        from rich.console import Console

        console = console or Console()
        console.print(self.table(console.width))


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "x".join(str(item) for item in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
