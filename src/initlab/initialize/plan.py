"""The plan: every parameter's blocks and distributions, built and checked before anything is written.

Building the plan reads shapes only (so it works on ``meta`` models),
raises every error about rules, shapes and schemes, and leaves the model
untouched. Executing it (see :mod:`initlab.initialize.execute`) only draws.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from initlab import distributions as dist
from initlab import schemes as s
from initlab.errors import ConfigError, SchemeError, ShapeError
from initlab.fans import Fans
from initlab.initialize.assignment import Assignment, assign, with_fans
from initlab.initialize.auto import AUTO_LAYER_TYPES, NONE, find_activations
from initlab.initialize.layer_fans import (
    EMBEDDING_TYPES,
    FAN_MODES,
    NORM_TYPES,
    RECURRENT_TYPES,
    WEIGHT_LAYER_TYPES,
    Geometry,
    is_bias,
    layer_geometry,
    tensor_geometry,
)
from initlab.initialize.presets import PRESETS, preset_assignments
from initlab.initialize.record import LeftAlone
from initlab.initialize.rules import (
    Rule,
    RuleSet,
    check_keys_match,
    describe_names,
    key_label,
    parse_rules,
)
from initlab.initialize.streams import Region
from initlab.registry import parse_scheme

# Primitives drawn value by value, so they can be drawn in chunks.
ELEMENTWISE = (dist.Constant, dist.Normal, dist.Uniform, dist.TruncatedNormal)
_RANDOM = (
    dist.Normal,
    dist.Uniform,
    dist.TruncatedNormal,
    dist.Orthogonal,
    dist.Sparse,
)

_EMBEDDING_DEFAULT = s.Normal(0.0, 1.0)


@dataclass(frozen=True)
class BlockPlan:
    """One block of a parameter with the distribution it is drawn from."""

    index: int
    region: Region
    shape: tuple[int, ...]
    drop_axis: int | None
    layout: str
    fans: Fans
    distribution: dist.Distribution

    @property
    def elementwise(self) -> bool:
        """Whether the block can be drawn chunk by chunk."""
        return isinstance(self.distribution, ELEMENTWISE)


@dataclass(frozen=True)
class ParameterPlan:
    """Everything needed to initialize one parameter, and to report it."""

    name: str
    aliases: tuple[str, ...]
    module: str
    shape: tuple[int, ...]
    scheme: str
    rule: str
    note: str
    blocks: tuple[BlockPlan, ...]
    zero_rows: tuple[int, ...]
    target_std: float


@dataclass(frozen=True)
class Plan:
    """The plan for a whole model."""

    parameters: tuple[ParameterPlan, ...]
    left_alone: tuple[LeftAlone, ...]
    rules: str
    fans: str


@dataclass(frozen=True)
class _Owned:
    """A parameter with its owning module, own name, every qualified name and ancestors."""

    module_name: str
    module: nn.Module
    local_name: str
    parameter: torch.Tensor
    names: tuple[str, ...]
    ancestors: tuple[nn.Module, ...]


def _walk(
    module: nn.Module, prefix: str, ancestors: tuple[nn.Module, ...], seen: set[int]
) -> Iterator[tuple[str, nn.Module, tuple[nn.Module, ...]]]:
    # Pre-order with each module once, the order of named_modules().
    if id(module) in seen:
        return
    seen.add(id(module))
    yield prefix, module, ancestors
    for child_name, child in module.named_children():
        child_prefix = f"{prefix}.{child_name}" if prefix else child_name
        yield from _walk(child, child_prefix, (*ancestors, module), seen)


def owned_parameters(model: nn.Module) -> list[_Owned]:
    """Return each distinct parameter once, with its first owner and all its names.

    A tied parameter (one tensor registered under several names) appears
    under its first name in ``named_parameters`` order, with the other
    names as aliases.
    """
    names_by_id: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names_by_id.setdefault(id(parameter), []).append(name)
    owned: list[_Owned] = []
    visited: set[int] = set()
    for module_name, module, ancestors in _walk(model, "", (), set()):
        for local_name, parameter in module._parameters.items():
            if parameter is None or id(parameter) in visited:
                continue
            visited.add(id(parameter))
            owned.append(
                _Owned(
                    module_name,
                    module,
                    local_name,
                    parameter,
                    tuple(names_by_id[id(parameter)]),
                    ancestors,
                )
            )
    return owned


def _all_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters(remove_duplicate=False)]


def _weight_geometry(
    module: nn.Module, owned: Sequence[_Owned], mode: str
) -> Geometry | None:
    """Return the geometry of the module's main weight, which its biases borrow fans from."""
    for item in owned:
        if not is_bias(item.local_name):
            shape = tuple(item.parameter.shape)
            if mode == "tensor":
                return tensor_geometry(shape)
            return layer_geometry(module, item.local_name, shape)
    return None


