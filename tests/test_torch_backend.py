"""The PyTorch backend: exact truncated normals, dtypes, generators, masks and structure."""

import math
import warnings
from itertools import combinations

import numpy as np
import pytest
import torch
from scipy import stats

from initlab import distributions as dist
from initlab import schemes as s
from initlab.backends.torch import (
    fill_,
    fill_truncated_normal_,
    make_generator,
    sample_distribution_,
)

HALF_TYPES = [torch.float16, torch.bfloat16]
SAMPLE = 20_000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny QRs and fills spend more time waking a second thread than
    # computing, and much more on a loaded machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _truncated(low, high, mean=0.0, std=1.0, *, n=SAMPLE, dtype=torch.float32, seed=0):
    tensor = torch.empty(n, dtype=dtype)
    d = dist.TruncatedNormal(mean, std, low, high)
    return fill_truncated_normal_(tensor, d, make_generator(seed))


# Truncated normal: every method against scipy.stats.truncnorm.

INTERVALS = [
    (-2.0, 2.0),  # erfinv, the +-2 std case
    (2.0, 3.0),  # erfinv, narrow in a tail
    (5.0, 6.0),  # float64 inverse CDF, far upper tail
    (-6.0, -5.0),  # float64 inverse CDF, far lower tail
    (-0.5, 5.0),  # normal draws with replacement
    (0.1, 0.2),  # erfinv, narrow near the mean
    (40.0, 41.0),  # exponential proposal beyond ndtr's range
]


@pytest.mark.parametrize(("low", "high"), INTERVALS)
def test_truncated_normal_matches_scipy(low, high):
    values = _truncated(low, high).double().numpy()
    pvalue = stats.kstest(values, stats.truncnorm(low, high).cdf).pvalue
    assert pvalue > 0.01, f"KS p={pvalue:.3g} on [{low}, {high}]"


@pytest.mark.parametrize(("low", "high"), INTERVALS)
def test_truncated_normal_stays_inside(low, high):
    values = _truncated(low, high)
    assert values.min().item() >= np.float32(low)
    assert values.max().item() <= np.float32(high)


@pytest.mark.parametrize(("low", "high"), INTERVALS[:6])
def test_truncated_normal_nothing_on_bounds(low, high):
    values = _truncated(low, high)
    on_bound = ((values == low) | (values == high)).double().mean().item()
    assert on_bound <= 0.001, f"{on_bound:.2%} of values on a bound of [{low}, {high}]"


def test_truncated_normal_tail_values_continuous():
    # A float32 inverse CDF on the upper tail collapses [5, 6] onto 5 levels.
    values = _truncated(5.0, 6.0)
    assert torch.unique(values).numel() > 0.9 * SAMPLE


def test_truncated_normal_shifted_and_scaled():
    values = _truncated(-0.04, 0.1, mean=0.01, std=0.02).double().numpy()
    frozen = stats.truncnorm((-0.04 - 0.01) / 0.02, (0.1 - 0.01) / 0.02, 0.01, 0.02)
    assert stats.kstest(values, frozen.cdf).pvalue > 0.01


def test_truncated_normal_float64():
    values = _truncated(5.0, 6.0, dtype=torch.float64).numpy()
    assert stats.kstest(values, stats.truncnorm(5.0, 6.0).cdf).pvalue > 0.01


def test_truncated_normal_untruncated_is_normal_draw():
    # torch's default a=-2, b=2 with std 0.02: the numbers of normal_.
    values = _truncated(-2.0, 2.0, std=0.02, n=5000, seed=3)
    expected = torch.empty(5000).normal_(0.0, 0.02, generator=make_generator(3))
    assert torch.equal(values, expected)


def test_truncated_normal_std_zero_clips_mean():
    assert torch.all(_truncated(-1.0, 1.0, mean=3.0, std=0.0, n=10) == 1.0)
    assert torch.all(_truncated(-1.0, 1.0, mean=0.25, std=0.0, n=10) == 0.25)


def test_truncated_normal_empty_interval_fills_bound():
    assert torch.all(_truncated(0.5, 0.5, n=10) == 0.5)


def test_truncated_normal_non_contiguous():
    tensor = torch.zeros(200, 100).t()
    d = dist.TruncatedNormal(0.0, 1.0, 5.0, 6.0)
    fill_truncated_normal_(tensor, d, make_generator(0))
    assert tensor.min().item() >= 5.0
    assert tensor.max().item() <= 6.0


