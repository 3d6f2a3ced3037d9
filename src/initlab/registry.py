"""Scheme names, aliases and the spec-string parser.

Every scheme has one snake_case id and may have aliases: PyTorch's function
names (``xavier_uniform``, ``kaiming_normal``, with or without the trailing
underscore) and Keras's class names (``GlorotUniform``). Where the
frameworks disagree, the snake_case ids follow PyTorch and the Keras class
names follow Keras. So ``he_normal`` is the untruncated normal of PyTorch's
``kaiming_normal_``, while ``HeNormal`` is Keras's truncated one. Keras's
and JAX's own snake_case ``he_normal``, ``glorot_normal`` and
``lecun_normal`` are truncated too, and here they are called
``he_truncated_normal`` and so on. The id ``normal`` is PyTorch's untruncated ``normal_`` with
std 1; Keras's ``RandomNormal`` is ``random_normal``.

A spec string is a name optionally called with literal arguments, as in a
config file or on the command line::

    he_normal
    normal(std=0.01)
    variance_scaling(scale=2.0, mode="fan_out", distribution="uniform")
"""

from __future__ import annotations

import ast
import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from initlab import schemes as s
from initlab.errors import SchemeError
from initlab.gains import calculate_gain


@dataclass(frozen=True)
class Entry:
    """One named scheme: how to build it and how to describe it in tables.

    ``variants`` maps an alias to its own factory where that alias's
    framework computes the same distribution with a different order of
    floating-point operations (Keras's ``GlorotUniform`` against PyTorch's
    ``xavier_uniform_``), so that each name matches its framework bit for
    bit. ``formula`` is the std or bound for the table when the factory's
    defaults do not show it.
    """

    name: str
    factory: Callable[..., s.Scheme]
    aliases: tuple[str, ...] = ()
    distribution: str = ""
    default_for: str = ""
    variants: Mapping[str, Callable[..., s.Scheme]] = field(default_factory=dict)
    formula: str = ""

    def factory_for(self, name: str) -> Callable[..., s.Scheme]:
        """Return the factory that ``name`` (the id or an alias) builds with."""
        return self.variants.get(name, self.factory)


@dataclass(frozen=True)
class DataDependentEntry:
    """An initializer whose weights depend on data, so it has no std formula."""

    name: str
    description: str
    source: str


def _constant(value: float | None = None, val: float | None = None) -> s.Scheme:
    # PyTorch's constant_ calls the argument ``val``, Keras's Constant ``value``.
    if value is not None and val is not None:
        raise SchemeError(
            f"constant takes value or val, not both: got value={value!r}, val={val!r}"
        )
    if val is not None:
        return s.Constant(val)
    return s.Constant(0.0 if value is None else value)


def _kaiming_gain(gain: float | None, a: float, nonlinearity: str) -> float:
    """Return the He gain: an explicit ``gain``, else PyTorch's table for ``nonlinearity`` and slope ``a``."""
    if gain is not None:
        return gain
    return calculate_gain(nonlinearity, a)


def _he_normal(
    *,
    gain: float | None = None,
    mode: str = "fan_in",
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
) -> s.Scheme:
    return s.he_normal(_kaiming_gain(gain, a, nonlinearity), mode)


def _he_uniform(
    *,
    gain: float | None = None,
    mode: str = "fan_in",
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
) -> s.Scheme:
    return s.he_uniform(_kaiming_gain(gain, a, nonlinearity), mode)


def _sparse(sparsity: float, std: float = 0.01) -> s.Scheme:
    return s.Sparse(sparsity, std)


def _variance_scaling(
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    convention: str = "keras",
) -> s.Scheme:
    return s.VarianceScaling(scale, mode, distribution, convention=convention)


def _keras_glorot_uniform() -> s.Scheme:
    return s.VarianceScaling(1.0, "fan_avg", "uniform", name="GlorotUniform")


def _keras_he_uniform() -> s.Scheme:
    return s.VarianceScaling(2.0, "fan_in", "uniform", name="HeUniform")