def _geometry(item: _Owned, mode: str, rule: Rule | None) -> Geometry:
    shape = tuple(item.parameter.shape)
    if mode == "tensor":
        return tensor_geometry(shape)
    if rule is None:
        return layer_geometry(item.module, item.local_name, shape)
    return layer_geometry(
        item.module,
        item.local_name,
        shape,
        in_axis=rule.in_axis,
        out_axis=rule.out_axis,
        batch_axis=rule.batch_axis,
    )


def _bias_geometry(item: _Owned, mode: str, weight: Geometry | None) -> Geometry:
    """Return a bias's blocks (gate by gate in a recurrent layer) with its weight's fans."""
    shape = tuple(item.parameter.shape)
    if mode == "layer" and isinstance(item.module, RECURRENT_TYPES):
        geometry = layer_geometry(item.module, item.local_name, shape)
    else:
        geometry = tensor_geometry(shape)
    return geometry if weight is None else with_fans(geometry, weight.fans)


def _auto_weight(item: _Owned, activations: dict, mode: str) -> Assignment:
    geometry = _geometry(item, mode, None)
    module = item.module
    if isinstance(module, AUTO_LAYER_TYPES):
        activation = activations.get(item.module_name, NONE)
        rule = f"auto: {activation.name} ({activation.found_by})"
        return assign(activation.scheme(), geometry, rule)
    if isinstance(module, RECURRENT_TYPES):
        if item.local_name.startswith("weight_hh"):
            return assign(s.Orthogonal(1.0), geometry, "auto: recurrent weights")
        if item.local_name.startswith("weight_ih"):
            return assign(s.glorot_normal(), geometry, "auto: sigmoid and tanh gates")
    return assign(s.lecun_normal(), geometry, "auto: no activation")


