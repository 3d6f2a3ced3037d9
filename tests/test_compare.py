"""The comparison on digits: accuracies, symmetry counts, schema and reproducibility."""

import json
import math

import pytest
import torch

from initlab.errors import ConfigError
from initlab.experiments import compare
from initlab.experiments.compare import (
    CompareConfig,
    epochs_to_target,
    run_compare,
    split_inits,
)

# The done-when claims, checked at a smaller size than the default run: one
# seed and six epochs instead of five seeds and thirty.
FITTING_INITS = (
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
)
SMALL = CompareConfig(
    inits=("zeros", "constant(0.02)", *FITTING_INITS),
    seeds=1,
    epochs=6,
    probe_batch=64,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def result():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_compare(SMALL)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", FITTING_INITS)
def test_compare_scaled_inits_reach_090(result, name):
    assert result["inits"][name]["summary"]["test_accuracy_mean"] > 0.9


def test_compare_zeros_stays_near_chance(result):
    assert result["inits"]["zeros"]["summary"]["test_accuracy_mean"] < 0.3


def test_compare_zeros_one_neuron_per_layer(result):
    symmetry = result["symmetry"]["zeros"]
    assert symmetry["without_dropout"]["max"] == [1, 1, 1, 1, 1]
    assert symmetry["with_dropout"]["max"] == [1, 1, 1, 1, 1]


def test_compare_constant_without_dropout_stays_symmetric(result):
    symmetry = result["symmetry"]["constant(0.02)"]
    assert symmetry["without_dropout"]["max"] == [1, 1, 1, 1, 1]


def test_compare_constant_dropout_breaks_symmetry(result):
    symmetry = result["symmetry"]["constant(0.02)"]
    assert symmetry["with_dropout"]["dropout"] == 0.2
    assert all(count > 1 for count in symmetry["with_dropout"]["min"])


def test_compare_symmetry_only_for_constant_inits(result):
    assert sorted(result["symmetry"]) == ["constant(0.02)", "zeros"]


def test_compare_result_schema(result):
    for key in ("config", "inits", "symmetry", "timing"):
        assert key in result
    summary = result["inits"]["he_normal"]["summary"]
    for key in ("test_accuracy_mean", "test_accuracy_std", "epochs_to_90pct"):
        assert key in summary
    run = result["inits"]["he_normal"]["seeds"][0]
    assert len(run["history"]["test_accuracy"]) == SMALL.epochs + 1
    assert [layer["name"] for layer in run["activations"]] == [
        f"linear {depth}" for depth in range(1, 6)
    ]
    assert run["probe"]["layers"]


def test_compare_result_is_json(result):
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result


def test_compare_epochs_to_90pct_matches_definition(result):
    best = max(
        max(entry["mean"]["test_accuracy"]) for entry in result["inits"].values()
    )
    for name, entry in result["inits"].items():
        curve = entry["mean"]["test_accuracy"]
        epochs = entry["summary"]["epochs_to_90pct"]
        reached = [e for e, value in enumerate(curve) if value >= 0.9 * best]
        assert epochs == (reached[0] if reached else None), name


def test_compare_small_init_vanishes_at_init(result):
    # Activation std at init: he_normal keeps the signal, zeros has none.
    he = result["inits"]["he_normal"]["seeds"][0]["activations"]
    zeros = result["inits"]["zeros"]["seeds"][0]["activations"]
    assert he[-1]["std"] > 0.3
    assert zeros[-1]["std"] == 0.0


def test_compare_same_seed_same_results():
    config = CompareConfig(
        inits=("zeros", "he_normal"), seeds=1, epochs=1, probe_batch=32
    )
    first, second = run_compare(config), run_compare(config)
    first.pop("timing")
    second.pop("timing")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_compare_scheme_weights_come_from_init_stream(monkeypatch):
    from initlab.backends.torch import fill_
    from initlab.training import stream_generator

    captured = {}
    original = compare.train_replicas

    def capture(network, *args, **kwargs):
        captured["weight"] = network.weight(0, 1).detach().clone()
        return original(network, *args, **kwargs)

    monkeypatch.setattr(compare, "train_replicas", capture)
    run_compare(CompareConfig(inits=("glorot_uniform",), seeds=2, seed=3, epochs=1))
    expected = torch.empty(50, 64)
    fill_(
        expected,
        "glorot_uniform",
        generator=stream_generator(4, "init", "glorot_uniform"),
    )
    assert torch.equal(captured["weight"], expected)


def test_compare_data_dependent_init_records_cost():
    config = CompareConfig(
        inits=("lsuv", "he_normal"), seeds=1, epochs=1, probe_batch=64
    )
    result = run_compare(config)
    entry = result["inits"]["lsuv"]
    assert entry["kind"] == "data_dependent"
    assert entry["seeds"][0]["data_dependent"]["name"] == "lsuv"
    assert "seconds" not in entry["seeds"][0]["data_dependent"]
    seconds = result["timing"]["data_dependent_seconds"]["lsuv"]
    assert len(seconds) == 1
    assert seconds[0] > 0


def test_compare_rejects_data_dependent_without_module(monkeypatch):
    monkeypatch.setattr(compare, "_data_dependent_module", lambda: None)
    with pytest.raises(ConfigError, match="data-dependent") as error:
        run_compare(CompareConfig(inits=("lsuv",)))
    assert "'lsuv'" in str(error.value)


def test_compare_invalid_config_raises_before_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(compare, "train_replicas", fail)
    with pytest.raises(ConfigError, match="he_norml"):
        run_compare(CompareConfig(inits=("zeros", "he_norml")))


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("seeds", 0, "--seeds 0"),
        ("epochs", -1, "--epochs -1"),
        ("batch", 0, "--batch 0"),
        ("lr", 0.0, "--lr 0.0"),
        ("lr", math.inf, "--lr inf"),
        ("optimizer", "rmsprop", "--optimizer 'rmsprop'"),
        ("seed", -2, "--seed -2"),
        ("test_fraction", 1.0, "--test-fraction 1.0"),
        ("symmetry_dropout", 0.0, "--symmetry-dropout 0.0"),
        ("inits", (), "--inits"),
        ("inits", ("zeros", "zeros"), "list each init once"),
    ],
)
def test_compare_config_validate_names_option(field, value, fragment):
    config = CompareConfig(**{field: value})
    with pytest.raises(ConfigError) as error:
        config.validate()
    assert fragment in str(error.value)


