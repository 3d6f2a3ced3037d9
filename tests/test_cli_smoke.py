"""The command line starts and lists its commands."""

from initlab.cli import main


def test_cli_schemes_lists_glorot(capsys):
    assert main(["schemes"]) == 0
    assert "glorot_uniform" in capsys.readouterr().out


def test_cli_schemes_unknown_name_exits_2(capsys):
    assert main(["schemes", "he_norml"]) == 2
    assert "did you mean he_normal" in capsys.readouterr().err
