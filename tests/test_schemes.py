"""Schemes as pure math: exact std and bound, PyTorch and Keras arithmetic, validation."""

import dataclasses
import inspect
import math
import re
import warnings

import pytest
import torch
from scipy import stats

from initlab import distributions as dist
from initlab import schemes as s
from initlab.errors import SchemeError, ShapeError
from initlab.fans import Fans, compute_fans
from initlab.gains import calculate_gain

KERAS_FACTOR = 0.87962566103423978

# Shapes in PyTorch's layout, chosen so that the PyTorch and Keras orders of
# floating-point operations give different last bits for several of them.
TORCH_SHAPES = [(50, 100), (64, 3, 7, 7), (256, 128, 3, 3), (10, 30), (33, 17, 3)]


def _seeded():
    return torch.Generator().manual_seed(1234)


# Exact constants.


def test_glorot_uniform_bound_for_fans_100_50():
    bound = s.glorot_uniform().bound(Fans(100, 50))
    assert bound == pytest.approx(math.sqrt(6 / 150), rel=1e-15)
    assert bound == pytest.approx(0.2, rel=1e-15)


def test_he_truncated_normal_fan_in_256_parent_std():
    resolved = s.he_truncated_normal().resolve(Fans(256, 64))
    assert resolved.std == math.sqrt(2 / 256) / KERAS_FACTOR
    assert resolved.std == pytest.approx(0.100484, abs=5e-7)


def test_he_truncated_normal_fan_in_256_cut_points():
    resolved = s.he_truncated_normal().resolve(Fans(256, 64))
    assert resolved.high == pytest.approx(0.200968, abs=5e-7)
    assert resolved.low == -resolved.high
    assert resolved.high == 2 * resolved.std


def test_he_truncated_normal_fan_in_256_value_std():
    scheme = s.he_truncated_normal()
    assert scheme.target_std(Fans(256, 64)) == math.sqrt(2 / 256)
    assert scheme.target_std(Fans(256, 64)) == pytest.approx(0.088388, abs=5e-7)
    # The std after truncation, from scipy, is the target.
    resolved = scheme.resolve(Fans(256, 64))
    assert resolved.value_std() == pytest.approx(math.sqrt(2 / 256), rel=1e-12)


def test_keras_factor_is_truncated_unit_normal_std():
    assert dist.TRUNCATED_STD_FACTOR == KERAS_FACTOR
    assert stats.truncnorm(-2, 2).std() == pytest.approx(KERAS_FACTOR, rel=1e-15)


def test_kaiming_uniform_default_bound_on_50_by_100():
    fans = compute_fans((50, 100))
    bound = s.he_uniform().bound(fans)
    assert bound == pytest.approx(math.sqrt(6 / 100), rel=1e-15)
    # torch.nn.init.kaiming_uniform_ with a=0, leaky_relu, fan_in:
    gain = calculate_gain("leaky_relu", 0)
    assert bound == math.sqrt(3.0) * (gain / math.sqrt(100))


def test_torch_default_bound():
    bound = s.torch_default().bound(Fans(100, 50))
    assert bound == pytest.approx(0.1, rel=1e-15)


# PyTorch arithmetic, checked against torch.nn.init itself: the same
# generator state gives the same float64 tensor only if std or bound agrees
# to the last bit.


def _torch_init(function, shape, **kwargs):
    tensor = torch.empty(shape, dtype=torch.float64)
    function(tensor, generator=_seeded(), **kwargs)
    return tensor


def _normal(shape, std):
    return torch.empty(shape, dtype=torch.float64).normal_(0, std, generator=_seeded())