def _rules_for_module(
    module: nn.Module,
    owned: Sequence[_Owned],
    rule_set: RuleSet,
    mode: str,
    bias: s.Scheme | None,
    activations: dict,
) -> dict[int, Assignment | str]:
    """Return an Assignment, or the reason it is left alone, for each of a module's parameters."""
    out: dict[int, Assignment | str] = {}
    weight_geometry = _weight_geometry(module, owned, mode)
    any_weight_set = False
    for position, item in enumerate(owned):
        if is_bias(item.local_name):
            continue
        matched = rule_set.match(item.names, module, item.local_name, bias=False)
        if matched is not None:
            key, rule = matched
            geometry = _geometry(item, mode, rule)
            kind = "pattern" if isinstance(key, str) else "type"
            out[position] = assign(rule.scheme, geometry, f"{kind} {key_label(key)}")
        elif rule_set.default is not None and isinstance(module, WEIGHT_LAYER_TYPES):
            rule = rule_set.default
            out[position] = assign(
                rule.scheme, _geometry(item, mode, rule), "all weights"
            )
        elif rule_set.auto and isinstance(module, WEIGHT_LAYER_TYPES):
            out[position] = _auto_weight(item, activations, mode)
        elif isinstance(module, NORM_TYPES):
            out[position] = assign(
                s.ONES, _geometry(item, mode, None), "normalization default"
            )
        elif isinstance(module, EMBEDDING_TYPES):
            out[position] = assign(
                _EMBEDDING_DEFAULT,
                _geometry(item, mode, None),
                "embedding default (PyTorch's N(0, 1))",
            )
            continue
        elif isinstance(module, WEIGHT_LAYER_TYPES):
            out[position] = "no rule matches it"
            continue
        else:
            out[position] = (
                f"initlab has no default for {type(module).__name__}; "
                "add a rule (type or name pattern) for it"
            )
            continue
        any_weight_set = True

    for position, item in enumerate(owned):
        if not is_bias(item.local_name):
            continue
        matched = rule_set.match(item.names, module, item.local_name, bias=True)
        geometry = _bias_geometry(item, mode, weight_geometry)
        if matched is not None:
            key, rule = matched
            out[position] = assign(rule.scheme, geometry, f"pattern {key_label(key)}")
        elif isinstance(module, NORM_TYPES):
            out[position] = assign(s.ZEROS, geometry, "normalization default")
        elif any_weight_set and bias is not None:
            out[position] = assign(bias, geometry, "bias")
        elif any_weight_set:
            out[position] = "bias=None leaves biases alone"
        else:
            out[position] = "its layer's weights are left alone"

    padding = getattr(module, "padding_idx", None)
    if isinstance(module, EMBEDDING_TYPES) and padding is not None:
        # PyTorch keeps the padding row at zero whatever the rule drew.
        for position, item in enumerate(owned):
            decision = out[position]
            if item.local_name == "weight" and isinstance(decision, Assignment):
                out[position] = replace(decision, zero_rows=(int(padding),))
    return out


def _preset_for_module(
    preset: str, module: nn.Module, owned: Sequence[_Owned]
) -> dict[int, Assignment | str]:
    try:
        table = preset_assignments(preset, module, owned[0].ancestors)
    except KeyError as missing:
        # weight_norm and torch.nn.utils.parametrize replace a layer's weight
        # by the tensors it is computed from, which no preset defines.
        reason = (
            f"preset {preset!r} leaves {type(module).__name__} alone: it has no "
            f"parameter {missing}, as after weight_norm or a parametrization"
        )
        return {position: reason for position in range(len(owned))}
    if table is None:
        reason = f"preset {preset!r} has no default for {type(module).__name__}"
        return {position: reason for position in range(len(owned))}
    return {
        position: table.get(item.local_name, f"preset {preset!r} does not set it")
        for position, item in enumerate(owned)
    }


def resolve_blocks(assignment: Assignment, what: str) -> tuple[BlockPlan, ...]:
    """Resolve each block's scheme for its fans and shape.

    Raises:
        SchemeError, ShapeError: for a scheme that cannot fill a block,
            with ``what`` (the parameter) in the message.
    """
    blocks = []
    for index, block in enumerate(assignment.geometry.blocks):
        scheme = assignment.scheme_for(index)
        try:
            distribution = scheme.resolve(block.fans, block.shape, block.layout)
        except (ShapeError, SchemeError) as error:
            raise type(error)(
                f"cannot initialize {what} with {scheme.label}: {error}"
            ) from None
        blocks.append(
            BlockPlan(
                index,
                block.region,
                block.shape,
                block.drop_axis,
                block.layout,
                block.fans,
                distribution,
            )
        )
    return tuple(blocks)


# PyTorch's random kernels exist for these; float8 types, for one, have no
# normal_ on a CPU.
_RANDOM_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _resolve(item: _Owned, assignment: Assignment) -> tuple[BlockPlan, ...]:
    what = (
        f"{item.names[0]!r} (shape {tuple(item.parameter.shape)}, "
        f"{type(item.module).__name__})"
    )
    blocks = resolve_blocks(assignment, what)
    parameter = item.parameter
    if any(
        stride == 0 and size > 1
        for stride, size in zip(parameter.stride(), parameter.shape, strict=True)
    ):
        raise ConfigError(
            f"{item.names[0]!r} has elements that share memory (a stride of 0, as "
            "from expand()), so no scheme can give them different values; make it "
            "a parameter of its own with .clone() or .contiguous()"
        )
    random = any(isinstance(block.distribution, _RANDOM) for block in blocks)
    if random and item.parameter.dtype not in _RANDOM_DTYPES:
        raise ConfigError(
            f"{assignment.label} draws random values but {item.names[0]!r} has dtype "
            f"{item.parameter.dtype}; random draws support float16, bfloat16, float32 "
            "and float64, so give it a constant rule, or initialize in float32 and "
            "convert afterwards"
        )
    _reject_overflow(item, blocks)
    return blocks


