"""Atomic file writes: write to a temporary file beside the target, then rename.

``os.replace`` within one directory is atomic on POSIX and Windows, so a
reader (or a run interrupted half-way) sees either the old file or the
complete new one, never a truncated file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    # os.umask can only be read by setting it, so set it back at once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    The parent directory is created if missing. On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp creates the file as 0600; give it the mode a plain open()
        # would, so reports stay readable by others as the umask allows.
        os.chmod(temporary_path, 0o666 & ~_current_umask())
        os.replace(temporary_path, target)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically.

    NaN and infinity are rejected (``allow_nan=False``) because they are not
    JSON; convert them to None before writing.
    """
    return write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def save_figure(
    figure: Any, path: str | os.PathLike[str], **savefig_kwargs: Any
) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix of ``path``."""
    target = Path(path)
    savefig_kwargs.setdefault("format", target.suffix.lstrip(".") or "png")
    with atomic_path(target) as temporary:
        figure.savefig(temporary, **savefig_kwargs)
    return target


def check_output_directory(path: str | os.PathLike[str]) -> Path:
    """Create the output folder ``path`` if needed, or raise ConfigError if it cannot be one.

    Commands call this before any long work, so an unusable ``--out`` is
    reported at once instead of after training.
    """
    from initlab.errors import ConfigError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"output folder {str(folder)!r} is an existing file: pass a folder path to --out"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create output folder {str(folder)!r}: {error.strerror}; pass another --out"
        ) from error
    return folder


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Raise ConfigError unless a file can be written at ``path`` (its folder is created)."""
    from initlab.errors import ConfigError

    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"output file {str(target)!r} is an existing folder: pass a file path"
        )
    # The temporary file beside the target adds about 14 characters to the name.
    if len(target.name) > 240:
        raise ConfigError(
            f"output file name is {len(target.name)} characters long; use at most 240"
        )
    check_output_directory(target.parent)
    return target
