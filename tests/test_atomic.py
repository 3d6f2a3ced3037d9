"""Atomic writes leave either the old file or the new one."""

import json

import pytest

from initlab import atomic


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
    import os

    mask = os.umask(0o022)
    try:
        path = atomic.write_text(tmp_path / "report.html", "<p>ok</p>")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
