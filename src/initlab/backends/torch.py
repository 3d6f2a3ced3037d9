"""PyTorch backend: fill tensors in place for a scheme, on any device and dtype.

Random draws come only from the ``generator`` passed in (or a new one seeded
from ``seed``), masks and QR inputs included. ``generator=None`` means
torch's global generator, as in ``torch.nn.init``. float16 and bfloat16
tensors get normal, truncated and orthogonal draws in float32 and cast,
because sampling in the half type distorts those (too few representable
values near a bound) and QR has no half-precision kernels. Uniform draws
stay in the half type, as in torch, because a cast rounds values just
below the upper bound up onto it. Nothing records autograd
history, and meta tensors are left as they are.

NOTE: the tests and benchmarks ran on CPU only. Every operation here exists
on CUDA and takes the tensor's device, but no CUDA run has checked it.
"""

from __future__ import annotations

import contextlib
import math

import torch

from initlab import distributions as dist
from initlab.errors import ShapeError
from initlab.fans import Fans, Layout
from initlab.registry import parse_scheme
from initlab.schemes import Scheme, resolve_for_shape

_HALF_TYPES = (torch.float16, torch.bfloat16)

# Within +-3 standard deviations, the inverse CDF ``sqrt(2) * erfinv(e)`` on a
# float32 uniform ``e`` keeps a z-resolution better than 1e-5: the slope of
# erf(z / sqrt(2)) at z = 3 is 0.0089, against a float32 spacing of 6e-8 near
# 1. One uniform_ and one erfinv_ pass cost about 1.4 normal_ passes (10.6
# against 7.7 ns per value on the 2-core development CPU, torch 2.13).
_ERFINV_MAX_Z = 3.0

# Above this kept mass, drawing normals and replacing the values that fall
# outside is cheap. Below it, most draws would be wasted.
_REJECTION_MIN_KEPT_MASS = 0.3

# The float64 inverse CDF keeps its relative precision down to
# Phi(-37) = 5.7e-300. Farther out in a tail Phi underflows, so an
# exponential proposal samples the tail instead.
_INVERSE_CDF_MAX_Z = 37.0

# Float64 inverse-CDF fills run in chunks of this many values, so a huge
# tensor needs only a bounded float64 buffer.
_INVERSE_CDF_CHUNK = 1 << 20


