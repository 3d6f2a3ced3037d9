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


def _check_outputs(args: argparse.Namespace) -> None:
    """Reject unusable output paths before a command starts its work."""
    from initlab.atomic import check_output_directory, check_output_file

    out = getattr(args, "out", None)
    if out is not None:
        check_output_directory(out)
    for name in ("json_path", "output"):
        path = getattr(args, name, None)
        if path is not None:
            check_output_file(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        _check_outputs(args)
        return int(args.handler(args) or 0)
    except InitlabError as error:
        # Expected failures (bad input, malformed files) get one clear line
        # instead of a traceback; anything else is a bug and keeps its trace.
        print(f"initlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file that cannot be read or written (a bad path, a full disk)
        # is the user's to fix, so it gets one line rather than a traceback.
        print(f"initlab {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("initlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
