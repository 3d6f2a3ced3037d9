"""The compiled loops behind :mod:`initlab.initialize.fast_uniform` (imports Numba).

Numba caches the machine code beside this file, so a process compiles each
loop once per installation, not once per run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FLOAT32_STEP = np.float32(2.0**-24)
_FLOAT64_STEP = np.float64(2.0**-53)
_LOW_WORD = np.uint64(0xFFFFFFFF)


@njit(nogil=True, cache=True)
def next_output(s0, s1):
    """Return xoroshiro128++'s next 64-bit output and the new state."""
    total = s0 + s1
    result = ((total << np.uint64(17)) | (total >> np.uint64(47))) + s0
    mixed = s1 ^ s0
    s0 = (
        ((s0 << np.uint64(49)) | (s0 >> np.uint64(15)))
        ^ mixed
        ^ (mixed << np.uint64(21))
    )
    s1 = (mixed << np.uint64(28)) | (mixed >> np.uint64(36))
    return result, s0, s1


@njit(nogil=True, cache=True)
def fill_float32(out, s0, s1, low, width):
    """Write ``k * 2**-24 * width + low`` into ``out``, two values per output."""
    count = out.size
    for index in range(0, count, 2):
        result, s0, s1 = next_output(s0, s1)
        scaled = (
            np.float32((result & _LOW_WORD) >> np.uint64(8)) * _FLOAT32_STEP * width
        )
        out[index] = scaled + low
        if index + 1 < count:
            scaled = np.float32(result >> np.uint64(40)) * _FLOAT32_STEP * width
            out[index + 1] = scaled + low


@njit(nogil=True, cache=True)
def fill_float64(out, s0, s1, low, width):
    """Write ``k * 2**-53 * width + low`` into ``out``, one value per output."""
    for index in range(out.size):
        result, s0, s1 = next_output(s0, s1)
        scaled = np.float64(result >> np.uint64(11)) * _FLOAT64_STEP * width
        out[index] = scaled + low
