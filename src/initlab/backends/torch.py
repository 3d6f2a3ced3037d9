"""PyTorch backend: fill tensors in place for a scheme, on any device and dtype.

Random draws come only from the ``generator`` passed in (or a new one seeded
from ``seed``), masks and QR inputs included. float16 and bfloat16 tensors
are sampled in float32 and cast, because sampling in the half type itself
distorts the distribution (too few representable values near a bound).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch

from initlab import distributions as dist
from initlab.errors import ShapeError
from initlab.fans import Fans, Layout, compute_fans
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

_HALF_TYPES = (torch.float16, torch.bfloat16)

# Above this kept mass, redrawing only the rejected values is faster than an
# inverse-CDF fill; below it, rejection needs many rounds.
_REJECTION_MIN_KEPT_MASS = 0.3

# Inverse-CDF fills run in float64 in chunks of this many values, so a huge
# tensor needs a bounded float64 buffer.
_INVERSE_CDF_CHUNK = 1 << 20


def make_generator(
    seed: int | None = None, device: torch.device | str = "cpu"
) -> torch.Generator:
    """Return a ``torch.Generator`` on ``device``, seeded with ``seed`` (random if None)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def _require_float(tensor: torch.Tensor, what: str) -> None:
    # torch raises NotImplementedError for random fills of integer tensors;
    # keep the type so callers that catch it keep working.
    if not tensor.is_floating_point():
        raise NotImplementedError(
            f"{what} needs a floating-point tensor, got dtype {tensor.dtype}; convert it with tensor.float() first"
        )


def _sampling_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float32 if tensor.dtype in _HALF_TYPES else tensor.dtype


def _write(tensor: torch.Tensor, values: torch.Tensor) -> None:
    if values is not tensor:
        tensor.copy_(values.reshape(tensor.shape))


def sample_distribution_(
    tensor: torch.Tensor,
    distribution: dist.Distribution,
    *,
    generator: torch.Generator | None = None,
    layout: Layout = "torch",
) -> torch.Tensor:
    """Fill ``tensor`` in place with draws from a primitive distribution."""
    if tensor.numel() == 0:
        return tensor

    with torch.no_grad():
        if isinstance(distribution, dist.Constant):
            return tensor.fill_(distribution.value)
        if isinstance(distribution, dist.Identity):
            return _fill_identity(tensor, distribution)
        if isinstance(distribution, dist.Dirac):
            return _fill_dirac(tensor, distribution)

        _require_float(tensor, type(distribution).__name__)
        if isinstance(distribution, dist.Normal):
            return _fill_normal(tensor, distribution, generator)
        if isinstance(distribution, dist.Uniform):
            return _fill_uniform(tensor, distribution, generator)
        if isinstance(distribution, dist.TruncatedNormal):
            return fill_truncated_normal_(tensor, distribution, generator)
        if isinstance(distribution, dist.Orthogonal):
            return _fill_orthogonal(tensor, distribution, generator, layout)
        if isinstance(distribution, dist.Sparse):
            return _fill_sparse(tensor, distribution, generator)
    raise TypeError(f"no torch sampler for {distribution!r}")


def _fill_normal(
    tensor: torch.Tensor, d: dist.Normal, generator: torch.Generator | None
) -> torch.Tensor:
    if tensor.dtype not in _HALF_TYPES:
        return tensor.normal_(d.mean, d.std, generator=generator)
    values = torch.empty(tensor.shape, dtype=torch.float32, device=tensor.device)
    _write(tensor, values.normal_(d.mean, d.std, generator=generator))
    return tensor


def _fill_uniform(
    tensor: torch.Tensor, d: dist.Uniform, generator: torch.Generator | None
) -> torch.Tensor:
    if tensor.dtype not in _HALF_TYPES:
        return tensor.uniform_(d.low, d.high, generator=generator)
    values = torch.empty(tensor.shape, dtype=torch.float32, device=tensor.device)
    _write(tensor, values.uniform_(d.low, d.high, generator=generator))
    return tensor