def _uniform(shape, bound):
    tensor = torch.empty(shape, dtype=torch.float64)
    return tensor.uniform_(-bound, bound, generator=_seeded())


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_he_normal_bit_for_bit_with_kaiming_normal(shape):
    std = s.he_normal().target_std(compute_fans(shape))
    expected = _torch_init(torch.nn.init.kaiming_normal_, shape)
    assert torch.equal(_normal(shape, std), expected)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_he_normal_fan_out_tanh_bit_for_bit(shape):
    scheme = s.he_normal(calculate_gain("tanh"), "fan_out")
    std = scheme.target_std(compute_fans(shape))
    expected = _torch_init(
        torch.nn.init.kaiming_normal_, shape, mode="fan_out", nonlinearity="tanh"
    )
    assert torch.equal(_normal(shape, std), expected)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_he_uniform_bit_for_bit_with_kaiming_uniform(shape):
    bound = s.he_uniform().bound(compute_fans(shape))
    expected = _torch_init(torch.nn.init.kaiming_uniform_, shape)
    assert torch.equal(_uniform(shape, bound), expected)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_glorot_uniform_bit_for_bit_with_xavier_uniform(shape):
    bound = s.glorot_uniform(2.5).bound(compute_fans(shape))
    expected = _torch_init(torch.nn.init.xavier_uniform_, shape, gain=2.5)
    assert torch.equal(_uniform(shape, bound), expected)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_glorot_normal_bit_for_bit_with_xavier_normal(shape):
    std = s.glorot_normal().target_std(compute_fans(shape))
    expected = _torch_init(torch.nn.init.xavier_normal_, shape)
    assert torch.equal(_normal(shape, std), expected)


@pytest.mark.parametrize("shape", TORCH_SHAPES)
def test_torch_default_bit_for_bit_with_linear_init(shape):
    bound = s.torch_default().bound(compute_fans(shape))
    expected = _torch_init(torch.nn.init.kaiming_uniform_, shape, a=math.sqrt(5))
    assert torch.equal(_uniform(shape, bound), expected)


# Keras arithmetic, written out as keras.initializers.VarianceScaling
# computes it: scale / max(1, n), then sqrt.

KERAS_FANS = [Fans(100, 50), Fans(30, 10), Fans(2304, 1152), Fans(7, 13), Fans(1, 1)]


def _keras_variance(scale, mode, fans):
    n = {
        "fan_in": fans.fan_in,
        "fan_out": fans.fan_out,
        "fan_avg": (fans.fan_in + fans.fan_out) / 2.0,
    }[mode]
    return scale / max(1.0, n)


@pytest.mark.parametrize("fans", KERAS_FANS)
@pytest.mark.parametrize("mode", s.MODES)
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.1])
def test_variance_scaling_keras_arithmetic(fans, mode, scale):
    variance = _keras_variance(scale, mode, fans)
    uniform = s.VarianceScaling(scale, mode, "uniform").resolve(fans)
    normal = s.VarianceScaling(scale, mode, "untruncated_normal").resolve(fans)
    truncated = s.VarianceScaling(scale, mode, "truncated_normal").resolve(fans)
    assert uniform.high == math.sqrt(3.0 * variance)
    assert uniform.low == -math.sqrt(3.0 * variance)
    assert normal.std == math.sqrt(variance)
    assert truncated.std == math.sqrt(variance) / KERAS_FACTOR
    assert truncated.high == 2 * truncated.std


def test_variance_scaling_keras_floors_fan_at_one():
    scheme = s.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    assert scheme.target_std(Fans(0, 0)) == math.sqrt(2.0)


def test_variance_scaling_torch_convention_rejects_zero_fan():
    with pytest.raises(ShapeError, match="fan_in is 0"):
        s.he_normal().target_std(Fans(0, 5))


@pytest.mark.parametrize("fans", KERAS_FANS)
def test_conventions_agree_to_one_ulp(fans):
    torch_bound = s.glorot_uniform().bound(fans)
    keras_bound = s.VarianceScaling(1.0, "fan_avg", "uniform").bound(fans)
    assert abs(torch_bound - keras_bound) <= math.ulp(keras_bound)


# Exact formulas across shapes and layouts: (shape, layout, groups, fan_in, fan_out).
FORMULA_CASES = [
    ((50, 100), "torch", 1, 100, 50),
    ((100, 50), "keras", 1, 100, 50),
    ((64, 32, 3, 3), "torch", 1, 288, 576),
    ((3, 3, 32, 64), "keras", 1, 288, 576),
    ((64, 8, 3, 3), "torch", 4, 72, 144),
    ((16, 8, 3, 3), "torch_transposed", 1, 144, 72),
    ((16, 4, 3, 3), "torch_transposed", 2, 72, 36),
]


