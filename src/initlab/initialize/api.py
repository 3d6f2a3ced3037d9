"""``initialize``: initialize every parameter of a PyTorch model and return a record of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from initlab.errors import ConfigError
from initlab.initialize.execute import fill_parameters, resolve_threads
from initlab.initialize.plan import Plan, build_plan, check_seed, validate_options
from initlab.initialize.record import InitRecord, ParameterRecord
from initlab.initialize.rules import Rule
from initlab.schemes import Scheme

RulesArgument = str | Scheme | Rule | Mapping[type[nn.Module] | str, Any] | None

# Names of the data-dependent initializers, for the error message when the
# module that implements them is missing.
_DATA_DEPENDENT_NAMES = ("lsuv", "pretrained")


def _is_data_dependent(rules: object) -> bool:
    if not isinstance(rules, str):
        return False
    try:
        from initlab import data_dependent
    except ImportError:
        name = rules.strip().split("(", 1)[0].strip()
        return name in _DATA_DEPENDENT_NAMES
    return data_dependent.is_data_dependent(rules)


def _split_data(data: object) -> tuple[Any, Any]:
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ConfigError(
                f"data must be x_train or a pair (x_train, y_train), got a sequence of {len(data)}"
            )
        return data[0], data[1]
    return data, None


def _apply_data_dependent(
    model: nn.Module, spec: str, data: object, seed: int
) -> dict[str, Any]:
    if data is None:
        raise ConfigError(
            f"rule {spec!r} is data-dependent: pass the training data as "
            "data=(x_train, y_train) or data=x_train"
        )
    try:
        from initlab import data_dependent
    except ImportError as error:
        raise ConfigError(
            f"rule {spec!r} needs initlab.data_dependent, which this installation lacks ({error})"
        ) from None
    x_train, y_train = _split_data(data)
    return data_dependent.apply(spec, model, x_train, y_train, seed=seed)


def record_from(plan: Plan, measured: list[float], seed: int) -> InitRecord:
    """Return the record of an executed plan."""
    rows = []
    for parameter, std in zip(plan.parameters, measured, strict=True):
        fans = parameter.blocks[0].fans if parameter.blocks else None
        rows.append(
            ParameterRecord(
                name=parameter.name,
                module=parameter.module,
                shape=parameter.shape,
                scheme=parameter.scheme,
                rule=parameter.rule,
                fan_in=None if fans is None else float(fans.fan_in),
                fan_out=None if fans is None else float(fans.fan_out),
                blocks=len(parameter.blocks),
                note=parameter.note,
                target_std=parameter.target_std,
                measured_std=std,
                aliases=parameter.aliases,
            )
        )
    return InitRecord(tuple(rows), plan.left_alone, plan.rules, plan.fans, seed)


def model_tensors(model: nn.Module, plan: Plan) -> list[torch.Tensor]:
    """Return the parameter tensors of ``model`` in plan order."""
    named = dict(model.named_parameters(remove_duplicate=False))
    return [named[parameter.name] for parameter in plan.parameters]


def plan_model(
    model: nn.Module,
    rules: RulesArgument = None,
    *,
    preset: str | None = None,
    bias: str | Scheme | None = "zeros",
    fans: str = "layer",
    seed: int = 0,
) -> Plan:
    """Build the plan that :func:`initialize` would execute, without changing the model."""
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"initialize needs a torch.nn.Module, got {type(model).__name__}"
        )
    names = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    rule_set, bias_scheme = validate_options(rules, preset, fans, bias, seed, names)
    return build_plan(
        model, rule_set=rule_set, preset=preset, bias=bias_scheme, fans=fans
    )


def initialize(
    model: nn.Module,
    rules: RulesArgument = None,
    *,
    preset: str | None = None,
    seed: int = 0,
    bias: str | Scheme | None = "zeros",
    fans: str = "layer",
    data: object = None,
    threads: int | None = None,
) -> InitRecord | dict[str, Any]:
    """Initialize every parameter of ``model`` in place and return the record.

    Args:
        model: any ``torch.nn.Module``, on any device.
        rules: one scheme for every weight, an ordered mapping from module
            types and parameter-name patterns to schemes (first match wins),
            or ``"auto"``; see :mod:`initlab.initialize.rules`. A
            data-dependent name (``"lsuv"``, ``"pretrained"``) runs that
            initializer on ``data`` instead.
        preset: ``"torch"``, ``"keras"`` or ``"flax"``: that framework's
            defaults, with its own fan rule (``fans`` does not apply).
            Exactly one of ``rules`` and ``preset`` must be given.
        seed: a non-negative integer. A parameter's values depend only on
            the seed, its name and its scheme, never on the order of
            modules, the subset initialized or the thread count.
        bias: the scheme for biases of layers whose weights a rule set,
            ``"zeros"`` by default; None leaves them alone.
        fans: ``"layer"`` reads fans from the module (groups, transposed
            convs, packed attention, gates, expert stacks);
            ``"tensor"`` uses PyTorch's tensor rule exactly.
        data: training data for a data-dependent rule, ``(x_train,
            y_train)`` or ``x_train``.
        threads: worker threads for the draws on a CPU, by default
            ``torch.get_num_threads()``. The values do not depend on it.

    Returns:
        An :class:`~initlab.initialize.record.InitRecord`: each parameter's
        scheme, rule, fans, target std and measured std, and the parameters
        left alone with the reason. For a data-dependent rule, that
        initializer's own record (a dict).

    Raises:
        ConfigError: for invalid options, a rule key that matches no
            parameter (naming it and the model's parameter names), or a
            data-dependent rule without data.
        SchemeError, ShapeError: for a scheme that cannot initialize a
            parameter, naming the parameter and the model's parameters.

    Every error is raised before any parameter changes.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"initialize needs a torch.nn.Module, got {type(model).__name__}"
        )
    seed = check_seed(seed)
    on_meta = [
        name for name, parameter in model.named_parameters() if parameter.is_meta
    ]
    if on_meta:
        raise ConfigError(
            f"parameter {on_meta[0]!r} is on the meta device and has no storage to fill; "
            "use initlab.materialize(model, device, ...) to allocate and initialize it"
        )
    if _is_data_dependent(rules):
        if preset is not None:
            raise ConfigError("pass exactly one of rules and preset")
        return _apply_data_dependent(model, rules, data, seed)
    if data is not None:
        raise ConfigError(
            "data= is used only by the data-dependent rules (lsuv, pretrained); "
            f"rules={rules!r} draws from fans alone"
        )
    plan = plan_model(model, rules, preset=preset, bias=bias, fans=fans, seed=seed)
    tensors = model_tensors(model, plan)
    device = tensors[0].device if tensors else torch.device("cpu")
    measured = fill_parameters(
        plan.parameters, tensors, seed, resolve_threads(threads, device)
    )
    return record_from(plan, measured, seed)
