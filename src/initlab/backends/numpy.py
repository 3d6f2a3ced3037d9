"""NumPy backend: sample arrays for a scheme from a seeded ``numpy.random.Generator``.

Every draw (values, zero masks, QR inputs) comes from the one generator
passed in, so the same seed gives the same array. Values are drawn in
float64 and cast to the requested dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from initlab import distributions as dist
from initlab.errors import SchemeError, ShapeError
from initlab.fans import Fans, Layout
from initlab.registry import parse_scheme
from initlab.schemes import Scheme, resolve_for_shape

# Above this kept mass, redrawing the values that fell outside costs at most
# about 1 / 0.3 normal draws per value. Below it, the inverse CDF is cheaper.
_REJECTION_MIN_KEPT_MASS = 0.3

# Primitives whose values are exact integers, so integer and boolean dtypes
# can hold them, as torch's zeros_, ones_, constant_, eye_ and dirac_ allow.
_EXACT_PRIMITIVES = (dist.Constant, dist.Identity, dist.Dirac)


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return ``rng`` if it is a Generator, else a new PCG64 Generator seeded with it.

    ``None`` seeds from the operating system's entropy, so the numbers are
    not reproducible; pass an integer seed for that.

    Raises:
        SchemeError: for anything else (a float, a bool, a legacy RandomState).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (
        isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)
    ):
        if rng is not None and rng < 0:
            raise SchemeError(f"a seed must be >= 0, got rng={rng!r}")
        return np.random.default_rng(rng)
    raise SchemeError(
        "rng must be a numpy.random.Generator, a non-negative integer seed or None, "
        f"got {type(rng).__name__}: {rng!r}"
    )


def sample(
    scheme: Scheme | str,
    shape: Sequence[int],
    *,
    rng: np.random.Generator | int | None = None,
    fans: Fans | None = None,
    layout: Layout = "torch",
    groups: int = 1,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Return a new array of ``shape`` drawn from ``scheme``.

    Args:
        scheme: a :class:`~initlab.schemes.Scheme` or a spec string.
        shape: the array shape.
        rng: a ``numpy.random.Generator``, or an integer seed for a new one.
            ``None`` draws fresh entropy from the operating system.
        fans: explicit fans; computed from ``shape``, ``layout`` and
            ``groups`` if None.
        layout: weight layout for the fans and for structured schemes.
        groups: the layer's groups, used when fans are computed here.
        dtype: output dtype. Values are drawn in float64 and cast; truncated
            values are then clamped to the bounds as represented in ``dtype``.

    A zero-element shape returns an empty array with one ``UserWarning``;
    fewer than two dimensions get Keras's fans (see
    :func:`initlab.schemes.resolve_for_shape`).

    Raises:
        SchemeError: for an invalid scheme or ``rng``.
        ShapeError: for a shape the scheme cannot use.
        NotImplementedError: for a random scheme with an integer or boolean
            ``dtype``, the exception type torch raises for such tensors.
    """
    scheme = parse_scheme(scheme)
    dtype = np.dtype(dtype)
    generator = as_generator(rng)
    distribution = resolve_for_shape(
        scheme, shape, layout=layout, groups=groups, fans=fans, stacklevel=2
    )
    shape = tuple(int(d) for d in shape)
    if distribution is None:
        return np.zeros(shape, dtype=dtype)
    if not isinstance(distribution, _EXACT_PRIMITIVES) and not np.issubdtype(
        dtype, np.floating
    ):
        raise NotImplementedError(
            f"{scheme.label} draws random values and needs a floating-point dtype, "
            f"got dtype {dtype}; use float32 or float64"
        )
    values = sample_distribution(distribution, shape, generator, layout)
    if isinstance(distribution, dist.TruncatedNormal) and dtype != np.float64:
        return _cast_inside(values, dtype, *distribution.support())
    return values.astype(dtype, copy=False)


def sample_distribution(
    d: dist.Distribution,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    layout: Layout = "torch",
) -> np.ndarray:
    """Return float64 draws of ``shape`` from a primitive distribution."""
    if isinstance(d, dist.Constant):
        return np.full(shape, d.value, dtype=np.float64)
    if isinstance(d, dist.Normal):
        return rng.normal(d.mean, d.std, size=shape)
    if isinstance(d, dist.Uniform):
        return rng.uniform(d.low, d.high, size=shape)
    if isinstance(d, dist.TruncatedNormal):
        return truncated_normal(d, shape, rng)
    if isinstance(d, dist.Orthogonal):
        return _orthogonal(d, shape, rng)
    if isinstance(d, dist.Identity):
        if len(shape) != 2:
            raise ShapeError(f"identity needs a 2-D shape, got {shape}")
        return d.gain * np.eye(*shape)
    if isinstance(d, dist.Dirac):
        return _dirac(d, shape)
    if isinstance(d, dist.Sparse):
        return _sparse(d, shape, rng)
    raise TypeError(f"no numpy sampler for {d!r}")


