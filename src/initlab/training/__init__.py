"""Training many replicas of one network as one batched computation.

:class:`StackedNetwork` stacks the parameters of independent replicas,
:func:`train_replicas` trains them together, and :func:`train_single` is the
plain one-model loop that each replica must agree with.
"""

from initlab.training.dropout import GeneratorDropout, dropout_mask, dropout_mask_
from initlab.training.engine import Splits, measure, train_replicas
from initlab.training.history import METRICS, History
from initlab.training.initialize import initialize_replica
from initlab.training.network import LayerShape, StackedNetwork
from initlab.training.seeding import derive_seed, stream_generator
from initlab.training.settings import OPTIMIZERS, TrainingSettings
from initlab.training.single import train_single
from initlab.training.statistics import hidden_statistics
from initlab.training.symmetry import count_distinct_neurons

__all__ = [
    "METRICS",
    "OPTIMIZERS",
    "GeneratorDropout",
    "History",
    "LayerShape",
    "Splits",
    "StackedNetwork",
    "TrainingSettings",
    "count_distinct_neurons",
    "derive_seed",
    "dropout_mask",
    "dropout_mask_",
    "hidden_statistics",
    "initialize_replica",
    "measure",
    "stream_generator",
    "train_replicas",
    "train_single",
]
