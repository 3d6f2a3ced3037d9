"""Greedy layer-wise unsupervised pretraining with autoencoders or RBMs."""

from initlab.pretrain.autoencoder import Autoencoder
from initlab.pretrain.greedy import (
    LayerRecord,
    PretrainOptions,
    PretrainResult,
    greedy_layerwise,
)
from initlab.pretrain.rbm import RBM
from initlab.pretrain.stack import find_linear_stack

__all__ = [
    "RBM",
    "Autoencoder",
    "LayerRecord",
    "PretrainOptions",
    "PretrainResult",
    "find_linear_stack",
    "greedy_layerwise",
]
