"""Initialization schemes: immutable rules from fans to a distribution.

A scheme depends on no tensor library or framework. :meth:`Scheme.resolve`
turns it into a primitive from :mod:`initlab.distributions` for given fans
(and, for structured schemes, the shape), so its standard deviation and
bound can be reported and tested without sampling anything. The backends
sample the primitives.

Truncated normals come in three conventions, each under its own name,
because the frameworks disagree on what the numbers mean:

=================================  ============================  =================================
scheme                             cut-offs                      ``std`` argument
=================================  ============================  =================================
:class:`TruncatedNormalAbsolute`   absolute values ``a``, ``b``  the parent normal's std (PyTorch
                                                                 ``trunc_normal_``)
:class:`TruncatedNormalStdUnits`   ``mean + [lower, upper]``     the parent normal's std (TF, JAX,
                                   times ``std``                 Keras ``TruncatedNormal``)
:class:`VarianceScaling` with      +-2 parent stds               chosen so that the std *after*
``"truncated_normal"``                                           truncation is the target (Keras)
=================================  ============================  =================================

Degenerate shapes follow one policy, implemented once in
:func:`resolve_for_shape` and used by both backends:

* a zero-element shape is a no-op with one ``UserWarning``;
* a shape with fewer than two dimensions gets Keras's fans: ``(n,)`` has
  ``fan_in = fan_out = n`` and ``()`` has ``1, 1``. Structured schemes
  (orthogonal, identity, Dirac, sparse) raise :class:`ShapeError` for it.

The drop-in :mod:`initlab.nn` keeps torch's own behaviour instead (a
ValueError for fewer than two dimensions).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from initlab import distributions as dist
from initlab.errors import SchemeError, ShapeError
from initlab.fans import Fans, compute_fans
from initlab.gains import calculate_gain

# Fans of a 0-D shape under Keras's rule; the default for schemes that ignore fans.
UNIT_FANS = Fans(1, 1)

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
# The order of floating-point operations that turns scale and fans into a
# std or bound. Both give the same number up to one unit in the last place,
# and each matches its framework bit for bit.
CONVENTIONS = ("keras", "torch")

ZERO_ELEMENT_MESSAGE = "initializing a zero-element tensor of shape {shape} is a no-op"


def _check_finite(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise SchemeError(f"{name} must be a finite number, got {name}={value!r}")
    return float(value)


def _check_non_negative(name: str, value: float) -> float:
    value = _check_finite(name, value)
    if value < 0:
        raise SchemeError(f"{name} must be >= 0, got {name}={value!r}")
    return value


def _check_positive(name: str, value: float) -> float:
    value = _check_finite(name, value)
    if value <= 0:
        raise SchemeError(f"{name} must be > 0, got {name}={value!r}")
    return value


def _number(value: float) -> str:
    """Format a constant for a formula: six significant digits, no trailing zeros."""
    return f"{value:.6g}"


def _matrix_shape(
    shape: Sequence[int] | None, fans: Fans, layout: str, scheme: str
) -> tuple[int, int]:
    """Return the (rows, cols) matrix a structured scheme works on."""
    if shape is None:
        # A dense layer in PyTorch's layout: rows are outputs.
        return int(fans.fan_out), int(fans.fan_in)
    if len(shape) < 2:
        raise ShapeError(
            f"{scheme} needs a tensor with at least 2 dimensions, got shape {tuple(shape)}"
        )
    numel = math.prod(shape)
    if layout == "keras":
        cols = shape[-1]
        return (numel // cols if cols else 0), cols
    rows = shape[0]
    return rows, (numel // rows if rows else 0)


@dataclass(frozen=True)
class Scheme:
    """Base class: a named rule that turns fans into a distribution."""

    kind: ClassVar[str] = "scheme"
    needs_fans: ClassVar[bool] = False

    def resolve(
        self, fans: Fans, shape: Sequence[int] | None = None, layout: str = "torch"
    ) -> dist.Distribution:
        """Return the primitive distribution for these fans and shape."""
        raise NotImplementedError

    def target_std(
        self,
        fans: Fans = UNIT_FANS,
        shape: Sequence[int] | None = None,
        layout: str = "torch",
    ) -> float:
        """Return the standard deviation of the values this scheme produces."""
        return self.resolve(fans, shape, layout).value_std()

    def bound(
        self,
        fans: Fans = UNIT_FANS,
        shape: Sequence[int] | None = None,
        layout: str = "torch",
    ) -> float:
        """Return the largest absolute value this scheme can produce (``inf`` if unbounded)."""
        low, high = self.resolve(fans, shape, layout).support()
        return max(abs(low), abs(high))

    def formula(self) -> str:
        """Return the std or bound as a formula in ``fan_in``, ``fan_out`` and ``gain``."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Short name for tables and reports."""
        return self.spec()

    def spec(self) -> str:
        """Return a spec string that :func:`initlab.registry.parse_scheme` turns back into this scheme."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.label


def resolve_for_shape(
    scheme: Scheme,
    shape: Sequence[int],
    *,
    layout: str = "torch",
    groups: int = 1,
    fans: Fans | None = None,
    stacklevel: int = 2,
) -> dist.Distribution | None:
    """Resolve ``scheme`` for a weight ``shape`` under the degenerate-shape policy.

    The shape, layout and groups are validated first. Then a zero-element
    shape emits one ``UserWarning`` and returns None, and the caller then
    leaves the tensor as it is. Any other shape resolves with ``fans``, or
    with the fans :func:`~initlab.fans.compute_fans` gives for ``shape``
    (Keras's rule for fewer than two dimensions).

    Args:
        stacklevel: passed to :func:`warnings.warn`, counted from the caller
            of this function, so a backend's public function passes 2 to
            point the warning at its own caller.

    Raises:
        ShapeError: for an invalid shape, layout or groups, or a shape the
            scheme cannot use.
    """
    computed = compute_fans(shape, layout, groups=groups)
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) == 0:
        warnings.warn(
            ZERO_ELEMENT_MESSAGE.format(shape=shape),
            UserWarning,
            stacklevel=stacklevel + 1,
        )
        return None
    return scheme.resolve(computed if fans is None else fans, shape, layout)


@dataclass(frozen=True)
class Constant(Scheme):
    """Every value equal to ``value``: ``w = value``. Zeros and ones are instances.

    Sources: PyTorch's ``zeros_``, ``ones_`` and ``constant_``; Keras's
    ``Zeros``, ``Ones`` and ``Constant``. Every unit of a layer initialized
    this way computes the same function and receives the same gradient, so
    plain gradient descent never makes the units differ: use it for biases
    and normalization scales, not for weights.
    """

    value: float = 0.0
    kind: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _check_finite("value", self.value)

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Constant(float(self.value))

    def formula(self) -> str:
        return f"w = {_number(self.value)}"

    def spec(self) -> str:
        if self.value == 0:
            return "zeros"
        if self.value == 1:
            return "ones"
        return f"constant({self.value!r})"


@dataclass(frozen=True)
class Normal(Scheme):
    """Untruncated normal ``N(mean, std^2)``, independent of the fans: ``std = std``.

    Sources: PyTorch's ``normal_`` (default std 1, the default of
    ``nn.Embedding``), Keras's ``RandomNormal`` and JAX's ``normal``.
    """

    mean: float = 0.0
    std: float = 1.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("mean", self.mean)
        _check_non_negative("std", self.std)

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Normal(float(self.mean), float(self.std))

    def formula(self) -> str:
        if self.mean == 0:
            return f"std = {_number(self.std)}"
        return f"std = {_number(self.std)}, mean = {_number(self.mean)}"

    def spec(self) -> str:
        if self.mean == 0:
            return f"normal(std={self.std!r})"
        return f"normal(mean={self.mean!r}, std={self.std!r})"


@dataclass(frozen=True)
class Uniform(Scheme):
    """Uniform on ``[a, b)``, independent of the fans: ``std = (b - a) / sqrt(12)``.

    Sources: PyTorch's ``uniform_`` (default ``[0, 1)``) and Keras's
    ``RandomUniform``.
    """

    a: float = 0.0
    b: float = 1.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("a", self.a)
        _check_finite("b", self.b)
        if self.a > self.b:
            raise SchemeError(
                f"uniform needs a <= b, got a={self.a!r} > b={self.b!r}; swap them"
            )

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Uniform(float(self.a), float(self.b))

    def formula(self) -> str:
        return f"U({_number(self.a)}, {_number(self.b)})"

    def spec(self) -> str:
        return f"uniform(a={self.a!r}, b={self.b!r})"


@dataclass(frozen=True)
class TruncatedNormalAbsolute(Scheme):
    """``N(mean, std^2)`` cut to the absolute interval ``[a, b]``.

    Source: PyTorch's ``trunc_normal_``. ``a`` and ``b`` are values, not
    multiples of ``std`` and not offsets from the mean, and ``std`` is the
    parent normal's. So ``std=0.02`` with the default ``a=-2, b=2`` cuts at
    100 standard deviations: in effect no truncation at all. With ``std=0``
    every value is the mean clipped to ``[a, b]``.
    """

    mean: float = 0.0
    std: float = 1.0
    a: float = -2.0
    b: float = 2.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("mean", self.mean)
        _check_non_negative("std", self.std)
        _check_finite("a", self.a)
        _check_finite("b", self.b)
        if not self.a < self.b:
            raise SchemeError(
                f"truncated normal needs a < b, got a={self.a!r}, b={self.b!r}"
            )

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.TruncatedNormal(
            float(self.mean), float(self.std), float(self.a), float(self.b)
        )

    def formula(self) -> str:
        return (
            f"N({_number(self.mean)}, {_number(self.std)}^2) "
            f"cut to [{_number(self.a)}, {_number(self.b)}]"
        )

    def spec(self) -> str:
        return (
            f"trunc_normal_absolute(mean={self.mean!r}, std={self.std!r}, "
            f"a={self.a!r}, b={self.b!r})"
        )


@dataclass(frozen=True)
class TruncatedNormalStdUnits(Scheme):
    """``N(mean, std^2)`` cut to ``mean + [lower, upper] * std``.

    Sources: TensorFlow's ``truncated_normal``, JAX's
    ``jax.nn.initializers.truncated_normal`` and Keras's ``TruncatedNormal``
    (which always cuts at +-2). ``std`` is the parent normal's, so the
    values have a smaller std: 0.87962566 times ``std`` for the cut at +-2.
    """

    mean: float = 0.0
    std: float = 1.0
    lower: float = -2.0
    upper: float = 2.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("mean", self.mean)
        _check_non_negative("std", self.std)
        _check_finite("lower", self.lower)
        _check_finite("upper", self.upper)
        if not self.lower < self.upper:
            raise SchemeError(
                "truncated normal needs lower < upper, "
                f"got lower={self.lower!r}, upper={self.upper!r}"
            )

    def resolve(self, fans, shape=None, layout="torch"):
        low = self.mean + self.lower * self.std
        high = self.mean + self.upper * self.std
        return dist.TruncatedNormal(float(self.mean), float(self.std), low, high)

    def formula(self) -> str:
        return (
            f"N({_number(self.mean)}, {_number(self.std)}^2) cut at mean + "
            f"[{_number(self.lower)}, {_number(self.upper)}] * std"
        )

    def spec(self) -> str:
        return (
            f"trunc_normal_std_units(mean={self.mean!r}, std={self.std!r}, "
            f"lower={self.lower!r}, upper={self.upper!r})"
        )


@dataclass(frozen=True)
class VarianceScaling(Scheme):
    """Variance ``scale / n``, with ``n`` chosen by ``mode``: Keras's ``VarianceScaling``.

    ``n`` is ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2``, and
    ``std = sqrt(scale / n)`` is the std of the values produced:

    * ``truncated_normal``: a normal of std ``sqrt(scale / n) / 0.87962566103423978``
      cut at +-2 of its own stds, so the std after truncation is ``sqrt(scale / n)``;
    * ``untruncated_normal``: ``N(0, scale / n)``;
    * ``uniform``: ``U(-bound, bound)`` with ``bound = sqrt(3 * scale / n)``.

    Source: Keras's ``VarianceScaling`` (and JAX's ``variance_scaling``),
    the common form of LeCun (1998), Glorot and Bengio (2010) and He et al.
    (2015); the named factories below are its instances. The bare word
    ``"normal"`` is rejected because Keras reads it as truncated while
    PyTorch and JAX read it as untruncated.

    ``convention`` fixes the order of floating-point operations, so that
    each framework's numbers are matched bit for bit:

    * ``"keras"``: ``sqrt(scale / max(1, n))`` and ``sqrt(3 * scale / max(1, n))``,
      with Keras's floor of 1 on ``n``;
    * ``"torch"``: ``gain / sqrt(n)`` (``gain * sqrt(2 / (fan_in + fan_out))``
      for ``fan_avg``) and ``sqrt(3) * std`` with ``gain = sqrt(scale)``, as
      ``torch.nn.init`` computes them; a zero fan raises :class:`ShapeError`
      where torch would divide by zero.
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    name: str | None = field(default=None, compare=False)
    convention: str = "keras"
    kind: ClassVar[str] = "fan-based"
    needs_fans: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_positive("scale", self.scale)
        if self.mode not in MODES:
            raise SchemeError(
                f"invalid mode {self.mode!r}: use one of {', '.join(MODES)}"
            )
        if self.distribution == "normal":
            raise SchemeError(
                "distribution='normal' is ambiguous: Keras means a normal truncated "
                "at 2 std, PyTorch and JAX an untruncated one. Use "
                "distribution='truncated_normal' or distribution='untruncated_normal'"
            )
        if self.distribution not in DISTRIBUTIONS:
            raise SchemeError(
                f"invalid distribution {self.distribution!r}: use one of "
                f"{', '.join(DISTRIBUTIONS)}"
            )
        if self.convention not in CONVENTIONS:
            raise SchemeError(
                f"invalid convention {self.convention!r}: use one of {', '.join(CONVENTIONS)}"
            )

    @property
    def gain(self) -> float:
        """``sqrt(scale)``, the factor PyTorch multiplies the std by."""
        return math.sqrt(self.scale)

    def denominator(self, fans: Fans) -> float:
        """Return ``n``: the fan that ``mode`` selects."""
        if self.mode == "fan_in":
            return fans.fan_in
        if self.mode == "fan_out":
            return fans.fan_out
        return fans.fan_avg

    def _keras_variance(self, fans: Fans) -> float:
        # Keras floors n at 1, so a 0-D or zero-size shape cannot divide by zero.
        return self.scale / max(1.0, self.denominator(fans))

    def target_std(
        self,
        fans: Fans = UNIT_FANS,
        shape: Sequence[int] | None = None,
        layout: str = "torch",
    ) -> float:
        """Return ``sqrt(scale / n)``, the std of the values this scheme produces."""
        if self.convention == "keras":
            return math.sqrt(self._keras_variance(fans))
        n = self.denominator(fans)
        if n <= 0:
            raise ShapeError(
                f"{self.mode} is {n}; a variance-scaling scheme needs a positive fan"
            )
        if self.mode == "fan_avg":
            return self.gain * math.sqrt(2.0 / float(fans.fan_in + fans.fan_out))
        return self.gain / math.sqrt(n)

    def resolve(self, fans, shape=None, layout="torch"):
        std = self.target_std(fans)
        if self.distribution == "uniform":
            # U(-l, l) has variance l^2 / 3.
            if self.convention == "keras":
                limit = math.sqrt(3.0 * self._keras_variance(fans))
            else:
                limit = math.sqrt(3.0) * std
            return dist.Uniform(-limit, limit)
        if self.distribution == "untruncated_normal":
            return dist.Normal(0.0, std)
        parent_std = std / dist.TRUNCATED_STD_FACTOR
        return dist.TruncatedNormal(
            0.0, parent_std, -2.0 * parent_std, 2.0 * parent_std
        )

    def formula(self) -> str:
        # The gain is folded into the constant: sqrt(2) / sqrt(fan_in) reads
        # as sqrt(2 / fan_in), the form the papers and both frameworks use.
        factor = 3.0 * self.scale if self.distribution == "uniform" else self.scale
        if self.mode == "fan_avg":
            factor, n = 2.0 * factor, "(fan_in + fan_out)"
        else:
            n = self.mode
        what = "bound" if self.distribution == "uniform" else "std"
        core = f"{what} = sqrt({_number(factor)} / {n})"
        if self.distribution == "truncated_normal":
            return f"{core} after a cut at +-2 parent std"
        return core

    @property
    def label(self) -> str:
        return self.name or self.spec()

    def spec(self) -> str:
        if self.name is not None and _spec_round_trips(self.name, self):
            return self.name
        convention = (
            "" if self.convention == "keras" else f", convention={self.convention!r}"
        )
        return (
            f"variance_scaling(scale={self.scale!r}, mode={self.mode!r}, "
            f"distribution={self.distribution!r}{convention})"
        )