def test_compare_config_from_mapping_unknown_key():
    with pytest.raises(ConfigError, match="unknown option 'epoch' in run.toml"):
        CompareConfig.from_mapping({"epoch": 3}, "run.toml")


def test_compare_config_from_mapping_wrong_type():
    with pytest.raises(ConfigError, match="seeds in run.toml: expected an integer"):
        CompareConfig.from_mapping({"seeds": "5"}, "run.toml")


def test_compare_config_from_mapping_reads_lists_and_numbers():
    config = CompareConfig.from_mapping(
        {"inits": ["zeros", "he_normal"], "lr": 1, "epochs": 4}, "run.toml"
    )
    assert config.inits == ("zeros", "he_normal")
    assert config.lr == 1.0
    assert config.epochs == 4


def test_compare_invalid_model_names_option():
    with pytest.raises(ConfigError, match="--model 'mlp:5x50:tahn'"):
        run_compare(CompareConfig(model="mlp:5x50:tahn"))


def test_split_inits_keeps_commas_inside_calls():
    assert split_inits("zeros, normal(mean=0, std=0.1),he_normal") == (
        "zeros",
        "normal(mean=0, std=0.1)",
        "he_normal",
    )


def test_epochs_to_target_first_epoch_or_none():
    assert epochs_to_target([0.1, 0.5, 0.85, 0.95], best=0.95) == 3
    assert epochs_to_target([0.1, 0.2], best=0.95) is None
