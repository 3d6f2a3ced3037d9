"""Keras 3 initializers that return torch tensors, built on initlab's schemes.

Each class has the name, constructor arguments and defaults of its
``keras.initializers`` counterpart (Keras 3.15). ``initializer(shape,
dtype=None)`` returns a new tensor of ``shape`` in Keras's layout ``(*kernel,
in, out)``, with Keras's fans: ``fan_in = shape[-2] * prod(kernel)`` and
``fan_out = shape[-1] * prod(kernel)``, while a 1-D shape ``(n,)`` has
``n, n`` and a 0-D shape ``1, 1``. The tensor is float32 unless ``dtype``
names another type, on torch's default device.

As in Keras, Keras's names mean Keras's schemes: ``HeNormal`` and
``get("he_normal")`` are the normal truncated at +-2 parent standard
deviations (parent std ``sqrt(2 / fan_in) / 0.87962566103423978``), and
``VarianceScaling(distribution="normal")`` reads ``"normal"`` as
``"truncated_normal"``. initlab's own registry keeps ``he_normal`` for the
untruncated normal of ``torch.nn.init.kaiming_normal_``.

Seeds follow Keras 3: an integer seed, or none (a random seed is drawn once,
at construction), gives the same values on every call. A
``torch.Generator`` in place of the seed advances with each call, the role
``keras.random.SeedGenerator`` plays in Keras.

Differences from Keras 3.15: ``Identity.get_config()`` includes ``gain``,
which Keras's drops; the values differ from Keras's for the same integer
seed, because the random streams differ (the distributions are the same).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from initlab import schemes
from initlab.backends.torch import fill_, make_generator
from initlab.fans import Fans, compute_fans

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "get",
]

Seed = int | torch.Generator | None
Axes = int | Sequence[int] | None


def _as_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        return tuple(int(size) for size in shape)
    except TypeError as error:
        raise ValueError(
            f"shape must be a sequence of integers, got shape={shape!r}"
        ) from error


def _as_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    # Keras's default float type is float32, whatever torch's default is.
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            f"invalid dtype {dtype!r}: use a torch.dtype or a name such as "
            "'float32', 'float16', 'bfloat16', 'float64' or 'int32'"
        )
    return resolved


class Initializer:
    """Base class: a callable that returns a new tensor for a shape in Keras's layout.

    Subclasses implement :meth:`_fill`. Every initializer can be rebuilt
    from its configuration: ``type(i).from_config(i.get_config())``.
    """

    def __call__(
        self, shape: Sequence[int], dtype: str | torch.dtype | None = None
    ) -> torch.Tensor:
        """Return a new tensor of ``shape`` and ``dtype`` (float32 by default)."""
        tensor = torch.empty(_as_shape(shape), dtype=_as_dtype(dtype))
        if tensor.numel() == 0:
            # Keras returns an empty tensor without a warning.
            return tensor
        return self._fill(tensor)

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Build an initializer from the output of :meth:`get_config`."""
        return cls(**config)

    def clone(self) -> Initializer:
        """Return a new initializer with the same configuration."""
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Every value 0. Any dtype, integer and boolean included."""

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        return fill_(tensor, schemes.ZEROS, layout="keras")


class Ones(Initializer):
    """Every value 1. Any dtype, integer and boolean included."""

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        return fill_(tensor, schemes.ONES, layout="keras")


class Constant(Initializer):
    """Every value ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value
        self._scheme = schemes.Constant(value)

    @property
    def scheme(self) -> schemes.Scheme:
        """The initlab scheme this initializer samples."""
        return self._scheme

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        return fill_(tensor, self._scheme, layout="keras")

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Identity(Initializer):
    """``gain`` times the identity matrix, for 2-D shapes (rectangular allowed).

    Raises ShapeError (a ValueError) for any other number of dimensions.
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain
        self._scheme = schemes.Identity(gain)

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        return fill_(tensor, self._scheme, layout="keras")

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base class of the initializers that draw random values from ``seed``."""

    def __init__(self, seed: Seed = None) -> None:
        is_integer = isinstance(seed, int) and not isinstance(seed, bool)
        if not (seed is None or is_integer or isinstance(seed, torch.Generator)):
            raise ValueError(
                f"seed must be an integer, a torch.Generator or None, got seed={seed!r}"
            )
        self._init_seed = seed
        # An unseeded initializer fixes a random seed now, so every call
        # returns the same values, as in Keras 3.
        self.seed = make_generator().initial_seed() if seed is None else seed
        self._scheme: schemes.Scheme = schemes.ZEROS

    @property
    def scheme(self) -> schemes.Scheme:
        """The initlab scheme this initializer samples."""
        return self._scheme

    def _generator(self, device: torch.device) -> torch.Generator:
        if isinstance(self.seed, torch.Generator):
            return self.seed
        return make_generator(self.seed, device)

    def _fans(self, shape: tuple[int, ...]) -> Fans | None:
        """Return explicit fans, or None for Keras's rule from the shape."""
        return None

    def _fill(self, tensor: torch.Tensor) -> torch.Tensor:
        return fill_(
            tensor,
            self._scheme,
            fans=self._fans(tuple(tensor.shape)),
            layout="keras",
            generator=self._generator(tensor.device),
        )

    def get_config(self) -> dict[str, Any]:
        # A torch.Generator cannot be serialised, so its config has no seed
        # and a rebuilt initializer draws a fresh one.
        seed = None if isinstance(self._init_seed, torch.Generator) else self._init_seed
        return {"seed": seed}


