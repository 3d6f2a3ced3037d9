"""The ``initlab probe`` command."""

import json

from initlab.cli import main


def test_cli_probe_table_and_files(tmp_path, capsys):
    code = main(
        [
            "probe",
            "mlp:3x20:tanh",
            "--data",
            "gaussian:30",
            "--batch",
            "64",
            "--init",
            "glorot_normal",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Probe: glorot_normal" in out
    for name in (
        "probe.json",
        "probe.csv",
        "activation_std.png",
        "gradient_std.png",
        "activation_histograms.png",
    ):
        assert (tmp_path / name).is_file(), name


def test_cli_probe_json_output_applies_init(capsys):
    code = main(
        [
            "probe",
            "mlp:2x16:tanh",
            "--data",
            "gaussian:20",
            "--batch",
            "32",
            "--init",
            "zeros",
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    linear = [layer for layer in data["layers"] if layer["module_type"] == "Linear"]
    assert [layer["verdict"] for layer in linear] == ["symmetric"] * 3
    assert linear[0]["weight_target_std"] == 0.0


def test_cli_probe_csv_output(capsys):
    code = main(
        [
            "probe",
            "mlp:2x8:relu",
            "--data",
            "gaussian:5",
            "--batch",
            "16",
            "--format",
            "csv",
            "--light",
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[0].startswith("index,name,module_type")
    assert len(lines) == 6


def test_cli_probe_cnn_on_digits(capsys):
    code = main(
        [
            "probe",
            "cnn:4:relu",
            "--data",
            "digits",
            "--batch",
            "32",
            "--eval",
            "--upstream",
            "random",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Conv2d" in out
    assert "eval mode" in out


def test_cli_probe_batch_too_large_exits_2(capsys):
    code = main(["probe", "mlp:2x8:relu", "--data", "gaussian:5", "--batch", "5000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--batch 5000 is larger than the 1000 training samples" in err


def test_cli_probe_unknown_scheme_exits_2(capsys):
    code = main(
        ["probe", "mlp:2x8:relu", "--data", "gaussian:5", "--init", "glorot_nrmal"]
    )
    assert code == 2
    assert "glorot_nrmal" in capsys.readouterr().err


def test_cli_probe_factory_for_other_data_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "narrow_model.py").write_text(
        "import torch\ndef build():\n    return torch.nn.Linear(10, 3)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    code = main(["probe", "narrow_model:build", "--data", "gaussian:5"])

    err = capsys.readouterr().err
    assert code == 2
    assert "model 'narrow_model:build' failed on a batch of gaussian:5" in err
    assert "build it for samples of shape (5,)" in err
    assert "Traceback" not in err
