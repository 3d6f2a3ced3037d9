"""initlab.keras side by side with Keras 3 (torch backend), or with scipy.stats without Keras."""

import math
import os

# Keras picks its backend once, at import.
os.environ["KERAS_BACKEND"] = "torch"

import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

import initlab.keras as ik  # noqa: E402
from initlab.errors import SchemeError  # noqa: E402
from initlab.fans import compute_fans  # noqa: E402

try:
    import keras
    from keras.src.initializers import random_initializers as keras_random

    KERAS_SKIP = (
        ""
        if keras.backend.backend() == "torch"
        else f"keras runs on the {keras.backend.backend()} backend, not torch"
    )
except ImportError as error:
    keras = None
    KERAS_SKIP = f"keras is not importable ({error})"

requires_keras = pytest.mark.skipif(
    bool(KERAS_SKIP),
    reason=f"{KERAS_SKIP}; the scipy.stats tests in this module cover the same initializers",
)

KERAS_FACTOR = 0.87962566103423978
SHAPE = (3, 3, 48, 40)  # Keras layout: fan_in 432, fan_out 360
FAN_IN, FAN_OUT = 3 * 3 * 48, 3 * 3 * 40

# (class name, constructor arguments) for every random initializer.
RANDOM_CASES = [
    ("RandomNormal", {}),
    ("RandomNormal", {"mean": 0.5, "stddev": 2.0}),
    ("RandomUniform", {}),
    ("RandomUniform", {"minval": -1.0, "maxval": 3.0}),
    ("TruncatedNormal", {}),
    ("TruncatedNormal", {"mean": 1.0, "stddev": 0.5}),
    *[
        ("VarianceScaling", {"scale": 2.0, "mode": mode, "distribution": distribution})
        for mode in ("fan_in", "fan_out", "fan_avg")
        for distribution in ("truncated_normal", "untruncated_normal", "uniform")
    ],
    ("VarianceScaling", {"scale": 0.5, "distribution": "normal"}),
    ("LecunNormal", {}),
    ("LecunUniform", {}),
    ("GlorotNormal", {}),
    ("GlorotUniform", {}),
    ("HeNormal", {}),
    ("HeUniform", {}),
]
CASE_IDS = [f"{name}{kwargs}" for name, kwargs in RANDOM_CASES]

