"""Layer-sequential unit-variance (LSUV) initialization.

Mishkin and Matas, "All you need is a good init" (ICLR 2016). LSUV starts
from orthogonal weights and walks the layers in the order the forward pass
calls them. It rescales each layer's weight until the standard deviation of
the layer's output on one batch of real data is the target (1 by default):

    W <- W * target_std / std(W x + b)

Each layer is calibrated on the output of the layers below, which were
calibrated first, so the whole network ends up with unit-variance layer
outputs on that batch. The rescaling is repeated because the output std of a
layer is only proportional to its weight scale when its bias is zero and its
input does not depend on its own weights (a module called twice in a row).

With ``center=True`` each rescaling is followed by a bias update that moves
every output channel's mean to 0 (weight first, then bias).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from initlab.backends.torch import fill_, make_generator
from initlab.errors import ConfigError, DataError, ModelSpecError
from initlab.models import linear_layers

logger = logging.getLogger("initlab.lsuv")

_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass(frozen=True)
class LSUVLayer:
    """The record of LSUV's changes to one Linear or conv layer.

    ``std_before`` is the output std right after orthogonal initialization,
    with the layers below already calibrated; ``std_after`` and
    ``mean_after`` are measured after the last update. ``calls`` is how many
    times the forward pass runs the module on the batch (0 for a module the
    forward pass never reaches, which keeps its orthogonal weights and has
    no statistics). ``iterations`` counts the weight rescalings.
    """

    name: str
    kind: str
    calls: int
    std_before: float | None
    std_after: float | None
    mean_before: float | None
    mean_after: float | None
    iterations: int
    converged: bool


class _StopForward(Exception):
    """Raised from a hook to end a forward pass once the measured layer is done."""


class _OutputStatistics:
    """Per-channel sums of one module's outputs over every call in a forward pass.

    Sums are taken in float64 inside the forward hook, before the next
    module runs, so an in-place activation such as ``ReLU(inplace=True)``
    cannot overwrite the values first.
    """

    def __init__(self, module: nn.Module, stop_after: int | None) -> None:
        self.module = module
        self.stop_after = stop_after
        self.calls = 0
        self.count = 0
        self.sum: torch.Tensor | None = None
        self.sum_squares: torch.Tensor | None = None

    def hook(self, module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        values = _channels_last(module, output.detach()).to(torch.float64)
        flat = values.reshape(-1, values.shape[-1])
        channel_sum = flat.sum(dim=0)
        channel_squares = flat.square().sum(dim=0)
        if self.sum is None:
            self.sum, self.sum_squares = channel_sum, channel_squares
        else:
            self.sum = self.sum + channel_sum
            self.sum_squares = self.sum_squares + channel_squares
        self.count += flat.shape[0]
        self.calls += 1
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise _StopForward

    def channel_mean(self) -> torch.Tensor:
        return self.sum / self.count

    def mean(self) -> float:
        return float(self.sum.sum() / (self.count * self.sum.numel()))

    def std(self) -> float:
        """Population std of all output elements, pooled over the calls."""
        elements = self.count * self.sum.numel()
        mean = self.sum.sum() / elements
        variance = self.sum_squares.sum() / elements - mean * mean
        return math.sqrt(max(float(variance), 0.0))


def _channels_last(module: nn.Module, output: torch.Tensor) -> torch.Tensor:
    """Move the output-channel axis of a Linear or conv output to the end."""
    if isinstance(module, nn.Linear):
        return output if output.dim() > 0 else output.reshape(1, 1)
    # Conv outputs are (N, C, *spatial) or, unbatched, (C, *spatial).
    spatial = len(module.kernel_size)
    channel_axis = output.dim() - spatial - 1
    return output.movedim(channel_axis, -1)


def _validate(
    model: nn.Module,
    batch: torch.Tensor | Sequence[torch.Tensor],
    target_std: float,
    tol: float,
    max_iter: int,
) -> tuple[torch.Tensor, ...]:
    if not isinstance(model, nn.Module):
        raise ModelSpecError(
            f"lsuv_ needs a torch.nn.Module, got {type(model).__name__}"
        )
    inputs = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not inputs or not all(isinstance(item, torch.Tensor) for item in inputs):
        raise DataError(
            "lsuv_ needs a calibration batch: a tensor of inputs (or a tuple of "
            f"tensors passed to the model positionally), got {type(batch).__name__}"
        )
    for item in inputs:
        if item.numel() == 0:
            raise DataError(
                f"the calibration batch has no elements (shape {tuple(item.shape)}); pass at least one sample"
            )
        if item.is_floating_point() and not torch.isfinite(item).all():
            raise DataError(
                "the calibration batch contains NaN or infinite values; clean the data first"
            )
    if not (isinstance(target_std, (int, float)) and math.isfinite(target_std)) or (
        target_std <= 0
    ):
        raise ConfigError(
            f"target_std must be a positive finite number, got {target_std!r}"
        )
    if not (isinstance(tol, (int, float)) and math.isfinite(tol)) or tol <= 0:
        raise ConfigError(f"tol must be a positive finite number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ConfigError(
            f"max_iter must be an integer of at least 1, got {max_iter!r}"
        )
    if not linear_layers(model):
        raise ModelSpecError(
            f"{type(model).__name__} has no Linear or conv layer for LSUV to initialize"
        )
    return inputs


def _run_forward(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    with contextlib.suppress(_StopForward):
        model(*inputs)


def _trace_calls(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], layers: list[nn.Module]
) -> tuple[list[nn.Module], dict[nn.Module, int]]:
    """Run the batch once and return the layers in first-call order and their call counts."""
    order: list[nn.Module] = []
    counts: dict[nn.Module, int] = {}

    def record(module: nn.Module, inputs: object, output: object) -> None:
        if module not in counts:
            order.append(module)
            counts[module] = 0
        counts[module] += 1

    handles = [layer.register_forward_hook(record) for layer in layers]
    try:
        model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return order, counts


def _measure(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], layer: nn.Module, calls: int
) -> _OutputStatistics:
    # The forward pass stops at the layer's last call: the layers above it
    # cannot change its output, so running them would only cost time.
    statistics = _OutputStatistics(layer, stop_after=calls)
    handle = layer.register_forward_hook(statistics.hook)
    try:
        _run_forward(model, inputs)
    finally:
        handle.remove()
    return statistics


def _calibrate(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    name: str,
    layer: nn.Module,
    calls: int,
    target_std: float,
    tol: float,
    max_iter: int,
    center: bool,
) -> LSUVLayer:
    center_bias = center and layer.bias is not None
    statistics = _measure(model, inputs, layer, calls)
    std_before, mean_before = statistics.std(), statistics.mean()

    def converged(stats: _OutputStatistics) -> bool:
        within = abs(stats.std() - target_std) <= tol
        return within and (not center_bias or abs(stats.mean()) <= tol)

    iterations = 0
    while not converged(statistics) and iterations < max_iter:
        std = statistics.std()
        if std == 0.0 or not math.isfinite(std):
            warnings.warn(
                f"LSUV cannot rescale layer {name!r}: its output std on the batch is {std}",
                stacklevel=3,
            )
            break
        layer.weight.mul_(target_std / std)
        if center_bias:
            statistics = _measure(model, inputs, layer, calls)
            layer.bias.sub_(statistics.channel_mean().to(layer.bias.dtype))
        statistics = _measure(model, inputs, layer, calls)
        iterations += 1

    return LSUVLayer(
        name=name,
        kind=type(layer).__name__,
        calls=calls,
        std_before=std_before,
        std_after=statistics.std(),
        mean_before=mean_before,
        mean_after=statistics.mean(),
        iterations=iterations,
        converged=converged(statistics),
    )


def lsuv_(
    model: nn.Module,
    batch: torch.Tensor | Sequence[torch.Tensor],
    *,
    target_std: float = 1.0,
    tol: float = 0.1,
    max_iter: int = 10,
    center: bool = False,
    seed: int = 0,
) -> list[LSUVLayer]:
    """Initialize ``model`` in place with LSUV and return one record per layer.

    Args:
        model: any module; its Linear, Conv and ConvTranspose layers are
            initialized, and no other parameter changes.
        batch: the calibration inputs, a tensor (or a tuple of tensors that
            the model takes positionally) on the model's device.
        target_std: the std each layer's output should have on the batch.
        tol: stop rescaling a layer once ``|std - target_std| <= tol`` (and,
            with ``center``, ``|mean| <= tol``).
        max_iter: maximum number of rescalings per layer.
        center: also set each layer's bias so that every output channel has
            mean 0 on the batch. Layers without a bias are only rescaled.
        seed: seed of the generator for the orthogonal pre-initialization.

    Every weight is first filled with an orthogonal matrix (gain 1) from a
    generator seeded with ``seed``, and every bias is set to 0. Layers are
    then calibrated in the order the forward pass first calls them. When the
    forward pass calls a module several times, its statistics are pooled
    over all the calls. The forward passes run in eval mode, so that
    dropout does not make the measurements random and batch-norm running
    statistics are not updated. The train/eval mode of every submodule is
    restored afterwards, and every hook LSUV adds is removed.

    Raises:
        ModelSpecError: for a model without Linear or conv layers.
        DataError: for a missing, empty or non-finite batch.
        ConfigError: for a non-positive ``target_std`` or ``tol``, or
            ``max_iter`` below 1.
    """
    inputs = _validate(model, batch, target_std, tol, max_iter)
    named = linear_layers(model)
    names = {module: name for name, module in named}
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            order, counts = _trace_calls(model, inputs, [m for _, m in named])
            generator = make_generator(seed, next(iter(model.parameters())).device)
            for _, layer in named:
                layout = (
                    "torch_transposed" if isinstance(layer, _TRANSPOSED) else "torch"
                )
                groups = getattr(layer, "groups", 1)
                fill_(
                    layer.weight,
                    "orthogonal",
                    layout=layout,
                    groups=groups,
                    generator=generator,
                )
                if layer.bias is not None:
                    layer.bias.zero_()

            records = [
                _calibrate(
                    model,
                    inputs,
                    names[layer],
                    layer,
                    counts[layer],
                    target_std,
                    tol,
                    max_iter,
                    center,
                )
                for layer in order
            ]
    finally:
        for module, training in modes.items():
            module.training = training

    skipped = [(name, module) for name, module in named if module not in counts]
    for name, module in skipped:
        records.append(
            LSUVLayer(
                name=name,
                kind=type(module).__name__,
                calls=0,
                std_before=None,
                std_after=None,
                mean_before=None,
                mean_after=None,
                iterations=0,
                converged=False,
            )
        )
    if skipped:
        warnings.warn(
            f"LSUV left {len(skipped)} layer(s) with orthogonal weights only, because the "
            f"forward pass never called them: {', '.join(name for name, _ in skipped)}",
            stacklevel=2,
        )
    if center:
        no_bias = [names[layer] for layer in order if layer.bias is None]
        if no_bias:
            warnings.warn(
                f"center=True cannot center layers without a bias: {', '.join(no_bias)}",
                stacklevel=2,
            )
    for record in records:
        logger.debug("LSUV %s", record)
    return records