def _spec_round_trips(text: str, scheme: Scheme) -> bool:
    """Return whether the registry parses ``text`` back into ``scheme``."""
    # The registry builds on this module, so import it only when needed.
    from initlab.registry import parse_scheme

    try:
        return parse_scheme(text) == scheme
    except SchemeError:
        return False


def _gain_name(base: str, gain: float, default_gain: float, mode: str | None) -> str:
    """Return a spec string for a gain-based factory call, listing non-default arguments."""
    args = []
    if gain != default_gain:
        args.append(f"gain={gain!r}")
    if mode is not None and mode != "fan_in":
        args.append(f"mode={mode!r}")
    return f"{base}({', '.join(args)})" if args else base


def lecun_normal() -> VarianceScaling:
    """LeCun normal, untruncated: ``std = sqrt(1 / fan_in)``.

    LeCun, Bottou, Orr and Mueller, "Efficient BackProp", in Neural
    Networks: Tricks of the Trade, 1998. Klambauer et al., "Self-Normalizing
    Neural Networks", 2017, pair it with SELU. Keras's and JAX's
    ``lecun_normal`` are truncated: see :func:`lecun_truncated_normal`.
    """
    return VarianceScaling(1.0, "fan_in", "untruncated_normal", name="lecun_normal")


def lecun_uniform() -> VarianceScaling:
    """LeCun uniform: ``bound = sqrt(3 / fan_in)``, so ``std = sqrt(1 / fan_in)``.

    LeCun, Bottou, Orr and Mueller, "Efficient BackProp", 1998; Keras's
    ``LecunUniform``.
    """
    return VarianceScaling(1.0, "fan_in", "uniform", name="lecun_uniform")


