"""``initlab compare``: train and compare initialization schemes on real data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = "initlab-report"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="train every init on a data set with several seeds and write a report",
        description=(
            "Train one network per init and seed on a data set, all replicas in "
            "one batched computation, and write results.json, results.csv, PNG "
            "plots and index.html. Options given on the command line override "
            "the --config file, which overrides the defaults."
        ),
    )
    parser.add_argument(
        "--data",
        help="data set name or file, such as digits or mnist-5k [default: digits]",
    )
    parser.add_argument(
        "--model", help="model spec, such as mlp:5x50:tanh [default: mlp:5x50:tanh]"
    )

    parser.add_argument(
        "--inits",
        help=(
            "comma-separated init specs, such as 'zeros,normal(std=0.01),he_normal' "
            "or lsuv [default: ten standard schemes, see docs/compare.md]"
        ),
    )
    parser.add_argument(
        "--seeds", type=int, help="number of seeds per init [default: 5]"
    )
    parser.add_argument(
        "--seed", type=int, help="first seed, also the split's seed [default: 0]"
    )
    parser.add_argument("--epochs", type=int, help="training epochs [default: 30]")
    parser.add_argument("--optimizer", help="sgd (plain) or adam [default: sgd]")
    parser.add_argument("--lr", type=float, help="learning rate [default: 0.05]")
    parser.add_argument("--batch", type=int, help="minibatch size [default: 32]")
    parser.add_argument(
        "--test-fraction",
        type=float,
        dest="test_fraction",
        help="fraction held out for testing when the data has no split [default: 0.2]",
    )
    parser.add_argument(
        "--symmetry-dropout",
        type=float,
        dest="symmetry_dropout",
        help="dropout rate of the extra zero and constant runs [default: 0.2]",
    )
    parser.add_argument(
        "--probe-batch",
        type=int,
        dest="probe_batch",
        help="training samples the statistics at init use [default: 256]",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help=(
            "torch CPU threads; the batched steps are small, and more threads "
            "slow them down when other processes share the cores [default: 1]"
        ),
    )

    parser.add_argument(
        "--out", help=f"folder for the report files [default: {DEFAULT_OUT}]"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML file with the options above as keys, except threads",
    )
    parser.set_defaults(handler=run)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file, raising ConfigError for a missing or invalid file."""
    from initlab.errors import ConfigError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} not found: check the path given to --config"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"invalid TOML in config file {str(path)!r}: {error}"
        ) from None


def build_config(args: argparse.Namespace) -> tuple[Any, Path]:
    """Merge defaults, the --config file and the flags; return the config and out folder."""
    from initlab.errors import ConfigError
    from initlab.experiments.compare import FLAGS, CompareConfig, split_inits

    values: dict[str, Any] = {}
    out: Any = DEFAULT_OUT
    if args.config is not None:
        values = read_toml(args.config)
        out = values.pop("out", out)
        if not isinstance(out, str):
            raise ConfigError(
                f"invalid out in {args.config}: expected a folder name, got {out!r}"
            )
    for key in FLAGS:
        value = getattr(args, key)
        if value is not None:
            values[key] = split_inits(value) if key == "inits" else value
    if args.out is not None:
        out = args.out
    source = str(args.config) if args.config is not None else "the command line"
    config = CompareConfig.from_mapping(values, source)
    config.validate()
    return config, Path(out)


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from initlab.errors import ConfigError
    from initlab.experiments.compare import run_compare
    from initlab.report.compare import summary_table, write_compare_report
    from initlab.report.progress import ProgressDisplay

    config, out = build_config(args)
    if args.threads < 1:
        raise ConfigError(
            f"invalid --threads {args.threads}: use a positive number such as 1 or 2"
        )
    torch.set_num_threads(args.threads)
    with ProgressDisplay(Console(stderr=True)) as progress:
        result = run_compare(config, progress=progress)
    files = write_compare_report(result, out)

    console = Console()
    console.print(summary_table(result))
    seconds = result["timing"]["total_seconds"]
    console.print(
        f"{result['training']['replicas']} replicas trained in {seconds:.1f} s; "
        f"report: {files.index_html} (results.json, results.csv, "
        f"{len(files.plots)} PNG plots in {out})"
    )
    return 0
