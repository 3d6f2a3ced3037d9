"""Initialization schemes: immutable rules from fans to a distribution.

A scheme knows nothing of tensors or frameworks. :meth:`Scheme.resolve`
turns it into a primitive from :mod:`initlab.distributions` for given fans
(and, for structured schemes, the shape), so its standard deviation and
bound can be reported and tested without sampling anything. The backends
sample the primitives.

Truncated normals come in three conventions, each under its own name,
because the frameworks disagree on what the numbers mean:

==============================  ==============================  ===============================
scheme                          cut-offs                        ``std`` argument
==============================  ==============================  ===============================
:class:`TruncatedNormalAbsolute`  absolute values ``a``, ``b``  parent normal's std (PyTorch)
:class:`TruncatedNormalStdUnits`  ``mean + lower * std`` ...     parent normal's std (TF, JAX,
                                                                Keras ``TruncatedNormal``)
:class:`VarianceScaling`          +-2 parent stds               chosen so the std *after*
  with ``truncated_normal``                                     truncation is the target (Keras)
==============================  ==============================  ===============================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from initlab import distributions as dist
from initlab.errors import SchemeError, ShapeError
from initlab.fans import Fans

# Fans of a 0-D shape under Keras's rule; the default for schemes that ignore fans.
UNIT_FANS = Fans(1, 1)

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


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


def _matrix_shape(
    shape: Sequence[int] | None, fans: Fans, layout: str
) -> tuple[int, int]:
    """Return the (rows, cols) matrix a structured scheme works on."""
    if shape is None:
        # A dense layer in PyTorch's layout: rows are outputs.
        return int(fans.fan_out), int(fans.fan_in)
    if len(shape) < 2:
        raise ShapeError(
            f"this scheme needs a tensor with at least 2 dimensions, got shape {tuple(shape)}"
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


@dataclass(frozen=True)
class Constant(Scheme):
    """Every value equal to ``value``: zeros, ones and constants.

    Every unit of a layer then computes the same function and receives the
    same gradient, so plain gradient descent never makes them differ.
    """

    value: float = 0.0
    kind: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _check_finite("value", self.value)

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Constant(float(self.value))

    def formula(self) -> str:
        return f"w = {self.value:g}"

    def spec(self) -> str:
        if self.value == 0:
            return "zeros"
        if self.value == 1:
            return "ones"
        return f"constant({self.value!r})"


@dataclass(frozen=True)
class Normal(Scheme):
    """Untruncated normal ``N(mean, std^2)``, independent of the fans."""

    mean: float = 0.0
    std: float = 1.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("mean", self.mean)
        _check_non_negative("std", self.std)

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Normal(float(self.mean), float(self.std))

    def formula(self) -> str:
        return f"std = {self.std:g}"

    def spec(self) -> str:
        if self.mean == 0:
            return f"normal(std={self.std!r})"
        return f"normal(mean={self.mean!r}, std={self.std!r})"


@dataclass(frozen=True)
class Uniform(Scheme):
    """Uniform on ``[a, b)``, independent of the fans."""

    a: float = 0.0
    b: float = 1.0
    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _check_finite("a", self.a)
        _check_finite("b", self.b)
        if self.a > self.b:
            raise SchemeError(f"uniform needs a <= b, got a={self.a!r} > b={self.b!r}")

    def resolve(self, fans, shape=None, layout="torch"):
        return dist.Uniform(float(self.a), float(self.b))

    def formula(self) -> str:
        return f"U({self.a:g}, {self.b:g})"

    def spec(self) -> str:
        return f"uniform(a={self.a!r}, b={self.b!r})"


@dataclass(frozen=True)
class TruncatedNormalAbsolute(Scheme):
    """PyTorch's ``trunc_normal_``: ``N(mean, std^2)`` cut to absolute ``[a, b]``.

    ``a`` and ``b`` are values, not multiples of ``std`` and not offsets from
    the mean, and ``std`` is the parent normal's. So ``std=0.02`` with the
    default ``a=-2, b=2`` cuts at 100 standard deviations: in effect no
    truncation at all.
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
        return f"N({self.mean:g}, {self.std:g}^2) cut to [{self.a:g}, {self.b:g}]"

    def spec(self) -> str:
        return f"trunc_normal_absolute(mean={self.mean!r}, std={self.std!r}, a={self.a!r}, b={self.b!r})"


