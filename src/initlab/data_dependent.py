"""Data-dependent initializers by name: ``lsuv`` and ``pretrained``.

These are not schemes: no std follows from a layer's fans alone, because
they look at training data. Specs use the scheme grammar, a name optionally
called with literal keyword arguments::

    lsuv
    lsuv(tol=0.05, center=True)
    pretrained
    pretrained(denoising=0.2, epochs=5)
    pretrained(layer_model="rbm", optimizer="sgd", lr=0.01)

The comparison and :func:`initlab.nn.initialize` call :func:`apply` once per
model and seed, on the training split.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from initlab.errors import ConfigError, DataError, ModelSpecError
from initlab.registry import DATA_DEPENDENT

# One-line descriptions for tables, kept in the registry beside the schemes
# so that `initlab schemes` lists them without importing torch.
DATA_DEPENDENT_DESCRIPTIONS: dict[str, str] = {
    entry.name: entry.description for entry in DATA_DEPENDENT
}

# Keyword arguments each name accepts, with their defaults. ``batch_size`` of
# lsuv is the number of training rows in the calibration batch.
LSUV_OPTIONS: dict[str, Any] = {
    "target_std": 1.0,
    "tol": 0.1,
    "max_iter": 10,
    "center": False,
    "batch_size": 256,
}
PRETRAINED_OPTIONS: dict[str, Any] = {
    "layer_model": "autoencoder",
    "tied": True,
    "denoising": 0.0,
    "noise": "masking",
    "epochs": 10,
    "batch_size": 32,
    "optimizer": "adam",
    "lr": 1e-3,
    "init": None,
}
_OPTIONS = {"lsuv": LSUV_OPTIONS, "pretrained": PRETRAINED_OPTIONS}

_LEADING_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\(|$)")


def is_data_dependent(spec: str) -> bool:
    """Return True when ``spec`` names a data-dependent initializer, called or not.

    Only the leading name is read, so a malformed call such as ``lsuv(tol=``
    is still recognised and :func:`apply` reports what is wrong with it.
    """
    if not isinstance(spec, str):
        return False
    match = _LEADING_NAME.match(spec)
    return match is not None and match.group(1) in _OPTIONS


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a data-dependent spec into its name and its options, defaults filled in.

    Raises:
        ConfigError: for an unknown name, invalid syntax, a positional or
            non-literal argument, or an unknown option, listing the valid ones.
    """
    if not is_data_dependent(spec):
        raise ConfigError(
            f"{spec!r} is not a data-dependent initializer: use one of {', '.join(_OPTIONS)}"
        )
    usage = "expected NAME or NAME(option=value, ...), such as lsuv(tol=0.05)"
    try:
        tree = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"invalid initializer spec {spec!r}: {usage}") from None
    if isinstance(tree, ast.Name):
        return tree.id, dict(_OPTIONS[tree.id])
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise ConfigError(f"invalid initializer spec {spec!r}: {usage}")
    name = tree.func.id
    defaults = _OPTIONS[name]
    if tree.args:
        raise ConfigError(
            f"invalid initializer spec {spec!r}: pass options by keyword, such as "
            f"{name}({next(iter(defaults))}=...)"
        )
    options = dict(defaults)
    for keyword in tree.keywords:
        if keyword.arg not in defaults:
            raise ConfigError(
                f"unknown option {keyword.arg!r} for {name!r} in {spec!r}: valid options "
                f"are {', '.join(f'{k}={v!r}' for k, v in defaults.items())}"
            )
        try:
            options[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ConfigError(
                f"invalid value {ast.unparse(keyword.value)!r} for option {keyword.arg!r} "
                f"in {spec!r}: values must be literals such as 0.1, True or 'rbm'"
            ) from None
    return name, options


def _as_tensor(x_train: Any, model: nn.Module) -> torch.Tensor:
    if x_train is None:
        raise DataError(
            "a data-dependent initializer needs training inputs; pass the training split"
        )
    if isinstance(x_train, np.ndarray):
        x_train = torch.from_numpy(np.ascontiguousarray(x_train))
    if not isinstance(x_train, torch.Tensor):
        raise DataError(
            f"training inputs must be a tensor or an array, got {type(x_train).__name__}"
        )
    if x_train.dim() < 1 or x_train.shape[0] == 0:
        raise DataError(
            f"training inputs must contain at least one sample, got shape {tuple(x_train.shape)}"
        )
    parameter = next(model.parameters(), None)
    if parameter is None:
        raise ModelSpecError(f"{type(model).__name__} has no parameters to initialize")
    return x_train.to(device=parameter.device, dtype=parameter.dtype)


def _check_batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"lsuv batch_size (rows in the calibration batch) must be an integer of "
            f"at least 1, got {value!r}"
        )
    return value