def lecun_truncated_normal() -> VarianceScaling:
    """Keras's ``LecunNormal``: ``std = sqrt(1 / fan_in)`` after truncation at +-2 parent std.

    The parent normal has std ``sqrt(1 / fan_in) / 0.87962566103423978``.
    LeCun et al., "Efficient BackProp", 1998; the default kernel
    initializer of Flax's Dense and Conv layers.
    """
    return VarianceScaling(
        1.0, "fan_in", "truncated_normal", name="lecun_truncated_normal"
    )


def glorot_normal(gain: float = 1.0) -> VarianceScaling:
    """Glorot normal, untruncated: ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010. Also known as Xavier normal; the
    numbers match PyTorch's ``xavier_normal_`` bit for bit. Keras's
    ``GlorotNormal`` is truncated: see :func:`glorot_truncated_normal`.
    """
    gain = _check_positive("gain", gain)
    return VarianceScaling(
        gain**2,
        "fan_avg",
        "untruncated_normal",
        name=_gain_name("glorot_normal", gain, 1.0, None),
        convention="torch",
    )


def glorot_uniform(gain: float = 1.0) -> VarianceScaling:
    """Glorot uniform: ``bound = gain * sqrt(6 / (fan_in + fan_out))``.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010. Also known as Xavier uniform; the
    numbers match PyTorch's ``xavier_uniform_`` bit for bit. The default
    kernel initializer of Keras's Dense and Conv layers.
    """
    gain = _check_positive("gain", gain)
    return VarianceScaling(
        gain**2,
        "fan_avg",
        "uniform",
        name=_gain_name("glorot_uniform", gain, 1.0, None),
        convention="torch",
    )


