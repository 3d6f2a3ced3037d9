"""``probe()``: run one batch through a model and report, layer by layer, what happens to the signal."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from initlab.errors import ConfigError, InitlabError
from initlab.fans import compute_fans
from initlab.initialize.record import InitRecord
from initlab.probe import statistics as stats
from initlab.probe import symmetry
from initlab.probe.hooks import CallValues, Recorder, first_tensor
from initlab.probe.layers import profile_module, recorded_modules
from initlab.probe.report import Histogram, LayerRecord, ProbeReport
from initlab.probe.state import ModelState
from initlab.probe.verdicts import (
    Thresholds,
    layer_flags,
    resolve_thresholds,
    std_ratio,
)
from initlab.probe.verdicts import verdict as choose_verdict
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

logger = logging.getLogger("initlab.probe")

STATISTICS: tuple[str, ...] = (
    "moments",
    "range",
    "nonfinite",
    "saturation",
    "zeros",
    "histogram",
    "symmetry",
    "gradient",
    "weight_gradient",
    "input_gradient",
    "weights",
)
"""Names for the ``statistics`` argument of :func:`probe`.

``moments``: output mean and std. ``range``: output min and max.
``nonfinite``: fraction of NaN and infinite outputs. ``saturation``:
saturated fraction of bounded activations. ``zeros``: zero and dead
fractions of ReLU-family activations. ``histogram``: output histograms.
``symmetry``: symmetric units of Linear and conv layers, and whether their
outputs are identical. ``gradient``: std and norm of the gradient with
respect to each output. ``weight_gradient``: norm of each weight's gradient
and its ratio to the weight's norm. ``input_gradient``: std of the gradient
with respect to the input. ``weights``: weight std and the applied scheme's
target std.
"""

LIGHT_SKIPPED = ("symmetry", "weight_gradient", "input_gradient", "weights")
"""Statistics that light mode leaves out by default: each reads every weight or
costs an extra matrix product, which on a wide MLP costs more than the
per-layer output statistics together."""


def probe(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    *,
    upstream: str | torch.Tensor | None = None,
    seed: int = 0,
    applied: InitRecord | Mapping[str, Scheme | str] | None = None,
    thresholds: Thresholds | Mapping[str, float] | None = None,
    light: bool = False,
    bins: int = 64,
    sample_size: int = 4096,
    statistics: Collection[str] | None = None,
    label: str | None = None,
) -> ProbeReport:
    """Run one batch through ``model`` and return per-layer statistics, flags and verdicts.

    One forward pass, and one backward pass when ``targets``, ``loss_fn`` or
    ``upstream`` requests gradients. The model is left as it was found:
    hooks are removed (also when the pass raises), buffers such as
    batch-norm running statistics are restored, ``.grad`` fields are not
    touched, the train/eval mode is kept, and torch's global RNG state is
    restored.

    Args:
        model: any ``nn.Module``, in train or eval mode; the pass runs in
            the mode it is in.
        inputs: the batch, a tensor or a sequence of tensors passed as
            positional arguments. The first axis is the batch axis.
        targets: targets for the loss. Without ``loss_fn``, integer targets
            give ``cross_entropy`` and floating-point ones ``mse_loss`` on
            the model's output (its first floating-point tensor).
        loss_fn: ``loss_fn(output, targets)``, or ``loss_fn(output)`` when
            ``targets`` is None, returning a scalar. It receives the model's
            output as returned.
        upstream: ``"random"`` backpropagates a standard-normal gradient
            (drawn from ``seed``) from the output, with no loss; a tensor of
            the output's shape backpropagates that gradient.
        seed: seeds the random upstream gradient, the random directions of
            the symmetry test, the light-mode samples, and torch's global
            RNG during the pass (so dropout masks are reproducible).
        applied: the :class:`~initlab.initialize.record.InitRecord` that
            :func:`initlab.initialize` returned for this model, or a mapping
            from parameter name (as in ``model.named_parameters()``) to the
            scheme applied to it, a :class:`~initlab.schemes.Scheme` or a
            spec string; gives ``weight_target_std``.
        thresholds: a :class:`Thresholds` or a mapping of some of its fields.
        light: take histograms from a fixed random sample of
            ``sample_size`` values per layer, and leave out the statistics
            in :data:`LIGHT_SKIPPED` (symmetry, weight statistics, weight
            and input gradients) unless ``statistics`` names them.
        bins: number of histogram bins.
        sample_size: values per layer in light-mode histograms.
        statistics: names from :data:`STATISTICS` to compute; the default
            is all of them, or all but :data:`LIGHT_SKIPPED` in light mode.
        label: a name for the report, such as the scheme applied.

    Raises:
        ConfigError: for an invalid argument, before the model is touched;
            for a loss that is not a scalar or an ``upstream`` tensor of the
            wrong shape, after the forward pass, with the model restored.
        ProbeError: when a hook fails, naming the layer and its input shape.
    """
    args = _as_argument_tuple(inputs)
    backward = _backward_kind(targets, loss_fn, upstream)
    chosen = _chosen_statistics(statistics, light)
    thresholds = resolve_thresholds(thresholds)
    _check_positive_int("bins", bins)
    _check_positive_int("sample_size", sample_size)
    _check_positive_int("seed", seed, allow_zero=True)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    _check_materialized(model)

    names = recorded_modules(model)
    layers = [
        (name, module, profile_module(module, thresholds.saturation_margin))
        for name, module in names
    ]
    target_stds = _target_stds(model, names, applied)

    first = args[0]
    input_std = _tensor_std(first) if first.is_floating_point() else None
    wants_input_grad = (
        backward is not None
        and "input_gradient" in chosen
        and first.is_floating_point()
    )
    input_leaf = first.detach().requires_grad_(True) if wants_input_grad else None

    recorder = Recorder(
        layers,
        statistics=chosen,
        light=light,
        bins=bins,
        sample_size=sample_size,
        seed=seed,
        backward=backward is not None,
    )
    state = ModelState(model)
    recorder.attach()
    loss = None
    gradients: dict[int, torch.Tensor] = {}
    input_grad = None
    try:
        state.seed_global_rng(seed)
        with torch.set_grad_enabled(backward is not None):
            if input_leaf is not None:
                # The model gets a clone of the leaf, made with grad enabled
                # so that it stays in the graph. A model that writes into its
                # input in place then neither fails on a leaf that requires
                # grad nor changes the caller's tensor.
                args = (input_leaf.clone(), *args[1:])
            output = model(*args)
            if backward is not None:
                loss, gradients, input_grad = _backward(
                    model, output, targets, loss_fn, upstream, seed, input_leaf
                )
    finally:
        recorder.detach()
        state.restore()

    values = recorder.collect()
    forward_fields = [_finish_forward(value) for value in values]
    first_std = next(
        (fields["output_std"] for fields in forward_fields if "output_std" in fields),
        None,
    )
    reference = input_std if input_std is not None else first_std
    module_facts = _module_facts(
        names, chosen, thresholds, seed, target_stds, gradients
    )
    histograms = _histograms(values, bins)
    records = [
        _build_record(
            index, value, fields, histogram, module_facts, reference, thresholds
        )
        for index, (value, fields, histogram) in enumerate(
            zip(values, forward_fields, histograms, strict=True)
        )
    ]
    logger.debug("probe recorded %d calls of %d modules", len(records), len(names))
    return ProbeReport(
        layers=records,
        input_shape=tuple(first.shape),
        input_std=input_std,
        reference_std=reference,
        input_grad_std=None if input_grad is None else _tensor_std(input_grad),
        loss=None if loss is None else float(loss),
        backward=backward,
        training=model.training,
        light=light,
        seed=seed,
        thresholds=thresholds,
        label=label,
    )


def _as_argument_tuple(inputs: Any) -> tuple[torch.Tensor, ...]:
    if isinstance(inputs, torch.Tensor):
        args = (inputs,)
    elif isinstance(inputs, (tuple, list)) and inputs:
        args = tuple(inputs)
    else:
        raise ConfigError(
            f"inputs must be a tensor or a non-empty sequence of tensors, got {type(inputs).__name__}"
        )
    if not isinstance(args[0], torch.Tensor):
        raise ConfigError(
            f"the first input must be a tensor, got {type(args[0]).__name__}"
        )
    if args[0].dim() == 0 or args[0].shape[0] == 0:
        raise ConfigError(
            f"inputs must have a batch axis with at least one sample, got shape {tuple(args[0].shape)}"
        )
    return args


def _backward_kind(
    targets: Any, loss_fn: Any, upstream: str | torch.Tensor | None
) -> str | None:
    if upstream is not None:
        if targets is not None or loss_fn is not None:
            raise ConfigError(
                "pass either targets and loss_fn, or upstream, not both: upstream replaces the loss"
            )
        if isinstance(upstream, torch.Tensor):
            return "tensor"
        if upstream != "random":
            raise ConfigError(
                f"upstream must be None, 'random' or a tensor, got upstream={upstream!r}"
            )
        return "random"
    if targets is not None or loss_fn is not None:
        return "loss"
    return None


def _chosen_statistics(
    statistics: Collection[str] | None, light: bool
) -> frozenset[str]:
    if statistics is None:
        skipped = LIGHT_SKIPPED if light else ()
        return frozenset(name for name in STATISTICS if name not in skipped)
    if isinstance(statistics, str):
        statistics = [statistics]
    unknown = sorted(set(statistics) - set(STATISTICS))
    if unknown:
        raise ConfigError(
            f"unknown statistic {', '.join(map(repr, unknown))}: valid names are {', '.join(STATISTICS)}"
        )
    return frozenset(statistics)


def _check_positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ConfigError(
            f"{name} must be an integer >= {lowest}, got {name}={value!r}"
        )


def _check_materialized(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            raise ConfigError(
                f"module {name or '(root)'!r} ({type(module).__name__}) has uninitialized lazy "
                "parameters; run one forward pass first so its shapes are known"
            )


def _target_stds(
    model: nn.Module,
    names: list[tuple[str, nn.Module]],
    applied: InitRecord | Mapping[str, Scheme | str] | None,
) -> dict[str, float]:
    """Return the target std of each applied scheme, by parameter name; raises before the pass."""
    if applied is None:
        return {}
    if isinstance(applied, InitRecord):
        return _record_target_stds(model, applied)
    if not applied:
        return {}
    parameters = dict(model.named_parameters())
    unknown = sorted(set(applied) - set(parameters))
    if unknown:
        sample = ", ".join(list(parameters)[:6])
        raise ConfigError(
            f"applied names parameters the model does not have: {', '.join(map(repr, unknown))}; "
            f"its parameters are named like {sample}"
        )
    modules = {f"{name}.weight" if name else "weight": module for name, module in names}
    targets: dict[str, float] = {}
    for parameter_name, scheme in applied.items():
        try:
            scheme = parse_scheme(scheme)
            shape = tuple(parameters[parameter_name].shape)
            module = modules.get(parameter_name)
            layout = (
                "torch_transposed"
                if isinstance(module, symmetry.TRANSPOSED_CONV_TYPES)
                else "torch"
            )
            groups = getattr(module, "groups", 1) if module is not None else 1
            fans = compute_fans(shape, layout, groups=groups)
            targets[parameter_name] = scheme.target_std(fans, shape, layout)
        except InitlabError as error:
            raise ConfigError(
                f"cannot compute the target std of parameter {parameter_name!r}: {error}"
            ) from error
    return targets


def _record_target_stds(model: nn.Module, record: InitRecord) -> dict[str, float]:
    """Return the target std of each weight an :func:`initlab.initialize` record lists.

    The record's std already follows the layer's own fans (groups, packed
    blocks, gates), so it is taken as it is rather than recomputed from the
    tensor's shape.
    """
    parameters = dict(model.named_parameters(remove_duplicate=False))
    missing = [row.name for row in record.parameters if row.name not in parameters]
    if missing:
        raise ConfigError(
            f"the initialization record names parameters the model does not have: "
            f"{', '.join(map(repr, missing))}; pass the record that initialize returned "
            "for this model"
        )
    targets: dict[str, float] = {}
    for row in record.parameters:
        if math.isnan(row.target_std):
            continue
        for name in (row.name, *row.aliases):
            targets[name] = row.target_std
    return targets


def _tensor_std(tensor: torch.Tensor) -> float:
    if tensor.numel() == 0:
        return math.nan
    return _moments(tensor, stats.Workspace())[1]


def _default_loss(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if targets.is_floating_point():
        return F.mse_loss(output, targets)
    return F.cross_entropy(output, targets)


def _backward(
    model: nn.Module,
    output: Any,
    targets: torch.Tensor | None,
    loss_fn: Callable[..., torch.Tensor] | None,
    upstream: str | torch.Tensor | None,
    seed: int,
    input_leaf: torch.Tensor | None,
) -> tuple[torch.Tensor | None, dict[int, torch.Tensor], torch.Tensor | None]:
    """Backpropagate once; return the loss, the gradients by parameter id, and the input gradient.

    The loss stays a tensor, so reading it does not wait for the device
    inside the pass.
    """
    main = first_tensor(output, floating=True)
    if main is None:
        raise ConfigError(
            "the model returned no floating-point tensor, so there is nothing to backpropagate"
        )
    loss = None
    if loss_fn is not None:
        root = loss_fn(output, targets) if targets is not None else loss_fn(output)
    elif targets is not None:
        root = _default_loss(main, targets)
    else:
        root = main
    if root is not main:
        if not isinstance(root, torch.Tensor) or root.numel() != 1:
            raise ConfigError(
                f"the loss must be a scalar tensor, got {type(root).__name__} "
                f"of shape {tuple(getattr(root, 'shape', ()))}"
            )
        loss = root.detach()
        grad_output = None
    elif isinstance(upstream, torch.Tensor):
        if tuple(upstream.shape) != tuple(main.shape):
            raise ConfigError(
                f"upstream has shape {tuple(upstream.shape)} but the model's output has shape {tuple(main.shape)}"
            )
        grad_output = upstream.to(device=main.device, dtype=main.dtype)
    else:
        generator = torch.Generator(device=main.device)
        generator.manual_seed(seed)
        grad_output = torch.randn(
            main.shape, generator=generator, device=main.device, dtype=main.dtype
        )

    parameters = list(
        {id(p): p for p in model.parameters() if p.requires_grad}.values()
    )
    wrt = parameters + ([input_leaf] if input_leaf is not None else [])
    if not wrt or not root.requires_grad:
        warnings.warn(
            "probe: the model's output depends on no parameter or input that requires grad, "
            "so the gradient statistics are left empty",
            RuntimeWarning,
            stacklevel=3,
        )
        return loss, {}, None
    grads = torch.autograd.grad(root, wrt, grad_outputs=grad_output, allow_unused=True)
    by_id = {
        id(parameter): grad
        # grads ends with the input's gradient when it was asked for.
        for parameter, grad in zip(parameters, grads, strict=False)
        if grad is not None
    }
    input_grad = grads[-1] if input_leaf is not None else None
    return loss, by_id, input_grad


def _module_facts(
    names: list[tuple[str, nn.Module]],
    chosen: frozenset[str],
    thresholds: Thresholds,
    seed: int,
    target_stds: dict[str, float],
    gradients: dict[int, torch.Tensor],
) -> dict[int, dict[str, Any]]:
    """Return weight statistics and symmetric groups of each recorded module, by module id."""
    facts: dict[int, dict[str, Any]] = {}
    generator = torch.Generator().manual_seed(seed)
    workspace = stats.Workspace()
    for name, module in names:
        fact: dict[str, Any] = {}
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.numel():
            parameter_name = f"{name}.weight" if name else "weight"
            if "weights" in chosen:
                _, fact["weight_std"], norm = _moments(weight, workspace)
                fact["weight_target_std"] = target_stds.get(parameter_name)
            grad = gradients.get(id(weight)) if "weight_gradient" in chosen else None
            if grad is not None:
                if "weights" not in chosen:
                    norm = _norm(weight)
                grad_norm = _norm(grad)
                fact["weight_grad_norm"] = grad_norm
                fact["weight_grad_ratio"] = grad_norm / norm if norm > 0 else None
        if "symmetry" in chosen:
            unit_rows = symmetry.unit_parameters(module)
            if unit_rows is not None:
                rows, bias, group_ids = unit_rows
                fact["symmetric_groups"] = symmetry.symmetric_groups(
                    rows, bias, group_ids, thresholds.symmetry_rtol, generator
                )
                fact["units"] = rows.shape[0]
        facts[id(module)] = fact
    return facts


def _norm(tensor: torch.Tensor) -> float:
    flat = stats.as_float_flat(tensor)
    return math.sqrt(float(torch.dot(flat, flat)))


def _moments(
    tensor: torch.Tensor, workspace: stats.Workspace
) -> tuple[float, float, float]:
    """Return the mean, population std and norm of a tensor's values, after the pass.

    Two reading passes (a sum and a dot product) give ``E[x^2] - E[x]^2``.
    When that difference cancels to under 1e-3 of ``E[x^2]``, as for
    constant weights, the std is recomputed from values shifted by the
    first one, which costs a writing pass.
    """
    flat = stats.as_float_flat(tensor)
    count = flat.numel()
    total, square_sum = torch.stack((flat.sum(), torch.dot(flat, flat))).tolist()
    mean, std, norm = stats.finish_moments(0.0, total, square_sum, count)
    if math.isfinite(std) and std * std < 1e-3 * square_sum / count:
        work = workspace.take(count, flat.dtype, flat.device)
        sums = torch.stack(stats.moments_tensor(flat, work)).tolist()
        mean, std, _ = stats.finish_moments(*sums, count)
    return mean, std, norm


def _finish_forward(value: CallValues) -> dict[str, Any]:
    """Return the forward fields of one call from its collected sums and counts."""
    scalars, call = value.scalars, value.call
    fields: dict[str, Any] = {}
    count = call.count
    if "sum" in scalars:
        mean, std, _ = stats.finish_moments(
            scalars["shift"], scalars["sum"], scalars["square_sum"], count
        )
        fields["output_mean"], fields["output_std"] = mean, std
    if "min" in scalars:
        fields["output_min"], fields["output_max"] = scalars["min"], scalars["max"]
    if "nonfinite" in scalars:
        fields["nonfinite_fraction"] = scalars["nonfinite"] / count
    if "saturated" in scalars:
        fields["saturated_fraction"] = scalars["saturated"] / count
    if "nonzero" in scalars:
        fields["zero_fraction"] = 1.0 - scalars["nonzero"] / count
        fields["dead_fraction"] = scalars["dead"] / call.units if call.units else None
    return fields


def _histograms(values: list[CallValues], bins: int) -> list[Histogram | None]:
    """Return each call's histogram; light-mode samples are binned here, after the pass."""
    histograms: list[Histogram | None] = [None] * len(values)
    sampled: list[tuple[int, torch.Tensor, tuple[float, float]]] = []
    for position, value in enumerate(values):
        if value.histogram_counts is None and value.sample is None:
            continue
        scalars, call = value.scalars, value.call
        if call.fixed_range is not None:
            low, high = call.fixed_range
        else:
            low, high = scalars.get("min", math.nan), scalars.get("max", math.nan)
        # Non-finite values leave no finite range to bin, and their counts
        # land in arbitrary bins.
        if scalars.get("nonfinite", 0) > 0 or not (
            math.isfinite(low) and math.isfinite(high)
        ):
            continue
        if value.sample is not None:
            sampled.append((position, value.sample, (low, high)))
        else:
            edges, counts = stats.finish_histogram(value.histogram_counts, low, high)
            histograms[position] = Histogram(edges, counts, sampled=False)

    binned = stats.sample_histograms(
        [sample for _, sample, _ in sampled], [bounds for _, _, bounds in sampled], bins
    )
    for (position, _, _), (edges, counts) in zip(sampled, binned, strict=True):
        histograms[position] = Histogram(edges, counts, sampled=True)
    return histograms


