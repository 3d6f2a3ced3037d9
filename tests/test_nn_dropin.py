"""initlab.nn side by side with torch.nn.init: numbers, scale, errors and warnings."""

import inspect
import math
import warnings

import pytest
import torch
import torch.nn.init as tinit
from scipy import stats

import initlab.nn as init
from initlab import gains
from initlab.backends.torch import make_generator

KERAS_FACTOR = 0.87962566103423978

# Public functions that torch.nn.init has, without the deprecated aliases.
TORCH_FUNCTIONS = [name for name in tinit.__all__ if name.endswith("_")]
DEPRECATED = [
    name
    for name in tinit.__all__
    if not name.endswith("_") and name != "calculate_gain"
]

# Shapes in PyTorch's layout. torch's fans ignore groups and read a
# transposed convolution's (in, out/groups, *kernel) weight like a plain one.
SHAPES = {
    "dense": (50, 100),
    "conv": (32, 16, 3, 3),
    "grouped conv": (32, 4, 3, 3),
    "transposed conv": (16, 8, 4, 4),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny QRs and fills spend more time waking a second thread than
    # computing, and much more on a loaded machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _torch_fans(shape):
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _generator(seed=0):
    return make_generator(seed)


def _outcome(function, tensor, *args, **kwargs):
    """Return what a call did: the exception type and message, or the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            function(tensor, *args, **kwargs)
        except Exception as error:
            return ("raised", type(error), str(error))
    return ("returned", [(w.category, str(w.message)) for w in caught])


# Names and signatures.


def test_every_torch_name_present():
    for name in tinit.__all__:
        assert hasattr(init, name), name


@pytest.mark.parametrize("name", TORCH_FUNCTIONS)
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(tinit, name)).parameters
    assert list(ours) == list(theirs)
    for parameter in theirs.values():
        assert ours[parameter.name].default == parameter.default, parameter.name
        assert ours[parameter.name].kind == parameter.kind, parameter.name


def test_calculate_gain_is_gains_table():
    assert init.calculate_gain is gains.calculate_gain
    ours = inspect.signature(init.calculate_gain).parameters
    theirs = inspect.signature(tinit.calculate_gain).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]


# The same numbers from the same generator state.

SAME_DRAWS = [
    ("uniform_", {"a": -0.5, "b": 2.0}),
    ("normal_", {"mean": 1.0, "std": 3.0}),
    ("trunc_normal_", {"std": 0.02}),
    ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_uniform_", {"gain": 0.0}),
    ("xavier_normal_", {}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"a": 0.2, "mode": "FAN_OUT"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "tanh"}),
    ("orthogonal_", {"gain": 1.5}),
]


@pytest.mark.parametrize(("name", "kwargs"), SAME_DRAWS)
def test_same_numbers_as_torch(name, kwargs):
    for shape in SHAPES.values():
        for dtype in (torch.float32, torch.float64):
            ours = getattr(init, name)(
                torch.empty(shape, dtype=dtype), generator=_generator(), **kwargs
            )
            theirs = getattr(tinit, name)(
                torch.empty(shape, dtype=dtype), generator=_generator(), **kwargs
            )
            assert torch.equal(ours, theirs), f"{name}{kwargs} on {shape} {dtype}"


@pytest.mark.parametrize(
    ("name", "args"),
    [("zeros_", ()), ("ones_", ()), ("constant_", (0.25,)), ("eye_", ())],
)
def test_constant_functions_match_torch(name, args):
    ours = getattr(init, name)(torch.full((5, 7), 9.0), *args)
    theirs = getattr(tinit, name)(torch.full((5, 7), 9.0), *args)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize(
    ("shape", "groups"),
    [((6, 4, 3), 1), ((8, 2, 3, 3), 2), ((6, 6, 3, 3, 3), 3), ((9, 2, 3), 3)],
)
def test_dirac_matches_torch(shape, groups):
    ours = init.dirac_(torch.full(shape, 9.0), groups)
    theirs = tinit.dirac_(torch.full(shape, 9.0), groups)
    assert torch.equal(ours, theirs)


def test_functions_return_their_tensor():
    for name, kwargs in SAME_DRAWS:
        tensor = torch.empty(6, 5)
        assert getattr(init, name)(tensor, **kwargs) is tensor, name


# Large samples side by side, two-sample KS test.

SIDE_BY_SIDE = [
    *SAME_DRAWS,
    ("trunc_normal_", {}),
    ("trunc_normal_", {"std": 0.02, "a": -0.04, "b": 0.04}),
    ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": -1.0, "b": 3.0}),
    ("trunc_normal_", {"a": 2.0, "b": 3.0}),
    ("sparse_", {"sparsity": 0.3, "std": 0.5}),
]


@pytest.mark.parametrize(("name", "kwargs"), SIDE_BY_SIDE)
def test_distribution_matches_torch(name, kwargs):
    shape = (100, 200)
    torch.manual_seed(0)  # torch's sparse_ takes its mask from the global generator
    ours = getattr(init, name)(torch.empty(shape), generator=_generator(1), **kwargs)
    theirs = getattr(tinit, name)(torch.empty(shape), generator=_generator(2), **kwargs)
    pvalue = stats.ks_2samp(ours.flatten().numpy(), theirs.flatten().numpy()).pvalue
    assert pvalue > 0.01, f"{name}{kwargs}: KS p={pvalue:.3g}"


def test_sparse_zeros_per_column_match_torch():
    torch.manual_seed(0)
    ours = init.sparse_(torch.empty(40, 30), 0.3, generator=_generator(1))
    theirs = tinit.sparse_(torch.empty(40, 30), 0.3, generator=_generator(1))
    assert torch.equal((ours == 0).sum(dim=0), (theirs == 0).sum(dim=0))
    # The values come from the same normal_ draw; only the masks differ.
    both = (ours != 0) & (theirs != 0)
    assert torch.equal(ours[both], theirs[both])


# The bound or std against the formula, for each layout torch reads.


def _same_draw_uniform(shape, bound, seed=0):
    return torch.empty(shape).uniform_(-bound, bound, generator=_generator(seed))


def _same_draw_normal(shape, std, seed=0):
    return torch.empty(shape).normal_(0.0, std, generator=_generator(seed))


def _assert_float32_equal(actual, expected):
    # The formula's double may differ from the scheme's in the last bit,
    # which float32 rounding almost always hides, so allow one float32 step.
    assert torch.allclose(actual, expected, rtol=1.2e-7, atol=0.0)


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_xavier_uniform_bound(shape):
    fan_in, fan_out = _torch_fans(shape)
    bound = 1.5 * math.sqrt(6.0 / (fan_in + fan_out))
    ours = init.xavier_uniform_(torch.empty(shape), gain=1.5, generator=_generator())
    _assert_float32_equal(ours, _same_draw_uniform(shape, bound))
    assert ours.abs().max().item() <= bound


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_xavier_normal_std(shape):
    fan_in, fan_out = _torch_fans(shape)
    std = 1.5 * math.sqrt(2.0 / (fan_in + fan_out))
    ours = init.xavier_normal_(torch.empty(shape), gain=1.5, generator=_generator())
    _assert_float32_equal(ours, _same_draw_normal(shape, std))


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform_bound(shape, mode):
    fans = dict(zip(("fan_in", "fan_out"), _torch_fans(shape), strict=True))
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fans[mode])
    ours = init.kaiming_uniform_(
        torch.empty(shape), mode=mode, nonlinearity="relu", generator=_generator()
    )
    _assert_float32_equal(ours, _same_draw_uniform(shape, bound))


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_normal_std(shape, mode):
    fans = dict(zip(("fan_in", "fan_out"), _torch_fans(shape), strict=True))
    gain = math.sqrt(2.0 / (1 + 0.2**2))
    ours = init.kaiming_normal_(
        torch.empty(shape), a=0.2, mode=mode, generator=_generator()
    )
    _assert_float32_equal(ours, _same_draw_normal(shape, gain / math.sqrt(fans[mode])))


def test_kaiming_uniform_default_bound_dense():
    # Default arguments on a (50, 100) weight: gain sqrt(2), bound sqrt(6 / 100).
    ours = init.kaiming_uniform_(torch.empty(50, 100), generator=_generator())
    _assert_float32_equal(ours, _same_draw_uniform((50, 100), math.sqrt(6 / 100)))


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_lecun_uniform_bound(shape):
    fan_in, _ = _torch_fans(shape)
    ours = init.lecun_uniform_(torch.empty(shape), generator=_generator())
    _assert_float32_equal(ours, _same_draw_uniform(shape, math.sqrt(3.0 / fan_in)))


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_lecun_normal_std(shape):
    fan_in, _ = _torch_fans(shape)
    ours = init.lecun_normal_(torch.empty(shape), generator=_generator())
    _assert_float32_equal(ours, _same_draw_normal(shape, math.sqrt(1.0 / fan_in)))


def _assert_keras_truncated(values, std):
    """Check a Keras-convention truncated normal: cut at 2 parent std, std after the cut ``std``."""
    bound = 2 * std / KERAS_FACTOR
    assert values.abs().max().item() <= bound
    assert values.abs().max().item() > 0.97 * bound
    assert values.double().std().item() == pytest.approx(std, rel=0.03)
    scaled = (values.double() / (std / KERAS_FACTOR)).flatten().numpy()
    assert stats.kstest(scaled, stats.truncnorm(-2, 2).cdf).pvalue > 0.01


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_he_truncated_normal_scale(shape):
    fan_in, _ = _torch_fans(shape)
    values = init.he_truncated_normal_(torch.empty(shape), generator=_generator())
    _assert_keras_truncated(values, math.sqrt(2.0 / fan_in))


def test_he_truncated_normal_fan_in_256():
    values = init.he_truncated_normal_(torch.empty(128, 256), generator=_generator())
    assert values.abs().max().item() <= 0.200968 + 1e-6
    assert values.double().std().item() == pytest.approx(0.088388, rel=0.02)


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_glorot_truncated_normal_scale(shape):
    fan_in, fan_out = _torch_fans(shape)
    values = init.glorot_truncated_normal_(
        torch.empty(shape), gain=2.0, generator=_generator()
    )
    _assert_keras_truncated(values, 2.0 * math.sqrt(2.0 / (fan_in + fan_out)))


def test_lecun_truncated_normal_scale():
    values = init.lecun_truncated_normal_(
        torch.empty(64, 32, 3, 3), generator=_generator()
    )
    _assert_keras_truncated(values, math.sqrt(1.0 / (32 * 9)))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_uniform_bound(mode):
    shape = (32, 16, 3, 3)
    fan_in, fan_out = _torch_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    ours = init.variance_scaling_(
        torch.empty(shape), 2.0, mode, "uniform", generator=_generator()
    )
    _assert_float32_equal(ours, _same_draw_uniform(shape, math.sqrt(3.0 * 2.0 / n)))


def test_variance_scaling_rejects_bare_normal():
    with pytest.raises(ValueError, match="ambiguous"):
        init.variance_scaling_(torch.empty(4, 4), distribution="normal")


# Errors and warnings for bad input, compared with torch's.

FAN_FUNCTIONS = [
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
]

BAD_INPUT = [
    *[(name, (), {}) for name in FAN_FUNCTIONS],
    *[(name, (5,), {}) for name in FAN_FUNCTIONS],
    *[(name, (0,), {}) for name in FAN_FUNCTIONS],
    *[(name, (0, 5), {}) for name in FAN_FUNCTIONS],
    *[(name, (5, 0), {}) for name in FAN_FUNCTIONS],
    ("kaiming_uniform_", (4, 4, 0), {}),
    ("kaiming_normal_", (0, 0), {}),
    ("kaiming_uniform_", (3, 4), {"nonlinearity": "gelu"}),
    ("kaiming_normal_", (3, 4), {"nonlinearity": "swish"}),
    ("kaiming_normal_", (5,), {"nonlinearity": "gelu"}),
    ("kaiming_uniform_", (3, 4), {"mode": "fan_avg"}),
    ("kaiming_normal_", (5,), {"mode": "fan_avg"}),
    ("kaiming_normal_", (3, 4), {"nonlinearity": "leaky_relu", "a": True}),
    ("kaiming_normal_", (0, 4), {"nonlinearity": "gelu"}),
    ("xavier_uniform_", (3, 4), {"gain": -1.0}),
    ("xavier_normal_", (3, 4), {"gain": -1.0}),
    ("uniform_", (3, 4), {"a": 1.0, "b": 0.0}),
    ("uniform_", (0,), {"a": 1.0, "b": 0.0}),
    ("normal_", (3, 4), {"std": -1.0}),
    ("trunc_normal_", (3, 4), {"a": 2.0, "b": 1.0}),
    ("trunc_normal_", (3, 4), {"mean": 5.0}),
    ("trunc_normal_", (3, 4), {"mean": -5.0}),
    ("trunc_normal_", (0,), {}),
    ("eye_", (3,), {}),
    ("eye_", (2, 3, 4), {}),
    ("eye_", (0, 0), {}),
    ("dirac_", (3, 3), {}),
    ("dirac_", (4, 3, 3), {"groups": 3}),
    ("dirac_", (6, 3, 3), {"groups": 0}),
    ("dirac_", (0, 3, 3), {}),
    ("orthogonal_", (), {}),
    ("orthogonal_", (5,), {}),
    ("orthogonal_", (0, 5), {}),
    ("orthogonal_", (4, 0, 3), {}),
    ("sparse_", (5,), {"sparsity": 0.1}),
    ("sparse_", (2, 3, 4), {"sparsity": 0.1}),
    ("sparse_", (0, 5), {"sparsity": 0.1}),
    ("sparse_", (5, 5), {"sparsity": math.nan}),
    ("uniform_", (0, 3), {}),
    ("normal_", (0, 3), {}),
    ("zeros_", (0, 3), {}),
    ("constant_", (0, 3), {"val": 2.0}),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), BAD_INPUT)
def test_bad_input_same_as_torch(name, shape, kwargs):
    ours = _outcome(getattr(init, name), torch.empty(shape), **kwargs)
    theirs = _outcome(getattr(tinit, name), torch.empty(shape), **kwargs)
    assert ours == theirs, f"{name}{kwargs} on {shape}"


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_zero_element_warning_points_at_caller(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(init, name)(torch.empty(0, 3))
    assert len(caught) == 1
    assert caught[0].filename == __file__


@pytest.mark.parametrize("nonlinearity", ["gelu", "Relu", ""])
def test_calculate_gain_errors_match_torch(nonlinearity):
    with pytest.raises(ValueError) as ours:
        init.calculate_gain(nonlinearity)
    with pytest.raises(ValueError) as theirs:
        tinit.calculate_gain(nonlinearity)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "name",
    [
        "uniform_",
        "normal_",
        "trunc_normal_",
        "xavier_uniform_",
        "kaiming_normal_",
        "orthogonal_",
    ],
)
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_integer_tensor_raises_like_torch(name, dtype):
    with pytest.raises(NotImplementedError):
        getattr(tinit, name)(torch.zeros(4, 4, dtype=dtype))
    with pytest.raises(NotImplementedError, match="floating-point tensor"):
        getattr(init, name)(torch.zeros(4, 4, dtype=dtype))


def test_sparse_integer_tensor_raises_like_torch():
    with pytest.raises(NotImplementedError):
        init.sparse_(torch.zeros(4, 4, dtype=torch.int64), 0.5)


@pytest.mark.parametrize(
    ("name", "args", "shape"),
    [
        ("zeros_", (), (3, 4)),
        ("ones_", (), (3, 4)),
        ("constant_", (7,), (3, 4)),
        ("eye_", (), (3, 4)),
        ("dirac_", (), (4, 4, 3)),
    ],
)
def test_exact_functions_accept_integer_tensor(name, args, shape):
    ours = getattr(init, name)(torch.full(shape, 5, dtype=torch.int64), *args)
    theirs = getattr(tinit, name)(torch.full(shape, 5, dtype=torch.int64), *args)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_alias_warns(name):
    tensor = torch.empty(4, 4, 3)
    args = (0.5,) if name in ("constant", "sparse") else ()
    if name in ("eye", "sparse"):
        tensor = torch.empty(4, 4)
    with pytest.warns(FutureWarning, match=f"{name}_"):
        getattr(init, name)(tensor, *args)


# Documented fixes of torch defects.


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
@pytest.mark.parametrize("shape", [(0, 0), (4, 4, 0)])
def test_xavier_zero_fans_warns_instead_of_dividing(name, shape):
    with pytest.raises(ZeroDivisionError):
        getattr(tinit, name)(torch.empty(shape))
    tensor = torch.empty(shape)
    with pytest.warns(
        UserWarning, match="^Initializing zero-element tensors is a no-op$"
    ):
        assert getattr(init, name)(tensor) is tensor


def test_trunc_normal_std_zero_clips_mean():
    with pytest.raises(ZeroDivisionError):
        tinit.trunc_normal_(torch.empty(3), mean=0.5, std=0.0)
    assert torch.all(init.trunc_normal_(torch.empty(3), mean=0.5, std=0.0) == 0.5)
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        clipped = init.trunc_normal_(torch.empty(3), mean=5.0, std=0.0)
    assert torch.all(clipped == 2.0)


@pytest.mark.parametrize(("low", "high"), [(5.0, 6.0), (-6.0, -5.0), (2.0, 3.0)])
def test_trunc_normal_tail_interval_exact(low, high):
    with warnings.catch_warnings():
        # torch's warning for a mean more than 2 std outside [a, b], kept
        # for parity, although these values stay exact.
        warnings.simplefilter("ignore", UserWarning)
        values = init.trunc_normal_(
            torch.empty(20_000), a=low, b=high, generator=_generator()
        )
    pvalue = stats.kstest(
        values.double().numpy(), stats.truncnorm(low, high).cdf
    ).pvalue
    assert pvalue > 0.01


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_orthogonal_half_types(dtype):
    with pytest.raises(RuntimeError):
        tinit.orthogonal_(torch.empty(12, 8, dtype=dtype))
    values = init.orthogonal_(torch.empty(12, 8, dtype=dtype), generator=_generator())
    gram = values.double().t() @ values.double()
    assert values.dtype == dtype
    assert torch.allclose(gram, torch.eye(8, dtype=torch.float64), atol=0.05)


def test_sparse_mask_from_generator():
    state = torch.random.get_rng_state()
    first = init.sparse_(torch.empty(30, 20), 0.4, generator=_generator(7))
    assert torch.equal(torch.random.get_rng_state(), state)
    second = init.sparse_(torch.empty(30, 20), 0.4, generator=_generator(7))
    assert torch.equal(first, second)


def test_dirac_empty_kernel_is_no_op():
    with pytest.raises(IndexError):
        tinit.dirac_(torch.empty(4, 4, 0))
    tensor = torch.empty(4, 4, 0)
    assert init.dirac_(tensor) is tensor


# Autograd, meta tensors and the beyond-torch zero-element rule.

EVERY_FUNCTION = [
    ("uniform_", ()),
    ("normal_", ()),
    ("trunc_normal_", ()),
    ("constant_", (0.5,)),
    ("ones_", ()),
    ("zeros_", ()),
    ("eye_", ()),
    ("xavier_uniform_", ()),
    ("xavier_normal_", ()),
    ("kaiming_uniform_", ()),
    ("kaiming_normal_", ()),
    ("orthogonal_", ()),
    ("sparse_", (0.5,)),
    ("lecun_uniform_", ()),
    ("lecun_normal_", ()),
    ("lecun_truncated_normal_", ()),
    ("glorot_truncated_normal_", ()),
    ("he_truncated_normal_", ()),
    ("variance_scaling_", ()),
]


@pytest.mark.parametrize(("name", "args"), EVERY_FUNCTION)
def test_parameter_gets_no_history(name, args):
    weight = torch.nn.Parameter(torch.zeros(6, 5))
    getattr(init, name)(weight, *args)
    assert weight.grad_fn is None
    assert weight.requires_grad


@pytest.mark.parametrize(("name", "args"), EVERY_FUNCTION)
def test_meta_tensor_untouched(name, args):
    tensor = torch.empty(6, 5, device="meta")
    assert getattr(init, name)(tensor, *args) is tensor


@pytest.mark.parametrize(
    "name",
    [
        "lecun_uniform_",
        "lecun_normal_",
        "lecun_truncated_normal_",
        "glorot_truncated_normal_",
        "he_truncated_normal_",
        "variance_scaling_",
    ],
)
def test_beyond_torch_zero_element_warns(name):
    tensor = torch.empty(0, 5)
    with pytest.warns(
        UserWarning, match="^Initializing zero-element tensors is a no-op$"
    ):
        assert getattr(init, name)(tensor) is tensor
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        getattr(init, name)(torch.empty(5))
