"""The keras preset against Keras 3's own layers (torch backend), where Keras is installed."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from initlab.initialize import initialize

# Seeded on both sides, so passing is a fixed outcome; a wrong fan or bound
# moves the std by 15% or more, which these sizes detect with p < 1e-6.
P_FLOOR = 1e-3


@pytest.fixture(scope="module")
def keras():
    with pytest.MonkeyPatch.context() as patch:
        # The backend is chosen once, at the first import.
        patch.setenv("KERAS_BACKEND", "torch")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras was imported with the {keras.backend.backend()} backend")
    keras.utils.set_random_seed(0)
    return keras


def _same_distribution(ours: torch.Tensor, theirs) -> bool:
    values = ours.detach().flatten().numpy()
    expected = np.asarray(
        theirs.numpy() if hasattr(theirs, "numpy") else theirs
    ).ravel()
    return stats.ks_2samp(values, expected).pvalue > P_FLOOR


def test_keras_dense_kernel(keras):
    layer = keras.layers.Dense(96)
    layer.build((None, 160))
    model = nn.Linear(160, 96)
    initialize(model, preset="keras")
    assert _same_distribution(model.weight, layer.kernel)


def test_keras_conv_kernel(keras):
    layer = keras.layers.Conv2D(32, 3)
    layer.build((None, 10, 10, 16))
    model = nn.Conv2d(16, 32, 3)
    initialize(model, preset="keras")
    assert _same_distribution(model.weight, layer.kernel)


def test_keras_transposed_conv_kernel(keras):
    # Keras stores (3, 3, out, in) and reads fans as a plain conv would.
    layer = keras.layers.Conv2DTranspose(8, 3)
    layer.build((None, 10, 10, 48))
    model = nn.ConvTranspose2d(48, 8, 3)
    initialize(model, preset="keras")
    assert _same_distribution(model.weight, layer.kernel)


def test_keras_embedding(keras):
    layer = keras.layers.Embedding(300, 16)
    layer.build((None, 4))
    model = nn.Embedding(300, 16)
    initialize(model, preset="keras")
    assert _same_distribution(model.weight, layer.embeddings)


def test_keras_lstm_weights(keras):
    layer = keras.layers.LSTM(32)
    layer.build((None, 5, 48))
    kernel, recurrent, bias = (np.asarray(w.numpy()) for w in layer.weights)
    model = nn.LSTM(48, 32)
    initialize(model, preset="keras")
    assert _same_distribution(model.weight_ih_l0, kernel)
    assert _same_distribution(model.weight_hh_l0, recurrent)
    # Keras's single bias, gates in the same order, equals the sum of PyTorch's two.
    total = (model.bias_ih_l0 + model.bias_hh_l0).detach().numpy()
    assert np.array_equal(total, bias)


def test_keras_recurrent_kernel_orthogonal_like_keras(keras):
    layer = keras.layers.LSTM(16)
    layer.build((None, 5, 8))
    recurrent = np.asarray(layer.weights[1].numpy())
    model = nn.LSTM(8, 16)
    initialize(model, preset="keras")
    ours = model.weight_hh_l0.detach().numpy()
    # Keras's (16, 64) kernel has orthonormal rows; PyTorch's (64, 16)
    # weight is its transpose, with orthonormal columns.
    assert np.allclose(recurrent @ recurrent.T, np.eye(16), atol=1e-5)
    assert np.allclose(ours.T @ ours, np.eye(16), atol=1e-5)


def test_keras_attention_kernels(keras):
    layer = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)
    query = np.zeros((1, 3, 64), dtype="float32")
    layer(query, query)
    kernels = {
        w.path.split("/")[-2]: w for w in layer.weights if w.path.endswith("kernel")
    }
    model = nn.MultiheadAttention(64, 4)
    initialize(model, preset="keras")
    blocks = model.in_proj_weight.split(64)
    assert _same_distribution(blocks[0], kernels["query"])
    assert _same_distribution(blocks[2], kernels["value"])
    assert _same_distribution(model.out_proj.weight, kernels["attention_output"])
