"""Running an experiment's small tensor operations on a fixed number of threads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import torch

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


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


def single_threaded(
    function: Callable[Parameters, Result],
) -> Callable[Parameters, Result]:
    """Wrap ``function`` so that every call runs inside ``torch_threads(1)``.

    ``functools.wraps`` copies the function's name and docstring to the
    wrapper, and ``inspect.signature`` reports the function's signature.
    """

    @functools.wraps(function)
    def run_on_one_thread(
        *args: Parameters.args, **kwargs: Parameters.kwargs
    ) -> Result:
        with torch_threads(1):
            return function(*args, **kwargs)

    return run_on_one_thread
