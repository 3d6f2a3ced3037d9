"""Primitive distributions that every scheme resolves to for given fans.

A scheme (see :mod:`initlab.schemes`) is a rule such as "normal with variance
2 / fan_in". Once the fans are known it becomes one of the primitives here,
with concrete numbers, and the backends only need to know how to sample
these few primitives. Each primitive reports its exact mean, standard
deviation and support without sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scipy import stats

# Std of a standard normal truncated to (-2, 2). Keras's variance scaling
# divides its target std by this so that the std after truncation is the
# target: scipy.stats.truncnorm(-2, 2).std() = 0.8796256610342398.
TRUNCATED_STD_FACTOR = 0.87962566103423978


def _normal_cdf(z: float) -> float:
    """Return the standard normal CDF at ``z``, from erfc so the lower tail keeps its precision."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@dataclass(frozen=True)
class Constant:
    """Every value equal to ``value``."""

    value: float

    def value_mean(self) -> float:
        return float(self.value)

    def value_std(self) -> float:
        return 0.0

    def support(self) -> tuple[float, float]:
        return (float(self.value), float(self.value))


@dataclass(frozen=True)
class Normal:
    """Untruncated normal ``N(mean, std^2)``."""

    mean: float
    std: float

    def value_mean(self) -> float:
        return self.mean

    def value_std(self) -> float:
        return self.std

    def support(self) -> tuple[float, float]:
        if self.std == 0:
            return (self.mean, self.mean)
        return (-math.inf, math.inf)


@dataclass(frozen=True)
class Uniform:
    """Continuous uniform on ``[low, high)``."""

    low: float
    high: float

    def value_mean(self) -> float:
        return (self.low + self.high) / 2

    def value_std(self) -> float:
        # A uniform on an interval of width w has variance w^2 / 12.
        return (self.high - self.low) / math.sqrt(12.0)

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class TruncatedNormal:
    """``N(mean, std^2)`` conditioned on ``[low, high]``, with absolute cut-offs.

    ``mean`` and ``std`` describe the parent normal, as in PyTorch's
    ``trunc_normal_``; :meth:`value_mean` and :meth:`value_std` give the moments after
    truncation. With ``std = 0`` every value is the mean clipped to the bounds.
    """

    mean: float
    std: float
    low: float
    high: float

    def _standardized(self) -> stats.rv_continuous | None:
        if self.std == 0:
            return None
        # Imported here: scipy.stats took over 2 s to import on the 2-core
        # development machine, and every command would pay that at start-up.
        from scipy import stats

        alpha = (self.low - self.mean) / self.std
        beta = (self.high - self.mean) / self.std
        return stats.truncnorm(alpha, beta, loc=self.mean, scale=self.std)

    def value_mean(self) -> float:
        frozen = self._standardized()
        if frozen is None:
            return min(max(self.mean, self.low), self.high)
        return float(frozen.mean())

    def value_std(self) -> float:
        frozen = self._standardized()
        return 0.0 if frozen is None else float(frozen.std())

    def kept_mass(self) -> float:
        """Return the parent normal's probability of ``[low, high]``."""
        if self.std == 0:
            return 1.0
        alpha = (self.low - self.mean) / self.std
        beta = (self.high - self.mean) / self.std
        # Work in the lower tail, where the CDF keeps its relative precision.
        if alpha > 0:
            alpha, beta = -beta, -alpha
        return _normal_cdf(beta) - _normal_cdf(alpha)

    def support(self) -> tuple[float, float]:
        if self.std == 0:
            value = self.value_mean()
            return (value, value)
        return (self.low, self.high)


@dataclass(frozen=True)
class Orthogonal:
    """A (semi-)orthogonal matrix scaled by ``gain``, reshaped to the tensor.

    The matrix has ``rows`` rows (the first dimension in PyTorch's layout, the
    product of all but the last in Keras's) and ``cols`` columns. Its rows
    are orthonormal when ``rows <= cols``, and its columns otherwise.
    """

    gain: float
    rows: int
    cols: int

    def value_mean(self) -> float:
        return 0.0

    def value_std(self) -> float:
        # Unit-norm rows (or columns) of length max(rows, cols) give a mean
        # squared entry of 1 / max(rows, cols). The mean of a Haar-random
        # orthogonal matrix is zero.
        size = max(self.rows, self.cols)
        return abs(self.gain) / math.sqrt(size) if size else 0.0

    def support(self) -> tuple[float, float]:
        return (-abs(self.gain), abs(self.gain))


@dataclass(frozen=True)
class Identity:
    """``gain`` times the identity matrix (ones on the main diagonal)."""

    gain: float
    rows: int
    cols: int

    def _diagonal_fraction(self) -> float:
        count = self.rows * self.cols
        return min(self.rows, self.cols) / count if count else 0.0

    def value_mean(self) -> float:
        return self.gain * self._diagonal_fraction()

    def value_std(self) -> float:
        p = self._diagonal_fraction()
        return abs(self.gain) * math.sqrt(p * (1 - p))

    def support(self) -> tuple[float, float]:
        return (min(0.0, self.gain), max(0.0, self.gain))


@dataclass(frozen=True)
class Dirac:
    """The Dirac delta kernel: a convolution that passes its input through.

    With ``groups`` groups, each group's first ``min(out/groups, in)``
    output channels copy the matching input channels, so the weight has
    that many ones per group at the kernel centre and zeros elsewhere.
    ``shape`` is the weight's shape in PyTorch's layout; without it the
    moments are unknown (NaN).
    """

    groups: int
    shape: tuple[int, ...] | None = None

    def ones(self) -> int:
        """Return the number of entries set to one."""
        if self.shape is None:
            raise ValueError("the number of ones needs the weight shape")
        return self.groups * min(self.shape[0] // self.groups, self.shape[1])

    def _fraction_of_ones(self) -> float:
        if self.shape is None:
            return math.nan
        count = math.prod(self.shape)
        return self.ones() / count if count else 0.0

    def value_mean(self) -> float:
        return self._fraction_of_ones()

    def value_std(self) -> float:
        # Entries are 0 or 1, a Bernoulli population with p the share of ones.
        p = self._fraction_of_ones()
        return math.sqrt(p * (1 - p))

    def support(self) -> tuple[float, float]:
        return (0.0, 1.0)


@dataclass(frozen=True)
class Sparse:
    """Normal ``N(0, std^2)`` with a fraction ``sparsity`` of each column set to zero.

    As in PyTorch's ``sparse_``: ``ceil(sparsity * rows)`` entries of every
    column of a 2-D ``(rows, cols)`` tensor are zero.
    """

    sparsity: float
    std: float
    rows: int

    def zeros_per_column(self) -> int:
        return math.ceil(self.sparsity * self.rows)

    def value_mean(self) -> float:
        return 0.0

    def value_std(self) -> float:
        if self.rows == 0:
            return 0.0
        kept = 1 - self.zeros_per_column() / self.rows
        return self.std * math.sqrt(kept)

    def support(self) -> tuple[float, float]:
        return (-math.inf, math.inf) if self.std > 0 else (0.0, 0.0)


Distribution = (
    Constant
    | Normal
    | Uniform
    | TruncatedNormal
    | Orthogonal
    | Identity
    | Dirac
    | Sparse
)
