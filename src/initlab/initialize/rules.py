"""Rules: which scheme each parameter of a model gets.

``rules`` takes one of three forms:

* one scheme (a name, a spec string such as ``"normal(std=0.02)"``, a
  :class:`~initlab.schemes.Scheme` or a :class:`Rule`) for the weight of
  every Linear, convolution, attention and recurrent layer;
* an ordered mapping whose keys are module types (``nn.Linear``), which
  match the non-bias parameters of modules of that type, or parameter-name
  patterns (``"encoder.*.weight"``, shell-style as in :mod:`fnmatch`),
  which match any parameter whose qualified name fits, biases included.
  The first key that matches a parameter wins;
* ``"auto"``: the scheme that suits the activation after each layer, see
  :mod:`initlab.initialize.auto`.

Whatever no rule covers keeps a default. Biases of initialized layers get
``bias`` (zeros unless set otherwise), normalization layers get weight 1
and bias 0, and embeddings get PyTorch's N(0, 1). Anything else is left
alone and listed in the record.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from initlab.errors import ConfigError, SchemeError
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

AUTO = "auto"

# How many parameter names an error message lists before it stops.
_NAMES_SHOWN = 40


@dataclass(frozen=True)
class Rule:
    """A scheme, with the axes that give a parameter's fans where its shape cannot.

    ``batch_axis`` marks a stack of independent matrices (mixture-of-experts
    weights of shape ``(experts, in, out)``, for example): each index along
    it is initialized as its own block, and the axis counts towards neither
    fan. ``in_axis`` and ``out_axis`` name the input and output axes as in
    ``jax.nn.initializers.variance_scaling``. With ``fans="tensor"`` the
    axes are ignored and PyTorch's tensor rule applies.
    """

    scheme: Scheme | str
    in_axis: int | tuple[int, ...] | None = None
    out_axis: int | tuple[int, ...] | None = None
    batch_axis: int | None = None

    def __post_init__(self) -> None:
        # A frozen dataclass: store the parsed scheme in place of the spec.
        object.__setattr__(self, "scheme", parse_scheme(self.scheme))
        if self.batch_axis is not None and (
            isinstance(self.batch_axis, bool) or not isinstance(self.batch_axis, int)
        ):
            raise ConfigError(
                f"batch_axis must be an integer axis, got batch_axis={self.batch_axis!r}"
            )

    @property
    def label(self) -> str:
        """The scheme's label, for tables."""
        return self.scheme.label


RuleValue = Scheme | str | Rule
RuleKey = type[nn.Module] | str


def as_rule(value: RuleValue, where: str) -> Rule:
    """Turn a scheme, spec string or Rule into a Rule.

    Raises:
        SchemeError: for an unknown scheme or invalid arguments, naming ``where``.
    """
    if isinstance(value, Rule):
        return value
    try:
        return Rule(value)
    except SchemeError as error:
        raise SchemeError(f"invalid rule for {where}: {error}") from None


def key_label(key: RuleKey) -> str:
    """Return how a rule key reads in tables and messages: a class name or a quoted pattern."""
    if isinstance(key, type):
        return key.__name__
    return repr(key)


@dataclass(frozen=True)
class RuleSet:
    """Parsed ``rules``: either one rule for every weight, an ordered mapping, or auto."""

    entries: tuple[tuple[RuleKey, Rule], ...] = ()
    default: Rule | None = None
    auto: bool = False

    @property
    def label(self) -> str:
        """A short description for the record."""
        if self.auto:
            return AUTO
        if self.default is not None:
            return self.default.label
        return ", ".join(
            f"{key_label(key)}: {rule.label}" for key, rule in self.entries
        )

    def match(
        self, names: Sequence[str], module: nn.Module, local_name: str, bias: bool
    ) -> tuple[RuleKey, Rule] | None:
        """Return the first (key, rule) that matches a parameter, or None."""
        for key, rule in self.entries:
            if isinstance(key, str):
                if any(fnmatch.fnmatchcase(name, key) for name in names):
                    return key, rule
            elif isinstance(module, key) and not bias:
                return key, rule
        return None


def parse_rules(rules: object) -> RuleSet:
    """Parse the ``rules`` argument of :func:`~initlab.initialize.initialize`.

    Raises:
        SchemeError: for an unknown scheme in any rule.
        ConfigError: for a key that is neither a module type nor a string,
            or a value of the wrong type.
    """
    if isinstance(rules, str) and rules.strip() == AUTO:
        return RuleSet(auto=True)
    if isinstance(rules, (str, Scheme, Rule)):
        return RuleSet(default=as_rule(rules, "every weight"))
    if isinstance(rules, Mapping):
        if not rules:
            raise ConfigError(
                "rules is an empty mapping: give at least one module type or "
                "parameter-name pattern, or a single scheme"
            )
        entries = []
        for key, value in rules.items():
            if isinstance(key, str):
                if not key:
                    raise ConfigError("a rule pattern must not be empty")
            elif not (isinstance(key, type) and issubclass(key, nn.Module)):
                raise ConfigError(
                    f"invalid rule key {key!r}: use a torch.nn.Module subclass such as "
                    "nn.Linear or a parameter-name pattern such as 'encoder.*.weight'"
                )
            entries.append((key, as_rule(value, key_label(key))))
        return RuleSet(entries=tuple(entries))
    raise ConfigError(
        f"invalid rules of type {type(rules).__name__}: use a scheme name or spec, "
        "a Scheme, a Rule, 'auto', or a mapping from module types and name patterns to schemes"
    )


def describe_names(names: Sequence[str]) -> str:
    """Return a model's parameter names for an error message, shortened if there are many."""
    if not names:
        return "(the model has no parameters)"
    shown = ", ".join(names[:_NAMES_SHOWN])
    if len(names) > _NAMES_SHOWN:
        shown += f", ... ({len(names)} in all)"
    return shown


def check_keys_match(
    rule_set: RuleSet, names: Sequence[str], module_types: Sequence[type[nn.Module]]
) -> None:
    """Raise if a pattern matches no parameter name or a type matches no module.

    Raises:
        ConfigError: naming the key and the model's parameter names (or
            module types), so a typo is caught before anything changes.
    """
    for key, _rule in rule_set.entries:
        if isinstance(key, str):
            if not any(fnmatch.fnmatchcase(name, key) for name in names):
                raise ConfigError(
                    f"rule pattern {key!r} matches no parameter of the model; its "
                    f"parameters are: {describe_names(names)}"
                )
        elif not any(issubclass(kind, key) for kind in module_types):
            present = sorted({kind.__name__ for kind in module_types})
            raise ConfigError(
                f"rule key {key.__name__} matches no module of the model; its module "
                f"types are: {', '.join(present)}; its parameters are: "
                f"{describe_names(names)}"
            )