@dataclass(frozen=True)
class TruncatedNormalStdUnits(Scheme):
    """TensorFlow's, JAX's and Keras's ``TruncatedNormal``: cut at ``mean + [lower, upper] * std``.

    ``std`` is the parent normal's, so the values have a smaller std than
    ``std`` (0.87962566 times it for the default cut at +-2).
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
                f"truncated normal needs lower < upper, got lower={self.lower!r}, upper={self.upper!r}"
            )

    def resolve(self, fans, shape=None, layout="torch"):
        low = self.mean + self.lower * self.std
        high = self.mean + self.upper * self.std
        return dist.TruncatedNormal(float(self.mean), float(self.std), low, high)

    def formula(self) -> str:
        return f"N({self.mean:g}, {self.std:g}^2) cut at mean + [{self.lower:g}, {self.upper:g}] std"

    def spec(self) -> str:
        return f"trunc_normal_stdunits(mean={self.mean!r}, std={self.std!r}, lower={self.lower!r}, upper={self.upper!r})"


@dataclass(frozen=True)
class VarianceScaling(Scheme):
    """Keras's ``VarianceScaling``: variance ``scale / n`` with ``n`` chosen by ``mode``.

    ``n`` is ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2``. Then:

    * ``truncated_normal``: a normal of std ``sqrt(scale / n) / 0.87962566103423978``
      cut at +-2 of its stds, so the std after truncation is ``sqrt(scale / n)``;
    * ``untruncated_normal``: ``N(0, scale / n)``;
    * ``uniform``: ``U(-limit, limit)`` with ``limit = sqrt(3 * scale / n)``.

    LeCun, Glorot/Xavier and He/Kaiming are instances (see ``name``). The bare
    word ``"normal"`` is rejected because Keras reads it as truncated and
    PyTorch and JAX as untruncated.
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    name: str | None = field(default=None, compare=False)
    kind: ClassVar[str] = "fan-based"
    needs_fans: ClassVar[bool] = True

    def __post_init__(self) -> None:
        scale = _check_finite("scale", self.scale)
        if scale <= 0:
            raise SchemeError(f"scale must be > 0, got scale={self.scale!r}")
        if self.mode not in MODES:
            raise SchemeError(
                f"invalid mode {self.mode!r}: use one of {', '.join(MODES)}"
            )
        if self.distribution == "normal":
            raise SchemeError(
                "distribution='normal' is ambiguous (Keras means truncated, PyTorch and JAX untruncated): "
                "use 'truncated_normal' or 'untruncated_normal'"
            )
        if self.distribution not in DISTRIBUTIONS:
            raise SchemeError(
                f"invalid distribution {self.distribution!r}: use one of {', '.join(DISTRIBUTIONS)}"
            )

    def denominator(self, fans: Fans) -> float:
        """Return ``n``: the fan that ``mode`` selects."""
        if self.mode == "fan_in":
            return fans.fan_in
        if self.mode == "fan_out":
            return fans.fan_out
        return fans.fan_avg

    def target_std(
        self,
        fans: Fans = UNIT_FANS,
        shape: Sequence[int] | None = None,
        layout: str = "torch",
    ) -> float:
        """Return ``sqrt(scale / n)``, the std of the values this scheme produces."""
        n = self.denominator(fans)
        if n <= 0:
            raise ShapeError(
                f"{self.mode} is {n}; a variance-scaling scheme needs a positive fan"
            )
        return math.sqrt(self.scale / n)

    def resolve(self, fans, shape=None, layout="torch"):
        std = self.target_std(fans)
        if self.distribution == "uniform":
            # U(-l, l) has variance l^2 / 3.
            limit = math.sqrt(3.0) * std
            return dist.Uniform(-limit, limit)
        if self.distribution == "untruncated_normal":
            return dist.Normal(0.0, std)
        parent_std = std / dist.TRUNCATED_STD_FACTOR
        return dist.TruncatedNormal(
            0.0, parent_std, -2.0 * parent_std, 2.0 * parent_std
        )

    def formula(self) -> str:
        n = {
            "fan_in": "fan_in",
            "fan_out": "fan_out",
            "fan_avg": "(fan_in + fan_out) / 2",
        }[self.mode]
        scale = "" if self.scale == 1 else f"{self.scale:g} / "
        variance = f"{scale}{n}" if scale else f"1 / {n}"
        if self.distribution == "uniform":
            return f"bound = sqrt(3 * {variance})"
        if self.distribution == "untruncated_normal":
            return f"std = sqrt({variance})"
        return f"std = sqrt({variance}) after a cut at +-2 std"

    @property
    def label(self) -> str:
        return self.name or self.spec()

    def spec(self) -> str:
        return f"variance_scaling(scale={self.scale!r}, mode={self.mode!r}, distribution={self.distribution!r})"