class RandomNormal(RandomInitializer):
    """Untruncated normal ``N(mean, stddev^2)``."""

    def __init__(
        self, mean: float = 0.0, stddev: float = 0.05, seed: Seed = None
    ) -> None:
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev
        self._scheme = schemes.Normal(mean, stddev)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform on ``[minval, maxval)``."""

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: Seed = None
    ) -> None:
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval
        self._scheme = schemes.Uniform(minval, maxval)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class TruncatedNormal(RandomInitializer):
    """``N(mean, stddev^2)`` cut at ``mean +- 2 * stddev``.

    ``stddev`` is the parent normal's, so the values have std
    ``0.87962566 * stddev``.
    """

    def __init__(
        self, mean: float = 0.0, stddev: float = 0.05, seed: Seed = None
    ) -> None:
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev
        self._scheme = schemes.TruncatedNormalStdUnits(mean, stddev, -2.0, 2.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class VarianceScaling(RandomInitializer):
    """Values of variance ``scale / n``, with ``n`` the fan that ``mode`` selects.

    ``n`` is ``max(1, fan_in)``, ``max(1, fan_out)`` or
    ``max(1, (fan_in + fan_out) / 2)``. ``"truncated_normal"`` (and, as in
    Keras, ``"normal"``) draws a normal of std ``sqrt(scale / n) /
    0.87962566103423978`` cut at +-2 of its own standard deviations, so the
    std after truncation is ``sqrt(scale / n)``. ``"untruncated_normal"``
    draws ``N(0, scale / n)`` and ``"uniform"`` draws from
    ``U(-limit, limit)`` with ``limit = sqrt(3 * scale / n)``.

    ``input_axes`` and ``output_axes``, when both are given, replace
    Keras's layout rule: ``fan_in`` is the product of the input axes' sizes
    and ``fan_out`` that of the output axes', with no receptive field.

    Raises:
        SchemeError (a ValueError): for a scale that is not positive, or an
            invalid mode or distribution.
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: Seed = None,
        input_axes: Axes = None,
        output_axes: Axes = None,
    ) -> None:
        super().__init__(seed)
        distribution = distribution.lower()
        if distribution == "normal":
            # Keras's own reading of the bare word.
            distribution = "truncated_normal"
        self._scheme = schemes.VarianceScaling(scale, mode, distribution)
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes

    def _fans(self, shape: tuple[int, ...]) -> Fans | None:
        if self.input_axes is None or self.output_axes is None:
            return None
        inputs = _axes_tuple(self.input_axes)
        outputs = _axes_tuple(self.output_axes)
        # Every other axis is a batch axis, so no receptive field multiplies in.
        used = {axis % len(shape) for axis in (*inputs, *outputs)}
        others = tuple(axis for axis in range(len(shape)) if axis not in used)
        return compute_fans(shape, in_axis=inputs, out_axis=outputs, batch_axis=others)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


def _axes_tuple(axes: int | Sequence[int]) -> tuple[int, ...]:
    return (axes,) if isinstance(axes, int) else tuple(axes)


