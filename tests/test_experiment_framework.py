"""The experiment registry, the result protocol, the output files and the command line."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass

import pytest

from initlab.cli import main
from initlab.commands.experiment import experiment_parser, split_list
from initlab.errors import ConfigError
from initlab.experiments import Experiment, check_result, discover, get
from initlab.experiments.claims import claim, geometric_rate, number

SEVEN = (
    "forward",
    "backward",
    "symmetry",
    "depth",
    "saturation",
    "activations",
    "orthogonal",
)


def test_discover_finds_the_seven_in_order():
    names = list(discover())
    assert [name for name in names if name in SEVEN] == list(SEVEN)


def test_discover_every_experiment_has_default_size():
    for experiment in discover().values():
        assert "default" in experiment.sizes, experiment.name


def test_get_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown experiment 'nosuch'.*forward"):
        get("nosuch")


def test_make_config_applies_size_then_overrides():
    config = get("forward").make_config("small", {"depth": 3})
    assert config.rows == 300
    assert config.depth == 3


def test_make_config_rejects_unknown_size():
    with pytest.raises(ConfigError, match="unknown size 'huge'"):
        get("forward").make_config("huge")


def test_make_config_rejects_unknown_option():
    with pytest.raises(ConfigError, match="has no option colour"):
        get("forward").make_config("default", {"colour": "red"})


def test_make_config_rejects_invalid_value():
    with pytest.raises(ConfigError, match="rows must be a positive integer"):
        get("forward").make_config("default", {"rows": 0})


def test_check_result_requires_claims_list():
    with pytest.raises(TypeError, match="no 'claims' list"):
        check_result("x", {"numbers": []})


def test_check_result_requires_claim_keys():
    with pytest.raises(TypeError, match="lacks measured, holds"):
        check_result("x", {"claims": [{"claim": "a", "expected": "b"}]})


def test_check_result_requires_bool_holds():
    bad = {"claim": "a", "expected": "b", "measured": "c", "holds": "yes"}
    with pytest.raises(TypeError, match="not a bool"):
        check_result("x", {"claims": [bad]})


def test_experiment_run_adds_config_and_timing():
    @dataclass(frozen=True)
    class Config:
        seed: int = 0

    module = types.ModuleType("fake")
    module.NAME, module.SUMMARY, module.Config = "fake", "a fake", Config
    module.run = lambda config, progress=None: {
        "claims": [claim("c", "text", "cond", "fig", True)]
    }
    result = Experiment("fake", "a fake", module).run(Config(seed=3))
    assert result["config"] == {"seed": 3}
    assert result["experiment"] == "fake"
    assert result["timing"]["total_seconds"] >= 0


def test_claim_coerces_holds_to_bool():
    assert claim("c", "t", "e", "m", 1)["holds"] is True


def test_number_uses_scientific_for_small_values():
    assert number(2.4e-6) == "2.40e-06"
    assert number(0.6631) == "0.663"
    assert number(None) == "n/a"


def test_geometric_rate_is_mean_factor_per_step():
    assert geometric_rate(1.0, 16.0, 4) == pytest.approx(2.0)
    assert geometric_rate(0.0, 1.0, 2) is None


def test_split_list_keeps_bracketed_commas():
    assert split_list("uniform(a=-0.1, b=0.1), he_normal") == [
        "uniform(a=-0.1, b=0.1)",
        "he_normal",
    ]


def test_experiment_parser_builds_typed_options():
    parser = experiment_parser(get("forward"))
    args = parser.parse_args(["--rows", "10", "--inits", "zeros,constant(0.5)"])
    assert args.rows == 10
    assert args.inits == ("zeros", "constant(0.5)")
    assert args.depth is None


def test_experiment_parser_rejects_non_integer(capsys):
    parser = experiment_parser(get("forward"))
    with pytest.raises(SystemExit) as raised:
        parser.parse_args(["--rows", "many"])
    assert raised.value.code == 2
    assert "invalid value 'many': expected an integer" in capsys.readouterr().err


def test_cli_unknown_experiment_exits_2(capsys):
    assert main(["experiment", "nosuch"]) == 2
    assert "unknown experiment 'nosuch'" in capsys.readouterr().err


def test_cli_invalid_activation_exits_2_before_running(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["experiment", "forward", "--activations", "nope", "--out", str(out)])
    assert code == 2
    assert "unknown activation 'nope'" in capsys.readouterr().err
    assert not out.exists()


def test_cli_list_names_every_experiment(capsys):
    assert main(["experiment", "list"]) == 0
    output = capsys.readouterr().out
    for name in SEVEN:
        assert name in output


@pytest.fixture(scope="module")
def forward_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("forward")
    code = main(
        [
            "experiment",
            "forward",
            "--size",
            "small",
            "--activations",
            "tanh",
            "--inits",
            "normal(std=0.01),glorot_normal",
            "--out",
            str(out),
        ]
    )
    return code, out


def test_cli_forward_writes_results_with_claims(forward_run):
    code, out = forward_run
    result = json.loads((out / "results.json").read_text())
    assert code == 0
    assert result["experiment"] == "forward"
    assert result["size"] == "small"
    assert {item["id"] for item in result["claims"]} == {
        "tanh-small-vanishes",
        "tanh-glorot-gentle",
    }


def test_cli_forward_lists_claims_it_could_not_check(forward_run):
    _, out = forward_run
    result = json.loads((out / "results.json").read_text())
    assert "tanh-standard-saturates" in {item["id"] for item in result["not_checked"]}


def test_cli_forward_page_shows_claims_before_figures(forward_run):
    _, out = forward_run
    page = (out / "index.html").read_text()
    assert page.index("<th>claim</th>") < page.index("<figure>")
    assert (out / "forward-std.png").stat().st_size > 0


def test_cli_forward_same_seed_same_results(forward_run, tmp_path):
    _, out = forward_run
    again = tmp_path / "again"
    main(
        [
            "experiment",
            "forward",
            "--size",
            "small",
            "--activations",
            "tanh",
            "--inits",
            "normal(std=0.01),glorot_normal",
            "--out",
            str(again),
        ]
    )
    first = json.loads((out / "results.json").read_text())
    second = json.loads((again / "results.json").read_text())
    first.pop("timing")
    second.pop("timing")
    assert first == second


@pytest.fixture(scope="module")
def all_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("all")
    code = main(
        [
            "experiment",
            "all",
            "--size",
            "small",
            "--only",
            "backward,activations",
            "--check",
            "--out",
            str(out),
        ]
    )
    return code, out


def test_cli_all_check_exits_1_on_failed_claim(all_run):
    # At the small size gelu's magnitude drifts over 30 layers at its
    # forward gain, so one activations claim does not hold.
    code, _ = all_run
    assert code == 1


def test_cli_all_page_shows_failed_claim(all_run):
    _, out = all_run
    page = (out / "index.html").read_text()
    assert "DOES NOT HOLD" in page
    assert page.index("<h2>Claims</h2>") < page.index("<h2>backward:")


def test_cli_all_writes_each_experiment_folder(all_run):
    _, out = all_run
    index = json.loads((out / "results.json").read_text())
    assert [entry["experiment"] for entry in index["experiments"]] == [
        "backward",
        "activations",
    ]
    assert (out / "activations" / "results.json").exists()


def test_cli_all_rejects_unknown_only_name(tmp_path, capsys):
    code = main(["experiment", "all", "--only", "forward,nope", "--out", str(tmp_path)])
    assert code == 2
    assert "unknown experiment nope" in capsys.readouterr().err
