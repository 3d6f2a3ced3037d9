"""Drop-in replacement for ``torch.nn.init`` (torch 2.13), built on initlab's schemes.

``import initlab.nn as init`` in place of ``import torch.nn.init as init``
keeps the names, signatures, defaults, return values, warnings and errors
of torch 2.13, except for the differences listed below. The same generator
state gives the same numbers wherever both draw in the same order:
uniform_, normal_, the Xavier and Kaiming functions, orthogonal_ on float32
and float64, and trunc_normal_ when no value falls outside ``[a, b]``. Fans follow PyTorch's rule: ``(out, in,
*kernel)`` with ``fan_in = in * prod(kernel)``, ignoring groups, and a
transposed convolution's weight read as if it were a plain one.

Differences from torch 2.13 (all but the last two fix a torch defect):

* ``xavier_uniform_`` and ``xavier_normal_`` on a zero-element tensor whose
  fans are both zero, such as ``(0, 0)`` or ``(4, 4, 0)``, return it with
  ``kaiming_*``'s warning instead of raising ZeroDivisionError.
* ``orthogonal_`` works for float16 and bfloat16 (QR in float32, then cast),
  where torch has no half-precision QR.
* ``trunc_normal_`` with ``std=0`` fills the mean clipped to ``[a, b]``
  instead of raising ZeroDivisionError, and draws ``[a, b]`` far in a tail
  exactly and fast.
* ``sparse_`` takes its zero mask from ``generator``; torch's takes it from
  the global generator even when given one.
* ``dirac_`` on a zero-element tensor with an empty kernel dimension, such
  as ``(4, 4, 0)``, is a silent no-op like the other structured functions,
  where torch raises IndexError.
* Random fills of integer and boolean tensors raise NotImplementedError,
  as torch does, with a message that says to convert the tensor.
* The deprecated aliases without the trailing underscore (``uniform``,
  ``normal`` ...) warn with FutureWarning as in torch, naming ``initlab.nn``.

Beyond ``torch.nn.init``: :func:`lecun_uniform_`, :func:`lecun_normal_`,
:func:`variance_scaling_`, and Keras's truncated normals
:func:`lecun_truncated_normal_`, :func:`glorot_truncated_normal_` and
:func:`he_truncated_normal_`, which cut at +-2 parent standard deviations and
divide the parent std by 0.87962566103423978 so that the std after
truncation is the target. These take PyTorch's fans too, and on a
zero-element tensor they warn like ``kaiming_*``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor

from initlab import distributions as dist
from initlab import schemes
from initlab.backends.torch import (
    fill_normal_,
    fill_truncated_normal_,
    fill_uniform_,
    no_grad_for,
    sample_distribution_,
)
from initlab.fans import Fans, torch_fans
from initlab.gains import calculate_gain

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
    "lecun_uniform_",
    "lecun_normal_",
    "lecun_truncated_normal_",
    "glorot_truncated_normal_",
    "he_truncated_normal_",
    "variance_scaling_",
    # Deprecated aliases without the trailing underscore, as in torch.
    "uniform",
    "normal",
    "constant",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "sparse",
]

NonlinearityType = Literal[
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
FanMode = Literal["fan_in", "fan_out"]

# torch.nn.init's warning for kaiming_* on a zero-element tensor, word for word.
ZERO_ELEMENT_WARNING = "Initializing zero-element tensors is a no-op"

_T = TypeVar("_T")


@functools.lru_cache(maxsize=1024)
def _fans(shape: tuple[int, ...]) -> Fans:
    # Cached by shape: a model has few distinct weight shapes, and the
    # lookup keeps the per-call cost near torch's for small tensors.
    return torch_fans(shape)


@functools.lru_cache(maxsize=256)
def _scheme(factory: Callable[..., _T], *args: Any) -> _T:
    # Scheme objects are immutable, so one instance per argument set serves
    # every call; building and validating one costs a few microseconds.
    return factory(*args)


def _check_mode(mode: str) -> str:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    return mode


@functools.lru_cache(maxsize=1024)
def _gain_distribution(
    factory: Callable[..., schemes.Scheme],
    gain: float,
    shape: tuple[int, ...],
    *mode: str,
) -> dist.Distribution:
    """Resolve a gain-based scheme for ``shape``, keeping torch's behaviour for a gain that is not positive.

    Cached, because the arguments repeat across a model's layers and the
    scheme arithmetic costs more than a small fill.
    """
    fans = _fans(shape)
    if gain > 0 and math.isfinite(gain):
        return _scheme(factory, gain, *mode).resolve(fans)
    # The schemes accept only positive gains. torch computes the bound or
    # std as gain times the unit-gain value, so a zero gain fills zeros and
    # a negative one makes uniform_ or normal_ raise torch's RuntimeError.
    unit = _scheme(factory, 1.0, *mode).resolve(fans)
    if isinstance(unit, dist.Uniform):
        return dist.Uniform(gain * unit.low, gain * unit.high)
    return dist.Normal(0.0, gain * unit.std)


def uniform_(
    tensor: Tensor,
    a: float = 0.0,
    b: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` with values drawn from the uniform distribution ``U(a, b)``.

    Args:
        tensor: an n-dimensional ``torch.Tensor``.
        a: the lower bound.
        b: the upper bound.
        generator: the ``torch.Generator`` to sample from (default: torch's
            global generator).
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(
            uniform_, (tensor,), tensor=tensor, a=a, b=b, generator=generator
        )
    return fill_uniform_(tensor, a, b, generator)


def normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` with values drawn from the normal distribution ``N(mean, std^2)``.

    Args:
        tensor: an n-dimensional ``torch.Tensor``.
        mean: the mean.
        std: the standard deviation.
        generator: the ``torch.Generator`` to sample from (default: torch's
            global generator).
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(
            normal_, (tensor,), tensor=tensor, mean=mean, std=std, generator=generator
        )
    return fill_normal_(tensor, mean, std, generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` with ``N(mean, std^2)`` truncated to the absolute interval ``[a, b]``.

    ``a`` and ``b`` are values, not multiples of ``std``: with ``std=0.02``
    the default ``[-2, 2]`` cuts at 100 standard deviations, which is no
    truncation at all. Any interval is sampled exactly, including narrow ones
    far in a tail (see :func:`initlab.backends.torch.fill_truncated_normal_`).
    With ``std=0`` every value is ``mean`` clipped to ``[a, b]``, where
    torch raises ZeroDivisionError. As in torch, a mean more than 2 std
    outside ``[a, b]`` warns (initlab's values stay exact there), a
    negative ``std`` acts as ``abs(std)``, and ``a > b`` raises uniform_'s
    RuntimeError.

    Args:
        tensor: an n-dimensional ``torch.Tensor``.
        mean: the mean of the parent normal.
        std: the standard deviation of the parent normal.
        a: the minimum cut-off value.
        b: the maximum cut-off value.
        generator: the ``torch.Generator`` to sample from (default: torch's
            global generator).
    """
    if tensor.is_meta:
        return tensor
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    if a > b:
        # torch's own bounds check, so the message is the one torch raises.
        torch.empty(0).uniform_(a, b)
    return fill_truncated_normal_(
        tensor, dist.TruncatedNormal(mean, abs(std), a, b), generator
    )


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with the value ``val``; integer and boolean tensors are accepted."""
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(
            constant_, (tensor,), tensor=tensor, val=val
        )
    # A direct fill_, because anything more costs measurable time on small tensors.
    with no_grad_for(tensor):
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with the scalar value 1."""
    with no_grad_for(tensor):
        return tensor.fill_(1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with the scalar value 0."""
    with no_grad_for(tensor):
        return tensor.zero_()


def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-D ``tensor`` with the identity matrix, rectangular allowed.

    Preserves the identity of the inputs in Linear layers, where as many
    inputs are preserved as possible.

    Raises:
        ValueError: for a tensor that is not 2-D.
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    return sample_distribution_(tensor, dist.Identity(1.0, rows, cols))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill the 3-, 4- or 5-D ``tensor`` with the Dirac delta function.

    ``w[g * out_per_group + d, d, *centre] = 1`` for every group ``g`` and
    ``d < min(out_per_group, in_per_group)``, zero elsewhere, so a
    convolution initialized this way passes its input channels through
    (Zagoruyko and Komodakis, "DiracNets", 2017).

    Raises:
        ValueError: for a tensor that is not 3-, 4- or 5-D, or a first
            dimension that ``groups`` does not divide.
    """
    dimensions = tensor.ndimension()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.size(0) % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if tensor.is_meta:
        return tensor
    return sample_distribution_(tensor, dist.Dirac(groups))


def xavier_uniform_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` from ``U(-bound, bound)`` with ``bound = gain * sqrt(6 / (fan_in + fan_out))``.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010. Also known as Glorot uniform.

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    return _xavier(tensor, schemes.glorot_uniform, gain, generator)


def xavier_normal_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` from ``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010. Also known as Glorot normal.

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    return _xavier(tensor, schemes.glorot_normal, gain, generator)


def _xavier(
    tensor: Tensor,
    factory: Callable[..., schemes.Scheme],
    gain: float,
    generator: torch.Generator | None,
) -> Tensor:
    fans = _fans(tensor.shape)
    if fans.fan_in + fans.fan_out == 0:
        # torch divides by zero here; the tensor has no elements to fill.
        warnings.warn(ZERO_ELEMENT_WARNING, stacklevel=3)
        return tensor
    distribution = _gain_distribution(factory, gain, tensor.shape)
    return sample_distribution_(tensor, distribution, generator=generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: FanMode = "fan_in",
    nonlinearity: NonlinearityType = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` from ``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan_mode)``.

    ``gain = calculate_gain(nonlinearity, a)``. He, Zhang, Ren and Sun,
    "Delving Deep into Rectifiers", 2015. Also known as He uniform. The fans
    assume PyTorch's ``(out, in, *kernel)`` layout: pass ``w.T`` for a
    weight used as ``x @ w``.

    Args:
        tensor: an n-dimensional ``torch.Tensor``, n >= 2.
        a: the negative slope of the rectifier after this layer (used only
            with ``"leaky_relu"``).
        mode: ``"fan_in"`` keeps the forward signal's variance,
            ``"fan_out"`` the backward one's.
        nonlinearity: a name from :func:`calculate_gain`'s table.
        generator: the ``torch.Generator`` to sample from.

    A zero-element tensor is returned unchanged with a warning.

    Raises:
        ValueError: for an unknown mode or nonlinearity, or fewer than 2 dimensions.
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(
            kaiming_uniform_,
            (tensor,),
            tensor=tensor,
            a=a,
            mode=mode,
            nonlinearity=nonlinearity,
            generator=generator,
        )
    return _kaiming(tensor, schemes.he_uniform, a, mode, nonlinearity, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: FanMode = "fan_in",
    nonlinearity: NonlinearityType = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` from ``N(0, std^2)`` with ``std = gain / sqrt(fan_mode)``.

    ``gain = calculate_gain(nonlinearity, a)``. He, Zhang, Ren and Sun,
    "Delving Deep into Rectifiers", 2015. Also known as He normal. Arguments,
    warning and errors as in :func:`kaiming_uniform_`.
    """
    return _kaiming(tensor, schemes.he_normal, a, mode, nonlinearity, generator)


def _kaiming(
    tensor: Tensor,
    factory: Callable[..., schemes.Scheme],
    a: float,
    mode: str,
    nonlinearity: str,
    generator: torch.Generator | None,
) -> Tensor:
    if 0 in tensor.shape:
        warnings.warn(ZERO_ELEMENT_WARNING, stacklevel=3)
        return tensor
    # torch's order of checks: mode, then the fans, then the nonlinearity.
    mode = _check_mode(mode)
    _fans(tensor.shape)
    gain = calculate_gain(nonlinearity, a)
    distribution = _gain_distribution(factory, gain, tensor.shape, mode)
    return sample_distribution_(tensor, distribution, generator=generator)


def orthogonal_(
    tensor: Tensor,
    gain: float = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` with a (semi-)orthogonal matrix times ``gain``.

    Saxe, McClelland and Ganguli, "Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks", 2014. Dimensions
    after the first are flattened: the matrix is ``(shape[0], rest)``. Works
    for float16 and bfloat16 (QR in float32, then cast); a zero-element
    tensor is a no-op.

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    rows = tensor.size(0)
    distribution = dist.Orthogonal(gain, rows, tensor.numel() // rows)
    return sample_distribution_(tensor, distribution, generator=generator)


def sparse_(
    tensor: Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill the 2-D ``tensor`` from ``N(0, std^2)`` with ``ceil(sparsity * rows)`` zeros per column.

    Martens, "Deep learning via Hessian-free optimization", 2010. Each
    column's zeros sit at a uniformly random set of rows drawn from
    ``generator``, as are the values.

    Raises:
        ValueError: for a tensor that is not 2-D.
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if tensor.is_meta:
        return tensor
    distribution = dist.Sparse(sparsity, std, tensor.size(0))
    return sample_distribution_(tensor, distribution, generator=generator)


def _fan_scheme_(
    tensor: Tensor,
    make_scheme: Callable[[], schemes.Scheme],
    generator: torch.Generator | None,
) -> Tensor:
    """Fill ``tensor`` from a fan-based scheme with PyTorch's fans, warning on zero elements.

    As in ``kaiming_*``, the zero-element check comes before any argument
    check, so ``make_scheme`` runs only for a tensor that has elements.
    """
    if 0 in tensor.shape:
        warnings.warn(ZERO_ELEMENT_WARNING, stacklevel=3)
        return tensor
    distribution = _resolved(make_scheme(), tensor.shape)
    return sample_distribution_(tensor, distribution, generator=generator)


@functools.lru_cache(maxsize=1024)
def _resolved(scheme: schemes.Scheme, shape: tuple[int, ...]) -> dist.Distribution:
    # Cached like _gain_distribution: schemes are immutable and hashable.
    return scheme.resolve(_fans(shape))


def lecun_uniform_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` from ``U(-bound, bound)`` with ``bound = sqrt(3 / fan_in)``.

    LeCun, Bottou, Orr and Mueller, "Efficient BackProp", 1998. Keras's
    ``LecunUniform`` with PyTorch's fans.
    """
    return _fan_scheme_(tensor, lambda: _scheme(schemes.lecun_uniform), generator)


def lecun_normal_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` from the untruncated ``N(0, 1 / fan_in)``.

    LeCun, Bottou, Orr and Mueller, "Efficient BackProp", 1998. Keras's and
    JAX's ``lecun_normal`` are truncated: see :func:`lecun_truncated_normal_`.
    """
    return _fan_scheme_(tensor, lambda: _scheme(schemes.lecun_normal), generator)


def lecun_truncated_normal_(
    tensor: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Fill ``tensor`` as Keras's ``LecunNormal``: std ``sqrt(1 / fan_in)`` after a cut at +-2 parent std."""
    return _fan_scheme_(
        tensor, lambda: _scheme(schemes.lecun_truncated_normal), generator
    )


def glorot_truncated_normal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill ``tensor`` as Keras's ``GlorotNormal``, times ``gain``.

    The values have std ``gain * sqrt(2 / (fan_in + fan_out))``. They are
    drawn from a normal of that std divided by 0.87962566103423978, cut at
    +-2 of its own standard deviations.

    Raises:
        ValueError: for fewer than 2 dimensions; SchemeError for a gain that
            is not positive.
    """
    return _fan_scheme_(
        tensor,
        lambda: _scheme(
            schemes.VarianceScaling, gain**2, "fan_avg", "truncated_normal"
        ),
        generator,
    )


def he_truncated_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: FanMode = "fan_in",
    nonlinearity: NonlinearityType = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` as Keras's ``HeNormal``: std ``gain / sqrt(fan_mode)`` after a cut at +-2 parent std.

    ``gain = calculate_gain(nonlinearity, a)``, ``sqrt(2)`` by default as
    in Keras. Arguments and errors as in :func:`kaiming_normal_`.
    """

    def make_scheme() -> schemes.Scheme:
        gain = calculate_gain(nonlinearity, a)
        return _scheme(
            schemes.VarianceScaling, gain**2, _check_mode(mode), "truncated_normal"
        )

    return _fan_scheme_(tensor, make_scheme, generator)


def variance_scaling_(
    tensor: Tensor,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fill ``tensor`` as Keras's ``VarianceScaling``, with PyTorch's fans.

    The values have variance ``scale / n`` with ``n`` the ``fan_in``,
    ``fan_out`` or their mean (``mode="fan_avg"``), drawn from a normal cut
    at +-2 parent std (``"truncated_normal"``), an ``"untruncated_normal"``
    or a ``"uniform"`` on ``+-sqrt(3 * scale / n)``. The bare
    ``"normal"`` is rejected because Keras reads it as truncated and PyTorch
    as untruncated.

    Raises:
        ValueError: for fewer than 2 dimensions; SchemeError for an invalid
            scale, mode or distribution.
    """
    return _fan_scheme_(
        tensor,
        lambda: _scheme(schemes.VarianceScaling, scale, mode, distribution),
        generator,
    )


def _deprecated(function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Return an alias of ``function`` without its trailing underscore that warns."""
    new_name = function.__name__
    old_name = new_name[:-1]

    @functools.wraps(function)
    def alias(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`initlab.nn.{old_name}` is now deprecated in favor of "
            f"`initlab.nn.{new_name}`, as `nn.init.{old_name}` is in torch.",
            FutureWarning,
            stacklevel=2,
        )
        return function(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = f"Deprecated alias of :func:`{new_name}`."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
