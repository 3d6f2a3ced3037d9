"""Exceptions raised by initlab.

::

    InitlabError                  base of everything initlab raises on purpose
    ├── SchemeError (ValueError)  unknown scheme name, bad scheme argument
    ├── ShapeError (ValueError)   a shape or layout that a scheme cannot use
    ├── DataError (ValueError)    a missing or malformed data set or file
    ├── ModelSpecError (ValueError)  an invalid model spec or factory target
    └── ConfigError (ValueError)  an invalid experiment or command option

The drop-in functions in :mod:`initlab.nn` raise exactly the exception types
that ``torch.nn.init`` raises, so code that catches those keeps working.
"""

from __future__ import annotations


class InitlabError(Exception):
    """Base class of the errors initlab raises on purpose."""


class SchemeError(InitlabError, ValueError):
    """An unknown scheme name or an invalid scheme argument."""


class ShapeError(InitlabError, ValueError):
    """A tensor shape or layout that the requested scheme cannot use."""


class DataError(InitlabError, ValueError):
    """A data set that cannot be found or a file that is malformed."""


class ModelSpecError(InitlabError, ValueError):
    """A model spec or ``module:factory`` target that cannot be built."""


class ConfigError(InitlabError, ValueError):
    """An experiment, comparison or command option with an invalid value."""
