"""Per-layer signal diagnostics for any PyTorch model, from one batch.

``probe(model, inputs, ...)`` runs a forward pass (and a backward pass when
gradients are asked for) with hooks that stream statistics of every layer's
output and gradient, and returns a :class:`ProbeReport` with one
:class:`LayerRecord` per module call, flags and a verdict each. The plot
functions live in :mod:`initlab.probe.plots` and are imported on first use,
so importing the probe does not import matplotlib.
"""

from initlab._callable_module import make_module_callable
from initlab.probe.api import STATISTICS, probe
from initlab.probe.hooks import ProbeError
from initlab.probe.report import Histogram, LayerRecord, ProbeReport
from initlab.probe.verdicts import PRECEDENCE, VERDICTS, Thresholds

_PLOTS = (
    "plot_activation_std",
    "plot_gradient_std",
    "plot_activation_histograms",
)

__all__ = [
    "PRECEDENCE",
    "STATISTICS",
    "VERDICTS",
    "Histogram",
    "LayerRecord",
    "ProbeError",
    "ProbeReport",
    "Thresholds",
    "plot_activation_histograms",
    "plot_activation_std",
    "plot_gradient_std",
    "probe",
]


def __getattr__(name: str):
    if name in _PLOTS:
        from initlab.probe import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'initlab.probe' has no attribute {name!r}")


make_module_callable(__name__, probe)
