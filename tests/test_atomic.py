"""Atomic writes leave either the old file or the new one."""

import json
import os
import stat

import pytest

from initlab import atomic
from initlab.errors import ConfigError


def test_write_json_replaces_file(tmp_path):
    path = tmp_path / "out" / "results.json"
    atomic.write_json(path, {"a": 1})
    atomic.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}


def test_write_json_rejects_nan_and_keeps_old(tmp_path):
    path = tmp_path / "results.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(ValueError):
        atomic.write_json(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1}


def test_atomic_path_leaves_no_temporary_on_error(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as temporary:
        temporary.write_text("partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_write_text_uses_umask_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        path = atomic.write_text(tmp_path / "report.html", "<p>ok</p>")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def _fifo_and_link(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    return fifo, link


@pytest.mark.parametrize("name", ["pipe", "link"])
def test_check_output_file_rejects_fifo(tmp_path, name):
    fifo, _ = _fifo_and_link(tmp_path)
    with pytest.raises(ConfigError, match="pass a regular file path to --json"):
        atomic.check_output_file(tmp_path / name, "--json")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert (tmp_path / "link").is_symlink()


@pytest.mark.parametrize("name", ["pipe", "link"])
def test_write_text_rejects_fifo(tmp_path, name):
    fifo, _ = _fifo_and_link(tmp_path)
    with pytest.raises(ConfigError, match="is an existing FIFO"):
        atomic.write_text(tmp_path / name, "text")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "pipe"]


def test_check_output_file_creates_no_folder(tmp_path):
    target = tmp_path / "new" / "sub" / "record.json"
    assert atomic.check_output_file(target) == target
    assert not (tmp_path / "new").exists()


def test_check_output_directory_creates_no_folder(tmp_path):
    folder = tmp_path / "new" / "sub"
    assert atomic.check_output_directory(folder) == folder
    assert not (tmp_path / "new").exists()


def test_check_output_file_under_file_names_option(tmp_path):
    existing = tmp_path / "afile"
    existing.write_text("x")
    with pytest.raises(ConfigError, match="pass another --json"):
        atomic.check_output_file(existing / "record.json", "--json")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root may write to a read-only folder",
)
def test_check_output_file_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            atomic.check_output_file(folder / "new" / "record.json")
    finally:
        folder.chmod(0o700)
