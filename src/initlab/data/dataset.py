"""The :class:`Dataset` container that every command trains and probes on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from initlab.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Standardised train and test splits of a classification data set.

    ``x_train`` and ``x_test`` are float32 arrays of shape
    ``(n, *input_shape)``; ``y_train`` and ``y_test`` are int64 class indices
    in ``[0, num_classes)``. Images come as flat vectors (``input_shape`` is
    ``(features,)``) and :meth:`as_images` reshapes them to
    ``image_shape = (channels, rows, columns)`` for a convolutional network.

    ``standardization`` is plain data. Its ``mean`` and ``std`` contain one
    float per flat feature, computed on the training split (population std,
    ``ddof=0``). Its ``unscaled_features`` lists the flat indices of the
    features that are constant on the training split, which were centred
    but not divided by their zero std. ``split`` records how the test split
    was made (``method`` is ``stratified``, ``given`` or ``generated``).

    Equality compares identity because the fields include arrays.
    """

    name: str
    # The arrays and statistics stay out of the repr, which shows the shapes.
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    num_classes: int
    input_shape: tuple[int, ...]
    image_shape: tuple[int, ...] | None
    standardization: dict[str, Any] = field(repr=False)
    split: dict[str, Any]

    @property
    def num_train(self) -> int:
        """Number of training samples."""
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        """Number of test samples."""
        return int(self.x_test.shape[0])

    @property
    def num_features(self) -> int:
        """Number of input features per sample, ``prod(input_shape)``."""
        return int(np.prod(self.input_shape))

    @property
    def unscaled_features(self) -> list[int]:
        """Flat indices of the features that were centred but not scaled."""
        return list(self.standardization["unscaled_features"])

    def as_images(self) -> Dataset:
        """Return a Dataset whose inputs have shape ``(n, *image_shape)``.

        The arrays are reshaped views of this Dataset's arrays. Raises
        DataError for data without an image shape, such as ``gaussian:N``
        or a CSV file.
        """
        if self.image_shape is None:
            raise DataError(
                f"{self.name}: the data set has no image shape (its inputs "
                f"are vectors of shape {self.input_shape}); use a model that "
                "takes vectors, such as an mlp spec"
            )
        return self._reshaped(self.image_shape)

    def as_vectors(self) -> Dataset:
        """Return a Dataset whose inputs are flat vectors of ``num_features``."""
        return self._reshaped((self.num_features,))

    def _reshaped(self, input_shape: tuple[int, ...]) -> Dataset:
        return replace(
            self,
            x_train=self.x_train.reshape(self.num_train, *input_shape),
            x_test=self.x_test.reshape(self.num_test, *input_shape),
            input_shape=tuple(input_shape),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: sizes, shapes, split and unscaled features.

        The per-feature mean and std are left out to keep results small; they
        are in :attr:`standardization`.
        """
        return {
            "name": self.name,
            "num_train": self.num_train,
            "num_test": self.num_test,
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "split": dict(self.split),
            "standardization": {
                "statistics": "training split, per feature",
                "unscaled_features": self.unscaled_features,
            },
        }


@dataclass(frozen=True, eq=False)
class RawData:
    """Arrays as read from a source, before splitting and standardisation.

    ``x_test`` and ``y_test`` are None for a source that comes unsplit.
    ``num_classes`` is None when it follows from the labels, and
    ``image_shape`` is None when it follows from the shape of ``x_train``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    num_classes: int | None = None
    image_shape: tuple[int, ...] | None = None