@pytest.mark.parametrize(("shape", "layout", "groups", "n_in", "n_out"), FORMULA_CASES)
def test_named_schemes_exact_formula(shape, layout, groups, n_in, n_out):
    fans = compute_fans(shape, layout, groups=groups)
    expected = {
        "lecun_normal": ("std", math.sqrt(1 / n_in)),
        "lecun_uniform": ("bound", math.sqrt(3 / n_in)),
        "lecun_truncated_normal": ("std", math.sqrt(1 / n_in)),
        "glorot_normal": ("std", math.sqrt(2 / (n_in + n_out))),
        "glorot_uniform": ("bound", math.sqrt(6 / (n_in + n_out))),
        "glorot_truncated_normal": ("std", math.sqrt(2 / (n_in + n_out))),
        "he_normal": ("std", math.sqrt(2 / n_in)),
        "he_uniform": ("bound", math.sqrt(6 / n_in)),
        "he_truncated_normal": ("std", math.sqrt(2 / n_in)),
        "torch_default": ("bound", 1 / math.sqrt(n_in)),
    }
    for name, (quantity, value) in expected.items():
        scheme = getattr(s, name)()
        got = scheme.bound(fans) if quantity == "bound" else scheme.target_std(fans)
        assert got == pytest.approx(value, rel=1e-14), name


@pytest.mark.parametrize("name", ["lecun_uniform", "glorot_uniform", "he_uniform"])
def test_uniform_std_is_bound_over_sqrt3(name):
    scheme = getattr(s, name)()
    fans = Fans(120, 80)
    resolved = scheme.resolve(fans)
    assert resolved.value_std() == pytest.approx(scheme.target_std(fans), rel=1e-14)
    assert scheme.bound(fans) == pytest.approx(
        math.sqrt(3) * scheme.target_std(fans), rel=1e-15
    )


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        (s.he_normal(), "std = sqrt(2 / fan_in)"),
        (s.he_uniform(), "bound = sqrt(6 / fan_in)"),
        (s.glorot_uniform(), "bound = sqrt(6 / (fan_in + fan_out))"),
        (s.glorot_normal(), "std = sqrt(2 / (fan_in + fan_out))"),
        (s.lecun_normal(), "std = sqrt(1 / fan_in)"),
        (s.torch_default(), "bound = sqrt(1 / fan_in)"),
        (
            s.he_truncated_normal(),
            "std = sqrt(2 / fan_in) after a cut at +-2 parent std",
        ),
        (s.he_normal(mode="fan_out"), "std = sqrt(2 / fan_out)"),
        (s.glorot_uniform(2.0), "bound = sqrt(24 / (fan_in + fan_out))"),
        (s.Normal(0.0, 0.01), "std = 0.01"),
        (s.Constant(0.5), "w = 0.5"),
        (s.Uniform(-1.0, 1.0), "U(-1, 1)"),
    ],
)
def test_scheme_formula_text(scheme, text):
    assert scheme.formula() == text


# The three truncated-normal conventions.


def test_trunc_normal_absolute_small_std_is_untruncated():
    # trunc_normal_(w, std=0.02) with the default a=-2, b=2 cuts at 100 std.
    resolved = s.TruncatedNormalAbsolute(std=0.02).resolve(s.UNIT_FANS)
    assert resolved.low == -2.0
    assert resolved.high == 2.0
    assert resolved.value_std() == pytest.approx(0.02, rel=1e-12)
    assert resolved.kept_mass() == 1.0


def test_trunc_normal_absolute_cut_ignores_mean():
    resolved = s.TruncatedNormalAbsolute(mean=1.0, std=1.0, a=-2.0, b=2.0).resolve(
        s.UNIT_FANS
    )
    assert resolved.support() == (-2.0, 2.0)
    expected = stats.truncnorm(-3, 1, loc=1.0).std()
    assert resolved.value_std() == pytest.approx(expected, rel=1e-12)