REGISTRY: tuple[Entry, ...] = (
    Entry(
        "zeros",
        lambda: s.Constant(0.0),
        ("Zeros", "zeros_", "zero"),
        "constant 0",
        "Keras and Flax biases, PyTorch normalization biases",
    ),
    Entry(
        "ones",
        lambda: s.Constant(1.0),
        ("Ones", "ones_", "one"),
        "constant 1",
        "Keras and PyTorch normalization scales",
    ),
    Entry(
        "constant",
        _constant,
        ("Constant", "constant_"),
        "constant value",
        formula="w = value",
    ),
    Entry(
        "normal",
        lambda mean=0.0, std=1.0: s.Normal(mean, std),
        ("normal_",),
        "normal, untruncated",
        "PyTorch Embedding (std 1)",
        formula="std = std (default 1)",
    ),
    Entry(
        "random_normal",
        lambda mean=0.0, stddev=0.05: s.Normal(mean, stddev),
        ("RandomNormal",),
        "normal, untruncated (Keras)",
        formula="std = stddev (default 0.05)",
    ),
    Entry(
        "uniform",
        lambda a=0.0, b=1.0: s.Uniform(a, b),
        ("uniform_",),
        "uniform on [a, b)",
        formula="std = (b - a) / sqrt(12), default [0, 1)",
    ),
    Entry(
        "random_uniform",
        lambda minval=-0.05, maxval=0.05: s.Uniform(minval, maxval),
        ("RandomUniform",),
        "uniform (Keras)",
        "Keras Embedding",
        formula="bound = 0.05 by default",
    ),
    Entry(
        "trunc_normal_absolute",
        lambda mean=0.0, std=1.0, a=-2.0, b=2.0: s.TruncatedNormalAbsolute(
            mean, std, a, b
        ),
        ("trunc_normal", "trunc_normal_"),
        "truncated normal, absolute cut-offs (PyTorch)",
        formula="parent std = std, cut to [a, b] (default [-2, 2])",
    ),
    Entry(
        "trunc_normal_std_units",
        lambda mean=0.0, std=1.0, lower=-2.0, upper=2.0: s.TruncatedNormalStdUnits(
            mean, std, lower, upper
        ),
        (),
        "truncated normal, cut-offs in std units (TF, JAX)",
        formula="parent std = std, cut at mean + [lower, upper] * std",
    ),
    Entry(
        "truncated_normal",
        lambda mean=0.0, stddev=0.05: s.TruncatedNormalStdUnits(
            mean, stddev, -2.0, 2.0
        ),
        ("TruncatedNormal",),
        "truncated normal, cut at +-2 std (Keras)",
        formula="parent std = stddev (default 0.05), cut at +-2 stddev",
    ),
    Entry(
        "variance_scaling",
        _variance_scaling,
        ("VarianceScaling", "variance_scaling_"),
        "scale / n, by mode and distribution",
        formula="std = sqrt(scale / n), n by mode",
    ),
    Entry("lecun_normal", s.lecun_normal, ("lecun_normal_",), "normal, untruncated"),
    Entry(
        "lecun_uniform", s.lecun_uniform, ("LecunUniform", "lecun_uniform_"), "uniform"
    ),
    Entry(
        "lecun_truncated_normal",
        s.lecun_truncated_normal,
        ("LecunNormal", "lecun_trunc"),
        "truncated normal, std corrected",
        "Flax Dense and Conv kernels",
    ),
    Entry(
        "glorot_normal",
        s.glorot_normal,
        ("xavier_normal", "xavier_normal_"),
        "normal, untruncated",
    ),
    Entry(
        "glorot_uniform",
        s.glorot_uniform,
        ("xavier_uniform", "xavier_uniform_", "GlorotUniform"),
        "uniform",
        "Keras Dense and Conv kernels, PyTorch MultiheadAttention",
        variants={"GlorotUniform": _keras_glorot_uniform},
    ),
    Entry(
        "glorot_truncated_normal",
        s.glorot_truncated_normal,
        ("GlorotNormal", "glorot_trunc"),
        "truncated normal, std corrected",
    ),
    Entry(
        "he_normal",
        _he_normal,
        ("kaiming_normal", "kaiming_normal_"),
        "normal, untruncated",
    ),
    Entry(
        "he_uniform",
        _he_uniform,
        ("kaiming_uniform", "kaiming_uniform_", "HeUniform"),
        "uniform",
        variants={"HeUniform": _keras_he_uniform},
    ),
    Entry(
        "he_truncated_normal",
        s.he_truncated_normal,
        ("HeNormal", "he_trunc"),
        "truncated normal, std corrected",
    ),
    Entry(
        "torch_default",
        s.torch_default,
        ("std_uniform",),
        "uniform",
        "PyTorch Linear and Conv weights",
    ),
    Entry(
        "orthogonal",
        lambda gain=1.0: s.Orthogonal(gain),
        ("Orthogonal", "orthogonal_", "OrthogonalInitializer"),
        "orthogonal matrix",
        "Keras LSTM and GRU recurrent kernels",
    ),
    Entry(
        "identity",
        lambda gain=1.0: s.Identity(gain),
        ("Identity", "eye", "eye_", "IdentityInitializer"),
        "identity matrix",
    ),
    Entry(
        "dirac",
        lambda groups=1: s.Dirac(groups),
        ("dirac_",),
        "Dirac delta kernel",
        formula="w = 1 at the kernel centre of channel pairs (d, d)",
    ),
    Entry(
        "sparse",
        _sparse,
        ("sparse_",),
        "normal with zeroed entries",
        formula="values: std * sqrt(1 - ceil(sparsity * rows) / rows)",
    ),
)

