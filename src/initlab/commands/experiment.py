"""``initlab experiment``: run a named experiment, or all of them, into a report.

Usage::

    initlab experiment list
    initlab experiment NAME [--size SIZE] [--seed N] [--out DIR] [--check] [options]
    initlab experiment all [--size SIZE] [--seed N] [--out DIR] [--check]

The options after NAME are built from the experiment's ``Config`` fields
(``--rows 500``, ``--inits he_normal,glorot_uniform``), so each experiment
gets its own ``--help``. Lists are comma-separated; commas inside brackets,
as in ``'uniform(a=-0.1, b=0.1)'``, stay part of one entry.
"""

from __future__ import annotations

import argparse
import types
import typing
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("initlab-experiments")
COMMON_OPTIONS = ("size", "out", "check")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="run a classic initialization experiment (or all) into results.json and an HTML report",
        description=(
            "Run a named experiment, such as forward, backward, symmetry, depth, "
            "saturation, activations or orthogonal, or all of them into one report. "
            "`initlab experiment list` lists them and `initlab experiment NAME --help` "
            "shows an experiment's options."
        ),
        usage="initlab experiment {list,all,NAME} [options]",
    )
    parser.add_argument("name", help="an experiment name, all, or list")
    parser.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="--size, --seed, --out, --check and the experiment's own options",
    )
    parser.set_defaults(handler=run)


def split_list(text: str) -> list[str]:
    """Split ``text`` at commas that are not inside brackets, and strip each entry."""
    entries, depth, current = [], 0, []
    for character in text:
        if character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
        if character == "," and depth == 0:
            entries.append("".join(current).strip())
            current = []
        else:
            current.append(character)
    entries.append("".join(current).strip())
    return [entry for entry in entries if entry]


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """Return the type inside ``X | None`` and whether None was allowed."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(arguments) == 1:
            return arguments[0], True
    return hint, False


def _scalar_parser(kind: Any, option: str) -> Any:
    def parse(text: str) -> Any:
        if kind is str:
            return text
        try:
            return kind(text)
        except ValueError as error:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected {expected}"
            ) from error

    return parse


def _value_parser(hint: Any, option: str) -> Any:
    """Return a function that turns the option's text into a value of type ``hint``."""
    inner, optional = _strip_optional(hint)
    if typing.get_origin(inner) is tuple:
        item = _scalar_parser(typing.get_args(inner)[0], option)

        def parse_items(text: str) -> Any:
            return tuple(item(entry) for entry in split_list(text))

        convert = parse_items
    else:
        convert = _scalar_parser(inner, option)
    if not optional:
        return convert
    return lambda text: None if text.lower() == "none" else convert(text)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def experiment_parser(experiment: Any) -> argparse.ArgumentParser:
    """Build the parser of one experiment's options from its Config fields."""
    import dataclasses

    parser = argparse.ArgumentParser(
        prog=f"initlab experiment {experiment.name}",
        description=experiment.summary,
    )
    _add_common_options(parser, experiment.sizes)
    defaults = experiment.config_type()
    option_help = getattr(experiment.module, "OPTION_HELP", {})
    for field in dataclasses.fields(experiment.config_type):
        hint = experiment.config_fields()[field.name]
        option = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        presets = "; ".join(
            f"{size}: {_show(values[field.name])}"
            for size, values in experiment.sizes.items()
            if field.name in values
        )
        shown = f"default: {_show(default)}" + (f"; {presets}" if presets else "")
        text = option_help.get(field.name, field.name.replace("_", " "))
        if hint is bool:
            parser.add_argument(
                option,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{text} [{shown}]",
            )
        else:
            parser.add_argument(
                option,
                dest=field.name,
                type=_value_parser(hint, option),
                default=None,
                metavar=field.name.upper(),
                help=f"{text} [{shown}]",
            )
    return parser


def _add_common_options(parser: argparse.ArgumentParser, sizes: Any) -> None:
    parser.add_argument(
        "--size",
        default="default",
        choices=sorted(sizes),
        help="a size preset: small runs in seconds, default is the experiment as described [default: default]",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder for results.json, the figures and index.html [default: {DEFAULT_OUT}/NAME]",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 when a claim does not hold",
    )