def test_trunc_normal_std_units_shrinks_std():
    resolved = s.TruncatedNormalStdUnits(std=0.02).resolve(s.UNIT_FANS)
    assert resolved.support() == (-0.04, 0.04)
    assert resolved.value_std() == pytest.approx(0.02 * KERAS_FACTOR, rel=1e-12)


def test_trunc_normal_std_units_offsets_from_mean():
    resolved = s.TruncatedNormalStdUnits(mean=1.0, std=0.5, lower=-1.0, upper=3.0)
    assert resolved.resolve(s.UNIT_FANS).support() == (0.5, 2.5)


def test_variance_scaling_truncated_keeps_target_after_cut():
    scheme = s.VarianceScaling(1.0, "fan_avg", "truncated_normal")
    fans = Fans(300, 100)
    resolved = scheme.resolve(fans)
    assert resolved.value_std() == pytest.approx(math.sqrt(1 / 200), rel=1e-12)
    assert resolved.kept_mass() == pytest.approx(
        stats.norm.cdf(2) - stats.norm.cdf(-2), rel=1e-14
    )


def test_trunc_normal_zero_std_is_clipped_mean():
    resolved = s.TruncatedNormalAbsolute(mean=5.0, std=0.0).resolve(s.UNIT_FANS)
    assert resolved.support() == (2.0, 2.0)
    assert resolved.value_mean() == 2.0
    assert resolved.value_std() == 0.0


def test_variance_scaling_rejects_bare_normal():
    with pytest.raises(SchemeError) as raised:
        s.VarianceScaling(distribution="normal")
    message = str(raised.value)
    assert "ambiguous" in message
    assert "Keras means a normal truncated" in message
    assert "'truncated_normal'" in message
    assert "'untruncated_normal'" in message


# Validation: each bad argument is named with its valid range.


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: s.VarianceScaling(scale=-1.0), "scale must be > 0, got scale=-1.0"),
        (lambda: s.VarianceScaling(scale=0.0), "scale must be > 0"),
        (lambda: s.VarianceScaling(scale=math.nan), "scale must be a finite number"),
        (lambda: s.VarianceScaling(scale=True), "scale must be a finite number"),
        (lambda: s.VarianceScaling(scale="2"), "scale must be a finite number"),
        (
            lambda: s.VarianceScaling(mode="fan_mid"),
            "use one of fan_in, fan_out, fan_avg",
        ),
        (
            lambda: s.VarianceScaling(distribution="gauss"),
            "use one of truncated_normal",
        ),
        (lambda: s.VarianceScaling(convention="jax"), "use one of keras, torch"),
        (lambda: s.Normal(std=-0.1), "std must be >= 0, got std=-0.1"),
        (lambda: s.Normal(mean=math.inf), "mean must be a finite number"),
        (lambda: s.Uniform(1.0, 0.0), "a <= b"),
        (lambda: s.TruncatedNormalAbsolute(std=-1.0), "std must be >= 0"),
        (lambda: s.TruncatedNormalAbsolute(a=1.0, b=1.0), "a < b"),
        (lambda: s.TruncatedNormalStdUnits(std=-1.0), "std must be >= 0"),
        (lambda: s.TruncatedNormalStdUnits(lower=2.0, upper=-2.0), "lower < upper"),
        (lambda: s.Sparse(sparsity=1.5), "sparsity must be in [0, 1]"),
        (lambda: s.Sparse(sparsity=0.1, std=-1.0), "std must be >= 0"),
        (lambda: s.Dirac(groups=0), "groups must be a positive integer"),
        (lambda: s.Dirac(groups=True), "groups must be a positive integer"),
        (lambda: s.Constant(math.nan), "value must be a finite number"),
        (lambda: s.Orthogonal(gain="1"), "gain must be a finite number"),
        (lambda: s.glorot_uniform(-1.0), "gain must be > 0, got gain=-1.0"),
        (lambda: s.he_normal(0.0), "gain must be > 0"),
        (lambda: s.he_uniform(mode="fan_avgs"), "invalid mode"),
    ],
)
def test_scheme_invalid_argument(build, fragment):
    with pytest.raises(SchemeError, match=re.escape(fragment)):
        build()