DATA_DEPENDENT: tuple[DataDependentEntry, ...] = (
    DataDependentEntry(
        "lsuv",
        "orthogonal weights, then each layer rescaled until its outputs on a data "
        "batch have unit variance",
        'Mishkin and Matas, "All you need is a good init", 2016',
    ),
    DataDependentEntry(
        "pretrained",
        "weights from greedy layer-wise unsupervised pretraining (autoencoders or "
        "RBMs trained one layer at a time on the data)",
        'Hinton, Osindero and Teh, 2006; Bengio, Lamblin, Popovici and Larochelle, "Greedy '
        'Layer-Wise Training of Deep Networks", 2007',
    ),
)

_BY_NAME: dict[str, Entry] = {}
for _entry in REGISTRY:
    for _name in (_entry.name, *_entry.aliases):
        _BY_NAME[_name] = _entry


def known_names() -> list[str]:
    """Return every accepted scheme name and alias, sorted."""
    return sorted(_BY_NAME)


def lookup(name: str) -> Entry:
    """Return the registry entry for ``name`` or an alias of it.

    An exact match wins; otherwise the lower-cased name is tried.

    Raises:
        SchemeError: for an unknown name, listing the closest known names.
    """
    if not isinstance(name, str):
        raise SchemeError(
            f"a scheme name must be a string, got {type(name).__name__}: {name!r}"
        )
    if name in _BY_NAME:
        return _BY_NAME[name]
    lowered = name.lower()
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    for entry in DATA_DEPENDENT:
        if lowered == entry.name:
            raise SchemeError(
                f"{name!r} is a data-dependent initializer, not a scheme: its "
                "weights depend on the data, so it has no fixed distribution"
            )
    close = difflib.get_close_matches(name, known_names(), n=4, cutoff=0.5)
    if not close and lowered != name:
        close = difflib.get_close_matches(lowered, known_names(), n=4, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise SchemeError(
        f"unknown scheme {name!r}: {hint}run `initlab schemes` for the full list"
    )


def _literal(node: ast.expr, spec: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise SchemeError(
            f"invalid argument {ast.unparse(node)!r} in scheme spec {spec!r}: arguments must be literals"
        ) from error


def parse_scheme(spec: str | s.Scheme) -> s.Scheme:
    """Build a scheme from a spec string such as ``normal(std=0.01)``.

    A :class:`~initlab.schemes.Scheme` passes through unchanged.

    Raises:
        SchemeError: for an unknown name, a syntax error, a non-literal or
            unknown argument, or an argument value the scheme rejects.
    """
    if isinstance(spec, s.Scheme):
        return spec
    if not isinstance(spec, str):
        raise SchemeError(
            f"a scheme must be a name, a spec string or a Scheme, got {type(spec).__name__}: {spec!r}"
        )
    text = spec.strip()
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        raise SchemeError(
            f"invalid scheme spec {spec!r}: expected NAME or NAME(arg=value, ...)"
        ) from error

    if isinstance(tree, ast.Name):
        name, args, kwargs = tree.id, [], {}
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        name = tree.func.id
        args = [_literal(a, spec) for a in tree.args]
        if any(keyword.arg is None for keyword in tree.keywords):
            raise SchemeError(
                f"invalid scheme spec {spec!r}: ** unpacking is not allowed, "
                "write each argument as name=value"
            )
        names = [keyword.arg for keyword in tree.keywords]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise SchemeError(
                f"invalid scheme spec {spec!r}: argument {', '.join(repeated)} is given more than once"
            )
        kwargs = {
            keyword.arg: _literal(keyword.value, spec) for keyword in tree.keywords
        }
    else:
        raise SchemeError(
            f"invalid scheme spec {spec!r}: expected NAME or NAME(arg=value, ...)"
        )

    return build_scheme(name, *args, **kwargs)


def _describe_parameter(parameter: inspect.Parameter) -> str:
    if parameter.default is inspect.Parameter.empty:
        return parameter.name
    return f"{parameter.name}={parameter.default!r}"


def build_scheme(name: str, *args: Any, **kwargs: Any) -> s.Scheme:
    """Build the scheme registered as ``name`` with the given arguments.

    Raises:
        SchemeError: for an unknown name or argument, naming the valid ones,
            or an argument value the scheme rejects, naming the scheme.
    """
    entry = lookup(name)
    factory = entry.factory_for(name)
    signature = inspect.signature(factory)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        params = (
            ", ".join(_describe_parameter(p) for p in signature.parameters.values())
            or "no arguments"
        )
        raise SchemeError(
            f"invalid arguments for scheme {name!r} ({error}); it takes: {params}"
        ) from None
    try:
        return factory(*args, **kwargs)
    except (TypeError, ValueError) as error:
        # SchemeError is a ValueError. The prefix names the scheme, so a
        # message points at the spec in a config that has the bad value.
        raise SchemeError(f"invalid arguments for scheme {name!r}: {error}") from None
