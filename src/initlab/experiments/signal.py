"""Shared pieces of the signal experiments: plain MLPs, their init, per-layer probe figures.

The forward and backward experiments read every per-layer figure from
:func:`initlab.probe.probe`, so they report exactly what the probe reports
for the same network and batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from initlab.backends.torch import fill_
from initlab.models import MLPSpec, build_mlp, linear_layers
from initlab.probe import ProbeReport
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

# Names used in tables and figures for the two plain-Gaussian inits of the
# textbook experiment, whose scheme specs are long.
SHORT_NAMES = {"normal(std=0.01)": "0.01*N(0,1)", "normal(std=1.0)": "N(0,1)"}

# Probe statistics the signal experiments read; the symmetry test and the
# weight statistics are skipped because these networks never have equal units.
PROBE_STATISTICS = (
    "moments",
    "saturation",
    "zeros",
    "histogram",
    "gradient",
    "input_gradient",
)


def short_name(scheme: str) -> str:
    """Return the display name of an init spec."""
    return SHORT_NAMES.get(scheme, scheme)


def plain_mlp(
    input_width: int,
    hidden: tuple[int, ...],
    activation: str,
    out_features: int | None = None,
) -> nn.Sequential:
    """Build Linear, activation pairs for ``hidden``, then an optional linear output layer."""
    spec = MLPSpec(tuple(hidden), activation, input_width, out_features)
    return build_mlp(spec)


@torch.no_grad()
def initialize(
    model: nn.Module, scheme: Scheme | str, generator: torch.Generator
) -> None:
    """Fill every Linear weight of ``model`` from ``scheme`` in forward order; zero the biases."""
    scheme = parse_scheme(scheme)
    for _, layer in linear_layers(model):
        fill_(layer.weight, scheme, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()


def hidden_layers(report: ProbeReport) -> list[dict[str, Any]]:
    """Return one dict per hidden layer (a Linear followed by an activation) of a probed MLP.

    Keys: ``pre_std`` is the std of the Linear output. ``mean``, ``std`` and
    ``histogram`` describe the activation output. ``saturated``, ``zero``
    and ``dead`` are fractions, None where the probe does not measure them
    for this activation. ``grad_out`` is the std of the gradient with
    respect to the activation output, and ``grad_in`` the std of the
    gradient with respect to the layer's input (the network input for layer
    1, else the previous activation's output).
    """
    records = list(report.layers)
    layers: list[dict[str, Any]] = []
    previous_grad = report.input_grad_std
    for index, record in enumerate(records[:-1]):
        following = records[index + 1]
        if record.kind != "linear" or following.kind != "activation":
            continue
        histogram = following.histogram
        layers.append(
            {
                "pre_std": record.output_std,
                "mean": following.output_mean,
                "std": following.output_std,
                "saturated": following.saturated_fraction,
                "zero": following.zero_fraction,
                "dead": following.dead_fraction,
                "histogram": None
                if histogram is None
                else {"edges": list(histogram.edges), "counts": list(histogram.counts)},
                "grad_out": following.grad_std,
                "grad_in": previous_grad,
                "verdict": following.verdict,
            }
        )
        previous_grad = following.grad_std
    return layers


def column(layers: list[dict[str, Any]], key: str) -> list[Any]:
    """Return ``layer[key]`` for every layer."""
    return [layer[key] for layer in layers]