def test_scheme_is_immutable():
    scheme = s.he_normal()
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.scale = 3.0


def test_scheme_equality_ignores_label():
    assert s.VarianceScaling(1.0, name="a") == s.VarianceScaling(1.0, name="b")


def test_scheme_conventions_compare_unequal():
    keras = s.VarianceScaling(1.0, "fan_avg", "uniform")
    assert keras != s.glorot_uniform()


# Structured schemes.


def test_orthogonal_std_torch_layout():
    resolved = s.Orthogonal(2.0).resolve(Fans(1, 1), (3, 8), "torch")
    assert (resolved.rows, resolved.cols) == (3, 8)
    assert resolved.value_std() == pytest.approx(2.0 / math.sqrt(8), rel=1e-15)


def test_orthogonal_flattens_conv_by_layout():
    torch_matrix = s.Orthogonal().resolve(Fans(1, 1), (6, 2, 3, 3), "torch")
    keras_matrix = s.Orthogonal().resolve(Fans(1, 1), (3, 3, 2, 6), "keras")
    assert (torch_matrix.rows, torch_matrix.cols) == (6, 18)
    assert (keras_matrix.rows, keras_matrix.cols) == (18, 6)


def test_orthogonal_bound_is_gain():
    assert s.Orthogonal(-1.5).bound(Fans(1, 1), (4, 4)) == 1.5


@pytest.mark.parametrize("shape", [(), (5,)])
def test_orthogonal_rejects_fewer_than_two_dims(shape):
    with pytest.raises(ShapeError, match="orthogonal needs a tensor with at least 2"):
        s.Orthogonal().resolve(Fans(1, 1), shape)


def test_identity_moments():
    resolved = s.Identity(1.0).resolve(Fans(1, 1), (4, 8))
    p = 4 / 32
    assert resolved.value_mean() == pytest.approx(p, rel=1e-15)
    assert resolved.value_std() == pytest.approx(math.sqrt(p * (1 - p)), rel=1e-15)


def test_identity_rejects_three_dims():
    with pytest.raises(ShapeError, match="identity needs a 2-D tensor"):
        s.Identity().resolve(Fans(1, 1), (2, 2, 2))


def test_dirac_moments_from_shape():
    resolved = s.Dirac(groups=2).resolve(Fans(1, 1), (8, 3, 3, 3))
    # Two groups of 4 output channels, each copying min(4, 3) = 3 inputs.
    assert resolved.ones() == 6
    p = 6 / (8 * 3 * 9)
    assert resolved.value_mean() == pytest.approx(p, rel=1e-15)
    assert resolved.value_std() == pytest.approx(math.sqrt(p * (1 - p)), rel=1e-15)


def test_dirac_without_shape_has_unknown_moments():
    resolved = s.Dirac().resolve(Fans(1, 1))
    assert math.isnan(resolved.value_std())


@pytest.mark.parametrize(
    ("shape", "layout", "fragment"),
    [
        ((4, 4), "torch", "3-, 4- or 5-D"),
        ((4, 4, 3, 3, 3, 3), "torch", "3-, 4- or 5-D"),
        ((3, 3, 4, 4), "keras", "PyTorch's (out, in/groups, *kernel) layout"),
    ],
)
def test_dirac_invalid_shape(shape, layout, fragment):
    with pytest.raises(ShapeError, match=re.escape(fragment)):
        s.Dirac().resolve(Fans(1, 1), shape, layout)


def test_dirac_groups_must_divide():
    with pytest.raises(ShapeError, match="not divisible by groups=3"):
        s.Dirac(groups=3).resolve(Fans(1, 1), (8, 2, 3))


