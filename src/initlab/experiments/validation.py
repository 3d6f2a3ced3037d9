"""Range checks that the experiments' ``Config.__post_init__`` methods share."""

from __future__ import annotations

import math
from collections.abc import Iterable

from initlab.errors import ConfigError


def require_integers(
    config: object, names: Iterable[str], *, minimum: int, expected: str
) -> None:
    """Raise ConfigError for the first field in ``names`` that is not an int of at least ``minimum``.

    A bool is rejected although Python counts it as an int. The message reads
    ``"{name} must be {expected}, got {value!r}"``.
    """
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name} must be {expected}, got {value!r}")


def require_optional_integer(config: object, name: str, *, minimum: int) -> None:
    """Raise ConfigError unless the field ``name`` is None or an int of at least ``minimum``."""
    if getattr(config, name) is not None:
        require_integers(
            config,
            (name,),
            minimum=minimum,
            expected=f"None or an integer of at least {minimum}",
        )


def require_positive_integers(config: object, *names: str) -> None:
    """Raise ConfigError unless every field in ``names`` is an int of at least 1."""
    require_integers(config, names, minimum=1, expected="a positive integer")


def require_non_negative_integers(config: object, *names: str) -> None:
    """Raise ConfigError unless every field in ``names`` is an int of at least 0."""
    require_integers(config, names, minimum=0, expected="a non-negative integer")


def require_positive_numbers(config: object, *names: str) -> None:
    """Raise ConfigError unless every field in ``names`` is a finite int or float above 0."""
    for name in names:
        value = getattr(config, name)
        if (
            not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
