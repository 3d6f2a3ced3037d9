"""``initlab init``: show, or save, how rules or a preset initialize a model."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_INPUT_SHAPE = "1,8,8"
DEFAULT_CLASSES = 10
# Columns for piped output, which has no terminal width to read.
_PIPED_WIDTH = 160


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="initialize a model by rules or a framework preset and print what each parameter got",
        description=(
            "Initialize a model spec or a package.module:factory target by rules or a "
            "framework preset, then print the table of what each parameter received "
            "(--print) or save the weights (--output). Nothing is trained."
        ),
    )
    parser.add_argument(
        "target",
        help="a model spec such as mlp:784-256-10:relu, or package.module:factory",
    )

    parser.add_argument(
        "--rules",
        help="one scheme for every weight, such as he_normal or 'normal(std=0.02)', or auto",
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="KEY=SCHEME",
        help=(
            "an ordered rule: KEY is a torch.nn class name (Linear, Conv2d) or a "
            "parameter-name pattern ('encoder.*.weight'); repeat for more, first match "
            "wins, and each KEY may appear once"
        ),
    )
    parser.add_argument(
        "--preset",
        choices=["torch", "keras", "flax"],
        help="give the model that framework's default initialization",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every random draw [default: 0]"
    )
    parser.add_argument(
        "--bias",
        default="zeros",
        help="scheme for the biases of initialized layers, or none to leave them [default: zeros]",
    )
    parser.add_argument(
        "--fans",
        choices=["layer", "tensor"],
        default="layer",
        help="fans from the module (layer) or PyTorch's tensor rule (tensor) [default: layer]",
    )

    parser.add_argument(
        "--input-shape",
        dest="input_shape",
        help=(
            "shape of one input sample, comma-separated, for a model spec that "
            f"leaves it open [default: {DEFAULT_INPUT_SHAPE}, the digits images]"
        ),
    )
    parser.add_argument(
        "--classes",
        type=int,
        default=DEFAULT_CLASSES,
        help=f"output classes for a model spec that leaves them open [default: {DEFAULT_CLASSES}]",
    )

    parser.add_argument(
        "--print",
        dest="print_table",
        action="store_true",
        help="print the table of what each parameter received",
    )
    parser.add_argument(
        "--json",
        dest="json_path",
        metavar="FILE",
        help="write the record as JSON to FILE, or to standard output for -",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="save the initialized state_dict to FILE (torch.save)",
    )
    parser.set_defaults(handler=run)


def _parse_shape(text: str) -> tuple[int, ...]:
    from initlab.errors import ConfigError

    try:
        shape = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise ConfigError(
            f"invalid --input-shape {text!r}: expected positive comma-separated integers such as 1,8,8"
        )
    return shape


def _input_shape(args: argparse.Namespace) -> tuple[int, ...]:
    """Return --input-shape, else the input width a full MLP spec names, else the digits shape."""
    from initlab.models import MLPSpec, parse_model_spec

    if args.input_shape is not None:
        return _parse_shape(args.input_shape)
    if args.target.startswith("mlp:"):
        spec = parse_model_spec(args.target)
        if isinstance(spec, MLPSpec) and spec.in_features is not None:
            return (spec.in_features,)
    return _parse_shape(DEFAULT_INPUT_SHAPE)


def _rules(args: argparse.Namespace) -> Any:
    from torch import nn

    from initlab.errors import ConfigError

    if args.rule and args.rules is not None:
        raise ConfigError(
            "pass either --rules (one scheme or auto) or --rule KEY=SCHEME, not both"
        )
    if not args.rule:
        return args.rules
    mapping: dict[Any, str] = {}
    for text in args.rule:
        key, sep, scheme = text.partition("=")
        if not sep or not key.strip() or not scheme.strip():
            raise ConfigError(
                f"invalid --rule {text!r}: expected KEY=SCHEME, such as Linear=he_normal "
                "or '*.bias=zeros'"
            )
        key = key.strip()
        kind = getattr(nn, key, None)
        rule_key = (
            kind if isinstance(kind, type) and issubclass(kind, nn.Module) else key
        )
        if rule_key in mapping:
            # The first rule for a key always matches first, so a repeat never applies.
            raise ConfigError(
                f"--rule key {key!r} is given more than once: the first match wins, so "
                "the later rule would never apply; keep one --rule per key"
            )
        mapping[rule_key] = scheme.strip()
    return mapping


def _fmt(value: float | None) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def print_record(record: Any) -> None:
    """Print the record as two tables: parameters initialized, and left alone."""
    from rich.console import Console
    from rich.table import Table

    # Scheme labels hold brackets that rich would read as markup. Piped
    # output has no width, so give the table room there.
    console = Console(markup=False, highlight=False)
    if not console.is_terminal:
        console = Console(markup=False, highlight=False, width=_PIPED_WIDTH)
    table = Table(
        title=f"Initialization ({record.rules}, fans={record.fans}, seed={record.seed})"
    )
    name_width = max((len(p.name) for p in record.parameters), default=9)
    table.add_column("parameter", no_wrap=True, min_width=name_width)
    table.add_column("shape", no_wrap=True)
    table.add_column("scheme", overflow="fold")
    table.add_column("rule", overflow="fold")
    for column in ("fan_in", "fan_out", "blocks", "target std", "measured std"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in record.parameters:
        name = p.name + (f" (= {', '.join(p.aliases)})" if p.aliases else "")
        table.add_row(
            name,
            "x".join(map(str, p.shape)),
            p.scheme,
            p.rule + (f"; {p.note}" if p.note else ""),
            _fmt(p.fan_in),
            _fmt(p.fan_out),
            str(p.blocks),
            _fmt(p.target_std),
            _fmt(p.measured_std),
        )
    console.print(table)
    if record.left_alone:
        left = Table(title="Left alone")
        for column in ("parameter", "module", "shape", "reason"):
            left.add_column(column, overflow="fold")
        for entry in record.left_alone:
            left.add_row(
                entry.name, entry.module, "x".join(map(str, entry.shape)), entry.reason
            )
        console.print(left)


def _check_actions(args: argparse.Namespace) -> None:
    from initlab.atomic import STDOUT_PATH
    from initlab.errors import ConfigError

    if not (args.print_table or args.output or args.json_path):
        raise ConfigError(
            "nothing to do: pass --print to see the table, --json FILE for the record "
            "or --output FILE to save the weights"
        )
    if args.print_table and args.json_path == STDOUT_PATH:
        raise ConfigError(
            f"--print and --json {STDOUT_PATH} both write to standard output: "
            "drop --print or pass a file path to --json"
        )


def _write_record(record: Any, json_path: str) -> None:
    import json
    import sys

    from initlab.atomic import STDOUT_PATH, atomic_path

    text = json.dumps(record.to_dict(), indent=2) + "\n"
    if json_path == STDOUT_PATH:
        sys.stdout.write(text)
        return
    with atomic_path(json_path) as path:
        path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import torch

    from initlab.atomic import atomic_path
    from initlab.initialize import initialize
    from initlab.models import load_target

    _check_actions(args)
    rules = _rules(args)
    bias = None if args.bias.strip().lower() == "none" else args.bias
    model = load_target(args.target, _input_shape(args), args.classes)
    record = initialize(
        model, rules, preset=args.preset, seed=args.seed, bias=bias, fans=args.fans
    )
    if args.print_table:
        print_record(record)
    if args.json_path:
        _write_record(record, args.json_path)
    if args.output:
        with atomic_path(args.output) as path:
            torch.save(model.state_dict(), path)
    return 0