EVERY_CLASS = [
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
    "Zeros",
    "Ones",
    "Constant",
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny QRs and fills spend more time waking a second thread than
    # computing, and much more on a loaded machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ours(name, kwargs, shape=SHAPE, seed=1, dtype=None):
    return getattr(ik, name)(seed=seed, **kwargs)(shape, dtype)


def _expected(name, kwargs):
    """Return ("normal" | "uniform" | "truncated", mean, std or bound) by Keras's formulas."""
    if name == "RandomNormal":
        return "normal", kwargs.get("mean", 0.0), kwargs.get("stddev", 0.05)
    if name == "RandomUniform":
        return "uniform", kwargs.get("minval", -0.05), kwargs.get("maxval", 0.05)
    if name == "TruncatedNormal":
        return "truncated", kwargs.get("mean", 0.0), kwargs.get("stddev", 0.05)
    scale, mode, distribution = {
        "LecunNormal": (1.0, "fan_in", "truncated_normal"),
        "LecunUniform": (1.0, "fan_in", "uniform"),
        "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
        "GlorotUniform": (1.0, "fan_avg", "uniform"),
        "HeNormal": (2.0, "fan_in", "truncated_normal"),
        "HeUniform": (2.0, "fan_in", "uniform"),
    }.get(
        name,
        (
            kwargs.get("scale", 1.0),
            kwargs.get("mode", "fan_in"),
            kwargs.get("distribution", "truncated_normal"),
        ),
    )
    n = {"fan_in": FAN_IN, "fan_out": FAN_OUT, "fan_avg": (FAN_IN + FAN_OUT) / 2}[mode]
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        return "uniform", -limit, limit
    if distribution == "untruncated_normal":
        return "normal", 0.0, math.sqrt(scale / n)
    return "truncated", 0.0, math.sqrt(scale / n) / KERAS_FACTOR


def _frozen(kind, first, second):
    if kind == "normal":
        return stats.norm(first, second)
    if kind == "uniform":
        return stats.uniform(first, second - first)
    return stats.truncnorm(-2.0, 2.0, loc=first, scale=second)


# Against Keras itself.


@pytest.fixture
def keras_calls(monkeypatch):
    """Record the arguments Keras's initializers pass to its random functions."""
    calls = []
    for function in ("normal", "uniform", "truncated_normal"):
        original = getattr(keras_random.random, function)

        def spy(*args, _original=original, _function=function, **kwargs):
            calls.append((_function, kwargs))
            return _original(*args, **kwargs)

        monkeypatch.setattr(keras_random.random, function, spy)
    return calls


@requires_keras
@pytest.mark.parametrize(("name", "kwargs"), RANDOM_CASES, ids=CASE_IDS)
def test_random_matches_keras_sample(name, kwargs):
    ours = _ours(name, kwargs).flatten().numpy()
    theirs = getattr(keras.initializers, name)(seed=2, **kwargs)(SHAPE)
    theirs = theirs.detach().cpu().flatten().numpy()
    pvalue = stats.ks_2samp(ours, theirs).pvalue
    assert pvalue > 0.01, f"{name}{kwargs}: KS p={pvalue:.3g}"


@requires_keras
@pytest.mark.parametrize(("name", "kwargs"), RANDOM_CASES, ids=CASE_IDS)
def test_random_same_bounds_as_keras(name, kwargs, keras_calls):
    getattr(keras.initializers, name)(seed=2, **kwargs)(SHAPE)
    # The first call is the initializer's own; a truncated normal calls normal inside.
    (function, arguments) = keras_calls[0]
    ours = getattr(ik, name)(seed=1, **kwargs).scheme
    resolved = ours.resolve(compute_fans(SHAPE, "keras"), SHAPE, "keras")
    if function == "uniform":
        assert (resolved.low, resolved.high) == (
            arguments["minval"],
            arguments["maxval"],
        )
    elif function == "normal":
        assert (resolved.mean, resolved.std) == (
            arguments["mean"],
            arguments["stddev"],
        )
    else:
        # Keras cuts at mean +- 2 stddev of the parent normal.
        assert resolved.std == arguments["stddev"]
        assert resolved.low == arguments["mean"] - 2 * arguments["stddev"]
        assert resolved.high == arguments["mean"] + 2 * arguments["stddev"]


@requires_keras
@pytest.mark.parametrize("shape", [(64, 24), (24, 64), (3, 3, 16, 8)])
def test_orthogonal_matches_keras(shape):
    ours = ik.Orthogonal(gain=1.5, seed=1)(shape)
    theirs = keras.initializers.Orthogonal(gain=1.5, seed=2)(shape).detach().cpu()
    assert ours.shape == theirs.shape
    pvalue = stats.ks_2samp(ours.flatten().numpy(), theirs.flatten().numpy()).pvalue
    assert pvalue > 0.01
    for values in (ours, theirs):
        matrix = values.double().reshape(-1, shape[-1])
        small = min(matrix.shape)
        gram = (
            matrix.t() @ matrix
            if matrix.shape[0] >= matrix.shape[1]
            else matrix @ matrix.t()
        )
        assert torch.allclose(
            gram, 2.25 * torch.eye(small, dtype=torch.float64), atol=1e-4
        )


@requires_keras
@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("Identity", {}, (4, 6)),
        ("Identity", {"gain": 2.5}, (5, 3)),
        ("Zeros", {}, SHAPE),
        ("Ones", {}, SHAPE),
        ("Constant", {"value": -0.75}, SHAPE),
    ],
)
def test_constant_matches_keras(name, kwargs, shape):
    ours = getattr(ik, name)(**kwargs)(shape)
    theirs = getattr(keras.initializers, name)(**kwargs)(shape).detach().cpu()
    assert torch.equal(ours, theirs)


