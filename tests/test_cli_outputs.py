"""Unusable output paths and bad user input fail at once with one line."""

import json
import os
import stat

import numpy as np
import pytest
import torch

import initlab.nn as init
from initlab.backends.torch import make_generator
from initlab.cli import main
from initlab.errors import SchemeError
from initlab.registry import parse_scheme


def test_compare_out_is_file_rejected_before_training(tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("x")
    assert (
        main(
            [
                "compare",
                "--inits",
                "he_normal",
                "--seeds",
                "1",
                "--epochs",
                "1",
                "--out",
                str(existing),
            ]
        )
        == 2
    )
    assert "is an existing file" in capsys.readouterr().err
    assert not (tmp_path / "afile.json").exists()


def test_init_json_is_folder_rejected(tmp_path, capsys):
    assert (
        main(["init", "mlp:2x5:relu", "--rules", "he_normal", "--json", str(tmp_path)])
        == 2
    )
    assert "is an existing folder" in capsys.readouterr().err


def test_init_factory_with_arguments_rejected(capsys):
    assert main(["init", "os.path:join", "--rules", "he_normal", "--print"]) == 2
    assert "callable with no arguments" in capsys.readouterr().err


def test_experiment_out_under_file_rejected(tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("x")
    assert (
        main(
            ["experiment", "forward", "--size", "small", "--out", str(existing / "sub")]
        )
        == 2
    )
    assert "cannot create output folder" in capsys.readouterr().err


def test_kaiming_spec_rejects_positional_gain():
    # torch's first positional argument is the slope a, not the gain.
    with pytest.raises(SchemeError, match="too many positional"):
        parse_scheme("kaiming_normal(0.1)")


def test_spec_rejects_repeated_keyword():
    with pytest.raises(SchemeError, match="more than once"):
        parse_scheme("normal(std=1, std=2)")


def test_constant_rejects_value_and_val():
    with pytest.raises(SchemeError, match="not both"):
        parse_scheme("constant(value=1, val=2)")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_uniform_excludes_upper_bound(dtype):
    values = torch.empty(200_000, dtype=dtype)
    init.uniform_(values, generator=torch.Generator().manual_seed(0))
    assert values.max().item() < 1.0
    assert values.min().item() >= 0.0


@pytest.mark.parametrize("seed", [-1, 1.5, 2**64, True])
def test_make_generator_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        make_generator(seed)


def test_make_generator_same_seed_same_numbers():
    first = torch.rand(5, generator=make_generator(7))
    second = torch.rand(5, generator=make_generator(7))
    assert np.array_equal(first.numpy(), second.numpy())


def test_initialize_meta_model_points_to_materialize():
    from initlab.errors import ConfigError
    from initlab.initialize import initialize

    with pytest.raises(ConfigError, match="materialize"):
        initialize(torch.nn.Linear(3, 3, device="meta"), "he_normal")


INIT_ARGS = ["init", "mlp:8-16-4:relu", "--rules", "he_normal"]


@pytest.mark.parametrize("option", ["--json", "--output"])
@pytest.mark.parametrize("name", ["pipe", "link"])
def test_init_fifo_output_rejected(tmp_path, capsys, option, name):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    assert main([*INIT_ARGS, option, str(tmp_path / name)]) == 2
    assert "pass a regular file path" in capsys.readouterr().err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert (tmp_path / "link").is_symlink()


def test_init_json_dash_writes_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*INIT_ARGS, "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["parameters"][0]["scheme"] == "he_normal"
    assert list(tmp_path.iterdir()) == []


def test_init_json_dash_with_print_rejected(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*INIT_ARGS, "--json", "-", "--print"]) == 2
    assert "both write to standard output" in capsys.readouterr().err


def test_init_output_dash_rejected(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*INIT_ARGS, "--output", "-"]) == 2
    assert "--output - is not supported" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_init_same_json_and_output_rejected(tmp_path, capsys):
    path = tmp_path / "both"
    other_spelling = tmp_path / "sub" / ".." / "both"
    assert main([*INIT_ARGS, "--json", str(path), "--output", str(other_spelling)]) == 2
    err = capsys.readouterr().err
    assert "--json" in err
    assert "--output" in err
    assert "name the same file" in err
    assert list(tmp_path.iterdir()) == []


def test_init_failure_leaves_no_folder(tmp_path, capsys):
    argv = ["init", "mlp:8-16-4:relu", "--rules", "no_such_scheme"]
    json_path = tmp_path / "records" / "r.json"
    weights = tmp_path / "weights" / "w.pt"
    assert main([*argv, "--json", str(json_path), "--output", str(weights)]) == 2
    assert "no_such_scheme" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_init_json_under_file_names_json(tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("x")
    assert main([*INIT_ARGS, "--json", str(existing / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "pass another --json" in err
    assert "--out " not in err


def test_compare_failure_leaves_no_out_folder(tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["compare", "--inits", "no_such_scheme", "--seeds", "1", "--epochs", "1"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "no_such_scheme" in capsys.readouterr().err
    assert not out.exists()