@pytest.mark.parametrize("dtype", HALF_TYPES)
@pytest.mark.parametrize(
    ("low", "high", "std"), [(-0.04, 0.04, 0.02), (2.0, 3.0, 1.0), (5.0, 6.0, 1.0)]
)
def test_truncated_normal_half_types(dtype, low, high, std):
    values = _truncated(low, high, std=std, dtype=dtype)
    assert values.dtype == dtype
    assert torch.isfinite(values).all()
    assert values.min().item() >= low
    assert values.max().item() <= high
    # Nothing piled on a bound beyond rounding: the extreme representable
    # levels hold no more than a few times their neighbours' counts.
    levels, counts = torch.unique(values.float(), return_counts=True)
    for edge, neighbour in ((0, 1), (-1, -2)):
        assert counts[edge] <= 3 * counts[neighbour] + 10, (
            f"{dtype}: {counts[edge]} values on {levels[edge].item()}, "
            f"{counts[neighbour]} on the next level"
        )


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_truncated_normal_half_matches_scipy(dtype):
    # Rounding to the half type moves a value by at most half a level
    # (1/256 near 1 for bfloat16), which shifts the CDF by about 0.002,
    # far below the KS test's resolution at this sample size.
    values = _truncated(-2.0, 2.0, dtype=dtype).double().numpy()
    pvalue = stats.kstest(values, stats.truncnorm(-2.0, 2.0).cdf).pvalue
    assert pvalue > 0.01, f"{dtype}: KS p={pvalue:.3g}"


# Dtypes and autograd.

RANDOM_SCHEMES = [
    "normal(std=0.1)",
    "uniform(a=-1.0, b=1.0)",
    "trunc_normal_absolute(std=1.0, a=-2.0, b=2.0)",
    "he_normal",
    "glorot_uniform",
    "orthogonal",
    "sparse(sparsity=0.5)",
    "HeNormal",
]


@pytest.mark.parametrize("spec", RANDOM_SCHEMES)
def test_random_scheme_rejects_integer_tensor(spec):
    for dtype in (torch.int64, torch.int8, torch.bool):
        tensor = torch.zeros(6, 4, dtype=dtype)
        with pytest.raises(NotImplementedError, match="floating-point tensor"):
            fill_(tensor, spec, seed=0)
        assert torch.all(tensor == 0), dtype


@pytest.mark.parametrize(
    ("spec", "shape", "total"),
    [
        ("zeros", (3, 4), 0),
        ("ones", (3, 4), 12),
        ("constant(value=3.0)", (3, 4), 36),
        ("identity", (3, 4), 3),
        ("dirac", (4, 4, 3), 4),
    ],
)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_exact_scheme_accepts_integer_tensor(spec, shape, total, dtype):
    tensor = torch.full(shape, 7, dtype=dtype)
    fill_(tensor, spec)
    assert tensor.sum().item() == total


@pytest.mark.parametrize("spec", [*RANDOM_SCHEMES, "ones", "identity"])
def test_fill_keeps_dtype_and_records_no_history(spec):
    for dtype in (torch.float32, torch.float64, *HALF_TYPES):
        weight = torch.nn.Parameter(torch.zeros(8, 6, dtype=dtype))
        fill_(weight, spec, seed=0)
        assert weight.dtype == dtype
        assert weight.grad_fn is None, dtype
        assert weight.requires_grad, dtype
        assert torch.isfinite(weight).all(), dtype


def test_fill_meta_tensor_is_untouched():
    for spec in RANDOM_SCHEMES:
        tensor = torch.empty(8, 6, device="meta")
        assert fill_(tensor, spec, seed=0) is tensor


# Generators and seeds.


@pytest.mark.parametrize("spec", RANDOM_SCHEMES)
def test_same_seed_same_numbers(spec):
    first = fill_(torch.empty(10, 8), spec, seed=11)
    second = fill_(torch.empty(10, 8), spec, seed=11)
    assert torch.equal(first, second)


@pytest.mark.parametrize("spec", RANDOM_SCHEMES)
def test_different_seeds_different_numbers(spec):
    first = fill_(torch.empty(10, 8), spec, seed=11)
    second = fill_(torch.empty(10, 8), spec, seed=12)
    assert not torch.equal(first, second)


@pytest.mark.parametrize("spec", RANDOM_SCHEMES)
def test_global_generator_untouched(spec):
    state = torch.random.get_rng_state()
    fill_(torch.empty(10, 8), spec, generator=make_generator(5))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_fill_seed_and_generator_rejected():
    with pytest.raises(ValueError, match="either generator or seed"):
        fill_(torch.empty(3, 3), "he_normal", seed=1, generator=make_generator(1))


def test_make_generator_seeded_and_random():
    assert make_generator(42).initial_seed() == 42
    assert make_generator().initial_seed() != make_generator().initial_seed()