def _reject_overflow(item: _Owned, blocks: Sequence[BlockPlan]) -> None:
    """Raise ConfigError for a uniform or normal whose values would overflow the parameter's dtype."""
    dtype = item.parameter.dtype
    if dtype not in _RANDOM_DTYPES:
        return
    largest = torch.finfo(dtype).max
    for block in blocks:
        d = block.distribution
        if isinstance(d, dist.Uniform):
            reach = max(abs(d.low), abs(d.high), d.high - d.low)
        elif isinstance(d, dist.Normal):
            # Normal draws beyond 10 std have probability below 1e-22.
            reach = abs(d.mean) + 10 * d.std
        else:
            continue
        if not reach < largest:
            raise ConfigError(
                f"{item.names[0]!r} would get values of about {reach:.3g}, beyond the "
                f"largest {dtype} ({largest:.3g}); use a smaller scale or a wider dtype"
            )


def combined_std(blocks: Sequence[BlockPlan]) -> float:
    """Return the std of all values of the blocks together (NaN if any block's std is unknown)."""
    moments = [
        (
            math.prod(block.shape),
            block.distribution.value_mean(),
            block.distribution.value_std(),
        )
        for block in blocks
    ]
    total = sum(count for count, _, _ in moments)
    if total == 0:
        return math.nan
    # Work in units of the largest magnitude, so that a std near 1e200 does
    # not overflow when squared.
    scale = max((abs(mean) + std for _, mean, std in moments), default=0.0)
    if not scale > 0 or math.isinf(scale):
        scale = 1.0
    first = second = 0.0
    for count, mean, std in moments:
        first += count * (mean / scale)
        second += count * ((std / scale) ** 2 + (mean / scale) ** 2)
    mean = first / total
    return scale * math.sqrt(max(0.0, second / total - mean**2))


# Stream keys pack the seed as a signed 64-bit integer.
SEED_LIMIT = 2**63


def as_integer(value: object) -> int | None:
    """Return ``value`` as an int if it is an integer (NumPy's too), else None.

    bool is an int subclass, but True as a size, bound or seed is a bug.
    """
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_seed(seed: object) -> int:
    """Return ``seed`` as an int, accepting any integer type (NumPy's included).

    Raises:
        ConfigError: for a bool, a non-integer, or a seed outside ``[0, 2**63)``.
    """
    value = as_integer(seed)
    if value is None or not 0 <= value < SEED_LIMIT:
        raise ConfigError(
            f"seed must be a non-negative integer below 2**63, got seed={seed!r}"
        )
    return value


def validate_options(
    rules: object,
    preset: str | None,
    fans: str,
    bias: object,
    seed: object,
    parameter_names: Sequence[str] = (),
) -> tuple[RuleSet | None, s.Scheme | None]:
    """Check the keyword arguments shared by initialize, materialize and the shard function.

    Raises:
        ConfigError: for both or neither of rules and preset, an unknown
            preset or fan mode, ``fans`` or ``bias`` other than the defaults
            with a preset, or a seed that is not a non-negative integer.
        SchemeError: for an unknown scheme in the rules or ``bias``.
    """
    check_seed(seed)
    if fans not in FAN_MODES:
        raise ConfigError(f"invalid fans={fans!r}: use 'layer' or 'tensor'")
    if (rules is None) == (preset is None):
        raise ConfigError(
            "pass exactly one of rules and preset: rules='he_normal', rules='auto', "
            "a mapping of rules, or preset='torch', 'keras' or 'flax'"
        )
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(
                f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}"
            )
        _reject_options_a_preset_fixes(preset, fans, bias)
        return None, None
    try:
        return parse_rules(rules), None if bias is None else parse_scheme(bias)
    except (SchemeError, ConfigError) as error:
        # Name the model's parameters, so the rule can be fixed from the
        # message alone.
        raise type(error)(
            f"{error}; the model's parameters are: {describe_names(parameter_names)}"
        ) from None


