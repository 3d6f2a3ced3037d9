"""Readers for user data files: an IDX folder, a ``.npz`` archive, a CSV file.

Each reader returns :class:`RawData` after checking shapes, dtypes, labels
and finiteness, and raises DataError naming the file and the problem.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

from initlab.data.checks import (
    check_features,
    check_labels,
    check_pair,
    check_same_sample_shape,
)
from initlab.data.dataset import RawData
from initlab.data.idx import find_idx_files, read_idx
from initlab.errors import DataError

NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")

DEFAULT_LABEL_COLUMN = "label"


def load_idx_folder(folder: Path) -> RawData:
    """Read the four MNIST-style IDX files in ``folder``."""
    paths = find_idx_files(folder)
    arrays = {role: read_idx(path) for role, path in paths.items()}
    for role in ("train images", "test images"):
        check_features(arrays[role], source=str(paths[role]), array="images")
    labels = {}
    for role in ("train labels", "test labels"):
        labels[role] = check_labels(
            arrays[role], source=str(paths[role]), array="labels"
        )
    for split in ("train", "test"):
        images, label_path = f"{split} images", paths[f"{split} labels"]
        if arrays[images].shape[0] != labels[f"{split} labels"].shape[0]:
            raise DataError(
                f"{label_path}: holds {labels[f'{split} labels'].shape[0]} labels "
                f"but {paths[images]} holds {arrays[images].shape[0]} images; "
                "they must agree"
            )
    check_same_sample_shape(
        arrays["train images"], arrays["test images"], source=str(folder)
    )
    return RawData(
        x_train=arrays["train images"],
        y_train=labels["train labels"],
        x_test=arrays["test images"],
        y_test=labels["test labels"],
    )


def load_npz(path: Path) -> RawData:
    """Read ``x_train``, ``y_train``, ``x_test`` and ``y_test`` from a ``.npz`` archive.

    Pickled object arrays are rejected (``allow_pickle=False``), because
    loading a pickle can run arbitrary code.
    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise DataError(
                    f"{source}: holds a single array, not a .npz archive; save the "
                    f"splits with numpy.savez(path, {', '.join(f'{a}=...' for a in NPZ_ARRAYS)})"
                )
            missing = [name for name in NPZ_ARRAYS if name not in archive.files]
            if missing:
                raise DataError(
                    f"{source}: missing arrays {', '.join(missing)} (the archive has "
                    f"{', '.join(archive.files) or 'no arrays'}); a .npz data file "
                    f"needs {', '.join(NPZ_ARRAYS)}"
                )
            arrays = {name: archive[name] for name in NPZ_ARRAYS}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"{source}: not a readable .npz archive ({error})") from None
    except ValueError as error:
        # np.load raises ValueError for pickled content with allow_pickle=False.
        raise DataError(
            f"{source}: cannot be loaded without unpickling ({error}); store "
            "numeric arrays only"
        ) from None

    for name in ("x_train", "x_test"):
        check_features(arrays[name], source=source, array=name)
    y_train = check_labels(arrays["y_train"], source=source, array="y_train")
    y_test = check_labels(arrays["y_test"], source=source, array="y_test")
    check_pair(
        arrays["x_train"], y_train, source=source, x_name="x_train", y_name="y_train"
    )
    check_pair(
        arrays["x_test"], y_test, source=source, x_name="x_test", y_name="y_test"
    )
    check_same_sample_shape(arrays["x_train"], arrays["x_test"], source=source)
    return RawData(
        x_train=arrays["x_train"],
        y_train=y_train,
        x_test=arrays["x_test"],
        y_test=y_test,
    )


def load_csv(path: Path, label_column: str) -> RawData:
    """Read a CSV file with a header row, one sample per row, into unsplit data.

    The column named ``label_column`` holds integer class indices; every
    other column is a numeric feature. Fields are separated by commas and
    may be quoted with double quotes. A name ending in ``.gz`` is gunzipped.
    """
    source = str(path)
    try:
        with _open_text(path) as handle:
            header = next(csv.reader([handle.readline()]), [])
            body = handle.read()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(
            f"{source}: cannot be read as a text CSV file ({error})"
        ) from None

    columns = [name.strip() for name in header]
    if not columns:
        raise DataError(
            f"{source}: the file is empty; expected a header row of column names"
        )
    if columns.count(label_column) != 1:
        found = (
            "is missing" if label_column not in columns else "appears more than once"
        )
        shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
        raise DataError(
            f"{source}: the label column '{label_column}' {found} in the header "
            f"(columns: {shown}); name the label column with "
            f"'{source}:label=NAME'"
        )

    if not body.strip():
        raise DataError(f"{source}: the file has a header but no data rows")
    try:
        table = np.loadtxt(
            io.StringIO(body), delimiter=",", quotechar='"', dtype=np.float64, ndmin=2
        )
    except ValueError as error:
        # NumPy counts rows from 0 at the first data row and skips blank lines.
        raise DataError(
            f"{source}: {error} (rows are counted from 0 after the header); "
            "every cell must be a number"
        ) from None
    if table.shape[1] != len(columns):
        raise DataError(
            f"{source}: the header names {len(columns)} columns but the rows have "
            f"{table.shape[1]}; they must agree"
        )
    if len(columns) < 2:
        raise DataError(f"{source}: the file has only the label column and no features")

    finite = np.isfinite(table)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise DataError(
            f"{source}: {int((~finite).sum())} NaN or infinite values, the first "
            f"in data row {row} (counted from 0 after the header), column "
            f"'{columns[column]}'; remove or impute them before loading"
        )
    label_index = columns.index(label_column)
    x = np.delete(table, label_index, axis=1)
    check_features(x, source=source, array="the feature columns")
    y = check_labels(
        table[:, label_index], source=source, array=f"column '{label_column}'"
    )
    return RawData(x_train=x, y_train=y)


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")