def test_sparse_std():
    resolved = s.Sparse(0.25, 0.5).resolve(Fans(1, 1), (10, 7))
    # ceil(0.25 * 10) = 3 of 10 entries per column are zero.
    assert resolved.zeros_per_column() == 3
    assert resolved.value_std() == pytest.approx(0.5 * math.sqrt(0.7), rel=1e-15)


def test_sparse_rejects_three_dims():
    with pytest.raises(ShapeError, match="sparse needs a 2-D tensor"):
        s.Sparse(0.1).resolve(Fans(1, 1), (2, 2, 2))


# The degenerate-shape policy.


def test_resolve_for_shape_zero_element_warns_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolved = s.resolve_for_shape(s.he_normal(), (0, 5))
    assert resolved is None
    assert len(caught) == 1
    assert issubclass(caught[0].category, UserWarning)
    assert "zero-element tensor of shape (0, 5) is a no-op" in str(caught[0].message)


def test_resolve_for_shape_warning_location():
    with pytest.warns(UserWarning) as record:
        s.resolve_for_shape(s.Orthogonal(), (3, 0), stacklevel=1)
    assert record[0].filename == __file__


def test_resolve_for_shape_zero_dims_uses_unit_fans():
    resolved = s.resolve_for_shape(s.he_normal(), ())
    assert resolved.std == math.sqrt(2.0)


def test_resolve_for_shape_one_dim_uses_keras_fans():
    resolved = s.resolve_for_shape(s.glorot_uniform(), (64,))
    assert resolved.high == pytest.approx(math.sqrt(6 / 128), rel=1e-15)


def test_resolve_for_shape_structured_one_dim_raises():
    with pytest.raises(ShapeError):
        s.resolve_for_shape(s.Orthogonal(), (64,))


def test_resolve_for_shape_invalid_shape_raises_before_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ShapeError, match="negative dimension"):
            s.resolve_for_shape(s.he_normal(), (0, -1))


def test_resolve_for_shape_explicit_fans_win():
    resolved = s.resolve_for_shape(s.he_normal(), (3, 3), fans=Fans(200, 10))
    assert resolved.std == pytest.approx(0.1, rel=1e-15)


def test_resolve_for_shape_layout_and_groups():
    resolved = s.resolve_for_shape(
        s.he_normal(), (3, 3, 8, 64), layout="keras", groups=4
    )
    assert resolved.std == pytest.approx(math.sqrt(2 / 72), rel=1e-15)


# Docstrings carry the formula and the source.

NAMED_FACTORIES = [
    s.lecun_normal,
    s.lecun_uniform,
    s.lecun_truncated_normal,
    s.glorot_normal,
    s.glorot_uniform,
    s.glorot_truncated_normal,
    s.he_normal,
    s.he_uniform,
    s.he_truncated_normal,
    s.torch_default,
]
SCHEME_CLASSES = [
    s.Constant,
    s.Normal,
    s.Uniform,
    s.TruncatedNormalAbsolute,
    s.TruncatedNormalStdUnits,
    s.VarianceScaling,
    s.Orthogonal,
    s.Identity,
    s.Dirac,
    s.Sparse,
]


@pytest.mark.parametrize(
    "obj", NAMED_FACTORIES + SCHEME_CLASSES, ids=lambda o: o.__name__
)
def test_scheme_docstring_has_formula(obj):
    doc = inspect.getdoc(obj)
    assert re.search(r"\b(std|bound|w|variance)\b.* = ", doc) or "N(" in doc, doc


@pytest.mark.parametrize(
    "obj", NAMED_FACTORIES + SCHEME_CLASSES, ids=lambda o: o.__name__
)
def test_scheme_docstring_names_source(obj):
    doc = inspect.getdoc(obj)
    has_paper = re.search(r"(19|20)\d\d", doc) is not None
    has_framework = re.search(r"PyTorch's|Keras's|Source", doc) is not None
    assert has_paper or has_framework, doc


@pytest.mark.parametrize("factory", NAMED_FACTORIES, ids=lambda f: f.__name__)
def test_named_factory_paper_year(factory):
    assert re.search(r"(19|20)\d\d", inspect.getdoc(factory))