def _build_record(
    index: int,
    value: CallValues,
    fields: dict[str, Any],
    histogram: Histogram | None,
    module_facts: dict[int, dict[str, Any]],
    reference_std: float | None,
    thresholds: Thresholds,
) -> LayerRecord:
    call = value.call
    record = LayerRecord(
        index=index,
        name=call.name,
        module_type=type(call.module).__name__,
        kind=call.profile.kind,
        call_index=call.call_index,
        input_shape=call.input_shape,
        output_shape=call.output_shape,
        histogram=histogram,
        **fields,
    )
    record.std_ratio = std_ratio(record.output_std, reference_std)

    scalars = value.scalars
    if "grad_sum" in scalars:
        _, record.grad_std, record.grad_norm = stats.finish_moments(
            scalars["grad_shift"],
            scalars["grad_sum"],
            scalars["grad_square_sum"],
            call.grad_count,
        )

    fact = module_facts.get(id(call.module), {})
    for name in (
        "weight_std",
        "weight_target_std",
        "weight_grad_norm",
        "weight_grad_ratio",
    ):
        setattr(record, name, fact.get(name))
    symmetric_fraction = None
    if "symmetric_groups" in fact:
        groups = fact["symmetric_groups"]
        record.symmetric_groups = groups
        duplicates = sum(len(group) - 1 for group in groups)
        symmetric_fraction = duplicates / fact["units"] if fact["units"] else 0.0
        if groups and value.projection is not None:
            record.activations_identical = symmetry.outputs_identical(
                value.projection, groups
            )

    record.flags = layer_flags(
        thresholds=thresholds,
        reference_std=reference_std,
        output_std=record.output_std,
        nonfinite_fraction=record.nonfinite_fraction,
        symmetric_unit_fraction=symmetric_fraction,
        dead_fraction=record.dead_fraction,
        saturated_fraction=record.saturated_fraction,
    )
    record.verdict = choose_verdict(record.flags)
    return record