def test_fill_zero_element_warns_once():
    tensor = torch.empty(0, 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fill_(tensor, "he_normal", seed=0)
    assert len(caught) == 1
    assert "zero-element" in str(caught[0].message)


# Sparse masks.


def test_sparse_zeros_per_column():
    tensor = fill_(torch.empty(40, 30), "sparse(sparsity=0.3)", seed=0)
    assert ((tensor == 0).sum(dim=0) == 12).all()


@pytest.mark.parametrize(
    ("sparsity", "zeros"), [(1.5, 5), (-0.3, 4), (0.0, 0), (1.0, 5)]
)
def test_sparse_count_follows_slicing(sparsity, zeros):
    # torch's sparse_ zeroes rows[:ceil(sparsity * rows)] of a permutation.
    tensor = torch.empty(5, 7)
    sample_distribution_(
        tensor, dist.Sparse(sparsity, 0.01, 5), generator=make_generator(0)
    )
    assert ((tensor == 0).sum(dim=0) == zeros).all()


@pytest.mark.parametrize(("rows", "size"), [(5, 2), (6, 4)])
def test_sparse_mask_subsets_uniform(rows, size):
    # Every size-subset of rows equally likely, from Floyd's algorithm (many
    # columns), directly (5 choose 2) and through the complement (6 choose 4).
    tensor = torch.ones(rows, 6000)
    d = dist.Sparse(size / rows, 1.0, rows)
    sample_distribution_(tensor, d, generator=make_generator(1))
    counts = {}
    for column in (tensor == 0).t().tolist():
        key = tuple(i for i, zero in enumerate(column) if zero)
        counts[key] = counts.get(key, 0) + 1
    subsets = list(combinations(range(rows), size))
    assert set(counts) <= set(subsets)
    observed = [counts.get(subset, 0) for subset in subsets]
    assert stats.chisquare(observed).pvalue > 0.01


def test_sparse_mask_few_columns_uniform():
    # Fewer columns than zeros per column: one permutation per column. Each
    # row is then zeroed with probability size / rows.
    generator = make_generator(2)
    zeroed = torch.zeros(50)
    for _ in range(60):
        tensor = torch.ones(50, 10)
        sample_distribution_(tensor, dist.Sparse(0.4, 1.0, 50), generator=generator)
        assert ((tensor == 0).sum(dim=0) == 20).all()
        zeroed += (tensor == 0).sum(dim=1)
    assert stats.chisquare(zeroed.numpy()).pvalue > 0.01


def test_sparse_values_from_generator():
    first = fill_(torch.empty(30, 20), "sparse(sparsity=0.2, std=0.5)", seed=4)
    second = fill_(torch.empty(30, 20), "sparse(sparsity=0.2, std=0.5)", seed=4)
    assert torch.equal(first == 0, second == 0)
    kept = first[first != 0].numpy()
    assert stats.kstest(kept, stats.norm(0, 0.5).cdf).pvalue > 0.01


# Orthogonal, identity and Dirac.


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF_TYPES])
@pytest.mark.parametrize("shape", [(20, 12), (12, 20), (8, 3, 2, 2)])
def test_orthogonal_is_orthogonal(dtype, shape):
    tensor = fill_(torch.empty(shape, dtype=dtype), "orthogonal(gain=2.0)", seed=0)
    matrix = tensor.double().reshape(shape[0], -1)
    small = min(matrix.shape)
    gram = matrix @ matrix.t() if matrix.shape[0] == small else matrix.t() @ matrix
    # Half types are orthogonalised in float32 and then rounded.
    tolerance = {torch.float64: 1e-9, torch.float32: 1e-5}.get(dtype, 0.05)
    expected = 4 * torch.eye(small, dtype=torch.float64)
    assert torch.allclose(gram, expected, atol=4 * tolerance)


def test_orthogonal_keras_layout_columns():
    tensor = fill_(torch.empty(3, 3, 8, 16), "orthogonal", layout="keras", seed=0)
    matrix = tensor.double().reshape(-1, 16)
    assert torch.allclose(
        matrix.t() @ matrix, torch.eye(16, dtype=torch.float64), atol=1e-5
    )


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (4, 0, 3)])
def test_orthogonal_zero_size_no_op(shape):
    tensor = torch.empty(shape)
    assert sample_distribution_(tensor, dist.Orthogonal(1.0, 0, 0)) is tensor


def test_identity_rectangular():
    tensor = fill_(torch.full((3, 5), 9.0), "identity(gain=2.0)")
    assert torch.equal(tensor, 2 * torch.eye(3, 5))


@pytest.mark.parametrize(
    ("shape", "groups"), [((6, 4, 3), 1), ((8, 2, 3, 3), 2), ((6, 6, 3, 3, 3), 3)]
)
def test_dirac_ones_at_centre(shape, groups):
    tensor = fill_(torch.full(shape, 5.0), f"dirac(groups={groups})")
    out_per_group = shape[0] // groups
    channels = min(out_per_group, shape[1])
    centre = tuple(size // 2 for size in shape[2:])
    expected = torch.zeros(shape)
    for group in range(groups):
        for channel in range(channels):
            expected[(group * out_per_group + channel, channel, *centre)] = 1
    assert torch.equal(tensor, expected)


def test_dirac_empty_kernel_is_zeros():
    tensor = torch.empty(4, 4, 0)
    assert sample_distribution_(tensor, dist.Dirac(1)) is tensor


# Exact scale for fan-based schemes.


def test_he_truncated_normal_fan_in_256():
    tensor = fill_(torch.empty(64, 256), s.he_truncated_normal(), seed=0)
    bound = 2 * math.sqrt(2 / 256) / 0.87962566103423978
    assert tensor.abs().max().item() <= bound
    assert tensor.abs().max().item() > 0.98 * bound
    assert tensor.double().std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.02)