def _reject_options_a_preset_fixes(preset: str, fans: str, bias: object) -> None:
    """Raise if ``fans`` or ``bias`` requests something other than what the preset defines.

    A preset reproduces its framework's fan rule and bias initialization, so
    a different request would be silently ignored.
    """
    if fans != "layer":
        raise ConfigError(
            f"fans={fans!r} applies to rules only: preset={preset!r} uses its framework's "
            "own fan rule; drop fans, or pass rules instead of the preset"
        )
    if not (isinstance(bias, str) and bias == "zeros"):
        raise ConfigError(
            f"bias={bias!r} applies to rules only: preset={preset!r} initializes biases "
            "as its framework does; drop bias, or pass rules instead of the preset"
        )


def build_plan(
    model: nn.Module,
    *,
    rule_set: RuleSet | None,
    preset: str | None,
    bias: s.Scheme | None,
    fans: str,
) -> Plan:
    """Build and check the plan for ``model``; the model is not changed.

    Raises:
        ConfigError: for a rule key that matches nothing, naming it and the
            model's parameters, or a random scheme on a non-float parameter.
        SchemeError, ShapeError: for a scheme that cannot initialize a
            parameter, naming the parameter.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"initialize needs a torch.nn.Module, got {type(model).__name__}"
        )
    owned = owned_parameters(model)
    if rule_set is not None:
        check_keys_match(
            rule_set, _all_names(model), [type(m) for m in model.modules()]
        )
    activations = (
        find_activations(model) if rule_set is not None and rule_set.auto else {}
    )

    by_module: dict[int, list[_Owned]] = {}
    for item in owned:
        by_module.setdefault(id(item.module), []).append(item)

    parameters: list[ParameterPlan] = []
    left_alone: list[LeftAlone] = []
    for all_items in by_module.values():
        module = all_items[0].module
        items = []
        for item in all_items:
            # A lazy module's parameters have no shape until its first forward.
            if isinstance(item.parameter, nn.parameter.UninitializedParameter):
                reason = "an uninitialized lazy parameter: run one forward pass first"
                left_alone.append(
                    LeftAlone(item.names[0], type(module).__name__, (), reason)
                )
            else:
                items.append(item)
        if not items:
            continue
        if preset is not None:
            decisions = _preset_for_module(preset, module, items)
        else:
            decisions = _rules_for_module(
                module, items, rule_set, fans, bias, activations
            )
        for position, item in enumerate(items):
            decision = decisions[position]
            shape = tuple(item.parameter.shape)
            kind = type(module).__name__
            if isinstance(decision, Assignment) and math.prod(shape) == 0:
                decision = "it has zero elements"
            if isinstance(decision, str):
                left_alone.append(LeftAlone(item.names[0], kind, shape, decision))
                continue
            blocks = _resolve(item, decision)
            parameters.append(
                ParameterPlan(
                    item.names[0],
                    item.names[1:],
                    kind,
                    shape,
                    decision.label,
                    decision.rule,
                    decision.geometry.note,
                    blocks,
                    decision.zero_rows,
                    combined_std(blocks),
                )
            )
    order = {name: i for i, name in enumerate(p.names[0] for p in owned)}
    parameters.sort(key=lambda p: order[p.name])
    left_alone.sort(key=lambda p: order[p.name])
    label = f"preset {preset}" if preset is not None else rule_set.label
    return Plan(tuple(parameters), tuple(left_alone), label, fans)


__all__ = ["BlockPlan", "ParameterPlan", "Plan", "build_plan", "resolve_blocks"]
