"""Deterministic random streams: one ``torch.Generator`` per chunk of a tensor.

A parameter's values are drawn in fixed-size chunks, and each chunk draws
from its own generator whose state is a function of the key
``(seed, parameter name, part index, chunk index)`` alone. So the values
never depend on the thread count, on the order in which parameters are
visited, or on how a tensor is split into shards, and chunks can be filled
on all cores at once.

Two generators are used, chosen by measurement on a 2-core x86 CPU (torch
2.13). Uniform and normal chunks on a CPU draw from compiled xoroshiro128++
loops (:mod:`initlab.initialize.fast_draws`: about 1.3 to 1.8 ns per
float32 uniform, scaling included, against 6 ns for torch's ``uniform_``,
and 4.6 ns per normal against 7.4 ns for torch's ``normal_``), and
everything else from a ``torch.Generator`` (:func:`make_stream`).

Both are seeded from SHAKE-256 of the key. xoroshiro128++ takes 128 bits
of state from it. Torch's CPU generator is
a Mersenne Twister (MT19937), whose ``manual_seed`` keeps only the low 32
bits of a seed; that would give two chunks of a large model the same stream
with noticeable probability (the birthday bound for 2^32 seeds is about
77,000 chunks). So its 624-word state is filled from the hash instead, the
way NumPy seeds its MT19937 with a whole ``SeedSequence``. The state layout
is checked against NumPy's MT19937 on first use, and if a PyTorch release
changes it, the 32-bit seed is used with a warning. Generators on other
devices (CUDA's Philox) take a 64-bit seed from ``manual_seed``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Elements per chunk. Part of the stream definition: changing it changes
# every value, so it is a constant, not a tuning knob. 2^20 float32 values
# (4 MiB) keep the per-chunk set-up below 1% of the fill time and give a
# 4096x4096 tensor 16 chunks to spread over the cores.
CHUNK_ELEMENTS = 1 << 20

_MT_WORDS = 624
# Byte offset of the 624 state words (stored as uint64) in the CPU
# generator's serialized state, after the initial seed (uint64) and the
# ``left`` and ``seeded`` counters (two int32).
_MT_STATE_OFFSET = 24


def stream_key(seed: int, name: str, part: int, chunk: int) -> bytes:
    """Return the bytes that identify one chunk's stream."""
    # Length-prefixed fields, so no two different keys encode alike.
    encoded_name = name.encode("utf-8")
    return (
        struct.pack("<qQ", int(seed), len(encoded_name))
        + encoded_name
        + struct.pack("<qq", part, chunk)
    )


def _init_genrand(seed: int) -> np.ndarray:
    """Return MT19937's state after ``init_genrand(seed)`` (Matsumoto and Nishimura, 1998)."""
    words = np.zeros(_MT_WORDS, dtype=np.uint64)
    words[0] = seed & 0xFFFFFFFF
    for i in range(1, _MT_WORDS):
        previous = int(words[i - 1])
        words[i] = (1812433253 * (previous ^ (previous >> 30)) + i) & 0xFFFFFFFF
    return words


@functools.lru_cache(maxsize=1)
def _mt_template() -> np.ndarray | None:
    """Return a serialized CPU generator state to copy state words into, or None.

    None means the serialized layout is not the one this module expects, so
    the caller must fall back to ``manual_seed``.
    """
    generator = torch.Generator()
    generator.manual_seed(5489)
    template = generator.get_state().numpy().copy()
    end = _MT_STATE_OFFSET + 8 * _MT_WORDS
    if template.size < end:
        return None
    stored = template[_MT_STATE_OFFSET:end].view("<u8")
    if not np.array_equal(stored, _init_genrand(5489)):
        return None

    # Check that written words drive the draws: torch's float32 uniform_
    # keeps the low 24 bits of each 32-bit output.
    words = np.arange(1, _MT_WORDS + 1, dtype=np.uint32) * np.uint32(2654435761)
    state = template.copy()
    state[_MT_STATE_OFFSET:end].view("<u8")[:] = words
    generator.set_state(torch.from_numpy(state))
    drawn = torch.empty(8).uniform_(generator=generator)
    reference = np.random.MT19937()
    reference.state = {
        "bit_generator": "MT19937",
        "state": {"key": words, "pos": _MT_WORDS},
    }
    expected = (reference.random_raw(8) & 0xFFFFFF).astype(np.float64) / 2**24
    if not np.array_equal(drawn.double().numpy(), expected):
        return None
    return template


@functools.lru_cache(maxsize=1)
def _warn_32_bit_seeds() -> None:
    warnings.warn(
        "this PyTorch version stores its CPU generator state in an unexpected layout, so "
        "initlab seeds each chunk with 32 bits only; values differ from other PyTorch versions",
        RuntimeWarning,
        stacklevel=3,
    )


