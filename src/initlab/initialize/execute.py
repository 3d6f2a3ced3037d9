"""Draw a plan into tensors: chunks on a thread pool, with the std of what was written.

PyTorch fills a CPU tensor with random numbers on one core, so drawing is
what bounds the initialization of a large model. Every chunk of every
parameter is an independent task (its stream depends only on its key, see
:mod:`initlab.initialize.streams`), so the tasks run on a thread pool.
PyTorch's kernels and the compiled uniform loop release the GIL while they
fill an array. The same code
fills a whole parameter or only the slice a shard owns.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import torch

from initlab import distributions as dist
from initlab.backends.torch import inward_bounds, sample_distribution_
from initlab.errors import ConfigError
from initlab.initialize.fast_draws import fill_normal, fill_uniform
from initlab.initialize.plan import BlockPlan, ParameterPlan
from initlab.initialize.streams import (
    ChunkGrid,
    ChunkPiece,
    Region,
    make_stream,
    stream_key,
)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations of some values (Chan et al., 1979)."""

    count: int = 0
    mean: float = 0.0
    squares: float = 0.0

    def merge(self, other: Moments) -> Moments:
        """Return the moments of both sets of values together."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        squares = (
            self.squares + other.squares + delta**2 * self.count * other.count / count
        )
        return Moments(count, mean, squares)

    @property
    def std(self) -> float:
        """Population std, NaN for no values or for values that overflowed."""
        if self.count == 0:
            return math.nan
        if math.isnan(self.squares):
            return math.nan
        return math.sqrt(max(0.0, self.squares / self.count))


def measure(values: torch.Tensor) -> Moments:
    """Return the moments of a tensor's values.

    Two single-pass reductions (sum and Euclidean norm) in the tensor's
    precision, combined in float64. On a CPU, ``torch.var_mean`` costs about
    twice a uniform_ fill per value, and these two about 13% of one. The
    subtraction ``sum(x^2) - sum(x)^2 / n`` loses precision only when the
    mean is large against the std; then the moments are taken again, in
    float64 and in two passes.
    """
    count = values.numel()
    if count == 0:
        return Moments()
    if values.dtype not in (torch.float32, torch.float64):
        values = values.float()
    total = float(values.sum())
    squares = float(torch.linalg.vector_norm(values)) ** 2
    mean = total / count
    deviations = squares - total * mean
    if math.isfinite(deviations) and deviations >= 1e-3 * squares:
        return Moments(count, mean, deviations)

    # Either most of the sum of squares is the mean's, so the subtraction
    # kept few correct digits (N(10, 0.001) came out as std 0.005), or the
    # squares overflowed the tensor's dtype (std 1e30 in float32). Two
    # passes in float64 cover both; such tensors are rare. Values that are
    # themselves infinite give NaN, not 0.
    variance, centre = torch.var_mean(values.double(), correction=0)
    return Moments(count, float(centre), float(variance) * count)


# Chunks with more values than this are measured on their first 2^16
# values. Every value of a chunk is an independent draw from the same
# distribution, so the prefix is a fair sample, and 65,536 values put the
# measured std within about 0.3% (one standard error) of the std of the
# whole chunk. Measuring all 2^20 values (sum and norm) costs about 13% of
# a uniform_ fill on a CPU; a strided sample reads every cache line and
# costs as much.
_MEASURED_PREFIX = 1 << 16


def _measure_chunk(values: torch.Tensor) -> Moments:
    if values.numel() > _MEASURED_PREFIX and values.is_contiguous():
        return measure(values.view(-1)[:_MEASURED_PREFIX])
    return measure(values)


def resolve_threads(threads: int | None, device: torch.device) -> int:
    """Return the number of worker threads: ``torch.get_num_threads()`` by default, 1 off the CPU.

    Raises:
        ConfigError: for a thread count that is not a positive integer.
    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(
            f"threads must be a positive integer, got threads={threads!r}"
        )
    if device.type != "cpu":
        # Kernels on an accelerator run asynchronously: one thread queues them all.
        return 1
    return threads if threads is not None else torch.get_num_threads()


