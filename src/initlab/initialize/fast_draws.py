"""Uniform and normal chunk draws from xoroshiro128++, compiled with Numba.

NumPy's ``Generator.random`` spent about 4.3 ns per float32 value on the
2-core development machine, and scaling the values to ``[low, high)`` took
two more passes over memory (``mul_`` and ``add_``). The loop here draws
and scales in one pass at about 1.3 to 1.8 ns per value, which is what lets
``materialize`` outrun eager construction by more than the two cores alone.

The generator is xoroshiro128++, with 128 bits of state taken from
SHAKE-256 of the chunk's stream key. Each 64-bit output gives two float32
values, one from each 32-bit half, keeping the top 24 bits of the half as
``k * 2**-24``, the way NumPy and torch make a float32 in ``[0, 1)``. A
float64 value takes the top 53 bits of one output. A value is ``u * (high - low) +
low``, rounded after the product and again after the sum, in the tensor's
precision, and lowered to the largest value below ``high`` in the rare
case that the sum rounds up onto ``high``. No fused multiply-add joins the two roundings, so the values do
not depend on the CPU's instruction set.

Normal values come from Marsaglia and Tsang's ziggurat with 128 layers.
Each value takes one 64-bit output, and more only in the rare wedge and
tail cases. It is computed in float64 and rounded to float32 or float64.
That took about 4.6 ns per value against 7.4 ns for torch's ``normal_``,
which spends most of its time in a Mersenne Twister.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream_state(key: bytes) -> tuple[np.uint64, np.uint64]:
    """Return the generator's two state words for a stream key."""
    digest = hashlib.shake_256(key).digest(16)
    first = int.from_bytes(digest[:8], "little")
    second = int.from_bytes(digest[8:], "little")
    if first == 0 and second == 0:
        # The all-zero state is the one state xoroshiro never leaves.
        first = 1
    return np.uint64(first), np.uint64(second)


def fill_uniform(out: np.ndarray, key: bytes, low: float, high: float) -> None:
    """Fill a 1-D float32 or float64 array with ``U(low, high)`` from the stream of ``key``."""
    # Imported here: importing Numba and loading the cached loops took about
    # a second, which only callers that draw chunks on a CPU should pay.
    from initlab.initialize._draw_kernels import fill_float32, fill_float64

    s0, s1 = stream_state(key)
    if out.dtype == np.float32:
        top = np.float32(high)
        if top >= high:
            top = np.nextafter(top, np.float32(-np.inf))
        fill_float32(out, s0, s1, np.float32(low), np.float32(high - low), top)
    elif out.dtype == np.float64:
        top = np.nextafter(np.float64(high), -np.inf)
        fill_float64(out, s0, s1, np.float64(low), np.float64(high - low), top)
    else:
        raise TypeError(f"fill_uniform takes float32 or float64, got {out.dtype}")


def fill_normal(out: np.ndarray, key: bytes, mean: float, std: float) -> None:
    """Fill a 1-D float32 or float64 array with ``N(mean, std**2)`` from the stream of ``key``."""
    from initlab.initialize._draw_kernels import fill_normal as fill

    if out.dtype not in (np.float32, np.float64):
        raise TypeError(f"fill_normal takes float32 or float64, got {out.dtype}")
    s0, s1 = stream_state(key)
    fill(out, s0, s1, float(mean), float(std))