def _apply_lsuv(
    model: nn.Module, x_train: torch.Tensor, options: dict[str, Any], seed: int
) -> list[dict[str, Any]]:
    from initlab.backends.torch import make_generator
    from initlab.lsuv import lsuv_

    rows = min(_check_batch_size(options["batch_size"]), x_train.shape[0])
    # The calibration rows are a seeded random sample, so a seed picks the
    # same batch every time and different seeds see different batches.
    generator = make_generator(seed)
    chosen = torch.randperm(x_train.shape[0], generator=generator)[:rows]
    batch = x_train[chosen.to(x_train.device)]
    records = lsuv_(
        model,
        batch,
        target_std=options["target_std"],
        tol=options["tol"],
        max_iter=options["max_iter"],
        center=options["center"],
        seed=seed,
    )
    return [dataclasses.asdict(record) for record in records]


def _apply_pretrained(
    model: nn.Module, x_train: torch.Tensor, options: dict[str, Any], seed: int
) -> list[dict[str, Any]]:
    from initlab.pretrain import greedy_layerwise

    # No progress bar here: the caller (compare) shows its own, and rich
    # allows one live display at a time.
    result = greedy_layerwise(model, x_train, seed=seed, progress=False, **options)
    return result.as_dict()["layers"]


def _check_model_accepts(model: nn.Module, inputs: torch.Tensor) -> None:
    """Run two rows through ``model`` in eval mode, without gradients, to catch a shape mismatch.

    Eval mode keeps BatchNorm's running statistics as they are, so the
    check changes nothing in the model.

    Raises:
        ModelSpecError: naming the input shape and torch's message.
    """
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(inputs[:2])
    except (RuntimeError, ValueError, IndexError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ModelSpecError(
            f"the model does not accept training inputs of shape {tuple(inputs.shape)}: "
            f"{message}; pass the inputs it was built for, or build it for samples of "
            f"shape {tuple(inputs.shape[1:])}"
        ) from None
    finally:
        model.train(training)


def apply(
    spec: str,
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor | None,
    *,
    seed: int,
) -> dict[str, Any]:
    """Initialize ``model`` in place with a data-dependent initializer and return its record.

    Args:
        spec: ``lsuv`` or ``pretrained``, optionally called with options.
        model: a standalone model (not a batched replica stack).
        x_train: the training inputs, shaped as the model takes them.
        y_train: the training labels; both initializers are unsupervised, so
            they are only checked against ``x_train`` and not used.
        seed: seeds every random choice of the initializer.

    Returns:
        Plain data: ``name``, ``spec``, ``options`` (defaults filled in),
        ``seed``, ``seconds`` (wall time of the data-dependent step) and
        ``layers`` (one record per initialized layer).

    Raises:
        ConfigError: for an invalid spec or option.
        ModelSpecError: for a model the initializer cannot handle.
        DataError: for missing or malformed training data.
        All of them are raised before the model changes.
    """
    name, options = parse_spec(spec)
    if not isinstance(model, nn.Module):
        raise ModelSpecError(
            f"{name} initializes a torch.nn.Module, got {type(model).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    inputs = _as_tensor(x_train, model)
    if y_train is not None and len(y_train) != inputs.shape[0]:
        raise DataError(
            f"training inputs have {inputs.shape[0]} rows but the labels have {len(y_train)}"
        )
    if inputs.is_floating_point() and not math.isfinite(float(inputs.abs().max())):
        raise DataError("training inputs contain NaN or infinite values")
    _check_model_accepts(model, inputs)

    if name == "pretrained":
        # The first torch optimizer a process builds imports torch._dynamo,
        # which takes seconds. A throwaway one built first keeps that import
        # out of the recorded time.
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    started = time.perf_counter()
    if name == "lsuv":
        layers = _apply_lsuv(model, inputs, options, seed)
    else:
        layers = _apply_pretrained(model, inputs, options, seed)
    seconds = time.perf_counter() - started
    return {
        "name": name,
        "spec": spec,
        "options": options,
        "seed": seed,
        "seconds": seconds,
        "layers": layers,
    }


__all__ = [
    "DATA_DEPENDENT_DESCRIPTIONS",
    "apply",
    "is_data_dependent",
    "parse_spec",
]
