"""The modules the probe records, and the measurements it makes on each kind.

The probe records every leaf module (one with no children: Linear, conv,
activations, normalization, pooling, dropout, ...) and every other module
that owns parameters directly, such as ``nn.MultiheadAttention``, whose
``in_proj_weight`` belongs to it rather than to a child. Containers such as
``nn.Sequential`` and residual blocks without their own parameters are not
recorded: their leaves are. Functional calls inside ``forward``
(``torch.relu(x)``, ``x + residual``) are not modules and get no record.

Saturation is measured on bounded activations, where it means a zero or
near-zero derivative:

===================  ==========================================  ==============
activation           saturated when (margin 0.01 by default)      histogram range
===================  ==========================================  ==============
Tanh, Softsign       ``|a| > 1 - margin``                         [-1, 1]
Sigmoid              ``a < margin`` or ``a > 1 - margin``         [0, 1]
Hardtanh             ``a <= min_val`` or ``a >= max_val``         [min_val, max_val]
ReLU6                ``a >= 6``                                   [0, 6]
Hardsigmoid          ``a <= 0`` or ``a >= 1``                     [0, 1]
===================  ==========================================  ==============

Zero and dead fractions are measured after ReLU-family activations, whose
zero outputs have a zero derivative: ReLU, ReLU6, Hardswish (zero below
-3) and Threshold with ``value=0``. Other layers get histograms over the
range of their own outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn.modules import activation as activation_modules

from initlab.probe.symmetry import CONV_TYPES, LINEAR_TYPES

_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)

# Every activation class torch.nn defines, so user subclasses count too.
# MultiheadAttention lives in the same module but is a layer, not an activation.
_ACTIVATION_TYPES: tuple[type[nn.Module], ...] = tuple(
    cls
    for cls in vars(activation_modules).values()
    if isinstance(cls, type)
    and issubclass(cls, nn.Module)
    and cls.__module__ == activation_modules.__name__
    and cls is not nn.MultiheadAttention
)


@dataclass(frozen=True)
class Saturation:
    """A rule for counting saturated outputs: beyond a distance from a centre, or at limits.

    ``kind == "shrink"``: ``|a - center| > half_width``. ``kind ==
    "limits"``: ``a <= low`` or ``a >= high``, where None skips that side.
    """

    kind: str
    center: float = 0.0
    half_width: float = 0.0
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class LayerProfile:
    """The measurements the probe makes on one module, decided once before the pass."""

    kind: str
    """``"linear"``, ``"conv"``, ``"activation"``, ``"norm"`` or ``"other"``."""
    saturation: Saturation | None = None
    relu_family: bool = False
    may_be_negative: bool = False
    fixed_range: tuple[float, float] | None = None
    unit_axis: int | None = None
    """Axis of the output that contains the units, for Linear (-1) and conv (1) layers."""
    spatial_dims: int = 0


def recorded_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return ``(qualified name, module)`` for every module the probe records, in module order."""
    selected = []
    for name, module in model.named_modules():
        is_leaf = next(module.children(), None) is None
        owns_parameters = next(module.parameters(recurse=False), None) is not None
        if is_leaf or owns_parameters:
            selected.append((name, module))
    return selected


def profile_module(module: nn.Module, margin: float) -> LayerProfile:
    """Return the :class:`LayerProfile` of ``module`` for saturation margin ``margin``."""
    if isinstance(module, LINEAR_TYPES):
        return LayerProfile("linear", unit_axis=-1)
    if isinstance(module, CONV_TYPES):
        return LayerProfile("conv", unit_axis=1, spatial_dims=len(module.kernel_size))
    if isinstance(module, _NORM_TYPES):
        return LayerProfile("norm")
    if not isinstance(module, _ACTIVATION_TYPES):
        return LayerProfile("other")
    return _activation_profile(module, margin)


def _activation_profile(module: nn.Module, margin: float) -> LayerProfile:
    if isinstance(module, (nn.Tanh, nn.Softsign)):
        return LayerProfile(
            "activation",
            saturation=Saturation("shrink", 0.0, 1.0 - margin),
            fixed_range=(-1.0, 1.0),
        )
    if isinstance(module, nn.Sigmoid):
        return LayerProfile(
            "activation",
            saturation=Saturation("shrink", 0.5, 0.5 - margin),
            fixed_range=(0.0, 1.0),
        )
    # ReLU6 subclasses Hardtanh, so it is tested first. Its lower limit is
    # the ReLU zero, counted by the zero and dead fractions instead.
    if isinstance(module, nn.ReLU6):
        return LayerProfile(
            "activation",
            saturation=Saturation("limits", high=6.0),
            relu_family=True,
            fixed_range=(0.0, 6.0),
        )
    if isinstance(module, nn.Hardtanh):
        low, high = float(module.min_val), float(module.max_val)
        return LayerProfile(
            "activation",
            saturation=Saturation("limits", low=low, high=high),
            fixed_range=(low, high),
        )
    if isinstance(module, nn.Hardsigmoid):
        return LayerProfile(
            "activation",
            saturation=Saturation("limits", low=0.0, high=1.0),
            fixed_range=(0.0, 1.0),
        )
    if isinstance(module, nn.ReLU):
        return LayerProfile("activation", relu_family=True)
    if isinstance(module, nn.Hardswish):
        return LayerProfile("activation", relu_family=True, may_be_negative=True)
    if isinstance(module, nn.Threshold) and module.value == 0:
        return LayerProfile(
            "activation", relu_family=True, may_be_negative=module.threshold < 0
        )
    return LayerProfile("activation")
