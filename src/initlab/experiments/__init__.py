"""Experiments: the classic initialization results, each a named, reproducible run.

Every module of this package that defines ``NAME`` is an experiment, found
at run time, so adding one touches no shared file. An experiment module
defines:

``NAME`` (str)
    the name on the command line, such as ``"forward"``.
``SUMMARY`` (str)
    one line for listings and report headings.
``Config``
    a frozen dataclass whose fields all have defaults; it has a ``seed``
    field, and its ``__post_init__`` raises :class:`~initlab.errors.ConfigError`
    for an invalid value. The defaults are the ``default`` size.
``run(config=None, *, progress=None) -> dict``
    runs the experiment and returns plain, JSON-ready data (lists, dicts,
    str, int, float, bool, None; no NaN or infinity). It never prints or
    plots. ``progress``, when given, is called as ``progress(stage, done,
    total)``. The result holds ``claims``: a list of dicts with ``claim``
    (one sentence), ``expected`` (the condition in words and numbers),
    ``measured`` (the figures) and ``holds`` (a bool), and optionally
    ``id`` (a short key) and an ``interpretation`` string. Anything under a
    top-level ``timing`` key may differ between runs; everything else is the
    same for the same config.

and optionally:

``SIZES`` (dict)
    named presets, each a dict of ``Config`` field overrides, such as
    ``{"small": {"rows": 200}, "default": {}}``. ``small`` is the size the
    tests run. Without ``SIZES`` there is only ``default``.
``ORDER`` (int)
    the position in ``initlab experiment all`` (lower first, then by name;
    100 when missing).
``render(result, section, figure_dir) -> None``
    adds tables and figures to an :class:`initlab.report.Section`, after the
    claims table, which the caller adds first. Figures are written as PNG
    files into ``figure_dir`` (a folder that exists) and embedded in the
    section.

Modules without ``NAME`` are helpers (``claims``, ``signal``, ...).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
import time
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from initlab.errors import ConfigError

logger = logging.getLogger("initlab.experiments")

Progress = Callable[[str, int, int], None]

DEFAULT_SIZE = "default"
DEFAULT_ORDER = 100
RESERVED_NAMES = ("all", "list")
REQUIRED_ATTRIBUTES = ("NAME", "SUMMARY", "Config", "run")
CLAIM_KEYS = ("claim", "expected", "measured", "holds")


@dataclass(frozen=True)
class Experiment:
    """One discovered experiment module and the protocol calls on it."""

    name: str
    summary: str
    module: ModuleType

    @property
    def order(self) -> int:
        """Position in ``experiment all``; lower runs first."""
        return int(getattr(self.module, "ORDER", DEFAULT_ORDER))

    @property
    def config_type(self) -> type:
        """The experiment's ``Config`` dataclass."""
        return self.module.Config

    @property
    def sizes(self) -> dict[str, dict[str, Any]]:
        """The named size presets; always contains ``default``."""
        sizes = dict(getattr(self.module, "SIZES", {}))
        sizes.setdefault(DEFAULT_SIZE, {})
        return sizes

    def config_fields(self) -> dict[str, Any]:
        """Return the Config field names with their resolved type hints."""
        hints = typing.get_type_hints(self.config_type)
        return {
            field.name: hints.get(field.name, Any)
            for field in dataclasses.fields(self.config_type)
        }

    def make_config(
        self, size: str = DEFAULT_SIZE, overrides: Mapping[str, Any] | None = None
    ) -> Any:
        """Build a Config from a size preset and field overrides.

        Raises:
            ConfigError: for an unknown size or field name, or a value that
                the Config rejects.
        """
        sizes = self.sizes
        if size not in sizes:
            raise ConfigError(
                f"unknown size {size!r} for experiment {self.name!r}: use one of {', '.join(sorted(sizes))}"
            )
        values = {**sizes[size], **(overrides or {})}
        known = self.config_fields()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"experiment {self.name!r} has no option {', '.join(unknown)}: its options are {', '.join(known)}"
            )
        try:
            return self.config_type(**values)
        except TypeError as error:
            raise ConfigError(
                f"invalid options for experiment {self.name!r}: {error}"
            ) from error

    def run(self, config: Any, progress: Progress | None = None) -> dict[str, Any]:
        """Run the experiment and return its checked, JSON-ready result.

        Adds ``experiment``, ``summary`` and ``config`` when the module left
        them out, and the wall time under ``timing["total_seconds"]``.

        Raises:
            TypeError: when the result breaks the protocol (no ``claims``
                list, or a claim without its four keys).
        """
        started = time.perf_counter()
        result = self.module.run(config, progress=progress)
        seconds = time.perf_counter() - started
        check_result(self.name, result)
        result.setdefault("experiment", self.name)
        result.setdefault("summary", self.summary)
        result.setdefault("config", dataclasses.asdict(config))
        timing = result.setdefault("timing", {})
        timing["total_seconds"] = seconds
        logger.info("experiment %s finished in %.1f s", self.name, seconds)
        return result

    def render(self, result: dict[str, Any], section: Any, figure_dir: Path) -> None:
        """Add the module's tables and figures to ``section``, if it renders any."""
        render = getattr(self.module, "render", None)
        if render is not None:
            render(result, section, figure_dir)


