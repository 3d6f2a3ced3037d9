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


# Output-file options of the commands: argparse destination and option name.
_OUTPUT_FILE_OPTIONS = (("json_path", "--json"), ("output", "--output"))


def _check_outputs(args: argparse.Namespace) -> None:
    """Reject unusable output paths before a command starts its work.

    The checks create nothing, so a command that fails later leaves no
    empty folder behind.
    """
    from initlab.atomic import STDOUT_PATH, check_output_directory, check_output_file

    out = getattr(args, "out", None)
    if out is not None:
        check_output_directory(out)

    files: dict[str, str] = {}
    for name, option in _OUTPUT_FILE_OPTIONS:
        path = getattr(args, name, None)
        if path is None:
            continue
        if path == STDOUT_PATH:
            _check_stdout_option(name, option)
            continue
        check_output_file(path, option)
        files[option] = path
    _reject_shared_output_file(files)


def _check_stdout_option(name: str, option: str) -> None:
    from initlab.atomic import STDOUT_PATH
    from initlab.errors import ConfigError

    # JSON is text and can go to a pipe, but torch.save output is binary.
    if name != "json_path":
        raise ConfigError(
            f"{option} {STDOUT_PATH} is not supported because torch.save writes "
            "binary data: pass a file path"
        )


def _reject_shared_output_file(files: dict[str, str]) -> None:
    """Raise ConfigError when two options name one file, since the last write would win."""
    import os

    from initlab.errors import ConfigError

    seen: dict[str, tuple[str, str]] = {}
    for option, path in files.items():
        resolved = os.path.realpath(path)
        if resolved in seen:
            first_option, first_path = seen[resolved]
            raise ConfigError(
                f"{first_option} {first_path!r} and {option} {path!r} name the same "
                "file, so one would overwrite the other: pass a different path to each"
            )
        seen[resolved] = (option, path)


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
