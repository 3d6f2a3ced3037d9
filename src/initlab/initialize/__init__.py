"""Initialize whole PyTorch models: layer-aware fans, rules, framework presets, big models.

* :func:`initialize` sets every parameter of a model by rules or a preset
  and returns an :class:`InitRecord`;
* :func:`materialize` allocates and initializes a model built on ``meta``;
* :func:`initialize_shard` computes the slice of one parameter a shard owns.

A parameter's values depend only on the seed, its qualified name and its
scheme: they are drawn in chunks of 2^20 values, each from its own stream,
on all cores.
"""

from initlab._callable_module import make_module_callable
from initlab.initialize.api import initialize, plan_model
from initlab.initialize.materialize import materialize
from initlab.initialize.presets import PRESETS
from initlab.initialize.record import InitRecord, LeftAlone, ParameterRecord
from initlab.initialize.rules import Rule
from initlab.initialize.shard import initialize_shard
from initlab.initialize.streams import CHUNK_ELEMENTS

__all__ = [
    "CHUNK_ELEMENTS",
    "PRESETS",
    "InitRecord",
    "LeftAlone",
    "ParameterRecord",
    "Rule",
    "initialize",
    "initialize_shard",
    "materialize",
    "plan_model",
]

make_module_callable(__name__, initialize)
