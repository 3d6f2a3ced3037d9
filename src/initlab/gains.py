"""Gains: the factor by which a scheme scales its standard deviation.

Two families live here, under different names because they disagree:

* :func:`calculate_gain` is PyTorch's table (``torch.nn.init.calculate_gain``
  in torch 2.13), value for value. Its tanh value, 5/3, is neither of the
  gains below.
* :func:`forward_gain` and :func:`backward_gain` compute a gain for any
  activation ``phi`` from the standard normal ``z``:

  - forward: ``1 / sqrt(E[phi(z)^2])`` keeps the second moment of the
    forward signal from layer to layer (relu: sqrt(2); tanh: 1.59254);
  - backward: ``1 / sqrt(E[phi'(z)^2])`` keeps the second moment of the
    backward signal (relu: sqrt(2); tanh: 1.46741).

  Both are computed by Gauss-Legendre quadrature on panels of width 1/32
  over [-16, 16]. Every multiple of 1/32 is a panel edge, so the kinks at
  0, +-1, +-3 and 6 (relu, hardtanh, hardsigmoid and hardswish, relu6)
  fall on edges, and the rule matches closed forms to a relative 1e-12.

What a gain does not promise: the forward gain keeps the second moment,
not the dynamics. With tanh at its forward gain the second moment of unit
inputs is a fixed point, and there the mean squared gradient grows by
``chi = gain^2 * E[tanh'(z)^2] = (1.59254 / 1.46741)^2 = 1.1778`` per layer:
a deep network is in the chaotic phase, and over 50 layers the gradient's
std grows by ``chi^25``, about 60-fold. For sigmoid, ``E[sigmoid(z)^2]`` is
0.2934, of which the squared mean 0.25 is 85%, so the forward gain mostly
scales a constant offset rather than the fluctuation.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from initlab.errors import SchemeError

# Names torch.nn.init.calculate_gain maps to 1 besides sigmoid.
_LINEAR_NAMES = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """Return PyTorch's recommended gain for ``nonlinearity``, exactly as torch 2.13.

    ========================  =====================================
    nonlinearity              gain
    ========================  =====================================
    linear, conv*, sigmoid    1
    tanh                      5/3
    relu                      sqrt(2)
    leaky_relu                sqrt(2 / (1 + negative_slope^2))
    selu                      3/4
    ========================  =====================================

    Raises:
        ValueError: for an unknown name, or a ``param`` for leaky_relu that
            is not an int or float (booleans are rejected, as in torch).
    """
    if nonlinearity in _LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        # torch's source calls 3/4 a value found empirically; SELU's own
        # constants already give a forward gain of 1.
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _activation_table() -> dict[str, Callable[[Any], Any]]:
    import torch
    import torch.nn.functional as F

    return {
        "identity": lambda x: x,
        "linear": lambda x: x,
        "relu": F.relu,
        "leaky_relu": F.leaky_relu,
        "relu6": F.relu6,
        "elu": F.elu,
        "selu": F.selu,
        "celu": F.celu,
        "gelu": F.gelu,
        "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
        "silu": F.silu,
        "swish": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,
        "softsign": F.softsign,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "hardtanh": F.hardtanh,
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
        "tanhshrink": F.tanhshrink,
        "logsigmoid": F.logsigmoid,
        "sin": torch.sin,
    }


def known_activations() -> tuple[str, ...]:
    """Return the activation names that :func:`resolve_activation` accepts."""
    return tuple(sorted(_activation_table()))


def resolve_activation(
    activation: str | Callable[[Any], Any], negative_slope: float | None = None
) -> Callable[[Any], Any]:
    """Turn an activation name or callable into a callable on torch tensors.

    Args:
        activation: a name from :func:`known_activations` (case-insensitive)
            or any callable, returned unchanged.
        negative_slope: leaky_relu's slope; only valid with that name.

    Raises:
        SchemeError: for an unknown name (listing the closest known ones),
            a value that is neither a name nor a callable, or an invalid
            ``negative_slope``.
    """
    if callable(activation):
        if negative_slope is not None:
            raise SchemeError(
                "negative_slope only applies to the name 'leaky_relu'; "
                "bind it into the callable instead"
            )
        return activation
    if not isinstance(activation, str):
        raise SchemeError(
            f"activation must be a name or a callable, got {type(activation).__name__}: {activation!r}"
        )
    table = _activation_table()
    name = activation.lower()
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise SchemeError(
            f"unknown activation {activation!r}: {hint}known names are "
            f"{', '.join(sorted(table))}, or pass a callable"
        )
    function = table[name]
    if negative_slope is not None:
        if name != "leaky_relu":
            raise SchemeError(
                f"negative_slope only applies to 'leaky_relu', not to {activation!r}"
            )
        if (
            isinstance(negative_slope, bool)
            or not isinstance(negative_slope, (int, float))
            or not math.isfinite(negative_slope)
        ):
            raise SchemeError(
                f"negative_slope must be a finite number, got negative_slope={negative_slope!r}"
            )
        import torch.nn.functional as F

        function = functools.partial(F.leaky_relu, negative_slope=float(negative_slope))
    return function


# Quadrature grid: panels of width 1/32 on [-16, 16], 16 Gauss-Legendre nodes
# each. The Gaussian weight beyond 16 is below 1e-56, and activations that
# grow like exp(z) still vanish there against exp(-z^2 / 2).
_HALF_WIDTH = 16.0
_PANELS_PER_UNIT = 32
_NODES_PER_PANEL = 16


@functools.lru_cache(maxsize=1)
def _quadrature_rule() -> tuple[np.ndarray, np.ndarray]:
    """Return nodes and weights for integrating ``f(z) * N(z; 0, 1)``."""
    nodes, weights = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    edges = np.linspace(
        -_HALF_WIDTH, _HALF_WIDTH, int(2 * _HALF_WIDTH * _PANELS_PER_UNIT) + 1
    )
    left, right = edges[:-1, None], edges[1:, None]
    half = (right - left) / 2
    points = (left + right) / 2 + half * nodes[None, :]
    density = np.exp(-0.5 * points**2) / math.sqrt(2 * math.pi)
    return points.ravel(), (half * weights[None, :] * density).ravel()


def _evaluate(
    function: Callable[[Any], Any], points: np.ndarray, derivative: bool
) -> np.ndarray:
    """Evaluate ``function`` (or its derivative) at ``points`` in float64."""
    import warnings

    import torch

    try:
        x = torch.tensor(points, dtype=torch.float64, requires_grad=derivative)
        with warnings.catch_warnings():
            # A float-only function fed a tensor may warn before it fails.
            warnings.simplefilter("ignore")
            y = function(x)
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            raise TypeError("not an elementwise torch function")
        if not derivative:
            return y.detach().numpy()
        (grad,) = torch.autograd.grad(y.sum(), x)
        return grad.numpy()
    except (TypeError, ValueError, RuntimeError):
        pass

    # A plain Python function on floats: evaluate elementwise, and take the
    # derivative by a central difference (error about 1e-10 for smooth parts).
    scalar = np.vectorize(lambda v: float(function(float(v))), otypes=[np.float64])
    try:
        if not derivative:
            return scalar(points)
        step = 1e-6
        return (scalar(points + step) - scalar(points - step)) / (2 * step)
    except (TypeError, ValueError, ArithmeticError) as error:
        raise SchemeError(
            f"cannot evaluate the activation {function!r}: it must map a float64 "
            f"torch tensor elementwise, or a Python float to a float ({error})"
        ) from error


def gaussian_moment(
    function: Callable[[Any], Any], *, derivative: bool = False
) -> float:
    """Return ``E[f(z)^2]`` (or ``E[f'(z)^2]``) for ``z ~ N(0, 1)``."""
    points, weights = _quadrature_rule()
    values = _evaluate(function, points, derivative)
    if not np.all(np.isfinite(values)):
        raise SchemeError(
            "the activation returned inf or NaN on [-16, 16]; its Gaussian moment does not exist"
        )
    return float(np.dot(weights, values**2))


def forward_gain(
    activation: str | Callable[[Any], Any], negative_slope: float | None = None
) -> float:
    """Return ``1 / sqrt(E[phi(z)^2])``, the gain that keeps the forward second moment.

    Examples: relu sqrt(2), identity 1, tanh 1.59254, gelu 1.53353, silu 1.67653.

    Raises:
        SchemeError: for an unknown name or an activation that is zero almost everywhere.
    """
    moment = gaussian_moment(resolve_activation(activation, negative_slope))
    if moment <= 0:
        raise SchemeError(
            f"E[phi(z)^2] is {moment} for {activation!r}; no gain can restore a zero signal"
        )
    return 1.0 / math.sqrt(moment)


def backward_gain(
    activation: str | Callable[[Any], Any], negative_slope: float | None = None
) -> float:
    """Return ``1 / sqrt(E[phi'(z)^2])``, the gain that keeps the backward second moment.

    Raises:
        SchemeError: for an unknown name or an activation whose derivative is zero almost everywhere.
    """
    moment = gaussian_moment(
        resolve_activation(activation, negative_slope), derivative=True
    )
    if moment <= 0:
        raise SchemeError(
            f"E[phi'(z)^2] is {moment} for {activation!r}; no gain can restore a zero gradient"
        )
    return 1.0 / math.sqrt(moment)