def glorot_truncated_normal() -> VarianceScaling:
    """Keras's ``GlorotNormal``: ``std = sqrt(2 / (fan_in + fan_out))`` after truncation at +-2 parent std.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010.
    """
    return VarianceScaling(
        1.0, "fan_avg", "truncated_normal", name="glorot_truncated_normal"
    )


def he_normal(gain: float = math.sqrt(2.0), mode: str = "fan_in") -> VarianceScaling:
    """He normal, untruncated: ``std = gain / sqrt(fan_in)``, ``gain = sqrt(2)`` for ReLU.

    He, Zhang, Ren and Sun, "Delving Deep into Rectifiers: Surpassing
    Human-Level Performance on ImageNet Classification", 2015. Also known as
    Kaiming normal; the numbers match PyTorch's ``kaiming_normal_`` bit for
    bit. ``mode="fan_out"`` keeps the backward signal instead. Keras's
    ``HeNormal`` and JAX's ``he_normal`` are truncated: see
    :func:`he_truncated_normal`.
    """
    gain = _check_positive("gain", gain)
    return VarianceScaling(
        gain**2,
        mode,
        "untruncated_normal",
        name=_gain_name("he_normal", gain, math.sqrt(2.0), mode),
        convention="torch",
    )


def he_uniform(gain: float = math.sqrt(2.0), mode: str = "fan_in") -> VarianceScaling:
    """He uniform: ``bound = gain * sqrt(3 / fan_in)``, ``sqrt(6 / fan_in)`` for ReLU.

    He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", 2015. Also known
    as Kaiming uniform; the numbers match PyTorch's ``kaiming_uniform_`` bit
    for bit.
    """
    gain = _check_positive("gain", gain)
    return VarianceScaling(
        gain**2,
        mode,
        "uniform",
        name=_gain_name("he_uniform", gain, math.sqrt(2.0), mode),
        convention="torch",
    )


