"""Readers for user data files: an IDX folder, a ``.npz`` archive, a CSV file.

Each reader returns :class:`RawData` after checking shapes, dtypes, labels
and finiteness, and raises DataError naming the file and the problem.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Iterator
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
                f"{label_path}: contains {labels[f'{split} labels'].shape[0]} labels "
                f"but {paths[images]} contains {arrays[images].shape[0]} images; "
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
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"{source}: not a readable .npz archive ({error})") from None
    except ValueError as error:
        # np.load raises ValueError for content it could only unpickle.
        raise DataError(
            f"{source}: not a .npz archive of numeric arrays ({error})"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{source}: contains a single array, not a .npz archive; save the splits "
            f"with numpy.savez(path, {', '.join(f'{a}=...' for a in NPZ_ARRAYS)})"
        )

    with archive:
        missing = [name for name in NPZ_ARRAYS if name not in archive.files]
        if missing:
            raise DataError(
                f"{source}: missing arrays {', '.join(missing)} (the archive has "
                f"{', '.join(archive.files) or 'no arrays'}); a .npz data file "
                f"needs {', '.join(NPZ_ARRAYS)}"
            )
        try:
            arrays = {name: archive[name] for name in NPZ_ARRAYS}
        except ValueError as error:
            # Object arrays are stored pickled, and allow_pickle=False rejects them.
            raise DataError(
                f"{source}: cannot be loaded without unpickling ({error}); store "
                "numeric arrays only"
            ) from None
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise DataError(
                f"{source}: a corrupt array in the archive ({error})"
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

    The column named ``label_column`` contains integer class indices, and
    every other column is a numeric feature. Fields are separated by commas and
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
        listed_columns = ", ".join(columns[:10]) + (
            ", ..." if len(columns) > 10 else ""
        )
        raise DataError(
            f"{source}: the label column '{label_column}' {found} in the header "
            f"(columns: {listed_columns}); name the label column with "
            f"'{source}:label=NAME'"
        )

    if not body.strip():
        raise DataError(f"{source}: the file has a header but no data rows")
    try:
        table = np.loadtxt(
            io.StringIO(body),
            delimiter=",",
            quotechar='"',
            comments=None,
            dtype=np.float64,
            ndmin=2,
        )
    except ValueError as error:
        raise DataError(f"{source}: {_find_bad_cell(body, columns, error)}") from None
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
            f"{source}: {int((~finite).sum())} NaN or infinite values, the first on "
            f"line {_line_of_row(body, row)} in column '{columns[column]}'; remove "
            "or impute them before loading"
        )
    label_index = columns.index(label_column)
    labels = table[:, label_index]
    invalid = (labels != np.round(labels)) | (labels < 0)
    if invalid.any():
        row = int(np.flatnonzero(invalid)[0])
        raise DataError(
            f"{source}: label {labels[row]:g} on line {_line_of_row(body, row)} is "
            "not a class index; labels must be integers 0, 1, ..., num_classes - 1"
        )
    x = np.delete(table, label_index, axis=1)
    check_features(x, source=source, array="the feature columns")
    y = check_labels(labels, source=source, array=f"column '{label_column}'")
    return RawData(x_train=x, y_train=y)


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops the byte order mark that spreadsheet programs write.
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _data_rows(body: str) -> Iterator[tuple[int, list[str]]]:
    """Yield the file line number and fields of each non-blank data row.

    NumPy's loadtxt skips blank lines, so the n-th row yielded here is row n
    of its table. Line 1 is the header.
    """
    reader = csv.reader(io.StringIO(body))
    for fields in reader:
        if fields and any(field.strip() for field in fields):
            yield reader.line_num + 1, fields


def _line_of_row(body: str, row: int) -> int:
    for index, (line, _) in enumerate(_data_rows(body)):
        if index == row:
            return line
    return -1


def _find_bad_cell(body: str, columns: list[str], error: ValueError) -> str:
    """Describe the first row or cell that NumPy's loadtxt could not parse.

    loadtxt's own message counts rows differently for different problems,
    so the file is scanned again (only on this error path) to give a line
    number and column name. Falls back to NumPy's message.
    """
    for line, fields in _data_rows(body):
        if len(fields) != len(columns):
            return (
                f"line {line} has {len(fields)} fields but the header names "
                f"{len(columns)} columns; every row needs one value per column"
            )
        for name, field in zip(columns, fields, strict=True):
            try:
                float(field)
            except ValueError:
                return (
                    f"line {line}, column '{name}': {field!r} is not a number; "
                    "every cell must be a number"
                )
    return f"cannot be parsed as numbers ({error})"
