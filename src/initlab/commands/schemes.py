"""``initlab schemes``: list every scheme, or show one scheme's numbers for a shape."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schemes",
        help="list initialization schemes, or show one scheme's fans, std and bound for a shape",
        description="List every initialization scheme, or show the fans, std and bound of one scheme for a weight shape.",
    )
    parser.add_argument(
        "scheme",
        nargs="?",
        help="a scheme name or spec, such as he_normal or 'normal(std=0.01)'",
    )
    parser.add_argument(
        "--shape", help="weight shape as comma-separated sizes, such as 256,128,3,3"
    )
    parser.add_argument(
        "--layout",
        default="torch",
        choices=["torch", "torch_transposed", "keras"],
        help="weight layout that decides the fans [default: torch]",
    )
    parser.add_argument(
        "--groups", type=int, default=1, help="the layer's groups [default: 1]"
    )
    parser.set_defaults(handler=run)


def _parse_shape(text: str) -> tuple[int, ...]:
    from initlab.errors import ConfigError

    try:
        shape = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(
            f"invalid --shape {text!r}: expected comma-separated integers such as 256,128,3,3"
        ) from error
    return shape


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from initlab.errors import ConfigError
    from initlab.fans import compute_fans
    from initlab.registry import REGISTRY, build_scheme, parse_scheme

    console = Console()
    if args.scheme is None:
        if args.shape is not None:
            raise ConfigError(
                "--shape needs a scheme name, such as `initlab schemes he_normal --shape 256,128`"
            )
        table = Table(title="Initialization schemes")
        # Names must stay whole and searchable; the prose columns may wrap.
        name_width = max(len(entry.name) for entry in REGISTRY)
        table.add_column("name", no_wrap=True, min_width=name_width)
        for column in ("aliases", "distribution", "std or bound", "default for"):
            table.add_column(column, overflow="fold")
        for entry in REGISTRY:
            try:
                formula = build_scheme(entry.name).formula()
            except Exception:  # noqa: BLE001 - schemes with required arguments
                formula = "see docs/schemes.md"
            table.add_row(
                entry.name,
                ", ".join(entry.aliases),
                entry.distribution,
                formula,
                entry.default_for,
            )
        console.print(table)
        return 0

    scheme = parse_scheme(args.scheme)
    if args.shape is None:
        console.print(f"{scheme.label}: {scheme.formula()}")
        return 0

    shape = _parse_shape(args.shape)
    fans = compute_fans(shape, args.layout, groups=args.groups)
    table = Table(title=f"{scheme.label} for shape {shape} ({args.layout} layout)")
    for column in ("fan_in", "fan_out", "std", "bound", "formula"):
        table.add_column(column)
    std = scheme.target_std(fans, shape, args.layout)
    bound = scheme.bound(fans, shape, args.layout)
    table.add_row(
        f"{fans.fan_in:g}",
        f"{fans.fan_out:g}",
        f"{std:.6g}",
        f"{bound:.6g}",
        scheme.formula(),
    )
    console.print(table)
    return 0