def he_truncated_normal() -> VarianceScaling:
    """Keras's ``HeNormal``: ``std = sqrt(2 / fan_in)`` after truncation at +-2 parent std.

    For ``fan_in = 256`` the parent normal has std
    ``sqrt(2 / 256) / 0.87962566103423978 = 0.100484`` and is cut at
    +-0.200968, so the values have std ``sqrt(2 / 256) = 0.088388``.
    He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", 2015.
    """
    return VarianceScaling(
        2.0, "fan_in", "truncated_normal", name="he_truncated_normal"
    )


def torch_default() -> VarianceScaling:
    """PyTorch's default for Linear and Conv weights: ``bound = 1 / sqrt(fan_in)``.

    ``nn.Linear`` and ``nn.ConvNd`` call ``kaiming_uniform_(w, a=sqrt(5))``:
    gain ``sqrt(2 / (1 + 5)) = sqrt(1 / 3)``, so the bound is
    ``sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in)`` and the std is
    ``1 / sqrt(3 * fan_in)``. Source: ``reset_parameters`` of ``nn.Linear``
    and ``nn.ConvNd`` in torch 2.13. The variance is a third of LeCun's
    (LeCun et al., "Efficient BackProp", 1998), so each linear layer divides
    the signal's variance by 3.
    """
    # The same float gain torch computes, so the bound matches bit for bit.
    gain = calculate_gain("leaky_relu", math.sqrt(5.0))
    return VarianceScaling(
        gain**2, "fan_in", "uniform", name="torch_default", convention="torch"
    )


