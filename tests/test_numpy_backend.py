"""NumPy backend: reproducible draws, distributions by KS test, structure, errors."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from initlab import schemes as s
from initlab.backends.numpy import as_generator, sample, truncated_normal
from initlab.distributions import TruncatedNormal
from initlab.errors import SchemeError, ShapeError
from initlab.registry import REGISTRY, build_scheme

# KS tests use this many values at a fixed seed and need p > P_FLOOR.
N = 40_000
P_FLOOR = 0.01
REQUIRED_ARGS = {"sparse": {"sparsity": 0.2}}


def _ks_pvalue(values, cdf):
    return stats.kstest(np.ravel(values), cdf).pvalue


def _random_entries():
    entries = []
    for entry in REGISTRY:
        scheme = build_scheme(entry.name, **REQUIRED_ARGS.get(entry.name, {}))
        if scheme.kind != "constant" and entry.name not in ("identity", "dirac"):
            entries.append(entry)
    return entries


def _shape_for(name):
    return (6, 4, 3, 3) if name == "dirac" else (24, 16)


# Reproducibility.


@pytest.mark.parametrize("entry", _random_entries(), ids=lambda e: e.name)
def test_sample_same_seed_same_numbers(entry):
    scheme = build_scheme(entry.name, **REQUIRED_ARGS.get(entry.name, {}))
    first = sample(scheme, (24, 16), rng=7)
    second = sample(scheme, (24, 16), rng=7)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("entry", _random_entries(), ids=lambda e: e.name)
def test_sample_different_seeds_differ(entry):
    scheme = build_scheme(entry.name, **REQUIRED_ARGS.get(entry.name, {}))
    assert not np.array_equal(
        sample(scheme, (24, 16), rng=7), sample(scheme, (24, 16), rng=8)
    )


def test_sample_generator_advances():
    rng = np.random.default_rng(3)
    first = sample("he_normal", (8, 8), rng=rng)
    second = sample("he_normal", (8, 8), rng=rng)
    assert not np.array_equal(first, second)


def test_sample_seed_equals_generator_with_that_seed():
    from_seed = sample("glorot_uniform", (8, 8), rng=11)
    from_generator = sample("glorot_uniform", (8, 8), rng=np.random.default_rng(11))
    assert np.array_equal(from_seed, from_generator)


def test_sample_sparse_mask_follows_seed():
    first = sample("sparse(sparsity=0.5)", (10, 40), rng=5) == 0
    second = sample("sparse(sparsity=0.5)", (10, 40), rng=5) == 0
    other = sample("sparse(sparsity=0.5)", (10, 40), rng=6) == 0
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_sample_orthogonal_follows_seed():
    assert np.array_equal(
        sample("orthogonal", (5, 7), rng=2), sample("orthogonal", (5, 7), rng=2)
    )


# Distributions against scipy at a fixed seed.


def test_sample_normal_ks():
    values = sample("normal(mean=0.5, std=2.0)", (N,), rng=0, dtype=np.float64)
    assert _ks_pvalue(values, stats.norm(0.5, 2.0).cdf) > P_FLOOR


def test_sample_uniform_ks():
    values = sample("uniform(a=-0.3, b=0.7)", (N,), rng=0, dtype=np.float64)
    assert _ks_pvalue(values, stats.uniform(-0.3, 1.0).cdf) > P_FLOOR


def test_sample_he_normal_ks_against_target_std():
    shape = (200, N // 200)
    values = sample("he_normal", shape, rng=1, dtype=np.float64)
    std = math.sqrt(2 / shape[1])
    assert _ks_pvalue(values, stats.norm(0, std).cdf) > P_FLOOR


def test_sample_glorot_uniform_ks():
    shape = (100, N // 100)
    values = sample("glorot_uniform", shape, rng=1, dtype=np.float64)
    bound = math.sqrt(6 / sum(shape))
    assert _ks_pvalue(values, stats.uniform(-bound, 2 * bound).cdf) > P_FLOOR


TRUNCATED_CASES = [
    # PyTorch, absolute cut-offs: std 0.02 cut at +-0.04 is +-2 std.
    (
        "trunc_normal_absolute(std=0.02, a=-0.04, b=0.04)",
        stats.truncnorm(-2, 2, scale=0.02),
    ),
    (
        "trunc_normal_absolute(mean=1.0, std=1.0, a=0.0, b=4.0)",
        stats.truncnorm(-1, 3, loc=1.0),
    ),
    # TF and JAX, cut-offs in parent stds.
    (
        "trunc_normal_std_units(std=0.5, lower=-1.0, upper=3.0)",
        stats.truncnorm(-1, 3, scale=0.5),
    ),
    ("TruncatedNormal", stats.truncnorm(-2, 2, scale=0.05)),
    # Keras variance scaling: parent std corrected by 0.8796, cut at +-2 of it.
    (
        "he_truncated_normal",
        stats.truncnorm(-2, 2, scale=math.sqrt(2 / 200) / 0.87962566103423978),
    ),
]


@pytest.mark.parametrize(("spec", "reference"), TRUNCATED_CASES)
def test_sample_truncated_conventions_ks(spec, reference):
    values = sample(spec, (N // 200, 200), rng=2, dtype=np.float64, layout="torch")
    assert _ks_pvalue(values, reference.cdf) > P_FLOOR


def test_sample_he_truncated_normal_value_std():
    values = sample("HeNormal", (256, 400), rng=3, layout="keras", dtype=np.float64)
    assert values.std() == pytest.approx(math.sqrt(2 / 256), rel=0.01)
    assert np.abs(values).max() <= 2 * math.sqrt(2 / 256) / 0.87962566103423978


@pytest.mark.parametrize(("low", "high"), [(2.0, 3.0), (5.0, 6.0), (-6.0, -5.0)])
def test_truncated_normal_narrow_tail_ks(low, high):
    spec = f"trunc_normal_absolute(std=1.0, a={low}, b={high})"
    values = sample(spec, (N,), rng=4, dtype=np.float64)
    assert _ks_pvalue(values, stats.truncnorm(low, high).cdf) > P_FLOOR


@pytest.mark.parametrize(("low", "high"), [(2.0, 3.0), (5.0, 6.0), (-6.0, -5.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_truncated_normal_narrow_tail_not_on_bounds(low, high, dtype):
    spec = f"trunc_normal_absolute(std=1.0, a={low}, b={high})"
    values = sample(spec, (N,), rng=4, dtype=dtype)
    on_bound = np.mean((values == dtype(low)) | (values == dtype(high)))
    assert on_bound <= 0.001
    assert values.min() >= low
    assert values.max() <= high


def test_truncated_normal_far_tail_values_are_continuous():
    # torch.special.ndtri on float32 uniforms gives 5 distinct values on [5, 6].
    values = sample("trunc_normal_absolute(std=1.0, a=5.0, b=6.0)", (N,), rng=4)
    assert len(np.unique(values)) > N // 2


def test_truncated_normal_extreme_tail():
    d = TruncatedNormal(0.0, 1.0, 40.0, 41.0)
    values = truncated_normal(d, (1000,), np.random.default_rng(0))
    assert np.all((values >= 40.0) & (values <= 41.0))
    # Far in the tail the density is about exp(-40 z), so most mass is near 40.
    assert np.median(values) < 40.05


def test_truncated_normal_float32_stays_inside_unrepresentable_bound():
    # 0.1 has no float32 value; the nearest, 0.100000001, lies outside.
    values = sample("trunc_normal_absolute(std=1.0, a=-0.1, b=0.1)", (N,), rng=5)
    assert values.dtype == np.float32
    assert float(values.max()) <= 0.1
    assert float(values.min()) >= -0.1


def test_truncated_normal_zero_std_fills_clipped_mean():
    values = sample(
        "trunc_normal_absolute(mean=3.0, std=0.0, a=-1.0, b=1.0)", (4, 4), rng=0
    )
    assert np.all(values == 1.0)


def test_sample_sparse_std():
    values = sample(
        "sparse(sparsity=0.25, std=0.5)", (100, 400), rng=6, dtype=np.float64
    )
    nonzero = values[values != 0]
    assert _ks_pvalue(nonzero, stats.norm(0, 0.5).cdf) > P_FLOOR


# Structure.


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((3, 8), "torch"),
        ((8, 3), "torch"),
        ((6, 2, 3, 3), "torch"),
        ((3, 3, 2, 6), "keras"),
    ],
)
def test_sample_orthogonal_is_orthogonal(shape, layout):
    values = sample(
        "orthogonal(gain=2.0)", shape, rng=0, layout=layout, dtype=np.float64
    )
    if layout == "keras":
        matrix = values.reshape(-1, shape[-1])
    else:
        matrix = values.reshape(shape[0], -1)
    rows, cols = matrix.shape
    gram = matrix @ matrix.T if rows <= cols else matrix.T @ matrix
    assert np.allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-12)


def test_sample_orthogonal_signs_are_haar():
    # Without the sign fix from R's diagonal, QR of a Gaussian matrix gives
    # a first row with a fixed sign pattern more often than chance.
    firsts = np.array(
        [sample("orthogonal", (4, 4), rng=seed)[0, 0] for seed in range(400)]
    )
    assert 0.4 < np.mean(firsts > 0) < 0.6


@pytest.mark.parametrize(
    ("sparsity", "zeros"), [(0.25, 3), (0.1, 1), (0.0, 0), (1.0, 10)]
)
def test_sample_sparse_zeros_per_column(sparsity, zeros):
    values = sample(f"sparse(sparsity={sparsity})", (10, 50), rng=0)
    assert np.all(np.sum(values == 0, axis=0) == zeros)


def test_sample_dirac_structure():
    values = sample("dirac", (4, 2, 3), rng=0)
    expected = np.zeros((4, 2, 3), dtype=np.float32)
    expected[0, 0, 1] = 1
    expected[1, 1, 1] = 1
    assert np.array_equal(values, expected)


def test_sample_dirac_groups_structure():
    values = sample("dirac(groups=2)", (8, 3, 3, 3), rng=0)
    expected = np.zeros((8, 3, 3, 3), dtype=np.float32)
    for group in range(2):
        for channel in range(3):
            expected[group * 4 + channel, channel, 1, 1] = 1
    assert np.array_equal(values, expected)


def test_sample_dirac_matches_torch():
    import torch

    tensor = torch.empty(8, 3, 5, 5)
    torch.nn.init.dirac_(tensor, groups=2)
    assert np.array_equal(sample("dirac(groups=2)", (8, 3, 5, 5)), tensor.numpy())


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_sample_identity_structure(shape):
    values = sample("identity(gain=0.5)", shape)
    assert np.array_equal(values, 0.5 * np.eye(*shape, dtype=np.float32))


def test_sample_constant():
    assert np.all(sample("constant(0.25)", (3, 4)) == 0.25)


# dtypes.


@pytest.mark.parametrize("spec", ["zeros", "ones", "identity", "dirac"])
def test_sample_exact_schemes_accept_integer_dtype(spec):
    shape = (4, 4, 3) if spec == "dirac" else (4, 4)
    values = sample(spec, shape, dtype=np.int32)
    assert values.dtype == np.int32


def test_sample_ones_bool_dtype():
    assert sample("ones", (2, 2), dtype=bool).all()


@pytest.mark.parametrize(
    "spec", ["he_normal", "uniform", "orthogonal", "sparse(sparsity=0.1)"]
)
def test_sample_random_scheme_rejects_integer_dtype(spec):
    with pytest.raises(NotImplementedError, match="floating-point dtype"):
        sample(spec, (4, 4), rng=0, dtype=np.int64)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sample_dtype(dtype):
    assert sample("he_normal", (4, 4), rng=0, dtype=dtype).dtype == dtype


# Degenerate shapes.


def test_sample_zero_element_warns_once_and_returns_empty():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = sample("he_normal", (0, 5), rng=0)
    assert values.shape == (0, 5)
    assert values.dtype == np.float32
    assert len(caught) == 1
    assert "no-op" in str(caught[0].message)
    assert caught[0].filename == __file__


def test_sample_zero_dims_keras_rule():
    value = sample("he_normal", (), rng=0, dtype=np.float64)
    assert value.shape == ()


def test_sample_one_dim_keras_rule():
    values = sample("he_normal", (N,), rng=0, dtype=np.float64)
    assert _ks_pvalue(values, stats.norm(0, math.sqrt(2 / N)).cdf) > P_FLOOR


@pytest.mark.parametrize(
    "spec", ["orthogonal", "identity", "dirac", "sparse(sparsity=0.1)"]
)
def test_sample_structured_one_dim_raises(spec):
    with pytest.raises(ShapeError):
        sample(spec, (8,), rng=0)


def test_sample_negative_dim_raises():
    with pytest.raises(ShapeError, match="negative dimension"):
        sample("he_normal", (3, -2), rng=0)


def test_sample_explicit_fans():
    values = sample("he_normal", (200, 200), rng=0, fans=s.Fans(2, 2), dtype=np.float64)
    assert values.std() == pytest.approx(1.0, rel=0.02)


def test_sample_grouped_fans():
    values = sample("he_normal", (64, 8, 25, 25), rng=0, groups=4, dtype=np.float64)
    assert values.std() == pytest.approx(math.sqrt(2 / (8 * 625)), rel=0.01)


# Generator handling.


@pytest.mark.parametrize("rng", [1.5, True, -1, "seed", np.random.RandomState(0)])
def test_as_generator_rejects(rng):
    with pytest.raises(SchemeError, match="rng|seed"):
        as_generator(rng)


def test_as_generator_accepts_numpy_integer():
    assert isinstance(as_generator(np.int64(4)), np.random.Generator)


def test_sample_unknown_scheme_raises():
    with pytest.raises(SchemeError, match="did you mean he_normal"):
        sample("he_norml", (3, 3), rng=0)
