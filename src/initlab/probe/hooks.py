"""Forward and gradient hooks that stream per-call statistics during one probe pass.

:class:`Recorder` registers a forward hook on every recorded module. Each
call of a module appends one :class:`PendingCall`; its hook reduces the
call's output to a few small tensors at once (see
:mod:`initlab.probe.statistics`) and, when a backward pass follows,
registers a hook on that output tensor that does the same with its
gradient. No activation or gradient tensor is kept. The probe's memory is
one scratch buffer the size of the largest output (see
:class:`~initlab.probe.statistics.Workspace`) plus, per call, a few numbers,
one number per unit of Linear and conv outputs, the histogram counts and,
in light mode, the histogram sample. After the pass,
:meth:`Recorder.collect` moves the small tensors to the host in one
transfer per device and dtype.

A module's output is the first floating-point tensor found in what it
returns, searching tuples, lists and dict values depth-first, so
``nn.LSTM``'s ``(output, (h, c))`` is recorded through ``output``. The
first axis of that tensor is taken as the batch axis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from initlab.errors import InitlabError
from initlab.probe import statistics as stats
from initlab.probe.layers import LayerProfile
from initlab.probe.symmetry import output_projection_tensor, projection_length


class ProbeError(InitlabError, RuntimeError):
    """A probe hook failed on a layer; the message names the layer and its input shape."""


@dataclass
class PendingCall:
    """One call of one module: its identity, and small tensors filled in by the hooks."""

    name: str
    module: nn.Module
    profile: LayerProfile
    call_index: int
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None = None
    count: int = 0
    units: int = 0
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    known: dict[str, float] = field(default_factory=dict)
    """Statistics already known as Python numbers during the pass."""
    fixed_range: tuple[float, float] | None = None
    grad_count: int = 0


@dataclass
class CallValues:
    """One call's statistics as Python numbers, after the pass."""

    call: PendingCall
    scalars: dict[str, float]
    histogram_counts: list[float] | None = None
    sample: torch.Tensor | None = None
    projection: list[float] | None = None


def display_name(name: str) -> str:
    """Return a module's qualified name for people: the root module has the empty name."""
    return name or "(root)"


def first_tensor(value: Any, floating: bool) -> torch.Tensor | None:
    """Return the first tensor (floating-point only if ``floating``) in a nested output."""
    if isinstance(value, torch.Tensor):
        if not floating or value.is_floating_point():
            return value
        return None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_tensor(item, floating)
            if found is not None:
                return found
    return None