@dataclass(frozen=True)
class Orthogonal(Scheme):
    """A random (semi-)orthogonal matrix times ``gain``: ``std = gain / sqrt(max(rows, cols))``.

    Saxe, McClelland and Ganguli, "Exact solutions to the nonlinear dynamics
    of learning in deep linear neural networks", 2014. Tensors with more
    than two dimensions are flattened to a matrix: ``(shape[0], rest)`` in
    PyTorch's layouts, ``(rest, shape[-1])`` in Keras's. The rows are
    orthonormal when ``rows <= cols`` and the columns otherwise.
    """

    gain: float = 1.0
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        _check_finite("gain", self.gain)

    def resolve(self, fans, shape=None, layout="torch"):
        rows, cols = _matrix_shape(shape, fans, layout, "orthogonal")
        return dist.Orthogonal(float(self.gain), rows, cols)

    def formula(self) -> str:
        return "std = gain / sqrt(max(rows, cols))"

    def spec(self) -> str:
        return "orthogonal" if self.gain == 1 else f"orthogonal(gain={self.gain!r})"


@dataclass(frozen=True)
class Identity(Scheme):
    """``gain`` times the identity matrix, for 2-D tensors (rectangular allowed): ``w = gain * I``.

    Le, Jaitly and Hinton, "A Simple Way to Initialize Recurrent Networks of
    Rectified Linear Units", 2015, initialize recurrent weights this way.
    PyTorch's ``eye_`` (gain 1) and Keras's ``Identity``.
    """

    gain: float = 1.0
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        _check_finite("gain", self.gain)

    def resolve(self, fans, shape=None, layout="torch"):
        if shape is not None and len(shape) != 2:
            raise ShapeError(f"identity needs a 2-D tensor, got shape {tuple(shape)}")
        rows, cols = _matrix_shape(shape, fans, layout, "identity")
        return dist.Identity(float(self.gain), rows, cols)

    def formula(self) -> str:
        return "w = gain * I"

    def spec(self) -> str:
        return "identity" if self.gain == 1 else f"identity(gain={self.gain!r})"


