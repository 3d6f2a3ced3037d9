"""The record of a model initialization: plain data for tables, JSON and reports."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ParameterRecord:
    """What one parameter received.

    ``fan_in`` and ``fan_out`` are those of one block, because every block
    of a weight has the same fans. ``blocks`` counts the blocks initialized
    as tensors of their own: 3 for a packed attention projection, 4 for an
    LSTM weight with ``fans="layer"``. ``target_std`` is the std the
    scheme promises and ``measured_std`` the population std of the values
    written; a chunk of more than 2^16 values drawn in place contributes
    its first 2^16 values, a fair sample because its values are independent
    draws. ``aliases`` are other names of a tied parameter.
    """

    name: str
    module: str
    shape: tuple[int, ...]
    scheme: str
    rule: str
    fan_in: float | None
    fan_out: float | None
    blocks: int
    note: str
    target_std: float
    measured_std: float
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeftAlone:
    """A parameter initialization did not touch, and why."""

    name: str
    module: str
    shape: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class InitRecord:
    """Everything :func:`~initlab.initialize.initialize` did to a model.

    ``rules`` describes the rules or preset, ``fans`` is ``"layer"`` or
    ``"tensor"``, ``seed`` the seed every value follows from.
    """

    parameters: tuple[ParameterRecord, ...]
    left_alone: tuple[LeftAlone, ...]
    rules: str
    fans: str
    seed: int

    def __getitem__(self, name: str) -> ParameterRecord:
        """Return the record of the parameter called ``name`` (or tied to it).

        Raises:
            KeyError: with the reason for a parameter left alone, else
                listing the initialized parameters.
        """
        for parameter in self.parameters:
            if parameter.name == name or name in parameter.aliases:
                return parameter
        for entry in self.left_alone:
            if entry.name == name:
                raise KeyError(f"parameter {name!r} was left alone: {entry.reason}")
        raise KeyError(
            f"no initialized parameter {name!r}; initialized: "
            + ", ".join(p.name for p in self.parameters)
        )

    def __len__(self) -> int:
        return len(self.parameters)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (NaN stds become None)."""

        def clean(row: dict[str, Any]) -> dict[str, Any]:
            return {
                key: (None if isinstance(value, float) and math.isnan(value) else value)
                for key, value in row.items()
            }

        return {
            "rules": self.rules,
            "fans": self.fans,
            "seed": self.seed,
            "parameters": [clean(asdict(p)) for p in self.parameters],
            "left_alone": [asdict(p) for p in self.left_alone],
        }