class Recorder:
    """Hooks for one probe pass over ``layers``, collecting one :class:`PendingCall` per module call.

    Args:
        layers: ``(qualified name, module, profile)`` for each recorded module.
        statistics: names of the statistics to compute (see
            :data:`initlab.probe.api.STATISTICS`).
        light: take histograms from a fixed random sample of
            ``sample_size`` values per call instead of from every value.
        bins: number of histogram bins.
        sample_size: sample size of light histograms.
        seed: seed of the random directions and sample positions.
        backward: whether a backward pass follows, so gradient hooks are
            needed.
    """

    def __init__(
        self,
        layers: list[tuple[str, nn.Module, LayerProfile]],
        *,
        statistics: Collection[str],
        light: bool,
        bins: int,
        sample_size: int,
        seed: int,
        backward: bool,
    ) -> None:
        self.layers = layers
        self.statistics = frozenset(statistics)
        self.light = light
        self.bins = bins
        self.sample_size = sample_size
        self.seed = seed
        self.backward = backward and "gradient" in self.statistics
        self.calls: list[PendingCall] = []
        self._handles: list[RemovableHandle] = []
        self._call_counts: dict[int, int] = {}
        self._generators: dict[torch.device, torch.Generator] = {}
        self._random_cache: dict[tuple[Any, ...], torch.Tensor] = {}
        self._range_cache: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        self.workspace = stats.Workspace()

    def attach(self) -> None:
        """Register a forward hook on every recorded module."""
        for name, module, profile in self.layers:
            hook = functools.partial(self._forward_hook, name, profile)
            self._handles.append(module.register_forward_hook(hook))

    def detach(self) -> None:
        """Remove every hook this recorder registered, forward and gradient."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _forward_hook(
        self,
        name: str,
        profile: LayerProfile,
        module: nn.Module,
        args: Any,
        output: Any,
    ) -> None:
        input_tensor = first_tensor(args, floating=False)
        input_shape = tuple(input_tensor.shape) if input_tensor is not None else None
        call_index = self._call_counts.get(id(module), 0)
        self._call_counts[id(module)] = call_index + 1
        call = PendingCall(name, module, profile, call_index, input_shape)
        self.calls.append(call)
        try:
            self._record_output(call, first_tensor(output, floating=True))
        except Exception as error:
            raise ProbeError(
                f"probe failed on layer {display_name(name)!r} ({type(module).__name__}, "
                f"call {call_index}) with input shape {input_shape}: {type(error).__name__}: {error}"
            ) from error

    def _record_output(self, call: PendingCall, output: torch.Tensor | None) -> None:
        if output is None:
            return
        call.output_shape = tuple(output.shape)
        if output.numel() == 0:
            return
        # A 0-dim output, such as a loss module's, is one sample of one value.
        values = output if output.dim() else output.reshape(1, 1)
        profile = call.profile
        requested = self.statistics
        flat = stats.as_float_flat(values)
        work = self.workspace.take(flat.numel(), flat.dtype, flat.device)
        batch = values.shape[0]
        call.count = flat.numel()
        tensors = call.tensors

        if "moments" in requested:
            tensors["shift"], tensors["sum"], tensors["square_sum"] = (
                stats.moments_tensor(flat, work)
            )
        needs_data_range = "histogram" in requested and profile.fixed_range is None
        # NOTE: the branches for other devices (the non-finite count, the
        # scatter-add histogram) run in the tests only on the CPU, not on a GPU.
        on_cpu = flat.device.type == "cpu"
        if (
            "range" in requested
            or needs_data_range
            or ("nonfinite" in requested and on_cpu)
        ):
            tensors["min"], tensors["max"] = torch.aminmax(flat)
        if "nonfinite" in requested:
            # On the CPU, reading two numbers waits for nothing, and finite
            # extremes (aminmax propagates NaN) prove every value finite,
            # which saves three passes. A GPU pass must not wait, so it counts.
            if on_cpu and _finite_extremes(tensors["min"], tensors["max"]):
                call.known["nonfinite"] = 0.0
            else:
                tensors["nonfinite"] = stats.nonfinite_count_tensor(flat, work)
        if "saturation" in requested and profile.saturation is not None:
            tensors["saturated"] = self._saturated_count(flat, work, profile)
        if "zeros" in requested and profile.relu_family:
            call.units = call.count // batch
            ones = self.workspace.ones(batch, flat.dtype, flat.device)
            tensors["nonzero"], tensors["dead"] = stats.zero_and_dead_tensor(
                flat, work, ones, profile.may_be_negative
            )
        if "histogram" in requested:
            self._record_histogram(call, flat, work)
        if "symmetry" in requested and profile.unit_axis is not None:
            self._record_projection(call, values)
        # The gradient hook goes on the tensor the module returned, which is
        # the one in the graph.
        if self.backward and output.requires_grad:
            hook = functools.partial(self._gradient_hook, call)
            self._handles.append(output.register_hook(hook))

    @staticmethod
    def _saturated_count(
        flat: torch.Tensor, work: torch.Tensor, profile: LayerProfile
    ) -> torch.Tensor:
        rule = profile.saturation
        if rule.kind == "shrink":
            return stats.shrink_count_tensor(flat, work, rule.center, rule.half_width)
        return stats.limit_count_tensor(flat, rule.low, rule.high)

    def _record_histogram(
        self, call: PendingCall, flat: torch.Tensor, work: torch.Tensor
    ) -> None:
        call.fixed_range = call.profile.fixed_range
        if self.light:
            if flat.numel() <= self.sample_size:
                call.tensors["sample"] = flat.clone()
            else:
                positions = self._random(
                    ("sample", flat.numel()),
                    lambda g: torch.randint(
                        flat.numel(),
                        (self.sample_size,),
                        generator=g,
                        device=flat.device,
                    ),
                    flat.device,
                )
                call.tensors["sample"] = flat.index_select(0, positions)
            return

        if call.fixed_range is not None:
            low, high = self._fixed_range_tensors(call.fixed_range, flat)
        else:
            low, high = call.tensors["min"], call.tensors["max"]
        index = self.workspace.take(flat.numel(), torch.int32, flat.device)
        call.tensors["histogram"] = stats.histogram_tensor(
            flat, work, index, low, high, self.bins, scatter=flat.device.type != "cpu"
        )

    def _record_projection(self, call: PendingCall, output: torch.Tensor) -> None:
        axis = call.profile.unit_axis
        if axis == 1 and output.dim() == call.profile.spatial_dims + 1:
            # An unbatched conv input gives an output without a batch axis.
            output = output.unsqueeze(0)
        length = projection_length(output, axis)
        values = output.detach()
        if values.dtype not in (torch.float32, torch.float64):
            values = values.float()
        direction = self._random(
            ("direction", length, values.dtype),
            lambda g: torch.randn(
                length, generator=g, device=values.device, dtype=values.dtype
            ),
            values.device,
        )
        call.tensors["projection"] = output_projection_tensor(values, direction, axis)

    def _gradient_hook(self, call: PendingCall, grad: torch.Tensor) -> None:
        try:
            flat = stats.as_float_flat(grad)
            call.grad_count = flat.numel()
            if call.grad_count:
                work = self.workspace.take(flat.numel(), flat.dtype, flat.device)
                shift, total, square_sum = stats.moments_tensor(flat, work)
                call.tensors["grad_shift"] = shift
                call.tensors["grad_sum"] = total
                call.tensors["grad_square_sum"] = square_sum
        except Exception as error:
            raise ProbeError(
                f"probe failed on the gradient of layer {display_name(call.name)!r} "
                f"({type(call.module).__name__}, call {call.call_index}) with input shape "
                f"{call.input_shape}: {type(error).__name__}: {error}"
            ) from error

    def _random(
        self,
        key: tuple[Any, ...],
        make: Callable[[torch.Generator], torch.Tensor],
        device: torch.device,
    ) -> torch.Tensor:
        # Random directions and sample positions are drawn once per size and
        # device from the probe's own generator, never the global RNG.
        cache_key = (*key, device)
        if cache_key not in self._random_cache:
            if device not in self._generators:
                generator = torch.Generator(device=device)
                generator.manual_seed(self.seed)
                self._generators[device] = generator
            self._random_cache[cache_key] = make(self._generators[device])
        return self._random_cache[cache_key]

    def _fixed_range_tensors(
        self, bounds: tuple[float, float], flat: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        key = (bounds, flat.device, flat.dtype)
        if key not in self._range_cache:
            # torch.full fills on the device; torch.tensor would copy from
            # the host and could wait for queued work.
            self._range_cache[key] = (
                torch.full((), bounds[0], device=flat.device, dtype=flat.dtype),
                torch.full((), bounds[1], device=flat.device, dtype=flat.dtype),
            )
        return self._range_cache[key]

    def collect(self) -> list[CallValues]:
        """Return every call's statistics as Python numbers, in a few transfers per device.

        One transfer per device, dtype and kind: 0-dim statistics, light-mode
        samples (kept as a CPU tensor), and other vectors (histogram counts,
        projections).
        """
        groups: dict[tuple[torch.device, torch.dtype, str], list[tuple[int, str]]] = {}
        members: dict[tuple[torch.device, torch.dtype, str], list[torch.Tensor]] = {}
        for position, call in enumerate(self.calls):
            for key, tensor in call.tensors.items():
                kind = "scalar" if tensor.dim() == 0 else key
                group = (tensor.device, tensor.dtype, kind)
                groups.setdefault(group, []).append((position, key))
                members.setdefault(group, []).append(tensor)

        values = [CallValues(call, dict(call.known)) for call in self.calls]
        for group, entries in groups.items():
            tensors = members[group]
            kind = group[2]
            if kind == "scalar":
                numbers = torch.stack(tensors).tolist()
                for (position, key), number in zip(entries, numbers, strict=True):
                    values[position].scalars[key] = number
                continue
            host = torch.cat(tensors).cpu()
            # Samples stay a tensor: thousands of Python floats per call
            # would cost more than binning them.
            numbers = None if kind == "sample" else host.tolist()
            start = 0
            for (position, _), tensor in zip(entries, tensors, strict=True):
                stop = start + tensor.numel()
                target = values[position]
                if kind == "histogram":
                    target.histogram_counts = numbers[start:stop]
                elif kind == "sample":
                    target.sample = host[start:stop]
                else:
                    target.projection = numbers[start:stop]
                start = stop
        return values


def _finite_extremes(low: torch.Tensor, high: torch.Tensor) -> bool:
    return math.isfinite(low.item()) and math.isfinite(high.item())