def check_result(name: str, result: Any) -> None:
    """Raise TypeError unless ``result`` is a dict with a well-formed ``claims`` list."""
    if not isinstance(result, dict):
        raise TypeError(
            f"experiment {name!r} returned {type(result).__name__}, not a dict"
        )
    claims = result.get("claims")
    if not isinstance(claims, list):
        raise TypeError(f"experiment {name!r} returned no 'claims' list")
    for index, claim in enumerate(claims):
        missing = [key for key in CLAIM_KEYS if key not in claim]
        if missing:
            raise TypeError(
                f"claim {index} of experiment {name!r} lacks {', '.join(missing)}"
            )
        if not isinstance(claim["holds"], bool):
            raise TypeError(
                f"claim {index} of experiment {name!r} has holds={claim['holds']!r}, not a bool"
            )


def _as_experiment(module: ModuleType) -> Experiment | None:
    if not hasattr(module, "NAME"):
        return None
    missing = [name for name in REQUIRED_ATTRIBUTES if not hasattr(module, name)]
    if missing:
        raise TypeError(
            f"experiment module {module.__name__} defines NAME but lacks {', '.join(missing)}"
        )
    if module.NAME in RESERVED_NAMES:
        raise TypeError(
            f"experiment module {module.__name__} uses the reserved name {module.NAME!r}"
        )
    if not dataclasses.is_dataclass(module.Config):
        raise TypeError(f"{module.__name__}.Config is not a dataclass")
    return Experiment(module.NAME, module.SUMMARY, module)


def _module_names() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    )


def discover() -> dict[str, Experiment]:
    """Import every module of this package and return its experiments by name, in run order.

    A module that fails to import is skipped with a warning naming it and
    the error, so one broken experiment does not hide the others;
    :func:`get` on its name raises the error itself.
    """
    found: list[Experiment] = []
    for module_name in _module_names():
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except Exception as error:  # noqa: BLE001 - reported, see the docstring
            warnings.warn(
                f"skipping experiment module {module_name}: it failed to import ({type(error).__name__}: {error})",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        experiment = _as_experiment(module)
        if experiment is not None:
            found.append(experiment)
    found.sort(key=lambda experiment: (experiment.order, experiment.name))
    return {experiment.name: experiment for experiment in found}


def get(name: str) -> Experiment:
    """Return the experiment called ``name``.

    Raises:
        ConfigError: when no experiment has that name, listing the known ones.
    """
    if name in _module_names():
        experiment = _as_experiment(importlib.import_module(f"{__name__}.{name}"))
        if experiment is not None and experiment.name == name:
            return experiment
    experiments = discover()
    if name not in experiments:
        raise ConfigError(
            f"unknown experiment {name!r}: use one of {', '.join(experiments)}, or all"
        )
    return experiments[name]


__all__ = [
    "CLAIM_KEYS",
    "DEFAULT_SIZE",
    "Experiment",
    "Progress",
    "check_result",
    "discover",
    "get",
]
