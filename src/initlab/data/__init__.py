"""Data sets for training and probing: named ones and user files.

``load(name_or_path)`` returns a :class:`Dataset` with standardised train
and test splits. See :func:`load` for the names and file formats it accepts.
"""

from initlab.data.dataset import Dataset
from initlab.data.loader import KNOWN_NAMES, load

__all__ = ["KNOWN_NAMES", "Dataset", "load"]
