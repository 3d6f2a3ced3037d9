"""Unusable output paths and bad user input fail at once with one line."""

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
