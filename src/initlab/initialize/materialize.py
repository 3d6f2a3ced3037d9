"""``materialize``: allocate a model built on the ``meta`` device and initialize it once.

Building a large model eagerly allocates every parameter and fills it on
one core, and ``to_empty`` alone leaves uninitialized memory (a LayerNorm
weight is not 1 and BatchNorm's running variance is garbage). Here each
``meta`` parameter and buffer is allocated on the target device, and every
parameter is drawn once, by the rules or preset, on all cores.

Buffers have no rules: BatchNorm's running statistics are reset to their
defaults, and any other ``meta`` buffer needs its module's
``reset_parameters()``. A module that initlab does not know and that has a
``reset_parameters()`` method gets that method called, with torch's global
generator seeded from ``(seed, module name)`` inside a forked RNG state, so
its values are reproducible too (but not chunked or shard-invariant).
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn

from initlab.errors import ConfigError
from initlab.initialize.api import RulesArgument, model_tensors, plan_model, record_from
from initlab.initialize.execute import fill_parameters, measure, resolve_threads
from initlab.initialize.plan import Plan, check_seed, owned_parameters
from initlab.initialize.record import InitRecord, LeftAlone, ParameterRecord
from initlab.initialize.rules import describe_names
from initlab.schemes import Scheme


def _module_seed(seed: int, name: str) -> int:
    digest = hashlib.shake_256(f"{seed}/{name}".encode()).digest(8)
    return int.from_bytes(digest, "little") >> 1


def _meta_buffers(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    found = []
    for module_name, module in model.named_modules():
        for local_name, buffer in module._buffers.items():
            if buffer is not None and buffer.is_meta:
                qualified = f"{module_name}.{local_name}" if module_name else local_name
                found.append((qualified, module, local_name))
    return found


def _modules_to_reset(
    model: nn.Module, plan: Plan
) -> tuple[dict[str, nn.Module], list[str]]:
    """Return the modules whose own reset_parameters() must run, and what nothing can set."""
    planned = {parameter.name for parameter in plan.parameters}
    names = {id(module): name for name, module in model.named_modules()}
    to_reset: dict[str, nn.Module] = {}
    missing: list[str] = []
    for item in owned_parameters(model):
        if not item.parameter.is_meta or item.names[0] in planned:
            continue
        if callable(getattr(item.module, "reset_parameters", None)):
            to_reset[names[id(item.module)]] = item.module
        else:
            missing.append(
                f"parameter {item.names[0]!r} ({type(item.module).__name__})"
            )
    for qualified, module, _local in _meta_buffers(model):
        if isinstance(module, nn.modules.batchnorm._NormBase):
            continue
        if callable(getattr(module, "reset_parameters", None)):
            to_reset[names[id(module)]] = module
        else:
            missing.append(f"buffer {qualified!r} ({type(module).__name__})")
    return to_reset, missing


def _empty(meta: torch.Tensor, device: torch.device) -> torch.Tensor:
    # torch.empty_like from meta to another device runs PyTorch's Python
    # reference implementation, which imports sympy (3 s on a 2-core CPU).
    # empty_strided makes the same allocation, strides included, without it.
    return torch.empty_strided(
        meta.size(), meta.stride(), dtype=meta.dtype, device=device
    )


def _allocate(model: nn.Module, device: torch.device) -> None:
    """Replace meta tensors by uninitialized ones on ``device`` and move the rest there.

    Tied parameters and buffers stay tied.
    """
    replaced: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for name, parameter in list(module._parameters.items()):
            if parameter is None:
                continue
            if id(parameter) not in replaced:
                if parameter.is_meta:
                    data = _empty(parameter, device)
                else:
                    data = parameter.detach().to(device)
                replaced[id(parameter)] = nn.Parameter(
                    data, requires_grad=parameter.requires_grad
                )
            module._parameters[name] = replaced[id(parameter)]
        for name, buffer in list(module._buffers.items()):
            if buffer is None:
                continue
            if id(buffer) not in replaced:
                if buffer.is_meta:
                    replaced[id(buffer)] = _empty(buffer, device)
                else:
                    replaced[id(buffer)] = buffer.to(device)
            module._buffers[name] = replaced[id(buffer)]


def _reset_with_seed(
    name: str, module: nn.Module, seed: int, device: torch.device
) -> None:
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(_module_seed(seed, name))
        module.reset_parameters()


def _target_device(device: torch.device | str) -> torch.device:
    """Return ``device`` as a torch.device that can hold values.

    Raises:
        ConfigError: for a device name torch does not know, or ``meta``.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(
            f"invalid device {device!r}: {error}; use a device such as 'cpu' or 'cuda'"
        ) from None
    if parsed.type == "meta":
        raise ConfigError(
            "invalid device 'meta': meta tensors have no storage to fill; "
            "use 'cpu' or 'cuda'"
        )
    return parsed


