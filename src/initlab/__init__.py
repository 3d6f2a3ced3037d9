"""initlab: neural-network weight initialization, exact to PyTorch and Keras.

The math (fans, gains, schemes) imports no framework; :func:`fill_` and the
drop-in :mod:`initlab.nn` use PyTorch, :func:`sample` uses NumPy.
"""

from initlab.errors import (
    ConfigError,
    DataError,
    InitlabError,
    ModelSpecError,
    SchemeError,
    ShapeError,
)
from initlab.fans import Fans, compute_fans
from initlab.gains import backward_gain, calculate_gain, forward_gain
from initlab.registry import build_scheme, parse_scheme
from initlab.schemes import Scheme

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Fans",
    "InitlabError",
    "ModelSpecError",
    "Scheme",
    "SchemeError",
    "ShapeError",
    "backward_gain",
    "build_scheme",
    "calculate_gain",
    "compute_fans",
    "fill_",
    "forward_gain",
    "parse_scheme",
    "sample",
]


def __getattr__(name: str):
    # Import the torch and numpy backends only when first used, so the pure
    # math and `initlab --help` stay fast.
    if name == "fill_":
        from initlab.backends.torch import fill_

        return fill_
    if name == "sample":
        from initlab.backends.numpy import sample

        return sample
    raise AttributeError(f"module 'initlab' has no attribute {name!r}")