def _intersect(
    region: Region, block: BlockPlan
) -> tuple[tuple[range, ...], tuple[slice, ...]] | None:
    """Return the block's part of ``region``: in block coordinates, and as slices of the region."""
    local: list[range] = []
    out: list[slice] = []
    for axis, (wanted, own) in enumerate(zip(region, block.region, strict=True)):
        first = max(0, -(-(own.start - wanted.start) // wanted.step))
        last = min(len(wanted), -(-(own.stop - wanted.start) // wanted.step))
        if first >= last:
            return None
        out.append(slice(first, last))
        if axis == block.drop_axis:
            continue
        low = wanted[first] - own.start
        high = wanted[last - 1] - own.start
        local.append(range(low, high + 1, wanted.step))
    return tuple(local), tuple(out)


@dataclass(frozen=True)
class _Streams:
    """The streams of one block: a chunk index gives its generator."""

    seed: int
    name: str
    block: int
    device: torch.device

    def torch(self, chunk: int) -> torch.Generator:
        return make_stream(self.seed, self.name, self.block, chunk, self.device)

    def key(self, chunk: int) -> bytes:
        return stream_key(self.seed, self.name, self.block, chunk)


def _compiled(tensor: torch.Tensor, d: dist.Uniform | dist.Normal, key: bytes) -> None:
    """Fill a contiguous CPU tensor from the compiled generator (half types through float32)."""
    if tensor.dtype not in (torch.float32, torch.float64):
        _compiled_half(tensor, d, key)
        return
    array = tensor.detach().view(-1).numpy()
    if isinstance(d, dist.Uniform):
        fill_uniform(array, key, d.low, d.high)
    else:
        fill_normal(array, key, d.mean, d.std)


# Other dtypes go to torch, which raises for the ones it cannot fill.
_COMPILED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

# Significand bits, the implicit one included.
_SIGNIFICAND_BITS = {torch.float16: 11, torch.bfloat16: 8}


def _compiled_half(
    tensor: torch.Tensor, d: dist.Uniform | dist.Normal, key: bytes
) -> None:
    """Draw in float32 and cast, keeping a uniform inside ``[low, high)`` of the half type.

    A float32 value just below ``high`` rounds up onto it in float16 or
    bfloat16. As torch does for its half-type ``uniform_``, the uniform
    keeps only as many random bits as the type has significand bits, and
    values are then clamped into the type's part of ``[low, high)``.
    """
    buffer = torch.empty(tensor.shape, dtype=torch.float32)
    array = buffer.view(-1).numpy()
    if isinstance(d, dist.Normal):
        fill_normal(array, key, d.mean, d.std)
        tensor.copy_(buffer)
        return
    fill_uniform(array, key, 0.0, 1.0)
    steps = float(2 ** _SIGNIFICAND_BITS[tensor.dtype])
    buffer.mul_(steps).floor_().div_(steps)
    buffer.mul_(d.high - d.low).add_(d.low)
    tensor.copy_(buffer)
    if d.high > d.low:
        tensor.clamp_(*inward_bounds(d.low, d.high, tensor.dtype, include_high=False))


def _draw(
    tensor: torch.Tensor, d: dist.Distribution, streams: _Streams, chunk: int
) -> None:
    """Draw one chunk, shaped and laid out as a fresh contiguous tensor."""
    if (
        isinstance(d, (dist.Uniform, dist.Normal))
        and tensor.device.type == "cpu"
        and tensor.dtype in _COMPILED_DTYPES
    ):
        _compiled(tensor, d, streams.key(chunk))
    else:
        sample_distribution_(tensor, d, generator=streams.torch(chunk))


def _fill_piece(
    view: torch.Tensor,
    piece: ChunkPiece,
    distribution: dist.Distribution,
    streams: _Streams,
) -> Moments:
    target = view[piece.target]
    if isinstance(distribution, dist.Constant):
        target.fill_(distribution.value)
        return Moments(target.numel(), distribution.value, 0.0)
    if piece.whole and target.is_contiguous():
        # The chunk is the whole target, laid out as a fresh tensor would be,
        # so it is drawn in place: the same numbers, without a copy.
        _draw(target, distribution, streams, piece.chunk_index)
        return _measure_chunk(target)
    buffer = torch.empty(piece.chunk_shape, dtype=view.dtype, device=view.device)
    _draw(buffer, distribution, streams, piece.chunk_index)
    values = buffer[piece.source]
    target.copy_(values)
    return measure(values)


def _fill_structured(
    view: torch.Tensor,
    local: tuple[range, ...],
    block: BlockPlan,
    streams: _Streams,
) -> Moments:
    # Orthogonal, sparse, identity and Dirac need the whole block at once, so
    # it is drawn in full from the block's first stream and then sliced.
    buffer = torch.empty(block.shape, dtype=view.dtype, device=view.device)
    sample_distribution_(
        buffer, block.distribution, generator=streams.torch(0), layout=block.layout
    )
    values = buffer[tuple(slice(r.start, r.stop, r.step) for r in local)]
    view.copy_(values)
    return measure(values)


def parameter_tasks(
    plan: ParameterPlan, out: torch.Tensor, region: Region, seed: int
) -> list[Callable[[], Moments]]:
    """Return the tasks that fill ``out`` (shaped like ``region``) with the parameter's values there."""
    tasks: list[Callable[[], Moments]] = []
    for block in plan.blocks:
        found = _intersect(region, block)
        if found is None:
            continue
        local, out_slices = found
        view = out[out_slices]
        if block.drop_axis is not None:
            view = view.squeeze(block.drop_axis)
        streams = _Streams(seed, plan.name, block.index, out.device)
        if block.elementwise:
            grid = ChunkGrid(block.shape)
            for piece in grid.pieces(local):
                tasks.append(
                    partial(_fill_piece, view, piece, block.distribution, streams)
                )
        else:
            tasks.append(partial(_fill_structured, view, local, block, streams))
    return tasks


def zero_rows(plan: ParameterPlan, out: torch.Tensor, region: Region) -> bool:
    """Zero the plan's rows that fall in ``region`` and return whether any did."""
    changed = False
    for row in plan.zero_rows:
        rows = region[0]
        if row in rows:
            out[rows.index(row)].zero_()
            changed = True
    return changed


def _runs_on_calling_thread(task: Callable[[], Moments]) -> bool:
    # The QR factorization behind orthogonal blocks rounds differently with
    # the number of threads LAPACK may use, and a new worker thread does not
    # inherit the calling thread's setting (float32 values differed by
    # 1.5e-7 between threads=1 and threads=2). Drawn on the calling thread
    # with one kernel thread, they are the same for every thread count.
    return getattr(task, "func", None) is _fill_structured


def run_tasks(tasks: Sequence[Callable[[], Moments]], threads: int) -> list[Moments]:
    """Run tasks on ``threads`` threads and return their results in task order."""
    call = partial(_call, inference=torch.is_inference_mode_enabled())
    results: list[Moments | None] = [None] * len(tasks)
    pooled = []
    with _serial_kernels():
        for index, task in enumerate(tasks):
            if threads <= 1 or _runs_on_calling_thread(task):
                results[index] = call(task)
            else:
                pooled.append(index)
        if len(pooled) == 1:
            results[pooled[0]] = call(tasks[pooled[0]])
        elif pooled:
            with ThreadPoolExecutor(max_workers=min(threads, len(pooled))) as pool:
                done = pool.map(call, [tasks[index] for index in pooled])
                for index, result in zip(pooled, done, strict=True):
                    results[index] = result
    return results


@functools.lru_cache(maxsize=1)
def _openmp_backend() -> bool:
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


@contextlib.contextmanager
def _serial_kernels() -> Iterator[None]:
    """Run each PyTorch kernel on one thread while the pool supplies the parallelism.

    Each worker thread would otherwise open its own OpenMP team for every
    reduction and elementwise op, which puts threads times
    ``get_num_threads()`` threads on the cores. On a busy 2-core machine
    that made a sum over 2^20 values about 10 times slower. Worker threads
    read the global setting when they start their first parallel op. Only
    the OpenMP backend allows changing the setting after parallel work has
    started, so other backends are left alone.
    """
    if not _openmp_backend():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _call(task: Callable[[], Moments], *, inference: bool) -> Moments:
    # Grad mode and inference mode are per thread: parameters are leaves
    # that require grad, and tensors made under inference mode can only be
    # written to under it.
    with torch.inference_mode(inference), torch.no_grad():
        return task()


def fill_parameters(
    plans: Sequence[ParameterPlan],
    tensors: Sequence[torch.Tensor],
    seed: int,
    threads: int,
) -> list[float]:
    """Fill each tensor with its plan's values and return the measured std of each."""
    tasks: list[Callable[[], Moments]] = []
    owners: list[int] = []
    regions = []
    with torch.no_grad():
        for index, (plan, tensor) in enumerate(zip(plans, tensors, strict=True)):
            region = tuple(range(size) for size in tensor.shape)
            regions.append(region)
            found = parameter_tasks(plan, tensor, region, seed)
            tasks.extend(found)
            owners.extend([index] * len(found))
        results = run_tasks(tasks, threads)

        moments = [Moments() for _ in plans]
        for owner, result in zip(owners, results, strict=True):
            moments[owner] = moments[owner].merge(result)
        for index, (plan, tensor) in enumerate(zip(plans, tensors, strict=True)):
            if zero_rows(plan, tensor, regions[index]):
                moments[index] = measure(tensor)
    return [m.std for m in moments]
