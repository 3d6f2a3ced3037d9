"""Checks on raw arrays before standardisation. Each failure names the file."""

from __future__ import annotations

import numpy as np

from initlab.errors import DataError


def check_features(x: np.ndarray, *, source: str, array: str) -> np.ndarray:
    """Check that ``x`` contains at least one sample of finite real numbers.

    Returns ``x`` unchanged. ``source`` (a file name or data set name) and
    ``array`` (such as ``x_train``) go into the error message.
    """
    if x.dtype == np.bool_ or not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise DataError(
            f"{source}: {array} has dtype {x.dtype}; expected integer or "
            "floating-point features"
        )
    if x.ndim < 2:
        raise DataError(
            f"{source}: {array} has shape {x.shape}; expected (samples, features) "
            "or (samples, *image_shape)"
        )
    if x.shape[0] == 0:
        raise DataError(f"{source}: {array} has no samples (shape {x.shape})")
    if x.size == 0:
        raise DataError(f"{source}: {array} has no features (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            bad = np.argwhere(~finite)
            sample, feature = bad[0][0], np.ravel_multi_index(bad[0][1:], x.shape[1:])
            raise DataError(
                f"{source}: {array} has {len(bad)} NaN or infinite values, the "
                f"first at sample {sample}, feature {feature} "
                f"({x[tuple(bad[0])]}); remove or impute them before loading"
            )
    return x


def check_labels(y: np.ndarray, *, source: str, array: str) -> np.ndarray:
    """Check that ``y`` is a vector of non-negative integer class indices.

    Floating-point labels are accepted when every value is integral (as
    after a round trip through a spreadsheet). Returns the labels as int64.
    """
    if y.ndim != 1:
        raise DataError(
            f"{source}: {array} has shape {y.shape}; expected a vector of class "
            "indices, one per sample"
        )
    if np.issubdtype(y.dtype, np.floating):
        integral = np.isfinite(y) & (y == np.round(y))
        if not integral.all():
            first = int(np.flatnonzero(~integral)[0])
            raise DataError(
                f"{source}: {array} has a label that is not an integer at "
                f"sample {first} ({y[first]}); labels must be class indices "
                "0, 1, ..., num_classes - 1"
            )
    elif y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{source}: {array} has dtype {y.dtype}; labels must be integer "
            "class indices 0, 1, ..., num_classes - 1"
        )
    # Larger values would wrap around when cast to int64 (from uint64 or float).
    too_large = y.astype(np.float64) >= 2.0**62
    if too_large.any():
        first = int(np.flatnonzero(too_large)[0])
        raise DataError(
            f"{source}: {array} has a label too large for a class index at "
            f"sample {first} ({y[first]:g}); labels must be class indices "
            "0, 1, ..., num_classes - 1"
        )
    labels = y.astype(np.int64)
    if labels.size and labels.min() < 0:
        first = int(np.flatnonzero(labels < 0)[0])
        raise DataError(
            f"{source}: {array} has a negative label at sample {first} "
            f"({labels[first]}); labels must be class indices "
            "0, 1, ..., num_classes - 1"
        )
    return labels


def check_pair(
    x: np.ndarray, y: np.ndarray, *, source: str, x_name: str, y_name: str
) -> None:
    """Check that features and labels have the same number of samples."""
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{source}: {x_name} has {x.shape[0]} samples but {y_name} has "
            f"{y.shape[0]} labels; they must have one label per sample"
        )


def check_same_sample_shape(
    x_train: np.ndarray, x_test: np.ndarray, *, source: str
) -> None:
    """Check that training and test samples have the same shape."""
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{source}: training samples have shape {x_train.shape[1:]} but "
            f"test samples have shape {x_test.shape[1:]}; they must agree"
        )


# The output layer has one unit per class, so a label such as a ten-digit
# identifier would ask for a layer of billions of weights. No classification
# data set that initlab is meant for comes near this many classes.
MAX_CLASSES = 100_000


def count_classes(y_train: np.ndarray, y_test: np.ndarray, *, source: str) -> int:
    """Return ``max(y_train) + 1``, checking it against ``MAX_CLASSES`` and every test label.

    A test class that never occurs in training cannot be learnt, and usually
    means the labels of the two splits were encoded differently.
    """
    num_classes = int(y_train.max()) + 1
    if num_classes > MAX_CLASSES:
        raise DataError(
            f"{source}: the largest training label is {num_classes - 1}, which would need "
            f"{num_classes} classes (at most {MAX_CLASSES:,}); labels must be class indices "
            "0, 1, ..., num_classes - 1, so map them to consecutive integers first"
        )
    if y_test.size and y_test.max() >= num_classes:
        first = int(np.flatnonzero(y_test >= num_classes)[0])
        raise DataError(
            f"{source}: test label {y_test[first]} at sample {first} is out of "
            f"range: training labels span 0 to {num_classes - 1}; encode both "
            "splits with the same class indices"
        )
    return num_classes


def image_shape_of(sample_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Return the channels-first image shape for one sample's array shape.

    ``(features,)`` is a vector (None), ``(rows, columns)`` a grayscale image
    ``(1, rows, columns)``, and ``(channels, rows, columns)`` is taken as is.
    """
    if len(sample_shape) == 1:
        return None
    if len(sample_shape) == 2:
        return (1, *sample_shape)
    return tuple(sample_shape)
