"""Scheme names, aliases, the spec parser and its error messages."""

import math
import re

import pytest

from initlab import schemes as s
from initlab.errors import SchemeError
from initlab.fans import Fans
from initlab.gains import calculate_gain
from initlab.registry import (
    DATA_DEPENDENT,
    REGISTRY,
    build_scheme,
    known_names,
    lookup,
    parse_scheme,
)

KERAS_CLASS_NAMES = [
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "LecunNormal",
    "LecunUniform",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Orthogonal",
    "Identity",
]
TORCH_FUNCTION_NAMES = [
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]
# Arguments for entries whose factory has a required argument.
REQUIRED_ARGS = {"sparse": {"sparsity": 0.1}}


def _build_default(entry):
    return build_scheme(entry.name, **REQUIRED_ARGS.get(entry.name, {}))


def test_registry_names_are_unique():
    names = [name for entry in REGISTRY for name in (entry.name, *entry.aliases)]
    assert len(names) == len(set(names))


def test_registry_ids_are_snake_case():
    for entry in REGISTRY:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.name), entry.name


@pytest.mark.parametrize("name", KERAS_CLASS_NAMES)
def test_registry_has_keras_class_name(name):
    assert lookup(name) in REGISTRY


@pytest.mark.parametrize("name", TORCH_FUNCTION_NAMES)
def test_registry_has_torch_function_name(name):
    assert lookup(name) in REGISTRY
    assert lookup(name.rstrip("_")) is lookup(name)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("xavier_uniform", "glorot_uniform"),
        ("xavier_normal", "glorot_normal"),
        ("kaiming_uniform", "he_uniform"),
        ("kaiming_normal", "he_normal"),
        ("eye", "identity"),
        ("HeNormal", "he_truncated_normal"),
        ("GlorotNormal", "glorot_truncated_normal"),
        ("LecunNormal", "lecun_truncated_normal"),
        ("trunc_normal_", "trunc_normal_absolute"),
        ("TruncatedNormal", "truncated_normal"),
    ],
)
def test_lookup_alias(alias, name):
    assert lookup(alias).name == name


def test_lookup_is_case_insensitive_as_fallback():
    assert lookup("He_Normal").name == "he_normal"


def test_he_normal_truncation_by_name():
    assert parse_scheme("he_normal").distribution == "untruncated_normal"
    assert parse_scheme("kaiming_normal_").distribution == "untruncated_normal"
    assert parse_scheme("HeNormal").distribution == "truncated_normal"


def test_keras_class_names_use_keras_arithmetic():
    assert parse_scheme("GlorotUniform").convention == "keras"
    assert parse_scheme("HeUniform").convention == "keras"
    assert parse_scheme("glorot_uniform").convention == "torch"
    assert parse_scheme("kaiming_uniform").convention == "torch"


def test_keras_glorot_uniform_bound_exact():
    fans = Fans(30, 10)
    keras_limit = math.sqrt(3.0 * (1.0 / max(1.0, (30 + 10) / 2.0)))
    assert parse_scheme("GlorotUniform").bound(fans) == keras_limit


def test_parse_scheme_examples():
    assert parse_scheme("he_normal") == s.he_normal()
    assert parse_scheme("normal(std=0.01)") == s.Normal(0.0, 0.01)
    scheme = parse_scheme(
        'variance_scaling(scale=2.0, mode="fan_out", distribution="uniform")'
    )
    assert scheme == s.VarianceScaling(2.0, "fan_out", "uniform")


def test_parse_scheme_passes_scheme_through():
    scheme = s.Orthogonal(2.0)
    assert parse_scheme(scheme) is scheme


def test_parse_scheme_strips_whitespace():
    assert parse_scheme("  he_uniform  ") == s.he_uniform()


def test_parse_scheme_positional_and_negative_literals():
    assert parse_scheme("uniform(-0.5, 0.5)") == s.Uniform(-0.5, 0.5)


@pytest.mark.parametrize(
    "spec", ["constant(0.5)", "constant(value=0.5)", "constant_(val=0.5)"]
)
def test_parse_scheme_constant_spellings(spec):
    assert parse_scheme(spec) == s.Constant(0.5)


def test_parse_scheme_kaiming_slope_uses_torch_table():
    scheme = parse_scheme("kaiming_normal_(a=0.1)")
    assert scheme.gain == calculate_gain("leaky_relu", 0.1)


def test_parse_scheme_kaiming_nonlinearity_and_mode():
    scheme = parse_scheme('kaiming_uniform(nonlinearity="tanh", mode="fan_out")')
    assert scheme.gain == 5.0 / 3
    assert scheme.mode == "fan_out"


def test_parse_scheme_keras_defaults():
    assert parse_scheme("RandomNormal") == s.Normal(0.0, 0.05)
    assert parse_scheme("RandomUniform") == s.Uniform(-0.05, 0.05)
    assert parse_scheme("TruncatedNormal") == s.TruncatedNormalStdUnits(0.0, 0.05)


def test_parse_scheme_torch_defaults():
    assert parse_scheme("normal_") == s.Normal(0.0, 1.0)
    assert parse_scheme("uniform_") == s.Uniform(0.0, 1.0)
    assert parse_scheme("trunc_normal_") == s.TruncatedNormalAbsolute(0.0, 1.0, -2, 2)


