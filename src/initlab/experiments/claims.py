"""Claims: an experiment's expected outcomes, checked against what it measured.

A claim is a plain dict with ``id``, ``claim`` (one sentence),
``expected`` (the condition in words and numbers), ``measured`` (the
figures) and ``holds``. The check is done by the experiment on its own
numbers, so a claim that does not hold is reported as such, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def claim(
    claim_id: str, text: str, expected: str, measured: str, holds: bool
) -> dict[str, Any]:
    """Return one claim record; ``holds`` is coerced to a plain bool."""
    return {
        "id": claim_id,
        "claim": text,
        "expected": expected,
        "measured": measured,
        "holds": bool(holds),
    }


def number(value: float | None, digits: int = 3) -> str:
    """Format a measured value with ``digits`` significant digits.

    Values below 1e-3 or from 1e5 on use scientific notation; None (a value
    that was NaN or infinite) prints as ``n/a``.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def numbers(values: Iterable[float | None], digits: int = 3) -> str:
    """Format a sequence of values as ``a / b / c``."""
    return " / ".join(number(value, digits) for value in values)


def finite(value: float) -> float | None:
    """Return ``value`` as a float, or None when it is NaN or infinite (JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None


def finite_list(values: Iterable[float]) -> list[float | None]:
    """Apply :func:`finite` to every value."""
    return [finite(value) for value in values]


def geometric_rate(first: float | None, last: float | None, steps: int) -> float | None:
    """Return the mean factor per step from ``first`` to ``last``: ``(last / first) ** (1 / steps)``.

    None when either value is missing, not positive, or ``steps`` is 0.
    """
    if first is None or last is None or steps <= 0 or first <= 0 or last <= 0:
        return None
    return (last / first) ** (1.0 / steps)


def mean(values: Sequence[float | None]) -> float | None:
    """Return the mean of the finite values, or None when there are none."""
    kept = [value for value in values if value is not None and math.isfinite(value)]
    return sum(kept) / len(kept) if kept else None


def within(value: float | None, low: float, high: float) -> bool:
    """Return True when ``value`` is a number in ``[low, high]``."""
    return value is not None and low <= value <= high


def summary(claims: Sequence[dict[str, Any]]) -> str:
    """Return a line such as ``4 of 5 claims hold``."""
    holding = sum(1 for item in claims if item["holds"])
    return f"{holding} of {len(claims)} claims hold"