def make_generator(
    seed: int | None = None, device: torch.device | str = "cpu"
) -> torch.Generator:
    """Return a ``torch.Generator`` on ``device``, seeded with ``seed`` (random if None)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64
    ):
        raise ValueError(f"seed must be an integer in [0, 2**64), got seed={seed!r}")
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def _require_float(tensor: torch.Tensor, what: str) -> None:
    # torch raises NotImplementedError for random fills of integer and
    # boolean tensors, and the same type keeps callers that catch it working.
    if not tensor.is_floating_point():
        raise NotImplementedError(
            f"{what} draws random values and needs a floating-point tensor, "
            f"got dtype {tensor.dtype}. Convert the tensor with tensor.float() first."
        )


def no_grad_for(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """Return ``torch.no_grad()`` if ``tensor`` requires grad, else a context that does nothing.

    Autograd records an in-place fill only on a tensor that requires grad,
    and entering ``torch.no_grad()`` cost about 10 us on the 2-core
    development CPU (torch 2.13), as much as filling 1000 values, so calls
    on plain tensors skip it.
    """
    return torch.no_grad() if tensor.requires_grad else contextlib.nullcontext()


def _sampling_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float32 if tensor.dtype in _HALF_TYPES else tensor.dtype


def _sampling_buffer(tensor: torch.Tensor) -> torch.Tensor:
    """Return ``tensor`` itself if it can be sampled into directly, else a new buffer."""
    dtype = _sampling_dtype(tensor)
    if dtype == tensor.dtype and tensor.is_contiguous():
        return tensor
    return torch.empty(tensor.shape, dtype=dtype, device=tensor.device)


def _write(tensor: torch.Tensor, values: torch.Tensor) -> None:
    """Copy ``values`` (same number of elements, any shape and strides) into ``tensor``."""
    if values is tensor:
        return
    if tensor.is_contiguous():
        # Viewing the destination avoids the extra copy that reshaping a
        # non-contiguous source (a transposed QR factor) would make.
        tensor.view_as(values).copy_(values)
    else:
        tensor.copy_(values.reshape(tensor.shape))


def sample_distribution_(
    tensor: torch.Tensor,
    distribution: dist.Distribution,
    *,
    generator: torch.Generator | None = None,
    layout: Layout = "torch",
) -> torch.Tensor:
    """Fill ``tensor`` in place with draws from a primitive distribution and return it.

    Constants, identity and Dirac accept any dtype; random primitives raise
    NotImplementedError for integer and boolean tensors. Zero-element and
    meta tensors are returned unchanged once the arguments are checked.
    """
    # Exact type tests, cheapest first, because drop-in calls on small
    # tensors feel every microsecond spent before the fill.
    kind = type(distribution)
    if kind is dist.Normal:
        return fill_normal_(tensor, distribution.mean, distribution.std, generator)
    if kind is dist.Uniform:
        return fill_uniform_(tensor, distribution.low, distribution.high, generator)
    if kind is dist.TruncatedNormal:
        return fill_truncated_normal_(tensor, distribution, generator)
    if kind is dist.Orthogonal:
        return _fill_orthogonal(tensor, distribution, generator, layout)
    with no_grad_for(tensor):
        if kind is dist.Constant:
            return tensor.fill_(distribution.value)
        if kind is dist.Identity:
            return _fill_identity(tensor, distribution)
        if kind is dist.Dirac:
            return _fill_dirac(tensor, distribution)
        _require_float(tensor, kind.__name__)
        if tensor.numel() == 0 or tensor.is_meta:
            return tensor
        if kind is dist.Sparse:
            return _fill_sparse(tensor, distribution, generator)
    raise TypeError(f"no torch sampler for {distribution!r}")


def fill_normal_(
    tensor: torch.Tensor,
    mean: float,
    std: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with ``N(mean, std^2)`` through ``Tensor.normal_`` and return it.

    Empty and meta tensors go through ``normal_`` too, so torch's own check
    (``std >= 0``) applies to every tensor.
    """
    _require_float(tensor, "normal")
    with no_grad_for(tensor):
        if tensor.dtype not in _HALF_TYPES:
            return tensor.normal_(mean, std, generator=generator)
        values = torch.empty(tensor.shape, dtype=torch.float32, device=tensor.device)
        _write(tensor, values.normal_(mean, std, generator=generator))
        return tensor


