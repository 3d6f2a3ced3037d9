"""The `initlab schemes` command: the table, one scheme for a shape, and bad input."""

import contextlib
import io

import pytest

from initlab.cli import main
from initlab.commands.schemes import parse_shape
from initlab.errors import ConfigError
from initlab.registry import DATA_DEPENDENT, REGISTRY


@pytest.fixture(scope="module")
def listing():
    """Return the exit code and output of `initlab schemes`, run once for the module."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["schemes"])
    return code, buffer.getvalue()


def test_schemes_list_exit_code(listing):
    assert listing[0] == 0


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_schemes_list_has_every_scheme(listing, entry):
    assert entry.name in listing[1]


@pytest.mark.parametrize(
    "alias", ["GlorotUniform", "kaiming_normal_", "HeNormal", "xavier_uniform"]
)
def test_schemes_list_has_aliases(listing, alias):
    assert alias in listing[1]


@pytest.mark.parametrize(
    "text",
    [
        "bound = sqrt(6 / (fan_in + fan_out))",
        "std = sqrt(2 / fan_in)",
        "bound = sqrt(1 / fan_in)",
        "PyTorch Linear and Conv weights",
        "Keras Dense and Conv kernels",
        "normal, untruncated",
    ],
)
def test_schemes_list_has_formulas_and_defaults(listing, text):
    assert text in listing[1]


def test_schemes_list_keeps_brackets(listing):
    # Formulas are printed as text, not parsed as terminal markup.
    assert "cut to [a, b]" in listing[1]


def test_schemes_list_has_data_dependent_section(listing):
    output = listing[1]
    assert "Data-dependent initializers" in output
    for entry in DATA_DEPENDENT:
        assert entry.name in output


def test_schemes_he_normal_for_shape(capsys):
    code = main(["schemes", "he_normal", "--shape", "256,128,3,3", "--layout", "torch"])
    output = capsys.readouterr().out
    assert code == 0
    # fan_in = 128 * 9, fan_out = 256 * 9, std = sqrt(2 / 1152).
    assert "1152" in output
    assert "2304" in output
    assert "0.0416667" in output
    assert "unbounded" in output


def test_schemes_keras_he_normal_for_shape(capsys):
    code = main(["schemes", "HeNormal", "--shape", "3,3,256,128", "--layout", "keras"])
    output = capsys.readouterr().out
    assert code == 0
    # fan_in = 256 * 9; std sqrt(2 / 2304), cut at 2 * std / 0.8796.
    assert "0.0294628" in output
    assert "0.0669894" in output


def test_schemes_glorot_uniform_bound(capsys):
    assert main(["schemes", "glorot_uniform", "--shape", "50,100"]) == 0
    output = capsys.readouterr().out
    assert "bound" in output
    assert " 0.2 " in output


def test_schemes_grouped_shape(capsys):
    assert main(["schemes", "he_normal", "--shape", "64,8,3,3", "--groups", "4"]) == 0
    output = capsys.readouterr().out
    assert "144" in output


def test_schemes_spec_argument(capsys):
    assert main(["schemes", "normal(std=0.01)", "--shape", "10,10"]) == 0
    assert "0.01" in capsys.readouterr().out


def test_schemes_without_shape_prints_formula(capsys):
    assert main(["schemes", "he_uniform"]) == 0
    assert "he_uniform: bound = sqrt(6 / fan_in)" in capsys.readouterr().out


def test_schemes_zero_element_shape(capsys):
    assert main(["schemes", "he_normal", "--shape", "0,3"]) == 0
    assert "zero-element shape is left as it is" in capsys.readouterr().out


def test_schemes_data_dependent_name(capsys):
    assert main(["schemes", "lsuv"]) == 0
    assert "no std formula" in capsys.readouterr().out


@pytest.mark.parametrize("shape", ["256,x", "", "256,,3", "3,-1", "2.5,3", "256;128"])
def test_schemes_bad_shape_exits_2(capsys, shape):
    assert main(["schemes", "he_normal", "--shape", shape]) == 2
    error = capsys.readouterr().err
    assert "invalid --shape" in error
    assert "comma-separated non-negative integers" in error


def test_schemes_shape_without_scheme_exits_2(capsys):
    assert main(["schemes", "--shape", "3,3"]) == 2
    assert "--shape needs a scheme name" in capsys.readouterr().err


def test_schemes_groups_not_dividing_exits_2(capsys):
    assert main(["schemes", "he_normal", "--shape", "6,3,3,3", "--groups", "4"]) == 2
    assert "groups=4 does not divide" in capsys.readouterr().err


def test_schemes_structured_scheme_bad_shape_exits_2(capsys):
    assert main(["schemes", "identity", "--shape", "3,3,3"]) == 2
    assert "identity needs a 2-D tensor" in capsys.readouterr().err


def test_schemes_unknown_scheme_exits_2(capsys):
    assert main(["schemes", "xavier_unifrom"]) == 2
    assert "did you mean xavier_uniform" in capsys.readouterr().err


def test_parse_shape_valid():
    assert parse_shape("256, 128,3,3") == (256, 128, 3, 3)


def test_parse_shape_invalid_raises_config_error():
    with pytest.raises(ConfigError, match="invalid --shape"):
        parse_shape("a,b")
