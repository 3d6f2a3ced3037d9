"""Symmetric units: neurons of a Linear or conv layer with identical weights.

A unit is one output feature of a Linear layer or one output channel of a
convolution. Its parameters are its row of the weight (all input channels
and kernel positions) followed by its bias. Two units whose parameters are
equal compute the same function, and when the layers above are equally
symmetric they receive the same gradient too, so gradient descent never
makes them differ: the symmetry problem of zero and constant
initialization.

Units of a grouped convolution only match within their group, because units
of different groups read different input channels.

Finding the groups compares rows through a random projection first (one
matrix-vector product and a sort), so a layer with no duplicates costs
``O(units * fan_in)``, and only rows whose projections nearly tie are
compared element by element.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

LINEAR_TYPES = (nn.Linear,)
CONV_TYPES = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
TRANSPOSED_CONV_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def unit_parameters(
    module: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray] | None:
    """Return ``(rows, bias, group_ids)``: one weight row per unit, the bias or None, and each unit's group.

    Returns None for a module that is neither Linear nor conv, or whose
    weight is missing.
    """
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        return None
    weight = weight.detach()
    if isinstance(module, LINEAR_TYPES):
        rows = weight.reshape(weight.shape[0], -1)
        groups = 1
    elif isinstance(module, TRANSPOSED_CONV_TYPES):
        # Weight (in, out / groups, *kernel): unit j of group g reads input
        # channels g * in_g ... (g + 1) * in_g - 1 through weight[:, j].
        groups = module.groups
        in_channels, out_per_group = weight.shape[0], weight.shape[1]
        grouped = weight.reshape(groups, in_channels // groups, out_per_group, -1)
        rows = grouped.permute(0, 2, 1, 3).reshape(groups * out_per_group, -1)
    elif isinstance(module, CONV_TYPES):
        groups = module.groups
        rows = weight.reshape(weight.shape[0], -1)
    else:
        return None

    bias = getattr(module, "bias", None)
    if not isinstance(bias, torch.Tensor) or bias.numel() != rows.shape[0]:
        bias = None
    else:
        bias = bias.detach().reshape(-1).to(rows.dtype)
    units = rows.shape[0]
    group_ids = np.arange(units) // max(units // groups, 1)
    return rows, bias, group_ids


def symmetric_groups(
    rows: torch.Tensor,
    bias: torch.Tensor | None,
    group_ids: np.ndarray,
    rtol: float,
    generator: torch.Generator,
) -> list[list[int]]:
    """Return the groups of two or more units whose weights and biases are equal within tolerance.

    Two units match when the largest absolute difference of their weight
    rows and biases is at most ``rtol`` times the largest absolute weight
    or bias. The units are sorted by a random projection of their rows, and
    a group is a chain of units, each matching the next in that order. So
    identical units always share a group, and with a tolerance above zero a
    chain of near-matches can join units that differ by up to the chain's
    length times the tolerance. Each group is sorted and the groups are
    ordered by first unit.
    """
    units, width = rows.shape
    if units < 2 or width == 0:
        return []
    values = rows if rows.is_floating_point() else rows.double()
    largest = _largest_magnitude(values)
    if bias is not None:
        largest = max(largest, _largest_magnitude(bias))
    tolerance = rtol * largest

    direction = torch.randn(width + 1, generator=generator, dtype=torch.float64)
    direction = direction.to(device=values.device, dtype=values.dtype)
    projection = values @ direction[:width]
    if bias is not None:
        projection = projection + bias * direction[width]
    projection = projection.double().cpu().numpy()
    # Units within the tolerance differ in projection by at most
    # sqrt(width + 1) * tolerance * |direction|. The second term covers the
    # rounding of the products, a few units of the dtype's epsilon on the
    # sum of |row| * |direction|.
    epsilon = torch.finfo(values.dtype).eps
    rounding = 8 * epsilon * largest * float(direction.abs().sum())
    window = math.sqrt(width + 1) * tolerance * float(direction.norm()) + rounding

    order = np.lexsort((projection, group_ids))
    close = (np.diff(group_ids[order]) == 0) & (np.diff(projection[order]) <= window)
    candidates = np.flatnonzero(close)
    if candidates.size == 0:
        return []
    # Compare every candidate pair of neighbours element by element, at once.
    first = torch.as_tensor(order[candidates], device=values.device)
    second = torch.as_tensor(order[candidates + 1], device=values.device)
    distance = (values[first] - values[second]).abs().amax(dim=1)
    if bias is not None:
        distance = torch.maximum(distance, (bias[first] - bias[second]).abs())
    matched = np.zeros(units - 1, dtype=bool)
    matched[candidates] = (distance <= tolerance).cpu().numpy()

    # Chains are the runs of consecutive matched neighbours.
    bounds = np.concatenate(([0], np.flatnonzero(~matched) + 1, [units]))
    long_runs = np.flatnonzero(np.diff(bounds) > 1)
    groups = [
        sorted(order[bounds[run] : bounds[run + 1]].tolist()) for run in long_runs
    ]
    return sorted(groups)


def _largest_magnitude(values: torch.Tensor) -> float:
    low, high = torch.aminmax(values)
    return max(abs(float(low)), abs(float(high)))


def output_projection_tensor(
    output: torch.Tensor, direction: torch.Tensor, unit_axis: int
) -> torch.Tensor:
    """Return one number per unit: its outputs over the batch dotted with ``direction``.

    ``direction`` has one random entry per value of a unit (batch times
    positions). Two units whose outputs are identical over the batch get
    the same number; different outputs tie only with probability zero.
    """
    values = output.detach()
    if unit_axis == -1:
        units = values.shape[-1]
        return direction @ values.reshape(-1, units)
    # Conv output (batch, channels, *positions): a batched matrix-vector
    # product over the batch, then a sum, with no transposed copy.
    batch, channels = values.shape[0], values.shape[1]
    per_sample = values.reshape(batch, channels, -1)
    weights = direction.reshape(batch, -1, 1)
    return torch.bmm(per_sample, weights).sum(dim=0).squeeze(-1)


def projection_length(output: torch.Tensor, unit_axis: int) -> int:
    """Return how many values of one unit :func:`output_projection_tensor` combines."""
    units = output.shape[unit_axis]
    return output.numel() // units if units else 0


def outputs_identical(projection: list[float], groups: list[list[int]]) -> bool:
    """Return whether every group's units have identical outputs over the batch.

    Projections of identical outputs can differ by the rounding of their
    sums, so values within 1e-5 of their size count as equal.
    """
    for group in groups:
        values = [projection[unit] for unit in group]
        spread = max(values) - min(values)
        size = max(abs(v) for v in values)
        if not spread <= 1e-5 * size:
            return False
    return True