def lecun_normal() -> VarianceScaling:
    """LeCun normal, ``N(0, 1 / fan_in)`` (LeCun, Bottou, Orr and Mueller, "Efficient BackProp", 1998)."""
    return VarianceScaling(1.0, "fan_in", "untruncated_normal", name="lecun_normal")


def lecun_uniform() -> VarianceScaling:
    """LeCun uniform, ``U(-sqrt(3 / fan_in), sqrt(3 / fan_in))``."""
    return VarianceScaling(1.0, "fan_in", "uniform", name="lecun_uniform")


def lecun_truncated_normal() -> VarianceScaling:
    """Keras's and Flax's LeCun normal: truncated at +-2 std, std after truncation ``sqrt(1 / fan_in)``."""
    return VarianceScaling(
        1.0, "fan_in", "truncated_normal", name="lecun_truncated_normal"
    )


def glorot_normal(gain: float = 1.0) -> VarianceScaling:
    """Glorot normal, ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010. Also known as Xavier normal.
    """
    gain = _check_finite("gain", gain)
    name = "glorot_normal" if gain == 1 else f"glorot_normal(gain={gain!r})"
    return VarianceScaling(gain**2, "fan_avg", "untruncated_normal", name=name)


def glorot_uniform(gain: float = 1.0) -> VarianceScaling:
    """Glorot uniform, ``bound = gain * sqrt(6 / (fan_in + fan_out))``. Also known as Xavier uniform."""
    gain = _check_finite("gain", gain)
    name = "glorot_uniform" if gain == 1 else f"glorot_uniform(gain={gain!r})"
    return VarianceScaling(gain**2, "fan_avg", "uniform", name=name)


def glorot_truncated_normal() -> VarianceScaling:
    """Keras's Glorot normal: truncated at +-2 std, std after truncation ``sqrt(2 / (fan_in + fan_out))``."""
    return VarianceScaling(
        1.0, "fan_avg", "truncated_normal", name="glorot_truncated_normal"
    )


def he_normal(gain: float = math.sqrt(2.0), mode: str = "fan_in") -> VarianceScaling:
    """He normal, ``std = gain / sqrt(fan_in)`` with ``gain = sqrt(2)`` for ReLU.

    He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", 2015. Also known
    as Kaiming normal.
    """
    gain = _check_finite("gain", gain)
    name = "he_normal" if gain == math.sqrt(2.0) and mode == "fan_in" else None
    return VarianceScaling(gain**2, mode, "untruncated_normal", name=name)


