"""Running an experiment's small tensor operations on a fixed number of threads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(count: int = 1) -> Iterator[None]:
    """Set torch's intra-op thread count for the block, then restore the previous one.

    The experiments multiply matrices of at most a few hundred rows, where
    splitting one product over threads costs more in synchronisation than
    it saves, and threads that wait for a busy core spin and slow every
    step down. One thread is the fastest setting for them.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
