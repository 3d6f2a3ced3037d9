"""Writing experiment results: ``results.json``, PNG figures and the HTML report.

One experiment writes into its own folder::

    OUT/results.json    the result, as run() returned it plus timing
    OUT/*.png           its figures
    OUT/index.html      claims table first, then tables and figures

``initlab experiment all`` writes one such folder per experiment under OUT
(without their own ``index.html``), ``OUT/results.json`` with every claim
and the path of each experiment's results, and ``OUT/index.html`` with a
table of all claims first and one section per experiment. Every file is
written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from initlab.atomic import write_json
from initlab.experiments import Experiment
from initlab.experiments.claims import summary
from initlab.report import HtmlReport, Section

CLAIM_COLUMNS = ["claim", "expected", "measured", "result"]


def verdict_text(holds: bool) -> str:
    """Return the result cell of a claim: ``holds`` or ``DOES NOT HOLD``."""
    return "holds" if holds else "DOES NOT HOLD"


def claim_rows(claims: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Return one table row per claim: claim, expected, measured, result."""
    return [
        [item["claim"], item["expected"], item["measured"], verdict_text(item["holds"])]
        for item in claims
    ]


def add_experiment_section(
    report: HtmlReport,
    experiment: Experiment,
    result: dict[str, Any],
    figure_dir: Path,
) -> Section:
    """Add one experiment's section: its claims table, then what its module renders."""
    claims = result["claims"]
    section = report.add_section(
        f"{experiment.name}: {experiment.summary}",
        f"{summary(claims)}. Configuration (size {result.get('size', 'default')}): "
        + ", ".join(f"{key}={value}" for key, value in result["config"].items()),
    )
    if claims:
        section.add_table(CLAIM_COLUMNS, claim_rows(claims), caption="Claims")
    else:
        section.add_text("No claim applies to this configuration.")
    for item in result.get("not_checked", []):
        section.add_text(f"Not checked: {item['id']} ({item['reason']}).")
    if result.get("interpretation"):
        section.add_text(result["interpretation"])
    figure_dir.mkdir(parents=True, exist_ok=True)
    experiment.render(result, section, figure_dir)
    return section


def write_experiment(
    experiment: Experiment, result: dict[str, Any], out_dir: Path
) -> Path:
    """Write ``results.json``, the figures and ``index.html`` into ``out_dir``; return the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "results.json", result)
    report = HtmlReport(
        f"initlab experiment {experiment.name}", subtitle=experiment.summary
    )
    add_experiment_section(report, experiment, result, out_dir)
    return report.write(out_dir / "index.html")


def write_all(runs: Sequence[tuple[Experiment, dict[str, Any]]], out_dir: Path) -> Path:
    """Write every experiment's folder, the combined ``results.json`` and ``index.html``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = HtmlReport(
        "initlab experiment all",
        subtitle="The classic initialization results, each checked against its claims.",
    )
    overview = report.add_section(
        "Claims",
        summary([item for _, result in runs for item in result["claims"]])
        + " over all experiments.",
    )
    rows = [
        [experiment.name, *row]
        for experiment, result in runs
        for row in claim_rows(result["claims"])
    ]
    overview.add_table(["experiment", *CLAIM_COLUMNS], rows)

    index: list[dict[str, Any]] = []
    for experiment, result in runs:
        folder = out_dir / experiment.name
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "results.json", result)
        add_experiment_section(report, experiment, result, folder)
        index.append(
            {
                "experiment": experiment.name,
                "summary": experiment.summary,
                "results": f"{experiment.name}/results.json",
                "claims": result["claims"],
            }
        )
    write_json(out_dir / "results.json", {"experiments": index})
    return report.write(out_dir / "index.html")
