"""Reader for the IDX files of MNIST and Fashion-MNIST, gzipped or not.

An IDX file starts with a 4-byte magic number: two zero bytes, a byte for
the element type and a byte for the number of dimensions ``ndim``. Then
come ``ndim`` sizes as big-endian unsigned 32-bit integers, then the
elements in row-major (C) order, big-endian. MNIST images have the magic
number ``0x00000803`` (unsigned bytes, 3 dimensions: images, rows, columns)
and labels ``0x00000801`` (unsigned bytes, 1 dimension).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from initlab.errors import DataError

# Element type codes of the IDX format, as big-endian NumPy dtypes.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array in native byte order.

    A file is gunzipped when its name ends in ``.gz`` or its content starts
    with the gzip magic bytes. Raises DataError naming the file for a wrong
    magic number, an unknown type code, or a header or data section that is
    shorter or longer than the sizes in the header declare.
    """
    content = _read_bytes(path)
    if len(content) < 4:
        raise DataError(
            f"{path}: truncated IDX file: {len(content)} bytes, shorter than "
            "the 4-byte magic number"
        )
    magic = int.from_bytes(content[:4], "big")
    zeros, code, ndim = content[:2], content[2], content[3]
    if zeros != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X} for an IDX file: expected "
            f"two zero bytes, a type code ({codes}) and a nonzero number of "
            "dimensions, such as 0x00000803 for MNIST images and 0x00000801 "
            "for labels"
        )

    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(
            f"{path}: truncated IDX header: {ndim} dimensions need "
            f"{header_size} header bytes but the file has {len(content)}"
        )
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(content) - header_size
    if actual != expected:
        problem = (
            "truncated data" if actual < expected else "extra bytes after the data"
        )
        raise DataError(
            f"{path}: {problem}: the header declares shape {shape} of "
            f"{dtype.itemsize}-byte elements ({expected} bytes) but "
            f"{actual} bytes follow the header"
        )
    array = np.frombuffer(
        content, dtype=dtype, count=math.prod(shape), offset=header_size
    )
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        content = handle.read()
    if not (path.name.endswith(".gz") or content.startswith(_GZIP_MAGIC)):
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        # BadGzipFile is an OSError; a cut-off stream raises EOFError.
        raise DataError(f"{path}: not a valid gzip file ({error})") from None


# File names per role: the names MNIST and Fashion-MNIST are distributed
# under, and the variant with a dot before "idx" that some mirrors use.
_ROLES = {
    "train images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_idx_files(folder: Path) -> dict[str, Path]:
    """Return the path of each of the four IDX files in ``folder``.

    Each file may be plain or end in ``.gz``; when both exist, the plain
    file is used.
    """
    found: dict[str, Path] = {}
    missing = []
    for role, names in _ROLES.items():
        candidates = [
            folder / f"{name}{suffix}" for suffix in ("", ".gz") for name in names
        ]
        existing = [path for path in candidates if path.is_file()]
        if existing:
            found[role] = existing[0]
        else:
            missing.append(f"{names[0]}[.gz] ({role})")
    if missing:
        raise DataError(
            f"{folder}: missing IDX files: {', '.join(missing)}; an IDX data "
            "folder holds the four files of MNIST or Fashion-MNIST, gzipped or not"
        )
    return found