@requires_keras
@pytest.mark.parametrize("name", EVERY_CLASS)
def test_config_matches_keras(name):
    ours = getattr(ik, name)().get_config()
    theirs = getattr(keras.initializers, name)().get_config()
    if name == "Identity":
        # Keras 3.15 drops Identity's gain from its config; initlab keeps it.
        theirs = {**theirs, "gain": 1.0}
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if key != "seed":
            assert ours[key] == value, key


@requires_keras
@pytest.mark.parametrize(
    "identifier",
    [
        "he_normal",
        "HeNormal",
        "glorot_uniform",
        "normal",
        "uniform",
        "zero",
        "one",
        "orthogonal",
        "variance_scaling",
        "OrthogonalInitializer",
        {"class_name": "VarianceScaling", "config": {"scale": 3.0, "mode": "fan_out"}},
    ],
)
def test_get_matches_keras(identifier):
    ours = ik.get(identifier)
    theirs = keras.initializers.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config().keys() == theirs.get_config().keys()


@requires_keras
def test_get_round_trips_keras_serialization():
    serialized = keras.initializers.serialize(keras.initializers.HeNormal(seed=3))
    ours = ik.get(serialized)
    assert isinstance(ours, ik.HeNormal)
    assert ours.seed == 3


# Against scipy.stats, with or without Keras.


@pytest.mark.parametrize(("name", "kwargs"), RANDOM_CASES, ids=CASE_IDS)
def test_random_matches_scipy(name, kwargs):
    kind, first, second = _expected(name, kwargs)
    values = _ours(name, kwargs).double()
    pvalue = stats.kstest(
        values.flatten().numpy(), _frozen(kind, first, second).cdf
    ).pvalue
    assert pvalue > 0.01, f"{name}{kwargs}: KS p={pvalue:.3g}"


@pytest.mark.parametrize(("name", "kwargs"), RANDOM_CASES, ids=CASE_IDS)
def test_random_bounds_match_formula(name, kwargs):
    kind, first, second = _expected(name, kwargs)
    resolved = getattr(ik, name)(**kwargs).scheme.resolve(
        compute_fans(SHAPE, "keras"), SHAPE, "keras"
    )
    if kind == "uniform":
        assert resolved.low == pytest.approx(first, rel=1e-15)
        assert resolved.high == pytest.approx(second, rel=1e-15)
    elif kind == "normal":
        assert resolved.std == pytest.approx(second, rel=1e-15)
    else:
        assert resolved.std == pytest.approx(second, rel=1e-15)
        assert resolved.high == pytest.approx(first + 2 * second, rel=1e-15)
        assert resolved.low == pytest.approx(first - 2 * second, rel=1e-15)


@pytest.mark.parametrize(("name", "kwargs"), RANDOM_CASES, ids=CASE_IDS)
def test_random_values_inside_bounds(name, kwargs):
    kind, first, second = _expected(name, kwargs)
    if kind == "normal":
        return
    low, high = (
        (first, second)
        if kind == "uniform"
        else (first - 2 * second, first + 2 * second)
    )
    values = _ours(name, kwargs)
    assert values.min().item() >= low * (1 + 1e-6) - 1e-7
    assert values.max().item() <= high * (1 + 1e-6) + 1e-7


def test_he_normal_fan_in_256_scale():
    values = ik.HeNormal(seed=0)((256, 128)).double()
    assert values.abs().max().item() <= 0.200968 + 1e-6
    assert values.std().item() == pytest.approx(0.088388, rel=0.02)


def test_glorot_uniform_fans_100_50_bound():
    values = ik.GlorotUniform(seed=0)((100, 50))
    assert values.abs().max().item() <= 0.2
    assert values.abs().max().item() > 0.199


# Behaviour of the classes themselves.


def test_seeded_calls_repeat():
    initializer = ik.HeUniform(seed=5)
    assert torch.equal(initializer((30, 20)), initializer((30, 20)))


def test_unseeded_calls_repeat():
    # Keras 3: an unseeded initializer returns the same values on every call.
    initializer = ik.GlorotNormal()
    assert torch.equal(initializer((30, 20)), initializer((30, 20)))