def fill_truncated_normal_(
    tensor: torch.Tensor,
    d: dist.TruncatedNormal,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with ``N(mean, std^2)`` truncated to ``[low, high]``, vectorised.

    Wide intervals (kept mass at least 0.3) draw normals and redraw only the
    values that fell outside, so the cost is close to one ``normal_`` pass.
    Narrow intervals, including ones far in a tail such as [5, 6], use the
    inverse CDF in float64 on the lower tail, where ``ndtr`` keeps its
    relative precision, so the values stay continuous instead of collapsing
    onto a few float32 levels.
    """
    if tensor.numel() == 0:
        return tensor
    _require_float(tensor, "truncated normal")

    with torch.no_grad():
        if d.std == 0:
            return tensor.fill_(min(max(d.mean, d.low), d.high))

        dtype = _sampling_dtype(tensor)
        values = (
            tensor
            if dtype == tensor.dtype and tensor.is_contiguous()
            else torch.empty(tensor.shape, dtype=dtype, device=tensor.device)
        )
        if d.kept_mass() >= _REJECTION_MIN_KEPT_MASS:
            _truncated_by_rejection(values.view(-1), d, generator)
        else:
            _truncated_by_inverse_cdf(values.view(-1), d, generator)
        _write(tensor, values)

        if tensor.dtype in _HALF_TYPES:
            # Rounding to the half type can step just outside [low, high];
            # clamp to the nearest representable values inside the interval.
            low, high = _inward_bounds(d.low, d.high, tensor.dtype)
            tensor.clamp_(low, high)
        return tensor


def _inward_bounds(low: float, high: float, dtype: torch.dtype) -> tuple[float, float]:
    low_t = torch.tensor(low, dtype=dtype)
    high_t = torch.tensor(high, dtype=dtype)
    if low_t.item() < low:
        low_t = torch.nextafter(low_t.float(), torch.tensor(math.inf)).to(dtype)
        while low_t.item() < low:
            low_t = torch.nextafter(low_t, torch.tensor(math.inf, dtype=dtype))
    if high_t.item() > high:
        high_t = torch.nextafter(high_t, torch.tensor(-math.inf, dtype=dtype))
    return low_t.item(), high_t.item()


def _truncated_by_rejection(
    flat: torch.Tensor, d: dist.TruncatedNormal, generator: torch.Generator | None
) -> None:
    flat.normal_(d.mean, d.std, generator=generator)
    outside = torch.nonzero((flat < d.low) | (flat > d.high)).squeeze(1)
    while outside.numel():
        redraw = torch.empty(
            outside.numel(), dtype=flat.dtype, device=flat.device
        ).normal_(d.mean, d.std, generator=generator)
        flat[outside] = redraw
        still_outside = (redraw < d.low) | (redraw > d.high)
        outside = outside[still_outside]


def _truncated_by_inverse_cdf(
    flat: torch.Tensor, d: dist.TruncatedNormal, generator: torch.Generator | None
) -> None:
    alpha = (d.low - d.mean) / d.std
    beta = (d.high - d.mean) / d.std
    # Sample the mirror image of an upper-tail interval: Phi is accurate
    # near 0, not near 1.
    mirrored = alpha > 0
    if mirrored:
        alpha, beta = -beta, -alpha
    cdf_low = float(torch.special.ndtr(torch.tensor(alpha, dtype=torch.float64)))
    cdf_high = float(torch.special.ndtr(torch.tensor(beta, dtype=torch.float64)))
    if not cdf_high > cdf_low:
        raise ShapeError(
            f"truncated normal on [{d.low}, {d.high}] with mean {d.mean} and std {d.std} keeps no representable "
            "probability mass; move the interval closer to the mean or raise std"
        )

    sign = -1.0 if mirrored else 1.0
    for start in range(0, flat.numel(), _INVERSE_CDF_CHUNK):
        chunk = flat[start : start + _INVERSE_CDF_CHUNK]
        u = torch.empty(chunk.numel(), dtype=torch.float64, device=flat.device)
        u.uniform_(cdf_low, cdf_high, generator=generator)
        z = torch.special.ndtri(u).clamp_(alpha, beta)
        chunk.copy_(z.mul_(sign * d.std).add_(d.mean))
    flat.clamp_(d.low, d.high)


def _matrix_view_shape(tensor: torch.Tensor, layout: Layout) -> tuple[int, int]:
    if tensor.dim() < 2:
        raise ShapeError(
            f"orthogonal needs a tensor with at least 2 dimensions, got shape {tuple(tensor.shape)}"
        )
    if layout == "keras":
        cols = tensor.shape[-1]
        return tensor.numel() // cols, cols
    rows = tensor.shape[0]
    return rows, tensor.numel() // rows


def _fill_orthogonal(
    tensor: torch.Tensor,
    d: dist.Orthogonal,
    generator: torch.Generator | None,
    layout: Layout,
) -> torch.Tensor:
    rows, cols = _matrix_view_shape(tensor, layout)
    # QR has no float16/bfloat16 kernels; float32 is enough for orthogonality
    # to about 1e-6 after the cast.
    dtype = _sampling_dtype(tensor)

    # Same draw order as torch.nn.init.orthogonal_, so float32 and float64
    # tensors get torch's numbers for the same generator state.
    matrix = torch.empty((rows, cols), dtype=dtype, device=tensor.device).normal_(
        0.0, 1.0, generator=generator
    )
    if rows < cols:
        matrix = matrix.t()
    q, r = torch.linalg.qr(matrix)
    # Fix the signs so that q is Haar-distributed (Mezzadri, 2007).
    q *= torch.diagonal(r, 0).sign()
    if rows < cols:
        q = q.t()
    _write(tensor, q.mul_(d.gain))
    return tensor


def _fill_identity(tensor: torch.Tensor, d: dist.Identity) -> torch.Tensor:
    if tensor.dim() != 2:
        raise ShapeError(
            f"identity needs a 2-D tensor, got shape {tuple(tensor.shape)}"
        )
    tensor.zero_()
    diagonal = torch.diagonal(tensor)
    diagonal.fill_(d.gain)
    return tensor


def _fill_dirac(tensor: torch.Tensor, d: dist.Dirac) -> torch.Tensor:
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ShapeError(
            f"dirac needs a 3-, 4- or 5-D tensor, got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] % d.groups != 0:
        raise ShapeError(
            f"dirac: shape[0]={tensor.shape[0]} is not divisible by groups={d.groups}"
        )

    out_per_group = tensor.shape[0] // d.groups
    channels = min(out_per_group, tensor.shape[1])
    centre = tuple(size // 2 for size in tensor.shape[2:])
    tensor.zero_()
    for group in range(d.groups):
        for channel in range(channels):
            tensor[(group * out_per_group + channel, channel, *centre)] = 1
    return tensor


def _fill_sparse(
    tensor: torch.Tensor, d: dist.Sparse, generator: torch.Generator | None
) -> torch.Tensor:
    if tensor.dim() != 2:
        raise ShapeError(f"sparse needs a 2-D tensor, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    zeros_per_column = d.zeros_per_column()

    _fill_normal(tensor, dist.Normal(0.0, d.std), generator)
    if zeros_per_column:
        # A random permutation per column from the caller's generator (torch's
        # own sparse_ takes it from the global RNG): argsort of uniform keys.
        keys = torch.rand((rows, cols), generator=generator, device=tensor.device)
        zero_rows = keys.argsort(dim=0)[:zeros_per_column]
        tensor.scatter_(0, zero_rows, 0.0)
    return tensor


def fill_(
    tensor: torch.Tensor,
    scheme: Scheme | str,
    *,
    fans: Fans | None = None,
    layout: Layout = "torch",
    groups: int = 1,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` in place from ``scheme`` and return it.

    Args:
        tensor: the tensor to fill, on any device.
        scheme: a :class:`~initlab.schemes.Scheme` or a spec string.
        fans: explicit fans, for example from a layer that knows better than
            its weight shape; computed from the shape and ``layout`` if None.
        layout: weight layout for the fans and for structured schemes.
        groups: the layer's groups, used when fans are computed here.
        generator: the random source; mutually exclusive with ``seed``.
        seed: seed for a new generator on the tensor's device.

    A zero-element tensor is left as it is, with a warning. Errors are
    raised before the tensor changes.
    """
    scheme = parse_scheme(scheme)
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if tensor.numel() == 0:
        warnings.warn(
            f"initializing a zero-element tensor of shape {tuple(tensor.shape)} is a no-op",
            stacklevel=2,
        )
        return tensor
    if fans is None:
        fans = compute_fans(tuple(tensor.shape), layout, groups=groups)
    distribution = scheme.resolve(fans, tuple(tensor.shape), layout)
    if generator is None and seed is not None:
        generator = make_generator(seed, tensor.device)
    return sample_distribution_(
        tensor, distribution, generator=generator, layout=layout
    )


def empty_like_shape(
    shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Return an uninitialized CPU tensor of ``shape``; a helper for sampling by shape."""
    return torch.empty(tuple(shape), dtype=dtype)