def _reject_lazy_parameters(model: nn.Module) -> None:
    """Raise ConfigError if a lazy module has not inferred its parameters' shapes yet."""
    if not isinstance(model, nn.Module):
        return
    lazy = [
        name
        for name, parameter in model.named_parameters()
        if isinstance(parameter, nn.parameter.UninitializedParameter)
    ]
    if lazy:
        raise ConfigError(
            f"parameter {lazy[0]!r} belongs to a lazy module and has no shape yet; "
            "run one forward pass on a real device first, or build the layer with "
            "its input size (nn.Linear instead of nn.LazyLinear)"
        )


def materialize(
    model: nn.Module,
    device: torch.device | str = "cpu",
    *,
    rules: RulesArgument = None,
    preset: str | None = None,
    seed: int = 0,
    bias: str | Scheme | None = "zeros",
    fans: str = "layer",
    threads: int | None = None,
) -> InitRecord:
    """Allocate ``model``'s meta tensors on ``device`` and initialize each parameter once.

    Takes the keywords of :func:`~initlab.initialize.initialize`. With
    neither ``rules`` nor ``preset``, ``preset="torch"`` gives the
    statistics of eager construction. Tensors that are not on ``meta``
    keep their values and move to ``device``.

    Raises:
        ConfigError: for invalid options, or for a meta parameter or buffer
            that no rule, preset, BatchNorm default or ``reset_parameters()``
            of its module can set. It is raised before anything is allocated.
    """
    if rules is None and preset is None:
        preset = "torch"
    seed = check_seed(seed)
    device = _target_device(device)
    _reject_lazy_parameters(model)
    full_plan = plan_model(model, rules, preset=preset, bias=bias, fans=fans, seed=seed)
    to_reset, missing = _modules_to_reset(model, full_plan)
    if missing:
        raise ConfigError(
            "materialize cannot set "
            + ", ".join(missing)
            + ": add a rule for these parameters, give their module a reset_parameters() "
            "method, or build them on a real device; the model's parameters are: "
            + describe_names([n for n, _ in model.named_parameters()])
        )
    thread_count = resolve_threads(threads, device)
    was_meta = {
        item.names[0] for item in owned_parameters(model) if item.parameter.is_meta
    }

    # Running statistics that already hold values (a loaded BatchNorm) stay.
    statistics = [
        module
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._NormBase)
        and any(b is not None and b.is_meta for b in module._buffers.values())
    ]
    _allocate(model, device)
    for module in statistics:
        module.reset_running_stats()
    for name, module in to_reset.items():
        # NOTE: reset_parameters() may redraw the module's tensors that were
        # not on meta as well; initlab cannot tell what the method touches.
        _reset_with_seed(name, module, seed, device)

    planned = tuple(p for p in full_plan.parameters if p.name in was_meta)
    moved = tuple(
        LeftAlone(
            p.name, p.module, p.shape, f"not on meta: moved to {device} with its values"
        )
        for p in full_plan.parameters
        if p.name not in was_meta
    )
    plan = Plan(planned, full_plan.left_alone + moved, full_plan.rules, full_plan.fans)
    measured = fill_parameters(
        plan.parameters, model_tensors(model, plan), seed, thread_count
    )
    record = record_from(plan, measured, seed)
    return _with_reset_records(record, model, to_reset)


def _with_reset_records(
    record: InitRecord, model: nn.Module, to_reset: dict[str, nn.Module]
) -> InitRecord:
    """Move parameters set by a module's own reset_parameters() from left-alone to the record."""
    if not to_reset:
        return record
    named = dict(model.named_parameters())
    reset_names = {
        f"{prefix}.{local}" if prefix else local
        for prefix, module in to_reset.items()
        for local, _ in module.named_parameters(recurse=False)
    }
    rows = list(record.parameters)
    left = []
    for entry in record.left_alone:
        if entry.name not in reset_names:
            left.append(entry)
            continue
        rows.append(
            ParameterRecord(
                name=entry.name,
                module=entry.module,
                shape=entry.shape,
                scheme="reset_parameters()",
                rule="module's own reset_parameters(), seeded",
                fan_in=None,
                fan_out=None,
                blocks=1,
                note="",
                target_std=math.nan,
                measured_std=measure(named[entry.name].detach()).std,
            )
        )
    return InitRecord(tuple(rows), tuple(left), record.rules, record.fans, record.seed)