def test_generator_seed_advances():
    initializer = ik.RandomNormal(seed=torch.Generator().manual_seed(0))
    assert not torch.equal(initializer((30, 20)), initializer((30, 20)))
    assert initializer.get_config()["seed"] is None


def test_different_seeds_differ():
    assert not torch.equal(ik.HeNormal(seed=1)((30, 20)), ik.HeNormal(seed=2)((30, 20)))


@pytest.mark.parametrize("seed", [1.5, "3", True])
def test_invalid_seed_rejected(seed):
    with pytest.raises(ValueError, match="seed must be"):
        ik.RandomNormal(seed=seed)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (None, torch.float32),
        ("float64", torch.float64),
        ("bfloat16", torch.bfloat16),
        (torch.float16, torch.float16),
    ],
)
def test_dtype_argument(dtype, expected):
    values = ik.HeNormal(seed=0)((40, 30), dtype)
    assert values.dtype == expected
    assert torch.isfinite(values).all()
    assert values.abs().max().item() <= 2 * math.sqrt(2 / 40) / KERAS_FACTOR * 1.01


def test_invalid_dtype_rejected():
    with pytest.raises(ValueError, match="invalid dtype"):
        ik.Zeros()((2, 2), "float33")


def test_integer_dtype_for_constants():
    assert ik.Ones()((2, 3), "int32").dtype == torch.int32
    with pytest.raises(NotImplementedError):
        ik.RandomNormal(seed=0)((2, 3), "int32")


@pytest.mark.parametrize("name", EVERY_CLASS)
def test_config_round_trip(name):
    initializer = getattr(ik, name)()
    rebuilt = type(initializer).from_config(initializer.get_config())
    assert rebuilt.get_config() == initializer.get_config()
    assert type(initializer.clone()) is type(initializer)


@pytest.mark.parametrize("name", EVERY_CLASS)
def test_zero_size_shape_is_empty(name):
    values = getattr(ik, name)()((0, 4))
    assert values.shape == (0, 4)


def test_fans_of_small_shapes_follow_keras():
    # 1-D (n,) has fans n, n and 0-D has 1, 1.
    assert ik.LecunUniform(seed=0)((9,)).abs().max().item() <= math.sqrt(3 / 9)
    assert ik.LecunUniform(seed=0)(()).abs().item() <= math.sqrt(3.0)


def test_variance_scaling_explicit_axes():
    # Keras multiplies only the named axes, with no receptive field.
    initializer = ik.VarianceScaling(
        2.0, "fan_out", "uniform", seed=0, input_axes=[0], output_axes=[1]
    )
    values = initializer((10, 20, 30))
    limit = math.sqrt(3 * 2.0 / 20)
    assert values.abs().max().item() <= limit
    assert values.abs().max().item() > 0.99 * limit


def test_variance_scaling_normal_reads_truncated():
    initializer = ik.VarianceScaling(distribution="Normal")
    assert initializer.distribution == "truncated_normal"


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 0.0}, {"scale": -1.0}, {"mode": "fan_sum"}, {"distribution": "gamma"}],
)
def test_variance_scaling_invalid_arguments(kwargs):
    with pytest.raises(SchemeError):
        ik.VarianceScaling(**kwargs)


@pytest.mark.parametrize(
    ("name", "shape"), [("Orthogonal", (5,)), ("Identity", (2, 2, 2))]
)
def test_structured_shape_errors(name, shape):
    with pytest.raises(ValueError, match="dimensions|2-D"):
        getattr(ik, name)()(shape)


def test_get_unknown_name_suggests():
    with pytest.raises(ValueError, match="glorot_uniform"):
        ik.get("glorot_unifrom")


def test_get_passes_through():
    initializer = ik.Zeros()
    assert ik.get(initializer) is initializer
    assert ik.get(None) is None
    assert isinstance(ik.get(ik.HeUniform), ik.HeUniform)
    assert ik.get(torch.zeros_like) is torch.zeros_like


def test_get_rejects_config_without_class_name():
    with pytest.raises(ValueError, match="class_name"):
        ik.get({"config": {}})