class _NamedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""

    SCALE: float = 1.0
    MODE: str = "fan_in"
    DISTRIBUTION: str = "truncated_normal"

    def __init__(
        self, seed: Seed = None, input_axes: Axes = None, output_axes: Axes = None
    ) -> None:
        super().__init__(
            self.SCALE,
            self.MODE,
            self.DISTRIBUTION,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {key: config[key] for key in ("seed", "input_axes", "output_axes")}


class LecunNormal(_NamedVarianceScaling):
    """LeCun normal: std ``sqrt(1 / fan_in)`` after a cut at +-2 parent std (LeCun et al., "Efficient BackProp", 1998)."""


class LecunUniform(_NamedVarianceScaling):
    """LeCun uniform: ``U(-limit, limit)`` with ``limit = sqrt(3 / fan_in)`` (LeCun et al., 1998)."""

    DISTRIBUTION = "uniform"


class GlorotNormal(_NamedVarianceScaling):
    """Glorot normal: std ``sqrt(2 / (fan_in + fan_out))`` after a cut at +-2 parent std.

    Glorot and Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", 2010.
    """

    MODE = "fan_avg"


class GlorotUniform(_NamedVarianceScaling):
    """Glorot uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio, 2010)."""

    MODE = "fan_avg"
    DISTRIBUTION = "uniform"


class HeNormal(_NamedVarianceScaling):
    """He normal: std ``sqrt(2 / fan_in)`` after a cut at +-2 parent std.

    He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", 2015. For
    ``fan_in = 256`` the parent std is 0.100484, the cut +-0.200968 and the
    std of the values 0.088388.
    """

    SCALE = 2.0


class HeUniform(_NamedVarianceScaling):
    """He uniform: ``U(-limit, limit)`` with ``limit = sqrt(6 / fan_in)`` (He et al., 2015)."""

    SCALE = 2.0
    DISTRIBUTION = "uniform"


class Orthogonal(RandomInitializer):
    """A random (semi-)orthogonal matrix times ``gain``.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``. The rows
    are orthonormal when there are fewer rows than columns, the columns
    otherwise. Saxe, McClelland and Ganguli, "Exact solutions to the
    nonlinear dynamics of learning in deep linear neural networks", 2014.

    Raises ShapeError (a ValueError) for fewer than 2 dimensions.
    """

    def __init__(self, gain: float = 1.0, seed: Seed = None) -> None:
        super().__init__(seed)
        self.gain = gain
        self._scheme = schemes.Orthogonal(gain)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


_CLASSES: tuple[type[Initializer], ...] = (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Identity,
    LecunNormal,
    LecunUniform,
    Ones,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
)

# Keras's lookup table: class names, their snake_case forms and Keras's aliases.
_BY_NAME: dict[str, type[Initializer]] = {
    **{cls.__name__: cls for cls in _CLASSES},
    "constant": Constant,
    "glorot_normal": GlorotNormal,
    "glorot_uniform": GlorotUniform,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "identity": Identity,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "ones": Ones,
    "orthogonal": Orthogonal,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "zeros": Zeros,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
}


def _lookup(name: str) -> type[Initializer]:
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=4, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "use a Keras class name"
    raise ValueError(f"unknown initializer {name!r}: {hint}")


def get(
    identifier: str | dict[str, Any] | Initializer | Callable[..., Any] | None,
) -> Initializer | Callable[..., Any] | None:
    """Return an initializer for a name, a config dict, a class or an instance, as Keras's ``get``.

    * a name (case-sensitive): a class name such as ``"GlorotUniform"``, its
      snake_case form ``"glorot_uniform"``, or one of Keras's aliases
      (``"normal"``, ``"uniform"``, ``"zero"``, ``"one"``), built with its
      defaults;
    * ``{"class_name": ..., "config": {...}}``, the form Keras serialises
      (extra keys such as ``"module"`` are ignored);
    * an :class:`Initializer` instance or any other callable, returned as
      it is, and an initializer class, instantiated with its defaults;
    * ``None``, returned as None.

    Raises:
        ValueError: for an unknown name, listing the closest known ones, or
            an identifier of any other type.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(
                "an initializer config needs a 'class_name' key, as in "
                f"{{'class_name': 'GlorotUniform', 'config': {{}}}}, got {identifier!r}"
            )
        cls = _lookup(identifier["class_name"])
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(
        f"cannot interpret {identifier!r} as an initializer: pass a name, a config "
        "dict, an Initializer or a callable"
    )
