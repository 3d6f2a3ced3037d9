"""Scheme names, aliases and the spec-string parser.

Every scheme has one snake_case id and may have aliases: PyTorch's function
names (``xavier_uniform``, ``kaiming_normal``, with or without the trailing
underscore) and Keras's class names (``GlorotUniform``). Where a framework
gives a name a different meaning, the alias follows that framework, so
``he_normal`` is the untruncated normal of PyTorch's ``kaiming_normal_``
while ``HeNormal`` is Keras's truncated one. Bare ``normal`` always means
untruncated.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from initlab import schemes as s
from initlab.errors import SchemeError
from initlab.gains import calculate_gain


@dataclass(frozen=True)
class Entry:
    """One named scheme: how to build it and how to describe it in tables."""

    name: str
    factory: Callable[..., s.Scheme]
    aliases: tuple[str, ...] = ()
    distribution: str = ""
    default_for: str = ""


def _constant(value: float = 0.0, val: float | None = None) -> s.Scheme:
    # PyTorch's constant_ calls the argument ``val``, Keras's Constant ``value``.
    return s.Constant(val if val is not None else value)


def _kaiming_gain(gain: float | None, a: float, nonlinearity: str) -> float:
    """Return the He gain: an explicit ``gain``, else PyTorch's table for ``nonlinearity`` and slope ``a``."""
    if gain is not None:
        return gain
    return calculate_gain(nonlinearity, a)


def _he_normal(
    gain: float | None = None,
    mode: str = "fan_in",
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
) -> s.Scheme:
    return s.he_normal(_kaiming_gain(gain, a, nonlinearity), mode)


def _he_uniform(
    gain: float | None = None,
    mode: str = "fan_in",
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
) -> s.Scheme:
    return s.he_uniform(_kaiming_gain(gain, a, nonlinearity), mode)


def _sparse(sparsity: float, std: float = 0.01) -> s.Scheme:
    return s.Sparse(sparsity, std)


REGISTRY: tuple[Entry, ...] = (
    Entry(
        "zeros",
        lambda: s.Constant(0.0),
        ("Zeros", "zeros_"),
        "constant 0",
        "biases in PyTorch layers after init rules, Keras, Flax",
    ),
    Entry(
        "ones",
        lambda: s.Constant(1.0),
        ("Ones", "ones_"),
        "constant 1",
        "normalization weights",
    ),
    Entry("constant", _constant, ("Constant", "constant_"), "constant value"),
    Entry(
        "normal",
        lambda mean=0.0, std=1.0: s.Normal(mean, std),
        ("normal_",),
        "normal, untruncated",
        "PyTorch Embedding (std 1)",
    ),
    Entry(
        "random_normal",
        lambda mean=0.0, stddev=0.05: s.Normal(mean, stddev),
        ("RandomNormal",),
        "normal, untruncated (Keras defaults)",
    ),
    Entry(
        "uniform",
        lambda a=0.0, b=1.0: s.Uniform(a, b),
        ("uniform_",),
        "uniform on [a, b)",
    ),
    Entry(
        "random_uniform",
        lambda minval=-0.05, maxval=0.05: s.Uniform(minval, maxval),
        ("RandomUniform",),
        "uniform (Keras defaults)",
        "Keras Embedding",
    ),
    Entry(
        "trunc_normal_absolute",
        lambda mean=0.0, std=1.0, a=-2.0, b=2.0: s.TruncatedNormalAbsolute(
            mean, std, a, b
        ),
        ("trunc_normal", "trunc_normal_"),
        "truncated normal, absolute cut-offs (PyTorch)",
    ),
    Entry(
        "trunc_normal_std_units",
        lambda mean=0.0, std=1.0, lower=-2.0, upper=2.0: s.TruncatedNormalStdUnits(
            mean, std, lower, upper
        ),
        (),
        "truncated normal, cut-offs in stds (TF, JAX)",
    ),
    Entry(
        "truncated_normal",
        lambda mean=0.0, stddev=0.05: s.TruncatedNormalStdUnits(
            mean, stddev, -2.0, 2.0
        ),
        ("TruncatedNormal",),
        "truncated normal at +-2 parent stds (Keras defaults)",
    ),
    Entry(
        "variance_scaling",
        lambda scale=1.0, mode="fan_in", distribution="truncated_normal": (
            s.VarianceScaling(scale, mode, distribution)
        ),
        ("VarianceScaling", "variance_scaling_"),
        "scale / n, by mode and distribution",
    ),
    Entry("lecun_normal", s.lecun_normal, ("lecun_normal_",), "normal, untruncated"),
    Entry(
        "lecun_uniform", s.lecun_uniform, ("LecunUniform", "lecun_uniform_"), "uniform"
    ),
    Entry(
        "lecun_truncated_normal",
        s.lecun_truncated_normal,
        ("LecunNormal", "lecun_trunc"),
        "truncated normal, corrected",
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
        "Keras Dense and Conv kernels",
    ),
    Entry(
        "glorot_truncated_normal",
        s.glorot_truncated_normal,
        ("GlorotNormal", "glorot_trunc"),
        "truncated normal, corrected",
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
    ),
    Entry(
        "he_truncated_normal",
        s.he_truncated_normal,
        ("HeNormal", "he_trunc"),
        "truncated normal, corrected",
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
        ("Orthogonal", "orthogonal_"),
        "orthogonal matrix",
        "Keras LSTM recurrent kernel",
    ),
    Entry(
        "identity",
        lambda gain=1.0: s.Identity(gain),
        ("Identity", "eye", "eye_"),
        "identity matrix",
    ),
    Entry("dirac", lambda groups=1: s.Dirac(groups), ("dirac_",), "Dirac delta kernel"),
    Entry("sparse", _sparse, ("sparse_",), "normal with zeroed entries"),
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

    Raises:
        SchemeError: for an unknown name, listing the closest known names.
    """
    if name in _BY_NAME:
        return _BY_NAME[name]
    lowered = name.lower()
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    close = difflib.get_close_matches(name, known_names(), n=4, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else "run `initlab schemes` for the list"
    )
    raise SchemeError(f"unknown scheme {name!r}: {hint}")


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
        kwargs = {
            k.arg: _literal(k.value, spec) for k in tree.keywords if k.arg is not None
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
        SchemeError: for an unknown name or argument, naming the valid ones.
    """
    entry = lookup(name)
    signature = inspect.signature(entry.factory)
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
        return entry.factory(*args, **kwargs)
    except SchemeError:
        raise
    except (TypeError, ValueError) as error:
        raise SchemeError(f"invalid arguments for scheme {name!r}: {error}") from error