@dataclass(frozen=True)
class Dirac(Scheme):
    """Dirac delta kernels for 3-, 4- and 5-D conv weights: the conv passes its input through.

    ``w[g * out_per_group + d, d, *centre] = 1`` for every group ``g`` and
    ``d < min(out_per_group, in_per_group)``, zero elsewhere. Zagoruyko and
    Komodakis, "DiracNets: Training Very Deep Neural Networks Without
    Skip-Connections", 2017; PyTorch's ``dirac_``. Only PyTorch's layouts
    are accepted, because the rule indexes channels as ``(out, in, *kernel)``.
    """

    groups: int = 1
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        if (
            isinstance(self.groups, bool)
            or not isinstance(self.groups, int)
            or self.groups < 1
        ):
            raise SchemeError(
                f"groups must be a positive integer, got groups={self.groups!r}"
            )

    def resolve(self, fans, shape=None, layout="torch"):
        if layout == "keras":
            raise ShapeError(
                "dirac is defined for PyTorch's (out, in/groups, *kernel) layout; "
                "use layout='torch' and transpose the result for a Keras kernel"
            )
        if shape is None:
            return dist.Dirac(self.groups)
        if len(shape) not in (3, 4, 5):
            raise ShapeError(
                f"dirac needs a 3-, 4- or 5-D tensor, got shape {tuple(shape)}"
            )
        if shape[0] % self.groups != 0:
            raise ShapeError(
                f"dirac: shape[0]={shape[0]} is not divisible by groups={self.groups}"
            )
        return dist.Dirac(self.groups, tuple(int(d) for d in shape))

    def formula(self) -> str:
        return "w[g * out_per_group + d, d, centre] = 1, else 0"

    def spec(self) -> str:
        return "dirac" if self.groups == 1 else f"dirac(groups={self.groups!r})"


@dataclass(frozen=True)
class Sparse(Scheme):
    """``N(0, std^2)`` with ``ceil(sparsity * rows)`` zeros in every column of a 2-D tensor.

    ``std`` of the values is ``std * sqrt(1 - ceil(sparsity * rows) / rows)``.
    Martens, "Deep learning via Hessian-free optimization", 2010; PyTorch's
    ``sparse_``, which zeroes entries of each column of the tensor as given
    (``rows = shape[0]`` in every layout).
    """

    sparsity: float = 0.1
    std: float = 0.01
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        sparsity = _check_finite("sparsity", self.sparsity)
        if not 0 <= sparsity <= 1:
            raise SchemeError(
                f"sparsity must be in [0, 1], got sparsity={self.sparsity!r}"
            )
        _check_non_negative("std", self.std)

    def resolve(self, fans, shape=None, layout="torch"):
        if shape is not None and len(shape) != 2:
            raise ShapeError(f"sparse needs a 2-D tensor, got shape {tuple(shape)}")
        rows = int(shape[0]) if shape is not None else int(fans.fan_out)
        return dist.Sparse(float(self.sparsity), float(self.std), rows)

    def formula(self) -> str:
        return "N(0, std^2) with ceil(sparsity * rows) zeros per column"

    def spec(self) -> str:
        return f"sparse(sparsity={self.sparsity!r}, std={self.std!r})"


ZEROS = Constant(0.0)
ONES = Constant(1.0)