def make_stream(
    seed: int, name: str, part: int, chunk: int, device: torch.device
) -> torch.Generator:
    """Return a new generator on ``device`` for one chunk of one parameter."""
    key = stream_key(seed, name, part, chunk)
    if device.type != "cpu":
        # NOTE: this branch has not run on a GPU in initlab's own tests; the
        # test machines are CPU-only.
        generator = torch.Generator(device=device)
        seed64 = int.from_bytes(hashlib.shake_256(key).digest(8), "little")
        generator.manual_seed(seed64 >> 1)
        return generator

    generator = torch.Generator()
    template = _mt_template()
    if template is None:
        _warn_32_bit_seeds()
        generator.manual_seed(
            int.from_bytes(hashlib.shake_256(key).digest(4), "little")
        )
        return generator
    words = np.frombuffer(hashlib.shake_256(key).digest(4 * _MT_WORDS), dtype="<u4")
    state = template.copy()
    state[_MT_STATE_OFFSET : _MT_STATE_OFFSET + 8 * _MT_WORDS].view("<u8")[:] = words
    generator.set_state(torch.from_numpy(state))
    return generator


Region = tuple[range, ...]


def full_region(shape: Sequence[int]) -> Region:
    """Return the region that covers a whole tensor of ``shape``."""
    return tuple(range(size) for size in shape)


@dataclass(frozen=True)
class ChunkPiece:
    """The part of one chunk that falls inside a region.

    ``chunk_index`` names the stream and ``chunk_shape`` is the shape the
    chunk is drawn in. ``source`` selects the piece from the drawn chunk,
    and ``target`` is its place in a tensor of the region's shape.
    ``whole`` is true when the piece is the entire chunk.
    """

    chunk_index: int
    chunk_shape: tuple[int, ...]
    source: tuple[slice, ...]
    target: tuple[int | slice, ...]
    whole: bool


class ChunkGrid:
    """The chunks, of at most ``CHUNK_ELEMENTS`` values each, that a tensor of ``shape`` is cut into.

    Let ``d`` be the first axis such that the trailing block ``shape[d:]``
    holds at most ``CHUNK_ELEMENTS`` values. A chunk is then a run of
    consecutive indices along axis ``d - 1`` (as many trailing blocks as
    fit) for one fixed index of the axes before it. Every chunk is a box of
    the tensor and contiguous in row-major order, so a region (also a box)
    meets it in a box, and a whole chunk of a contiguous tensor can be drawn
    in place. Chunks are numbered in row-major order of their positions.
    """

    def __init__(self, shape: Sequence[int], chunk_elements: int = CHUNK_ELEMENTS):
        self.shape = tuple(int(size) for size in shape)
        self.numel = math.prod(self.shape)
        split = 0
        while (
            split < len(self.shape) and math.prod(self.shape[split:]) > chunk_elements
        ):
            split += 1
        if split == 0:
            # The whole tensor fits in one chunk.
            self.axis = None
            self.count = 1 if self.numel else 0
            return
        self.axis = split - 1
        trailing = math.prod(self.shape[split:])
        self.run = max(1, chunk_elements // trailing)
        self.runs_per_row = math.ceil(self.shape[self.axis] / self.run)
        self.outer_shape = self.shape[: self.axis]
        self.count = (
            math.prod(self.outer_shape) * self.runs_per_row if self.numel else 0
        )

    def pieces(self, region: Region) -> Iterator[ChunkPiece]:
        """Yield the piece of every chunk that meets ``region``, in chunk order."""
        if any(len(r) == 0 for r in region) or self.count == 0:
            return
        if self.axis is None:
            yield ChunkPiece(
                0,
                self.shape,
                tuple(_as_slice(r) for r in region),
                tuple(slice(None) for _ in region),
                all(
                    _covers(r, size) for r, size in zip(region, self.shape, strict=True)
                ),
            )
            return

        axis = self.axis
        trailing_whole = all(
            _covers(r, size)
            for r, size in zip(region[axis + 1 :], self.shape[axis + 1 :], strict=True)
        )
        along = region[axis]
        first_run = along[0] // self.run
        last_run = along[-1] // self.run
        outer_ranges = region[:axis]
        for outer in np.ndindex(*(len(r) for r in outer_ranges)):
            outer_index = tuple(r[i] for r, i in zip(outer_ranges, outer, strict=True))
            row = (
                int(np.ravel_multi_index(outer_index, self.outer_shape)) if axis else 0
            )
            for run_index in range(first_run, last_run + 1):
                start = run_index * self.run
                stop = min(start + self.run, self.shape[axis])
                inside = _sub_range(along, start, stop)
                if inside is None:
                    continue
                first, last = inside
                low, high = along[first], along[last - 1]
                whole = (
                    trailing_whole
                    and along.step == 1
                    and low == start
                    and high == stop - 1
                )
                yield ChunkPiece(
                    row * self.runs_per_row + run_index,
                    (stop - start, *self.shape[axis + 1 :]),
                    (
                        slice(low - start, high - start + 1, along.step),
                        *(_as_slice(r) for r in region[axis + 1 :]),
                    ),
                    (*outer, slice(first, last)),
                    whole,
                )


def _as_slice(r: range) -> slice:
    return slice(r.start, r.stop, r.step)


def _covers(r: range, size: int) -> bool:
    return r.start == 0 and r.step == 1 and len(r) == size


def _sub_range(r: range, start: int, stop: int) -> tuple[int, int] | None:
    """Return ``(first, last)`` positions in ``r`` of the values in ``[start, stop)``."""
    first = max(0, -(-(start - r.start) // r.step))
    last = min(len(r), -(-(stop - r.start) // r.step))
    if first >= last:
        return None
    return first, last
