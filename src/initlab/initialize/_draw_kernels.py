"""The compiled loops behind :mod:`initlab.initialize.fast_draws` (imports Numba).

Numba caches the machine code beside this file, so a process compiles each
loop once per installation, not once per run.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _compile(function):
    """Compile ``function`` without the GIL, caching the machine code where a folder allows."""
    try:
        return njit(nogil=True, cache=True)(function)
    except RuntimeError:
        # Numba found no writable cache folder (a read-only installation
        # and home): compile in memory, once per process.
        return njit(nogil=True)(function)


_FLOAT32_STEP = np.float32(2.0**-24)
_FLOAT64_STEP = np.float64(2.0**-53)
_LOW_WORD = np.uint64(0xFFFFFFFF)


@_compile
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


@_compile
def fill_float32(out, s0, s1, low, width, top):
    """Write ``min(k * 2**-24 * width + low, top)`` into ``out``, two values per output.

    ``top`` is the largest float32 below ``high``: the rounded sum can land
    on ``high`` itself, about once in 2**24 values for some bounds.
    """
    count = out.size
    for index in range(0, count, 2):
        result, s0, s1 = next_output(s0, s1)
        scaled = (
            np.float32((result & _LOW_WORD) >> np.uint64(8)) * _FLOAT32_STEP * width
        )
        out[index] = min(scaled + low, top)
        if index + 1 < count:
            scaled = np.float32(result >> np.uint64(40)) * _FLOAT32_STEP * width
            out[index + 1] = min(scaled + low, top)


@_compile
def fill_float64(out, s0, s1, low, width, top):
    """Write ``min(k * 2**-53 * width + low, top)`` into ``out``, one value per output."""
    for index in range(out.size):
        result, s0, s1 = next_output(s0, s1)
        scaled = np.float64(result >> np.uint64(11)) * _FLOAT64_STEP * width
        out[index] = min(scaled + low, top)


def _ziggurat_tables(layers: int, right: float, area: float):
    """Return the right edges, acceptance ratios and heights of the ziggurat's layers.

    Every layer has the same area, under ``f(x) = exp(-x**2 / 2)``. Layer
    ``i`` spans ``[0, edges[i]]`` and heights ``f(edges[i])`` to
    ``f(edges[i + 1])``. Layer 0 is the base strip, of width
    ``area / f(right)``, and its part beyond ``right`` stands for the tail.
    """

    def density(x: float) -> float:
        return math.exp(-0.5 * x * x)

    edges = np.zeros(layers + 1)
    edges[0] = area / density(right)
    edges[1] = right
    for layer in range(1, layers - 1):
        edges[layer + 1] = math.sqrt(
            -2.0 * math.log(density(edges[layer]) + area / edges[layer])
        )
    heights = np.array([density(edge) for edge in edges])
    return edges, edges[1:] / edges[:-1], heights


# The 128-layer ziggurat for the normal distribution of Marsaglia and Tsang,
# "The Ziggurat Method for Generating Random Variables", Journal of
# Statistical Software 5(8), 2000: the tail starts at _TAIL and each layer
# has area _LAYER_AREA. Their code takes the layer from bits that are also
# part of the value; here the two come from separate bits.
_TAIL = 3.442619855899
_LAYER_AREA = 9.91256303526217e-3
_EDGES, _INSIDE, _HEIGHTS = _ziggurat_tables(128, _TAIL, _LAYER_AREA)


@_compile
def _uniform53(s0, s1):
    result, s0, s1 = next_output(s0, s1)
    # Through int64: converting a uint64 to a float is a slow sequence on x86.
    return np.float64(np.int64(result >> np.uint64(11))) * _FLOAT64_STEP, s0, s1


@_compile
def fill_normal(out, s0, s1, mean, std):
    """Write ``N(mean, std**2)`` values into ``out``, computed in float64, one output each.

    The layer comes from the output's low 7 bits, the sign from bit 7 and
    the position in the layer from the top 53 bits, so no bit serves twice.
    """
    count = out.size
    index = 0
    while index < count:
        result, s0, s1 = next_output(s0, s1)
        layer = result & np.uint64(0x7F)
        negative = np.float64(np.int64((result >> np.uint64(7)) & np.uint64(1)))
        position = np.float64(np.int64(result >> np.uint64(11))) * _FLOAT64_STEP
        value = position * _EDGES[layer]
        if position >= _INSIDE[layer]:
            if layer == 0:
                # The tail beyond _TAIL, by Marsaglia's exponential method.
                while True:
                    first, s0, s1 = _uniform53(s0, s1)
                    second, s0, s1 = _uniform53(s0, s1)
                    beyond = -math.log1p(-first) / _TAIL
                    if -2.0 * math.log1p(-second) > beyond * beyond:
                        break
                value = _TAIL + beyond
            else:
                # The wedge between the layer's rectangle and the curve.
                height, s0, s1 = _uniform53(s0, s1)
                low, high = _HEIGHTS[layer], _HEIGHTS[layer + 1]
                if low + height * (high - low) >= math.exp(-0.5 * value * value):
                    continue
        # A branch on the sign is mispredicted half the time and cost about
        # 45% of the loop; the multiplication does not branch.
        value = value * (1.0 - 2.0 * negative)
        out[index] = value * std + mean
        index += 1
