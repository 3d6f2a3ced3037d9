"""``initlab schemes``: list every scheme, or show one scheme's numbers for a shape."""

from __future__ import annotations

import argparse
import math

# Width of tables written to a pipe or file, where no terminal sets one:
# wide enough that no name or formula wraps.
_PIPED_WIDTH = 200
# Wrap width of the descriptive columns of the scheme table.
_PROSE_WIDTH = 32


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schemes",
        help="list initialization schemes, or show one scheme's fans, std and bound for a shape",
        description=(
            "List every initialization scheme, or show the fans, std and bound "
            "of one scheme for a weight shape."
        ),
    )
    parser.add_argument(
        "scheme",
        nargs="?",
        help="a scheme name or spec, such as he_normal or 'normal(std=0.01)'",
    )
    parser.add_argument(
        "--shape",
        help="weight shape as comma-separated non-negative integers, such as 256,128,3,3",
    )
    parser.add_argument(
        "--layout",
        default="torch",
        choices=["torch", "torch_transposed", "keras"],
        help="weight layout that decides the fans [default: torch]",
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=1,
        help="the layer's groups, for grouped convolutions [default: 1]",
    )
    parser.set_defaults(handler=run)


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse ``"256,128,3,3"`` into a shape tuple.

    Raises:
        ConfigError: for an empty shape, an empty item, or an item that is
            not a non-negative integer.
    """
    from initlab.errors import ConfigError

    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise ConfigError(
            f"invalid --shape {text!r}: expected comma-separated non-negative "
            "integers such as 256,128,3,3"
        )
    return tuple(int(part) for part in parts)


def _describe(distribution) -> str:
    """Describe a primitive distribution with its resolved numbers."""
    from initlab import distributions as dist

    d = distribution
    if isinstance(d, dist.Constant):
        return f"constant {d.value:.6g}"
    if isinstance(d, dist.Normal):
        return f"normal, mean {d.mean:.6g}, std {d.std:.6g}"
    if isinstance(d, dist.Uniform):
        return f"uniform on [{d.low:.6g}, {d.high:.6g})"
    if isinstance(d, dist.TruncatedNormal):
        return (
            f"normal with mean {d.mean:.6g} and std {d.std:.6g}, cut to "
            f"[{d.low:.6g}, {d.high:.6g}] (kept mass {d.kept_mass():.6g})"
        )
    if isinstance(d, dist.Orthogonal):
        return f"{d.rows} x {d.cols} orthogonal matrix times {d.gain:.6g}"
    if isinstance(d, dist.Identity):
        return f"{d.rows} x {d.cols} identity matrix times {d.gain:.6g}"
    if isinstance(d, dist.Dirac):
        ones = "" if d.shape is None else f", {d.ones()} ones"
        return f"Dirac delta kernel, {d.groups} group(s){ones}"
    if isinstance(d, dist.Sparse):
        return (
            f"normal with std {d.std:.6g}, {d.zeros_per_column()} of {d.rows} "
            "entries per column zeroed"
        )
    return repr(d)


def _number(value: float) -> str:
    if math.isinf(value):
        return "unbounded"
    if math.isnan(value):
        return "unknown without a shape"
    return f"{value:.6g}"


def _print_list(console) -> None:
    from rich.table import Table

    from initlab.registry import DATA_DEPENDENT, REGISTRY, build_scheme

    table = Table(title="Initialization schemes")
    # Names must stay whole and searchable; the prose columns may wrap.
    name_width = max(len(entry.name) for entry in REGISTRY)
    table.add_column("name", no_wrap=True, min_width=name_width)
    # The prose columns wrap at a fixed width, so that on a pipe the formula
    # column gets its full width and each formula stays on one line.
    table.add_column("aliases", overflow="fold", max_width=_PROSE_WIDTH)
    table.add_column("distribution", overflow="fold", max_width=_PROSE_WIDTH)
    table.add_column("std or bound", overflow="fold")
    table.add_column("default for", overflow="fold", max_width=_PROSE_WIDTH)
    for entry in REGISTRY:
        formula = entry.formula or build_scheme(entry.name).formula()
        table.add_row(
            entry.name,
            ", ".join(entry.aliases),
            entry.distribution,
            formula,
            entry.default_for,
        )
    console.print(table)

    data_table = Table(title="Data-dependent initializers (no std formula)")
    name_width = max(len(entry.name) for entry in DATA_DEPENDENT)
    data_table.add_column("name", no_wrap=True, min_width=name_width)
    data_table.add_column("what it does", overflow="fold")
    data_table.add_column("source", overflow="fold")
    for entry in DATA_DEPENDENT:
        data_table.add_row(entry.name, entry.description, entry.source)
    console.print(data_table)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from initlab.errors import ConfigError
    from initlab.fans import compute_fans
    from initlab.registry import DATA_DEPENDENT, parse_scheme

    # Scheme text is full of brackets ("cut to [-2, 2]"), which rich would
    # read as markup. Piped output has no width, so give tables room there.
    console = Console(markup=False, highlight=False)
    if not console.is_terminal:
        console = Console(markup=False, highlight=False, width=_PIPED_WIDTH)
    if args.scheme is None:
        if args.shape is not None:
            raise ConfigError(
                "--shape needs a scheme name, such as `initlab schemes he_normal --shape 256,128`"
            )
        _print_list(console)
        return 0

    for entry in DATA_DEPENDENT:
        if args.scheme.strip().lower() == entry.name:
            console.print(
                f"{entry.name}: {entry.description}. It depends on data, so it has "
                f"no std formula. Source: {entry.source}."
            )
            return 0

    scheme = parse_scheme(args.scheme)
    if args.shape is None:
        console.print(f"{scheme.label}: {scheme.formula()}")
        return 0

    shape = parse_shape(args.shape)
    fans = compute_fans(shape, args.layout, groups=args.groups)
    table = Table(
        title=f"{scheme.label} for shape {shape} ({args.layout} layout)",
        show_header=False,
    )
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("fan_in", f"{fans.fan_in:g}")
    table.add_row("fan_out", f"{fans.fan_out:g}")
    if math.prod(shape) == 0:
        table.add_row("std", "none: a zero-element shape is left as it is")
        table.add_row("bound", "none")
    else:
        distribution = scheme.resolve(fans, shape, args.layout)
        table.add_row("std", _number(distribution.value_std()))
        table.add_row("bound", _number(scheme.bound(fans, shape, args.layout)))
        table.add_row("samples from", _describe(distribution))
    table.add_row("formula", scheme.formula())
    console.print(table)
    return 0