def fill_uniform_(
    tensor: torch.Tensor,
    low: float,
    high: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with ``U(low, high)`` through ``Tensor.uniform_`` and return it.

    Empty and meta tensors go through ``uniform_`` too, so torch's own check
    (``low <= high``) applies to every tensor.
    """
    _require_float(tensor, "uniform")
    with no_grad_for(tensor):
        # Half types are filled natively, as torch does: a float32 draw cast
        # to float16 or bfloat16 rounds values just below ``high`` up to
        # ``high`` itself, outside the half-open interval.
        return tensor.uniform_(low, high, generator=generator)


def _normal_cdf(z: float) -> float:
    """Return ``Phi(z)``, accurate to relative precision in the lower tail."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def fill_truncated_normal_(
    tensor: torch.Tensor,
    d: dist.TruncatedNormal,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with ``N(mean, std^2)`` conditioned on ``[low, high]``, vectorised.

    With ``alpha, beta = (low - mean) / std, (high - mean) / std`` and the
    kept mass ``Phi(beta) - Phi(alpha)``, the method is the fastest one that
    stays exact there:

    * ``std = 0`` or ``low = high``: every value is the mean clipped to the
      bounds.
    * kept mass at least 0.3 and fewer than one value expected outside
      (torch's default ``a=-2, b=2`` with a small std): normal draws, and
      any value that falls outside is replaced by a float64 inverse-CDF
      draw on ``[low, high]``. When none falls outside, the numbers are
      exactly those of ``normal_`` from the same generator state.
    * ``[alpha, beta]`` within +-3: ``mean + std * sqrt(2) * erfinv(e)``
      for ``e`` uniform on ``[erf(alpha / sqrt(2)), erf(beta / sqrt(2)))``,
      one pass of each in the sampling dtype.
    * kept mass at least 0.3 with a bound beyond +-3: normal draws with
      replacement, as above.
    * otherwise (narrow intervals far in a tail, such as [5, 6]): the
      inverse CDF in float64 on the lower tail, where ``ndtr`` keeps its
      relative precision, so the values stay continuous instead of
      collapsing onto a few float32 levels. Beyond 37 standard deviations,
      where ``ndtr`` underflows, an exponential proposal with rejection.

    float16 and bfloat16 are sampled in float32, cast, and clamped to the
    representable values inside ``[low, high]``, so rounding never steps
    outside the interval.
    """
    _require_float(tensor, "truncated normal")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor

    with no_grad_for(tensor):
        if d.std == 0 or d.low == d.high:
            return tensor.fill_(min(max(d.mean, d.low), d.high))

        values = _sampling_buffer(tensor)
        alpha = (d.low - d.mean) / d.std
        beta = (d.high - d.mean) / d.std
        outside_mass = _normal_cdf(alpha) + _normal_cdf(-beta)
        wide = 1 - outside_mass >= _REJECTION_MIN_KEPT_MASS

        if wide and outside_mass * values.numel() < 1:
            # Most likely nothing falls outside: the numbers of normal_.
            _truncated_by_replacement(values, d, generator)
        elif max(abs(alpha), abs(beta)) <= _ERFINV_MAX_Z:
            _truncated_by_erfinv(values, d, alpha, beta, generator)
        elif wide:
            _truncated_by_replacement(values, d, generator)
        else:
            _truncated_by_inverse_cdf(values.view(-1), d, generator)
        _write(tensor, values)

        if tensor.dtype in _HALF_TYPES:
            tensor.clamp_(*inward_bounds(d.low, d.high, tensor.dtype))
        return tensor


def inward_bounds(
    low: float, high: float, dtype: torch.dtype, *, include_high: bool = True
) -> tuple[float, float]:
    """Return the smallest value of ``dtype`` at or above ``low`` and the largest at or below ``high``.

    With ``include_high=False`` the largest value is strictly below ``high``.
    """
    bounds = torch.tensor([low, high], dtype=torch.float64).to(dtype)
    inf = torch.tensor(math.inf, dtype=dtype)
    if bounds[0].item() < low:
        bounds[0] = torch.nextafter(bounds[0], inf)
    top = bounds[1].item()
    if top > high or (top == high and not include_high):
        bounds[1] = torch.nextafter(bounds[1], -inf)
    return bounds[0].item(), bounds[1].item()


def _truncated_by_erfinv(
    values: torch.Tensor,
    d: dist.TruncatedNormal,
    alpha: float,
    beta: float,
    generator: torch.Generator | None,
) -> None:
    # Phi(z) = (1 + erf(z / sqrt(2))) / 2, so a uniform e on
    # [erf(alpha / sqrt(2)), erf(beta / sqrt(2))) maps to z = sqrt(2) erfinv(e).
    e_low = math.erf(alpha / math.sqrt(2.0))
    e_high = math.erf(beta / math.sqrt(2.0))
    values.uniform_(e_low, e_high, generator=generator)
    values.erfinv_()
    values.mul_(d.std * math.sqrt(2.0))
    if d.mean != 0:
        values.add_(d.mean)
    # Rounding in erfinv and the scaling can step a value just past a bound.
    values.clamp_(d.low, d.high)


def _truncated_by_replacement(
    values: torch.Tensor, d: dist.TruncatedNormal, generator: torch.Generator | None
) -> None:
    # A value drawn from N(mean, std^2) and kept when inside is distributed as
    # the truncated normal, and so is an independent truncated draw put in
    # place of a value that fell outside. So one pass suffices.
    values.normal_(d.mean, d.std, generator=generator)
    smallest, largest = torch.aminmax(values)
    if smallest.item() >= d.low and largest.item() <= d.high:
        return
    flat = values.view(-1)
    outside = torch.nonzero((flat < d.low) | (flat > d.high)).squeeze(1)
    if outside.numel() == 0:
        return
    replacement = torch.empty(outside.numel(), dtype=torch.float64, device=flat.device)
    _truncated_by_inverse_cdf(replacement, d, generator)
    flat[outside] = replacement.to(flat.dtype).clamp_(d.low, d.high)


def _truncated_by_inverse_cdf(
    flat: torch.Tensor, d: dist.TruncatedNormal, generator: torch.Generator | None
) -> None:
    alpha = (d.low - d.mean) / d.std
    beta = (d.high - d.mean) / d.std
    # Sample the mirror image of an upper-tail interval: Phi is accurate
    # near 0, not near 1.
    sign = 1.0
    if alpha > 0:
        alpha, beta, sign = -beta, -alpha, -1.0

    if beta < -_INVERSE_CDF_MAX_Z:
        z = _far_tail(flat.numel(), -beta, -alpha, flat.device, generator)
        flat.copy_(z.mul_(-sign * d.std).add_(d.mean))
        flat.clamp_(d.low, d.high)
        return

    cdf_low, cdf_high = _normal_cdf(alpha), _normal_cdf(beta)
    for start in range(0, flat.numel(), _INVERSE_CDF_CHUNK):
        chunk = flat[start : start + _INVERSE_CDF_CHUNK]
        u = torch.empty(chunk.numel(), dtype=torch.float64, device=flat.device)
        u.uniform_(cdf_low, cdf_high, generator=generator)
        z = torch.special.ndtri(u).clamp_(alpha, beta)
        chunk.copy_(z.mul_(sign * d.std).add_(d.mean))
    flat.clamp_(d.low, d.high)


def _far_tail(
    count: int,
    low: float,
    high: float,
    device: torch.device,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Return ``count`` float64 draws of a unit normal conditioned on ``[low, high]``, ``low > 0``.

    The proposal ``low + x`` with ``x`` exponential of rate ``low``, cut at
    ``high - low``, is accepted with probability ``exp(-x^2 / 2)``, which
    makes the accepted values exact (Robert, "Simulation of truncated normal
    variables", 1995). Beyond 37 standard deviations more than 99.9% are
    accepted, so the rounds of redraws stay few.
    """
    out = torch.empty(count, dtype=torch.float64, device=device)
    pending = torch.arange(count, device=device)
    # The exponential's CDF at the cut, 1 - exp(-low * (high - low)).
    cut_mass = -math.expm1(-low * (high - low))
    while pending.numel():
        u = torch.rand(
            pending.numel(), dtype=torch.float64, device=device, generator=generator
        )
        x = torch.log1p(u.mul_(-cut_mass)).div_(-low)
        accept = torch.rand(
            pending.numel(), dtype=torch.float64, device=device, generator=generator
        ).log_() <= x.square().mul_(-0.5)
        out[pending[accept]] = x[accept] + low
        pending = pending[~accept]
    return out.clamp_(low, high)


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
    _require_float(tensor, "orthogonal")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    rows, cols = _matrix_view_shape(tensor, layout)
    # QR has no float16/bfloat16 kernels; float32 keeps orthogonality to
    # about 1e-6, well below the half types' own rounding.
    dtype = _sampling_dtype(tensor)

    # The same draw as torch.nn.init.orthogonal_, so float32 and float64
    # tensors get torch's numbers for the same generator state. The QR runs
    # outside no_grad, as in torch. Its input never requires grad, so no
    # history is recorded, and torch 2.13's CPU QR of a 4x4 matrix took 3
    # times as long under no_grad (49 us against 16 us, one thread).
    matrix = tensor.new_empty((rows, cols), dtype=dtype).normal_(
        0.0, 1.0, generator=generator
    )
    if rows < cols:
        matrix.t_()
    q, r = torch.linalg.qr(matrix)
    # Multiplying each column by the sign of R's diagonal makes q Haar
    # distributed (Mezzadri, "How to generate random matrices from the
    # classical compact groups", 2007). A zero on the diagonal, which has
    # probability zero for Gaussian input, would zero its column, as in torch.
    q *= torch.diagonal(r).sign()
    if rows < cols:
        q.t_()
    with no_grad_for(tensor):
        if tensor.dtype == q.dtype:
            _write(tensor, q)
            return tensor.mul_(d.gain)
        # Scale before the cast to a half type, so the result is rounded once.
        _write(tensor, q.mul_(d.gain))
    return tensor


def _fill_identity(tensor: torch.Tensor, d: dist.Identity) -> torch.Tensor:
    if tensor.dim() != 2:
        raise ShapeError(
            f"identity needs a 2-D tensor, got shape {tuple(tensor.shape)}"
        )
    tensor.zero_()
    torch.diagonal(tensor).fill_(d.gain)
    return tensor


def _fill_dirac(tensor: torch.Tensor, d: dist.Dirac) -> torch.Tensor:
    if tensor.dim() not in (3, 4, 5):
        raise ShapeError(
            f"dirac needs a 3-, 4- or 5-D tensor, got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] % d.groups != 0:
        raise ShapeError(
            f"dirac: shape[0]={tensor.shape[0]} is not divisible by groups={d.groups}"
        )
    tensor.zero_()
    if tensor.numel() == 0 or tensor.is_meta or d.groups < 0:
        # torch's dirac_ also leaves all zeros for a negative groups that
        # divides shape[0], because its channel range is then empty.
        return tensor

    # Entry (g * out_per_group + c, c, *centre) is 1 for every group g and
    # channel c < min(out_per_group, in): the diagonal of each group's
    # (out_per_group, in) block at the kernel centre, set through views.
    centre = tuple(size // 2 for size in tensor.shape[2:])
    at_centre = tensor[(slice(None), slice(None), *centre)]
    blocks = at_centre.unflatten(0, (d.groups, tensor.shape[0] // d.groups))
    torch.diagonal(blocks, dim1=1, dim2=2).fill_(1)
    return tensor


def _fill_sparse(
    tensor: torch.Tensor, d: dist.Sparse, generator: torch.Generator | None
) -> torch.Tensor:
    if tensor.dim() != 2:
        raise ShapeError(f"sparse needs a 2-D tensor, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    # Python slicing semantics, as torch's sparse_ uses: a count above rows
    # zeroes every row, a negative count -k zeroes all but k rows.
    zeros = len(range(rows)[: d.zeros_per_column()])

    fill_normal_(tensor, 0.0, d.std, generator)
    if zeros:
        mask = _random_subsets(rows, cols, zeros, tensor.device, generator)
        tensor.masked_fill_(mask, 0.0)
    return tensor


def _random_subsets(
    rows: int,
    cols: int,
    size: int,
    device: torch.device,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Return a ``(rows, cols)`` bool mask with a uniform random ``size``-subset of rows per column."""
    if size > rows // 2:
        # Choosing the complement takes fewer steps.
        return ~_random_subsets(rows, cols, rows - size, device, generator)
    if size == 0:
        return torch.zeros((rows, cols), dtype=torch.bool, device=device)
    if cols <= size:
        # Few columns: one permutation per column, as torch's sparse_ does,
        # but from the caller's generator.
        mask = torch.zeros((rows, cols), dtype=torch.bool, device=device)
        for col in range(cols):
            chosen = torch.randperm(rows, device=device, generator=generator)[:size]
            mask[chosen, col] = True
        return mask

    # Floyd's algorithm ("Programming Pearls: A sample of brilliance", Bentley
    # and Floyd, 1987), run for all columns at once: for j = rows - size ..
    # rows - 1 pick t uniform in [0, j], and take j instead if t is taken.
    # Every size-subset comes out equally likely, in `size` vectorised steps.
    # The mask is built in the tensor's (rows, cols) layout, so the final
    # masked_fill_ reads it contiguously.
    mask = torch.zeros((rows, cols), dtype=torch.bool, device=device)
    column = torch.arange(cols, device=device)
    for j in range(rows - size, rows):
        pick = torch.randint(0, j + 1, (cols,), device=device, generator=generator)
        taken = mask[pick, column]
        pick = torch.where(taken, j, pick)
        mask[pick, column] = True
    return mask


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
        fans: explicit fans, for a layer whose fans differ from what its
            weight shape gives. If None, they come from the shape and ``layout``.
        layout: weight layout for the fans and for structured schemes.
        groups: the layer's groups, used when fans are computed here.
        generator: the random source; mutually exclusive with ``seed``.
        seed: seed for a new generator on the tensor's device.

    A zero-element tensor is left as it is, with one warning, and fewer
    than two dimensions get Keras's fans (see
    :func:`initlab.schemes.resolve_for_shape`). Errors are raised before
    the tensor changes.

    Raises:
        ValueError: for both ``generator`` and ``seed``.
        SchemeError: for an unknown or invalid scheme.
        ShapeError: for a shape the scheme cannot use.
        NotImplementedError: for a random scheme on an integer or boolean tensor.
    """
    scheme = parse_scheme(scheme)
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    distribution = resolve_for_shape(
        scheme, tuple(tensor.shape), layout=layout, groups=groups, fans=fans
    )
    if distribution is None or tensor.is_meta:
        # A meta tensor has no storage to fill, and no generator lives there.
        return tensor
    if generator is None and seed is not None:
        generator = make_generator(seed, tensor.device)
    return sample_distribution_(
        tensor, distribution, generator=generator, layout=layout
    )