def test_parse_scheme_variance_scaling_convention():
    scheme = parse_scheme('variance_scaling(scale=2.0, convention="torch")')
    assert scheme.convention == "torch"


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_spec_round_trips_default(entry):
    scheme = _build_default(entry)
    assert parse_scheme(scheme.spec()) == scheme


@pytest.mark.parametrize(
    "spec",
    [
        "he_normal(mode='fan_out')",
        "kaiming_normal_(a=0.2, mode='fan_out')",
        "glorot_uniform(gain=1.5)",
        "variance_scaling(scale=0.5, mode='fan_avg', distribution='uniform')",
        "variance_scaling(scale=2.0, convention='torch')",
        "normal(mean=1.0, std=0.5)",
        "trunc_normal_absolute(mean=0.5, std=0.1, a=0.0, b=1.0)",
        "trunc_normal_std_units(std=0.1, lower=-3.0, upper=1.0)",
        "orthogonal(gain=2.0)",
        "identity(gain=0.5)",
        "dirac(groups=2)",
        "sparse(sparsity=0.3, std=0.02)",
        "constant(-1.5)",
        "GlorotUniform",
        "HeUniform",
    ],
)
def test_spec_round_trips_with_arguments(spec):
    scheme = parse_scheme(spec)
    assert parse_scheme(scheme.spec()) == scheme


def test_named_scheme_spec_is_its_name():
    assert s.he_normal().spec() == "he_normal"
    assert s.torch_default().spec() == "torch_default"


def test_custom_label_does_not_break_spec():
    scheme = s.VarianceScaling(2.0, name="my favourite")
    assert scheme.label == "my favourite"
    assert parse_scheme(scheme.spec()) == scheme


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("he_norml", "he_normal"),
        ("xavier_unifrom", "xavier_uniform"),
        ("orthogonl", "orthogonal"),
        ("GlorotUnifrom", "GlorotUniform"),
    ],
)
def test_unknown_name_lists_closest(name, closest):
    with pytest.raises(SchemeError) as raised:
        parse_scheme(name)
    message = str(raised.value)
    assert f"unknown scheme {name!r}" in message
    assert "did you mean" in message
    assert closest in message


def test_unknown_name_is_value_error():
    with pytest.raises(ValueError, match="initlab schemes"):
        lookup("completely_unrelated_word_xyz")


@pytest.mark.parametrize("name", ["lsuv", "pretrained", "LSUV"])
def test_data_dependent_name_explains(name):
    with pytest.raises(SchemeError, match="data-dependent initializer"):
        parse_scheme(name)


def test_data_dependent_entries():
    assert [entry.name for entry in DATA_DEPENDENT] == ["lsuv", "pretrained"]
    for entry in DATA_DEPENDENT:
        assert entry.description
        assert re.search(r"(19|20)\d\d", entry.source)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("normal(std=-1)", ["'normal'", "std must be >= 0", "std=-1"]),
        ("he_normal(mode='fan_mid')", ["invalid mode 'fan_mid'", "fan_in, fan_out"]),
        ("sparse(sparsity=2)", ["sparsity must be in [0, 1]"]),
        ("variance_scaling(scale=-2.0)", ["scale must be > 0"]),
        (
            "variance_scaling(distribution='normal')",
            ["ambiguous", "untruncated_normal"],
        ),
        ("normal(sd=1)", ["'normal'", "it takes: mean=0.0, std=1.0"]),
        ("sparse()", ["it takes: sparsity, std=0.01"]),
        ("zeros(1)", ["it takes: no arguments"]),
        ("normal(std=math.sqrt(2))", ["arguments must be literals"]),
        ("normal(**{'std': 1})", ["** unpacking is not allowed"]),
        ("normal(std=", ["expected NAME or NAME(arg=value, ...)"]),
        ("initlab.he_normal", ["expected NAME or NAME(arg=value, ...)"]),
        ("he_normal + 1", ["expected NAME or NAME(arg=value, ...)"]),
        ("glorot_uniform(gain='big')", ["gain must be a finite number"]),
        ("kaiming_normal_(a=True)", ["not a valid number"]),
        ("kaiming_normal_(nonlinearity='gelu')", ["Unsupported nonlinearity gelu"]),
    ],
)
def test_parse_scheme_invalid(spec, fragments):
    with pytest.raises(SchemeError) as raised:
        parse_scheme(spec)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("value", [None, 3, ["he_normal"]])
def test_parse_scheme_rejects_non_string(value):
    with pytest.raises(SchemeError, match="a name, a spec string or a Scheme"):
        parse_scheme(value)


def test_lookup_rejects_non_string():
    with pytest.raises(SchemeError, match="must be a string"):
        lookup(3)


def test_known_names_sorted_and_complete():
    names = known_names()
    assert names == sorted(names)
    assert "GlorotUniform" in names
    assert "kaiming_normal_" in names


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_registry_entry_describes_distribution(entry):
    assert entry.distribution


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_registry_entry_has_table_formula(entry):
    formula = entry.formula or _build_default(entry).formula()
    assert formula