def _all_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initlab experiment all",
        description="Run every experiment and write one HTML report with all claims first.",
    )
    _add_common_options(parser, {"small": {}, "default": {}})
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for every experiment [default: 0]"
    )
    parser.add_argument(
        "--only",
        type=split_list,
        default=None,
        help="comma-separated experiment names to run, in run order [default: all]",
    )
    return parser


def _print_claims(console: Any, name: str, claims: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from initlab.experiments.claims import summary

    # Claims are sentences, so both text columns wrap; the result stays whole.
    table = Table(title=f"{name}: {summary(claims)}", show_lines=True)
    table.add_column("claim", ratio=1)
    table.add_column("measured", ratio=1)
    table.add_column("result", no_wrap=True)
    for item in claims:
        result = "[green]holds[/]" if item["holds"] else "[bold red]DOES NOT HOLD[/]"
        table.add_row(escape(item["claim"]), escape(item["measured"]), result)
    console.print(table)


def _list(console: Any) -> int:
    from initlab.experiments import discover
    from initlab.report import rich_table

    rows = [
        [experiment.name, experiment.summary, ", ".join(sorted(experiment.sizes))]
        for experiment in discover().values()
    ]
    console.print(rich_table(["name", "summary", "sizes"], rows, title="Experiments"))
    return 0


def _run_one(name: str, options: list[str], console: Any) -> int:
    from initlab.atomic import check_output_directory
    from initlab.experiments import get
    from initlab.experiments.output import write_experiment
    from initlab.report import ProgressDisplay

    experiment = get(name)
    arguments = vars(experiment_parser(experiment).parse_args(options))
    size, out, check = (arguments.pop(key) for key in COMMON_OPTIONS)
    overrides = {key: value for key, value in arguments.items() if value is not None}
    config = experiment.make_config(size, overrides)
    out_folder = check_output_directory(out or DEFAULT_OUT / name)
    with ProgressDisplay() as progress:
        result = experiment.run(config, progress=progress)
    result["size"] = size
    page = write_experiment(experiment, result, out_folder)
    _print_claims(console, name, result["claims"])
    console.print(f"report: {page}")
    return 1 if check and not all(item["holds"] for item in result["claims"]) else 0


def _run_all(options: list[str], console: Any) -> int:
    from initlab.atomic import check_output_directory
    from initlab.errors import ConfigError
    from initlab.experiments import discover
    from initlab.experiments.output import write_all
    from initlab.report import ProgressDisplay

    arguments = _all_parser().parse_args(options)
    experiments = discover()
    chosen = list(experiments) if arguments.only is None else arguments.only
    unknown = [name for name in chosen if name not in experiments]
    if unknown:
        raise ConfigError(
            f"unknown experiment {', '.join(unknown)} in --only: use names from {', '.join(experiments)}"
        )
    overrides = {} if arguments.seed is None else {"seed": arguments.seed}
    # Build every config first, so an invalid option fails before any run.
    configs = {}
    for name in chosen:
        experiment = experiments[name]
        size = arguments.size if arguments.size in experiment.sizes else "default"
        configs[name] = (size, experiment.make_config(size, overrides))
    out_folder = check_output_directory(arguments.out or DEFAULT_OUT / "all")
    runs = []
    with ProgressDisplay() as progress:
        for name in chosen:
            experiment = experiments[name]
            size, config = configs[name]
            result = experiment.run(config, progress=progress)
            result["size"] = size
            runs.append((experiment, result))
    page = write_all(runs, out_folder)
    for experiment, result in runs:
        _print_claims(console, experiment.name, result["claims"])
    console.print(f"report: {page}")
    failed = any(not item["holds"] for _, result in runs for item in result["claims"])
    return 1 if arguments.check and failed else 0


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    if args.name == "list":
        return _list(console)
    if args.name == "all":
        return _run_all(args.options, console)
    return _run_one(args.name, args.options, console)
