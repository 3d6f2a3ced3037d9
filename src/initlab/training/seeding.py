"""Seeds and generators derived from a run seed and a named stream.

Every random draw in a comparison comes from a ``torch.Generator`` whose seed
is a stable hash of the run seed and a stream name such as ``("init",
"he_normal")``. The hash is SHA-256, not Python's ``hash``, so the same
inputs give the same seed in every process and on every platform.
"""

from __future__ import annotations

import hashlib

import torch

# Seeds are kept below 2**63 so they fit torch's signed 64-bit seed.
_SEED_MASK = (1 << 63) - 1


def derive_seed(seed: int, *stream: str | int) -> int:
    """Return a 63-bit seed determined by ``seed`` and the ``stream`` labels."""
    text = "\x1f".join([str(int(seed)), *(str(part) for part in stream)])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & _SEED_MASK


def stream_generator(seed: int, *stream: str | int) -> torch.Generator:
    """Return a CPU generator seeded with :func:`derive_seed` of the arguments."""
    generator = torch.Generator()
    generator.manual_seed(derive_seed(seed, *stream))
    return generator