def truncated_normal(
    d: dist.TruncatedNormal, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Return float64 draws of ``N(mean, std^2)`` conditioned on ``[low, high]``.

    Wide intervals (kept mass at least 0.3) redraw the values that fall
    outside. Narrow ones invert the CDF in log space: ``log Phi`` and its
    inverse (``scipy.special.log_ndtr`` and ``ndtri_exp``) keep their
    relative precision far in the lower tail, and an upper-tail interval is
    sampled as the mirror image of a lower-tail one. So even [5, 6] or
    [30, 31] for a unit normal gives continuous values, not a few levels.
    With ``std = 0`` every value is the mean clipped to the bounds.
    """
    if d.std == 0:
        return np.full(shape, min(max(d.mean, d.low), d.high), dtype=np.float64)

    if d.kept_mass() >= _REJECTION_MIN_KEPT_MASS:
        values = rng.normal(d.mean, d.std, size=shape).ravel()
        outside = np.flatnonzero((values < d.low) | (values > d.high))
        while outside.size:
            redraw = rng.normal(d.mean, d.std, size=outside.size)
            values[outside] = redraw
            outside = outside[(redraw < d.low) | (redraw > d.high)]
        return values.reshape(shape)

    alpha = (d.low - d.mean) / d.std
    beta = (d.high - d.mean) / d.std
    sign = 1.0
    if alpha > 0:
        alpha, beta, sign = -beta, -alpha, -1.0
    log_low, log_high = special.log_ndtr(alpha), special.log_ndtr(beta)
    if not log_high > log_low:
        raise ShapeError(
            f"truncated normal on [{d.low}, {d.high}] with mean {d.mean} and std "
            f"{d.std} keeps no representable probability mass; move the interval "
            "closer to the mean or raise std"
        )
    # Phi(z) = (1 - u) Phi(alpha) + u Phi(beta) for u ~ U[0, 1), in logs so
    # that neither term underflows; u = 0 gives log(0) = -inf, which logaddexp
    # handles exactly.
    u = rng.random(size=shape)
    with np.errstate(divide="ignore"):
        log_cdf = np.logaddexp(np.log1p(-u) + log_low, np.log(u) + log_high)
    z = np.clip(special.ndtri_exp(log_cdf), alpha, beta)
    return np.clip(d.mean + sign * d.std * z, d.low, d.high)


def _cast_inside(
    values: np.ndarray, dtype: np.dtype, low: float, high: float
) -> np.ndarray:
    """Cast to ``dtype`` and clamp to the representable values inside ``[low, high]``."""
    # Rounding a float64 value near a bound to float32 can step just outside.
    low_cast, high_cast = np.array([low, high], dtype=np.float64).astype(dtype)
    if low_cast < low:
        low_cast = np.nextafter(low_cast, dtype.type(np.inf))
    if high_cast > high:
        high_cast = np.nextafter(high_cast, dtype.type(-np.inf))
    return np.clip(values.astype(dtype), low_cast, high_cast)


def _orthogonal(
    d: dist.Orthogonal, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    if len(shape) < 2:
        raise ShapeError(f"orthogonal needs at least 2 dimensions, got shape {shape}")
    rows, cols = d.rows, d.cols
    matrix = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(matrix)
    # Multiplying each column by the sign of R's diagonal makes q Haar
    # distributed (Mezzadri, "How to generate random matrices from the
    # classical compact groups", 2007); a zero diagonal entry counts as +1.
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return d.gain * q.reshape(shape)


def _dirac(d: dist.Dirac, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) not in (3, 4, 5):
        raise ShapeError(f"dirac needs a 3-, 4- or 5-D shape, got {shape}")
    values = np.zeros(shape)
    out_per_group = shape[0] // d.groups
    channels = np.arange(min(out_per_group, shape[1]))
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(d.groups):
        values[(group * out_per_group + channels, channels, *centre)] = 1.0
    return values


def _sparse(
    d: dist.Sparse, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    if len(shape) != 2:
        raise ShapeError(f"sparse needs a 2-D shape, got {shape}")
    values = rng.normal(0.0, d.std, size=shape)
    zeros = d.zeros_per_column()
    if zeros:
        # An independent random permutation per column: argsort of uniform keys.
        zero_rows = np.argsort(rng.random(shape), axis=0)[:zeros]
        np.put_along_axis(values, zero_rows, 0.0, axis=0)
    return values
