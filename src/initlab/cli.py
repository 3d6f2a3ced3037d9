"""The ``initlab`` command.

Each subcommand lives in its own module under :mod:`initlab.commands` and
exposes ``register(subparsers)``, which adds its parser and sets ``handler``
to a function taking the parsed arguments and returning an exit code. The
modules are discovered at start-up, so adding a command touches no shared
file. Handlers import torch and friends lazily to keep ``--help`` fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from initlab import commands
from initlab.errors import InitlabError


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="initlab",
        description="Neural-network weight initialization: schemes, diagnostics and experiments.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True

    for module_info in sorted(
        pkgutil.iter_modules(commands.__path__), key=lambda m: m.name
    ):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        return int(args.handler(args) or 0)
    except InitlabError as error:
        # Expected failures (bad input, malformed files) get one clear line
        # instead of a traceback; anything else is a bug and keeps its trace.
        print(f"initlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("initlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
