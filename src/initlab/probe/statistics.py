"""Statistics of one tensor, computed inside a hook in a few whole-tensor passes.

Every ``*_tensor`` function here runs inside a forward or backward hook. It
reads the tensor a few times and returns 0-dim or small per-unit tensors,
not Python numbers, so none of them makes a GPU pass wait for the host. The
probe turns the small results into Python numbers after the pass, in one
transfer, with the ``finish_*`` functions.

The kernels were picked by timing them on 256 x 1024 float32 values at one
thread (PyTorch 2.13 on a shared 2-core AMD EPYC). A ``sum``, a ``dot``, an
``aminmax`` and in-place arithmetic each took 30 to 70 us. The same
arithmetic returning a new tensor took about 200 us, so every function
writes its intermediate values into a caller-owned scratch tensor ``work``
(same size and dtype as the input). ``std_mean`` took about 2 ms, and
counting with a comparison, ``(x == 0).sum()``, about 0.7 ms, so the
moments come from a sum and a dot product and counts are sums of 0/1
indicators built with ``clamp`` and ``ceil``. Those sums are exact up to
2**24 per float32 accumulator; beyond that, a fraction can be off by an
estimated 1e-6 of its value.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_FLOAT_TYPES = (torch.float32, torch.float64)


class Workspace:
    """Scratch tensors shared by every hook of one pass, one per dtype and device.

    A request for ``numel`` values returns the first ``numel`` values of a
    buffer that grows to the largest request, so the scratch memory is at
    most one activation's size per dtype.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
        self._ones: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}

    def take(
        self, numel: int, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        """Return a 1-D scratch tensor of ``numel`` values; its contents are undefined."""
        key = (dtype, device)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = torch.empty(numel, dtype=dtype, device=device)
            self._buffers[key] = buffer
        return buffer[:numel]

    def ones(
        self, length: int, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        """Return a cached vector of ``length`` ones."""
        key = (length, dtype, device)
        if key not in self._ones:
            self._ones[key] = torch.ones(length, dtype=dtype, device=device)
        return self._ones[key]


def as_float_flat(tensor: torch.Tensor) -> torch.Tensor:
    """Return ``tensor`` detached, flattened, and in float32 unless it is float64.

    Half-precision outputs are widened first, because sums of squares in
    float16 overflow at about 6.5e4.
    """
    flat = tensor.detach().reshape(-1)
    if flat.dtype not in _FLOAT_TYPES:
        flat = flat.float()
    return flat


def moments_tensor(
    flat: torch.Tensor, work: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(shift, sum(x - shift), sum((x - shift)^2))`` with ``shift`` the first value.

    Shifting by one of the values keeps ``E[x^2] - E[x]^2`` accurate when
    the mean is large next to the std, as for sigmoid outputs near 0.5 with
    a std of 1e-3 (the shifted-data variance algorithm). The shift is a
    copy, because a later in-place activation may overwrite ``flat``.
    """
    shift = flat[0].clone()
    torch.sub(flat, shift, out=work)
    return shift, work.sum(), torch.dot(work, work)


def finish_moments(
    shift: float, centred_sum: float, centred_square_sum: float, count: int
) -> tuple[float, float, float]:
    """Return ``(mean, std, norm)`` from :func:`moments_tensor`'s sums over ``count`` values.

    The std is the population std (divided by ``count``, as ``numpy.std``).
    The norm is the Euclidean norm of the unshifted values.
    """
    centred_mean = centred_sum / count
    variance = centred_square_sum / count - centred_mean * centred_mean
    mean = shift + centred_mean
    # Rounding can leave a tiny negative variance for constant values. A NaN
    # variance stays NaN: no comparison with NaN is true, so max returns it.
    std = math.sqrt(max(variance, 0.0))
    square_sum = centred_square_sum + 2.0 * shift * centred_sum + count * shift * shift
    norm = math.sqrt(square_sum) if square_sum >= 0 else math.nan
    return mean, std, norm


def nonfinite_count_tensor(flat: torch.Tensor, work: torch.Tensor) -> torch.Tensor:
    """Return the number of NaN and infinite values, as a 0-dim tensor."""
    # x * 0 is 0 for finite x and NaN for NaN and +-inf.
    torch.mul(flat, 0.0, out=work)
    work.nan_to_num_(nan=1.0)
    return work.sum()


def shrink_count_tensor(
    flat: torch.Tensor, work: torch.Tensor, center: float, half_width: float
) -> torch.Tensor:
    """Return the number of values with ``|x - center| > half_width``, as a 0-dim tensor."""
    if center:
        torch.sub(flat, center, out=work)
        work.abs_()
    else:
        torch.abs(flat, out=work)
    # Positive differences become 1 and the rest 0: ceil of a value in (0, 1] is 1.
    work.sub_(half_width).clamp_(0.0, 1.0).ceil_()
    return work.sum()


def limit_count_tensor(
    flat: torch.Tensor, low: float | None, high: float | None
) -> torch.Tensor:
    """Return the number of values ``<= low`` or ``>= high`` (None skips a side), as a 0-dim tensor.

    Used for piecewise-linear activations, whose outputs sit exactly on the
    limit when saturated.
    """
    count = torch.zeros((), dtype=torch.int64, device=flat.device)
    if low is not None:
        count = count + torch.count_nonzero(flat <= low)
    if high is not None:
        count = count + torch.count_nonzero(flat >= high)
    return count


def zero_and_dead_tensor(
    flat: torch.Tensor,
    work: torch.Tensor,
    ones: torch.Tensor,
    may_be_negative: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(nonzero values, dead units)`` as 0-dim tensors.

    ``flat`` contains ``len(ones)`` samples one after the other. A unit is one
    position within a sample (a feature, or a channel at one pixel), and it
    is dead when it is zero for every sample of the batch.
    """
    if may_be_negative:
        torch.abs(flat, out=work)
        work.clamp_(max=1.0)
    else:
        torch.clamp(flat, max=1.0, out=work)
    # Nonzero values become 1 and zeros stay 0; outputs here are >= 0.
    work.ceil_()
    per_unit = ones @ work.view(ones.numel(), -1)
    return per_unit.sum(), (per_unit == 0).sum()


def histogram_tensor(
    flat: torch.Tensor,
    work: torch.Tensor,
    index: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    bins: int,
    *,
    scatter: bool = False,
) -> torch.Tensor:
    """Return the counts of ``flat`` in ``bins`` equal bins over ``[low, high]``, as int64.

    ``low`` and ``high`` are 0-dim tensors on ``flat``'s device (the data's
    own min and max, or an activation's fixed range), so no value leaves the
    device. ``index`` is an int32 scratch tensor of ``flat``'s size. A value
    equal to ``high`` goes into the last bin. Values outside the range land
    in the end bins, and NaN in the first; the probe drops the histogram of
    a tensor with non-finite values.

    ``scatter`` counts with a scatter-add instead of ``torch.bincount``,
    which on CUDA reads the largest index back to the host before counting
    and so waits for the queued work. The probe scatters on every device
    but the CPU.
    """
    torch.sub(flat, low, out=work)
    work.mul_(bins / (high - low))
    work.clamp_(0, bins - 1)
    index.copy_(work)
    # Float-to-int conversion of NaN gives an arbitrary integer.
    index.clamp_(0, bins - 1)
    if not scatter:
        return torch.bincount(index, minlength=bins)
    counts = torch.zeros(bins, dtype=torch.int64, device=flat.device)
    positions = index.long()
    return counts.scatter_add_(0, positions, torch.ones_like(positions))


def finish_histogram(
    counts: list[float], low: float, high: float
) -> tuple[list[float], list[int]]:
    """Return ``(edges, counts)`` for counts over ``[low, high]``.

    A constant tensor (``low == high``) gets one bin of width 1 centred on
    its value, holding every count.
    """
    bins = len(counts)
    if not high > low:
        total = int(round(sum(counts)))
        return [low - 0.5, low + 0.5], [total]
    step = (high - low) / bins
    edges = [low + step * i for i in range(bins)] + [high]
    return edges, [int(round(c)) for c in counts]


def sample_histograms(
    samples: list[torch.Tensor], ranges: list[tuple[float, float]], bins: int
) -> list[tuple[list[float], list[int]]]:
    """Return ``(edges, counts)`` for each sample (a CPU tensor) over its range, after the pass.

    The bin of ``x`` is ``floor((x - low) * bins / (high - low))``, as in
    ``torch.histc``, with ``high`` in the last bin. NumPy bins the few
    thousand values of a sample about three times faster than
    ``torch.histc``, which matters on small models. A constant sample
    (``low == high``) gets one bin of width 1 centred on its value.
    """
    results = []
    for sample, (low, high) in zip(samples, ranges, strict=True):
        if not high > low:
            results.append(([low - 0.5, low + 0.5], [int(sample.numel())]))
            continue
        values = sample.numpy().astype(np.float64)
        position = (values - low) * (bins / (high - low))
        np.clip(position, 0, bins - 1, out=position)
        counts = np.bincount(position.astype(np.intp), minlength=bins)
        results.append(finish_histogram(counts.tolist(), low, high))
    return results
