"""Atomic file writes: write to a temporary file beside the target, then rename.

``os.replace`` within one directory is atomic on POSIX and Windows, so a
reader (or a run interrupted half-way) sees either the old file or the
complete new one, never a truncated file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The output-file path that means standard output, as in most command-line tools.
STDOUT_PATH = "-"


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

    Raises:
        ConfigError: when ``path`` exists and is not a regular file (a
            device, FIFO or socket), because the rename would replace it.
    """
    target = Path(path)
    _reject_special_file(target)
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


def _reject_special_file(path: Path, option: str | None = None) -> None:
    """Raise ConfigError when ``path`` exists and is neither a regular file nor a folder.

    The check follows symlinks, so a link to a device counts as the device.
    An atomic write renames a new file over the target, which would replace
    a device such as /dev/null with a regular file.
    """
    from initlab.errors import ConfigError

    try:
        mode = path.stat().st_mode
    except OSError:
        # The write itself handles a missing path or a dangling symlink.
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = _special_file_kind(mode)
    hint = f" to {option}" if option else ""
    raise ConfigError(
        f"output path {str(path)!r} is an existing {kind}, not a regular file: "
        f"pass a regular file path{hint}"
    )


def _special_file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _nearest_existing_ancestor(path: Path) -> Path:
    candidate = path.absolute()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return candidate


def _check_folder_creatable(folder: Path, option: str) -> None:
    """Raise ConfigError unless ``folder`` exists or could be created, without creating it."""
    from initlab.errors import ConfigError

    ancestor = _nearest_existing_ancestor(folder)
    if not ancestor.is_dir():
        raise ConfigError(
            f"cannot create output folder {str(folder)!r}: {str(ancestor)!r} is not "
            f"a folder; pass another {option}"
        )
    # os.access applies this process's permissions, so a folder that the
    # process cannot write to fails here rather than after the work.
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write to output folder {str(folder)!r}: {str(ancestor)!r} is not "
            f"writable; pass another {option}"
        )


def check_output_directory(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Raise ConfigError unless ``path`` is a folder or could be created as one.

    Commands call this before any long work, so an unusable ``--out`` is
    reported at once instead of after training. It creates nothing, so a
    command that fails later leaves no empty folder, and the writers create
    the folder. ``option`` names the command-line option in the message.
    """
    from initlab.errors import ConfigError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"output folder {str(folder)!r} is an existing file: pass a folder path to {option}"
        )
    _check_folder_creatable(folder, option)
    return folder


def check_output_file(path: str | os.PathLike[str], option: str = "--output") -> Path:
    """Raise ConfigError unless a file can be written at ``path``, creating nothing.

    ``path`` must not be a folder or an existing device, FIFO or socket, and
    its nearest existing ancestor must be a writable folder. ``option`` names
    the command-line option in the message.
    """
    from initlab.errors import ConfigError

    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"output file {str(target)!r} is an existing folder: pass a file path to {option}"
        )
    _reject_special_file(target, option)
    # The temporary file beside the target adds about 14 characters to the name.
    if len(target.name) > 240:
        raise ConfigError(
            f"output file name is {len(target.name)} characters long; use at most 240"
        )
    _check_folder_creatable(target.parent, option)
    return target
