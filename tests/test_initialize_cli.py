"""``initlab init``: the table, the saved weights and one-line errors."""

import json

import torch

from initlab.cli import main


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