def he_uniform(gain: float = math.sqrt(2.0), mode: str = "fan_in") -> VarianceScaling:
    """He uniform, ``bound = gain * sqrt(3 / fan_in)``. Also known as Kaiming uniform."""
    gain = _check_finite("gain", gain)
    name = "he_uniform" if gain == math.sqrt(2.0) and mode == "fan_in" else None
    return VarianceScaling(gain**2, mode, "uniform", name=name)


def he_truncated_normal() -> VarianceScaling:
    """Keras's He normal: truncated at +-2 std, std after truncation ``sqrt(2 / fan_in)``."""
    return VarianceScaling(
        2.0, "fan_in", "truncated_normal", name="he_truncated_normal"
    )


def torch_default() -> VarianceScaling:
    """PyTorch's default for Linear and conv layers, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    PyTorch calls ``kaiming_uniform_(w, a=sqrt(5))``: gain ``sqrt(2 / 6)``,
    so the bound is ``sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in)``.
    Glorot and Bengio (2010) call this the standard initialization.
    """
    return VarianceScaling(1.0 / 3.0, "fan_in", "uniform", name="torch_default")


@dataclass(frozen=True)
class Orthogonal(Scheme):
    """A random (semi-)orthogonal matrix times ``gain``.

    Saxe, McClelland and Ganguli, "Exact solutions to the nonlinear dynamics
    of learning in deep linear neural networks", 2014. Tensors with more
    than two dimensions are flattened to a matrix: ``(shape[0], rest)`` in
    PyTorch's layout, ``(rest, shape[-1])`` in Keras's.
    """

    gain: float = 1.0
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        _check_finite("gain", self.gain)

    def resolve(self, fans, shape=None, layout="torch"):
        rows, cols = _matrix_shape(shape, fans, layout)
        return dist.Orthogonal(float(self.gain), rows, cols)

    def formula(self) -> str:
        return "std = gain / sqrt(max(rows, cols))"

    def spec(self) -> str:
        return "orthogonal" if self.gain == 1 else f"orthogonal(gain={self.gain!r})"


@dataclass(frozen=True)
class Identity(Scheme):
    """``gain`` times the identity matrix, for 2-D tensors (rectangular allowed)."""

    gain: float = 1.0
    kind: ClassVar[str] = "structured"

    def __post_init__(self) -> None:
        _check_finite("gain", self.gain)

    def resolve(self, fans, shape=None, layout="torch"):
        if shape is not None and len(shape) != 2:
            raise ShapeError(f"identity needs a 2-D tensor, got shape {tuple(shape)}")
        rows, cols = _matrix_shape(shape, fans, layout)
        return dist.Identity(float(self.gain), rows, cols)

    def formula(self) -> str:
        return "w = gain * I"

    def spec(self) -> str:
        return "identity" if self.gain == 1 else f"identity(gain={self.gain!r})"


@dataclass(frozen=True)
class Dirac(Scheme):
    """Dirac delta kernels for 3-, 4- and 5-D conv weights: the conv passes its input through."""

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
        if shape is not None:
            if len(shape) not in (3, 4, 5):
                raise ShapeError(
                    f"dirac needs a 3-, 4- or 5-D tensor, got shape {tuple(shape)}"
                )
            if shape[0] % self.groups != 0:
                raise ShapeError(
                    f"dirac: shape[0]={shape[0]} is not divisible by groups={self.groups}"
                )
        return dist.Dirac(self.groups)

    def formula(self) -> str:
        return "w[g*o + d, d, centre] = 1"

    def spec(self) -> str:
        return "dirac" if self.groups == 1 else f"dirac(groups={self.groups!r})"


@dataclass(frozen=True)
class Sparse(Scheme):
    """``N(0, std^2)`` with ``ceil(sparsity * rows)`` zeros in every column of a 2-D tensor.

    Martens, "Deep learning via Hessian-free optimization", 2010.
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
        return "std = std * sqrt(1 - ceil(sparsity * rows) / rows)"

    def spec(self) -> str:
        return f"sparse(sparsity={self.sparsity!r}, std={self.std!r})"


ZEROS = Constant(0.0)
ONES = Constant(1.0)
