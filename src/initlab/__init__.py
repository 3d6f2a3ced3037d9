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
    "InitRecord",
    "Rule",
    "fill_",
    "forward_gain",
    "initialize",
    "initialize_shard",
    "lsuv_",
    "materialize",
    "parse_scheme",
    "probe",
    "sample",
]


# Names that import torch (or numpy backends) on first use, so that the pure
# math and `initlab --help` stay fast: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str | None]] = {
    "fill_": ("initlab.backends.torch", "fill_"),
    "sample": ("initlab.backends.numpy", "sample"),
    # The subpackages initlab.initialize and initlab.probe are callable and
    # forward to their main function, so they are returned whole.
    "initialize": ("initlab.initialize", None),
    "initialize_shard": ("initlab.initialize", "initialize_shard"),
    "materialize": ("initlab.initialize", "materialize"),
    "InitRecord": ("initlab.initialize", "InitRecord"),
    "Rule": ("initlab.initialize", "Rule"),
    "probe": ("initlab.probe", None),
    "lsuv_": ("initlab.lsuv", "lsuv_"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'initlab' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)
