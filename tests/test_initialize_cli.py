"""``initlab init``: the table, the saved weights and one-line errors."""

import json

import pytest
import torch

from initlab.cli import main
from initlab.errors import ModelSpecError
from initlab.models import load_target


def test_init_prints_auto_table(capsys):
    assert main(["init", "mlp:784-32-10:relu", "--rules", "auto", "--print"]) == 0
    out = capsys.readouterr().out
    assert "he_normal" in out
    assert "lecun_normal" in out
    assert "auto: relu (traced)" in out


def test_init_preset_lists_left_alone(capsys):
    assert main(["init", "cnn:4:relu", "--preset", "keras", "--print"]) == 0
    out = capsys.readouterr().out
    assert "GlorotUniform" in out


def test_init_rule_mapping(capsys):
    argv = ["init", "mlp:3x8:tanh", "--rule", "Linear=orthogonal", "--print"]
    assert main([*argv, "--rule", "*.bias=constant(0.5)"]) == 0
    out = capsys.readouterr().out
    assert "type Linear" in out
    assert "pattern '*.bias'" in out


def test_init_unmatched_pattern_exits_2(capsys):
    assert main(["init", "mlp:5x8:tanh", "--rule", "enc.*=zeros", "--print"]) == 2
    err = capsys.readouterr().err
    assert "rule pattern 'enc.*' matches no parameter" in err
    assert "1.weight" in err


def test_init_needs_an_action(capsys):
    assert main(["init", "mlp:5x8:tanh", "--rules", "he_normal"]) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_init_writes_weights_and_record(tmp_path):
    weights, record = tmp_path / "w.pt", tmp_path / "r.json"
    argv = ["init", "mlp:64-16-10:relu", "--rules", "he_normal", "--seed", "3"]
    assert main([*argv, "--output", str(weights), "--json", str(record)]) == 0
    state = torch.load(weights)
    assert tuple(state["0.weight"].shape) == (16, 64)
    data = json.loads(record.read_text())
    assert data["seed"] == 3
    assert data["parameters"][0]["scheme"] == "he_normal"


def test_init_preset_with_tensor_fans_exits_2(capsys):
    argv = ["init", "mlp:2x8:tanh", "--preset", "torch", "--fans", "tensor", "--print"]
    assert main(argv) == 2
    assert "fans='tensor' applies to rules only" in capsys.readouterr().err


def test_init_zero_classes_exits_2(capsys):
    argv = ["init", "mlp:2x8:tanh", "--rules", "auto", "--classes", "0", "--print"]
    assert main(argv) == 2
    assert "invalid number of classes 0" in capsys.readouterr().err


def test_init_repeated_rule_type_exits_2(capsys):
    argv = ["init", "mlp:8-16-4:relu", "--rule", "Linear=he_normal"]
    assert main([*argv, "--rule", "Linear=zeros", "--print"]) == 2
    assert "--rule key 'Linear' is given more than once" in capsys.readouterr().err


def test_init_repeated_rule_pattern_exits_2(capsys):
    argv = ["init", "mlp:8-16-4:relu", "--rule", "*.bias=zeros"]
    assert main([*argv, "--rule", " *.bias =ones", "--print"]) == 2
    assert "--rule key '*.bias' is given more than once" in capsys.readouterr().err


def test_init_raising_factory_exits_2(tmp_path, capsys, monkeypatch):
    module = tmp_path / "initlab_test_raising_factory.py"
    module.write_text(
        "def build():\n    raise ValueError('width must be even\\nsecond line')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    target = "initlab_test_raising_factory:build"
    assert main(["init", target, "--rules", "he_normal", "--print"]) == 2
    err = capsys.readouterr().err
    assert f"factory '{target}' failed with ValueError: width must be even" in err
    assert "second line" not in err
    assert "Traceback" not in err


def test_load_target_too_large_spec():
    # 10**20 weights overflow torch's size check on any machine, with or
    # without memory overcommit, so nothing is allocated.
    spec = "mlp:10000000000-10000000000-10:tanh"
    with pytest.raises(ModelSpecError, match="is too large to build"):
        load_target(spec, (10_000_000_000,), 10)


def test_init_too_large_spec_exits_2(capsys):
    spec = "mlp:10000000000-10000000000-10:tanh"
    assert main(["init", spec, "--rules", "he_normal", "--print"]) == 2
    err = capsys.readouterr().err
    assert f"model spec '{spec}' is too large to build" in err
    assert "use smaller widths" in err
