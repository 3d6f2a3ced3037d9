"""``initlab compare`` on the command line: options, TOML config and errors."""

import json

import pytest
import torch

from initlab.cli import main

TINY = ["--inits", "zeros,he_normal", "--seeds", "1", "--epochs", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_compare_cli_writes_report_and_table(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", *TINY, "--model", "mlp:1x8:tanh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "he_normal" in printed
    assert "index.html" in printed
    assert (out / "index.html").exists()
    assert (out / "results.csv").exists()


def test_compare_cli_config_file_and_override(tmp_path):
    config = tmp_path / "run.toml"
    out = tmp_path / "from-toml"
    config.write_text(
        'model = "mlp:1x8:relu"\n'
        'inits = ["zeros", "glorot_uniform"]\n'
        "seeds = 1\n"
        "epochs = 2\n"
        "lr = 0.1\n"
        f'out = "{out}"\n'
    )
    assert main(["compare", "--config", str(config), "--epochs", "1"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["config"]["model"] == "mlp:1x8:relu"
    assert result["config"]["inits"] == ["zeros", "glorot_uniform"]
    assert result["config"]["lr"] == 0.1
    assert result["config"]["epochs"] == 1


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--seeds", "0"], "invalid --seeds 0"),
        (["--optimizer", "rmsprop"], "invalid --optimizer 'rmsprop'"),
        (["--inits", "zeros,he_norml"], "he_norml"),
        (["--model", "mlp:5x50:tahn"], "tahn"),
        (["--data", "no-such-data"], "no-such-data"),
        (["--threads", "0"], "invalid --threads 0"),
    ],
)
def test_compare_cli_invalid_option_exits_2(arguments, fragment, capsys, tmp_path):
    assert main(["compare", *arguments, "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("initlab compare: error:")
    assert fragment in error
    assert not (tmp_path / "results.json").exists()


def test_compare_cli_unknown_config_key_exits_2(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("epoch = 3\n")
    assert main(["compare", "--config", str(config)]) == 2
    assert "unknown option 'epoch'" in capsys.readouterr().err


def test_compare_cli_invalid_toml_exits_2(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("seeds = \n")
    assert main(["compare", "--config", str(config)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


def test_compare_cli_missing_config_exits_2(tmp_path, capsys):
    assert main(["compare", "--config", str(tmp_path / "none.toml")]) == 2
    assert "not found" in capsys.readouterr().err
