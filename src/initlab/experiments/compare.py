"""Compare initialization schemes by training every (init, seed) replica on real data.

:func:`run_compare` turns a :class:`CompareConfig` into plain data, the
content of ``results.json``:

1. validate the config, parse the model spec and every init, load the data;
2. stack one replica per (init, seed), plus, for zero and constant inits, a
   second replica per seed that trains with the other dropout setting;
3. initialize each replica: schemes sample every weight from a generator
   seeded by (init, seed) and set biases to 0; data-dependent inits run once
   per seed on the training split and their weights are copied in;
4. record activation statistics and the probe at init on a training batch;
5. train all replicas together (:func:`initlab.training.train_replicas`),
   measuring both splits after every epoch;
6. count the distinct neurons of each hidden layer of the zero and constant
   replicas, and summarise every init over its seeds.

Replicas that share a seed share their data order stream, so inits are
compared on the same minibatches. Everything random derives from
``config.seed``, so the same config gives the same results apart from the
``timing`` section.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from initlab.errors import ConfigError, ModelSpecError, SchemeError
from initlab.models import (
    CNNSpec,
    MLPSpec,
    ModelSpec,
    build_model,
    linear_layers,
    parse_model_spec,
)
from initlab.registry import parse_scheme
from initlab.schemes import Constant, Scheme
from initlab.training import (
    METRICS,
    OPTIMIZERS,
    Splits,
    StackedNetwork,
    TrainingSettings,
    count_distinct_neurons,
    derive_seed,
    hidden_statistics,
    initialize_replica,
    stream_generator,
    train_replicas,
)
from initlab.training.symmetry import DEFAULT_TOLERANCE

logger = logging.getLogger("initlab.experiments.compare")

DEFAULT_INITS: tuple[str, ...] = (
    "zeros",
    "constant(0.02)",
    "normal(std=0.01)",
    "normal(std=1.0)",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
)

# Data-dependent inits that initlab.data_dependent provides. They are named
# here so that an installation without that module can explain the error.
DATA_DEPENDENT_NAMES = ("lsuv", "pretrained")

# The threshold of ``epochs_to_90pct``, as a fraction of the best mean test
# accuracy over all inits.
TARGET_FRACTION = 0.9

Progress = Callable[[str, int, int], None]

# The command-line flag of each config field, so that errors name the
# option as the user typed it.
FLAGS = {
    "data": "--data",
    "model": "--model",
    "inits": "--inits",
    "seeds": "--seeds",
    "seed": "--seed",
    "epochs": "--epochs",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "batch": "--batch",
    "test_fraction": "--test-fraction",
    "symmetry_dropout": "--symmetry-dropout",
    "probe_batch": "--probe-batch",
}


def _invalid(field: str, value: Any, fix: str) -> ConfigError:
    return ConfigError(f"invalid {FLAGS[field]} {value!r}: {fix}")


@dataclass(frozen=True)
class CompareConfig:
    """Everything that decides a comparison's results.

    ``seeds`` is the number of seeds per init, ``seed`` the first of them
    (seeds ``seed, seed + 1, ...``) and the seed of the train/test split.
    ``symmetry_dropout`` is the dropout rate of the extra zero and constant
    replicas when the model itself has no dropout. ``probe_batch`` is the
    number of training samples the statistics at init are measured on.
    """

    data: str = "digits"
    model: str = "mlp:5x50:tanh"
    inits: tuple[str, ...] = DEFAULT_INITS
    seeds: int = 5
    seed: int = 0
    epochs: int = 30
    optimizer: str = "sgd"
    lr: float = 0.05
    batch: int = 32
    test_fraction: float = 0.2
    symmetry_dropout: float = 0.2
    probe_batch: int = 256

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str) -> CompareConfig:
        """Build a config from plain data such as a parsed TOML file.

        Missing keys keep their defaults. ``inits`` may be a list of specs or
        one comma-separated string. Raises ConfigError for an unknown key or
        a value of the wrong type, naming ``source``.
        """
        known = {field.name: field for field in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key not in known:
                raise ConfigError(
                    f"unknown option {key!r} in {source}: valid options are "
                    f"{', '.join(known)}"
                )
            values[key] = _coerce(key, value, source)
        return cls(**values)

    def validate(self) -> None:
        """Raise ConfigError for the first invalid option, naming its fix."""
        if not self.data.strip():
            raise _invalid("data", self.data, "name a data set such as digits")
        if not self.inits:
            raise _invalid("inits", "", "list at least one init, such as he_normal")
        repeated = sorted({name for name in self.inits if self.inits.count(name) > 1})
        if repeated:
            raise _invalid(
                "inits", ",".join(self.inits), f"list each init once ({repeated[0]})"
            )
        for name in ("seeds", "epochs", "batch", "probe_batch"):
            value = getattr(self, name)
            if value < 1:
                raise _invalid(name, value, "use a positive integer")
        if self.seed < 0:
            raise _invalid("seed", self.seed, "use a non-negative integer such as 0")
        if self.optimizer not in OPTIMIZERS:
            raise _invalid(
                "optimizer", self.optimizer, f"use one of {', '.join(OPTIMIZERS)}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise _invalid("lr", self.lr, "use a positive learning rate such as 0.05")
        if not 0 < self.test_fraction < 1:
            raise _invalid(
                "test_fraction", self.test_fraction, "use a fraction such as 0.2"
            )
        if not 0 < self.symmetry_dropout < 1:
            raise _invalid(
                "symmetry_dropout",
                self.symmetry_dropout,
                "use a dropout rate above 0 and below 1, such as 0.2",
            )

    @property
    def seed_values(self) -> list[int]:
        """The seeds of the replicas: ``seed``, ``seed + 1``, ..."""
        return [self.seed + index for index in range(self.seeds)]

    def to_dict(self) -> dict[str, Any]:
        """Return the config as JSON-ready plain data."""
        values = asdict(self)
        values["inits"] = list(self.inits)
        return values


def _coerce(key: str, value: Any, source: str) -> Any:
    where = f"{key} in {source}"
    default = CompareConfig.__dataclass_fields__[key].default
    if key == "inits":
        if isinstance(value, str):
            return split_inits(value)
        if isinstance(value, list | tuple) and all(isinstance(i, str) for i in value):
            return tuple(item.strip() for item in value)
        raise ConfigError(
            f"invalid {where}: expected a list of init specs such as "
            f'["zeros", "he_normal"], got {value!r}'
        )
    if isinstance(default, bool) or isinstance(value, bool):
        raise ConfigError(f"invalid {where}: expected a number, got {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise ConfigError(f"invalid {where}: expected an integer, got {value!r}")
    if isinstance(default, float) and not isinstance(value, int | float):
        raise ConfigError(f"invalid {where}: expected a number, got {value!r}")
    if isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"invalid {where}: expected a string, got {value!r}")
    return float(value) if isinstance(default, float) else value


def split_inits(text: str) -> tuple[str, ...]:
    """Split a comma-separated list of init specs, keeping commas inside calls.

    ``"zeros,normal(mean=0, std=0.1),he_normal"`` gives three specs.
    """
    specs: list[str] = []
    depth = 0
    current: list[str] = []
    for character in text:
        if character == "," and depth == 0:
            specs.append("".join(current).strip())
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(character, 0)
        current.append(character)
    specs.append("".join(current).strip())
    return tuple(spec for spec in specs if spec)


# Preparing a run: everything that can fail on user input, before training.


@dataclass(frozen=True)
class InitChoice:
    """One init of the comparison: a scheme, or a data-dependent initializer."""

    name: str
    scheme: Scheme | None

    @property
    def data_dependent(self) -> bool:
        """True for initializers that look at the training data (lsuv, pretrained)."""
        return self.scheme is None

    @property
    def breaks_symmetry(self) -> bool:
        """False for zero and constant schemes, whose units start identical."""
        return not isinstance(self.scheme, Constant)


def _data_dependent_module():
    try:
        return importlib.import_module("initlab.data_dependent")
    except ModuleNotFoundError as error:
        if error.name != "initlab.data_dependent":
            raise
        return None


def resolve_init(name: str) -> InitChoice:
    """Parse one ``--inits`` entry into a scheme or a data-dependent init.

    Raises:
        ConfigError: for an unknown or invalid spec, naming it and the fix.
    """
    module = _data_dependent_module()
    if module is not None and module.is_data_dependent(name):
        module.parse_spec(name)  # raises ConfigError for invalid options
        return InitChoice(name, None)
    try:
        return InitChoice(name, parse_scheme(name))
    except SchemeError as error:
        base = name.split("(", 1)[0].strip()
        if module is None and base in DATA_DEPENDENT_NAMES:
            raise ConfigError(
                f"invalid --inits entry {name!r}: {base} is a data-dependent init "
                "and this installation has no initlab.data_dependent module; "
                "remove it or upgrade initlab"
            ) from None
        raise ConfigError(f"invalid --inits entry {name!r}: {error}") from None


@dataclass(frozen=True)
class Replica:
    """One trained copy: which init and seed, and its dropout rate."""

    init: int
    seed: int
    dropout: float
    symmetry_variant: bool


@dataclass
class Plan:
    """A validated comparison, ready to train."""

    config: CompareConfig
    spec: ModelSpec
    network_spec: ModelSpec
    dataset: Any
    choices: list[InitChoice]
    settings: TrainingSettings
    replicas: list[Replica]
    main_dropout: float
    variant_dropout: float


def prepare(config: CompareConfig) -> Plan:
    """Validate ``config``, parse the model and inits and load the data.

    Every error a user can cause is raised here, before any training.
    """
    from initlab.data import load

    config.validate()
    try:
        spec = parse_model_spec(config.model)
    except ModelSpecError as error:
        raise ConfigError(f"invalid --model {config.model!r}: {error}") from None
    if not isinstance(spec, MLPSpec | CNNSpec):
        raise _invalid("model", config.model, "use an mlp or cnn spec")
    choices = [resolve_init(name) for name in config.inits]
    settings = TrainingSettings(
        epochs=config.epochs,
        batch_size=config.batch,
        lr=config.lr,
        optimizer=config.optimizer,
    )
    dataset = load(config.data, seed=config.seed, test_fraction=config.test_fraction)
    if isinstance(spec, CNNSpec):
        dataset = dataset.as_images()

    main_dropout = spec.dropout
    variant_dropout = 0.0 if spec.dropout > 0 else config.symmetry_dropout
    replicas = [
        Replica(index, seed, main_dropout, False)
        for index in range(len(choices))
        for seed in config.seed_values
    ]
    replicas += [
        Replica(index, seed, variant_dropout, True)
        for index, choice in enumerate(choices)
        if not choice.breaks_symmetry
        for seed in config.seed_values
    ]
    network_spec = replace(spec, dropout=max(main_dropout, variant_dropout))
    if not any(replica.dropout > 0 for replica in replicas):
        network_spec = replace(spec, dropout=0.0)
    # Building the stack checks the spec against the data before training.
    StackedNetwork(network_spec, dataset.input_shape, dataset.num_classes, 1)
    return Plan(
        config,
        spec,
        network_spec,
        dataset,
        choices,
        settings,
        replicas,
        main_dropout,
        variant_dropout,
    )


# Running.


def _standalone(plan: Plan, seed: int, label: str) -> nn.Module:
    # build_model draws torch's default init from the global generator.
    # Forking it with a derived seed keeps the run reproducible and leaves
    # the caller's random state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "standalone", label))
        return build_model(
            plan.spec, plan.dataset.input_shape, plan.dataset.num_classes
        )


def _initialize(
    plan: Plan, network: StackedNetwork, splits: Splits, progress: Progress | None
) -> tuple[dict[tuple[int, int], dict[str, Any]], dict[tuple[int, int], float]]:
    records: dict[tuple[int, int], dict[str, Any]] = {}
    seconds: dict[tuple[int, int], float] = {}
    module = _data_dependent_module()
    for done, (index, choice) in enumerate(enumerate(plan.choices), start=1):
        rows = [
            (row, replica)
            for row, replica in enumerate(plan.replicas)
            if replica.init == index
        ]
        if choice.data_dependent:
            for seed in plan.config.seed_values:
                model = _standalone(plan, seed, choice.name)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(derive_seed(seed, "data_dependent", choice.name))
                    record = module.apply(
                        choice.name, model, splits.x_train, splits.y_train, seed=seed
                    )
                seconds[(index, seed)] = float(record.pop("seconds"))
                records[(index, seed)] = record
                for row, replica in rows:
                    if replica.seed == seed:
                        network.load_replica(row, model)
        else:
            for row, replica in rows:
                generator = stream_generator(replica.seed, "init", choice.name)
                initialize_replica(network, row, choice.scheme, generator)
        if progress is not None:
            progress("initializing", done, len(plan.choices))
    return records, seconds


def _probe_batch(plan: Plan, splits: Splits, seed: int) -> torch.Tensor:
    generator = stream_generator(seed, "probe")
    order = torch.randperm(splits.x_train.shape[0], generator=generator)
    return order[: plan.config.probe_batch]


def _probe_function():
    try:
        module = importlib.import_module("initlab.probe")
    except ModuleNotFoundError as error:
        if error.name != "initlab.probe":
            raise
        return None
    return getattr(module, "probe", None)


def _applied_schemes(model: nn.Module, choice: InitChoice) -> dict[str, Scheme]:
    """Map every weight the init's scheme filled to that scheme, so the probe shows its target std.

    A data-dependent init has no target std, so it maps nothing.
    """
    if choice.scheme is None:
        return {}
    return {f"{name}.weight": choice.scheme for name, _ in linear_layers(model)}


def _record_at_init(
    plan: Plan, network: StackedNetwork, splits: Splits, progress: Progress | None
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, dict[str, Any] | None]]:
    statistics: dict[int, list[dict[str, Any]]] = {}
    probes: dict[int, dict[str, Any] | None] = {}
    probe = _probe_function()
    if probe is None:
        logger.warning("initlab.probe is not available; results hold no probe records")
    main_rows = [
        row for row, replica in enumerate(plan.replicas) if not replica.symmetry_variant
    ]
    for seed in plan.config.seed_values:
        indices = _probe_batch(plan, splits, seed)
        inputs, targets = splits.x_train[indices], splits.y_train[indices]
        per_replica = hidden_statistics(network, inputs)
        for row in main_rows:
            replica = plan.replicas[row]
            if replica.seed != seed:
                continue
            statistics[row] = per_replica[row]
            probes[row] = None
            if probe is not None:
                model = network.store_replica(
                    row, _standalone(plan, seed, "probe")
                ).eval()
                report = probe(
                    model,
                    inputs,
                    targets,
                    loss_fn=nn.CrossEntropyLoss(),
                    seed=seed,
                    applied=_applied_schemes(model, plan.choices[replica.init]),
                )
                probes[row] = report.to_dict()
            if progress is not None:
                progress("probing", len(probes), len(main_rows))
    return statistics, probes


def _symmetry(
    plan: Plan, network: StackedNetwork, history
) -> dict[str, dict[str, Any]]:
    hidden = [
        (index, layer) for index, layer in enumerate(network.layers) if layer.hidden
    ]
    results: dict[str, dict[str, Any]] = {}
    for index, choice in enumerate(plan.choices):
        if choice.breaks_symmetry:
            continue
        entry: dict[str, Any] = {
            "layers": [layer.name for _, layer in hidden],
            "widths": [layer.width for _, layer in hidden],
            "tolerance": DEFAULT_TOLERANCE,
        }
        for variant in (False, True):
            rows = [
                row
                for row, replica in enumerate(plan.replicas)
                if replica.init == index and replica.symmetry_variant == variant
            ]
            counts = [
                [
                    count_distinct_neurons(
                        network.weight(layer_index, row),
                        network.biases[layer_index][row],
                    )
                    for layer_index, _ in hidden
                ]
                for row in rows
            ]
            rate = plan.replicas[rows[0]].dropout
            accuracy = history.metric("test_accuracy")[-1, rows]
            key = "with_dropout" if rate > 0 else "without_dropout"
            entry[key] = {
                "dropout": rate,
                "per_seed": counts,
                "min": np.min(counts, axis=0).tolist() if hidden else [],
                "max": np.max(counts, axis=0).tolist() if hidden else [],
                "test_accuracy_mean": float(np.mean(accuracy)),
            }
        results[choice.name] = entry
    return results


def _spread(values: np.ndarray) -> float:
    # Sample standard deviation over seeds; 0 for a single seed.
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def epochs_to_target(curve: Sequence[float], best: float) -> int | None:
    """Return the first epoch whose accuracy reaches ``TARGET_FRACTION * best``.

    ``curve[e]`` is the mean test accuracy after epoch ``e`` (``curve[0]``
    at init). Returns None when the curve never reaches the threshold.
    """
    threshold = TARGET_FRACTION * best
    for epoch, value in enumerate(curve):
        if value >= threshold:
            return epoch
    return None


def _summaries(plan: Plan, history, extra: dict[int, dict[str, Any]]):
    inits: dict[str, dict[str, Any]] = {}
    means: dict[int, np.ndarray] = {}
    for index, choice in enumerate(plan.choices):
        rows = [
            row
            for row, replica in enumerate(plan.replicas)
            if replica.init == index and not replica.symmetry_variant
        ]
        curves = {name: history.metric(name)[:, rows] for name in METRICS}
        means[index] = curves["test_accuracy"].mean(axis=1)
        final = {name: curve[-1] for name, curve in curves.items()}
        inits[choice.name] = {
            "kind": "data_dependent" if choice.data_dependent else "scheme",
            "scheme": None if choice.scheme is None else choice.scheme.spec(),
            "formula": None if choice.scheme is None else choice.scheme.formula(),
            "summary": {
                "test_accuracy_mean": float(final["test_accuracy"].mean()),
                "test_accuracy_std": _spread(final["test_accuracy"]),
                "test_loss_mean": float(final["test_loss"].mean()),
                "train_accuracy_mean": float(final["train_accuracy"].mean()),
                "train_loss_mean": float(final["train_loss"].mean()),
                "epochs_to_90pct": None,
            },
            "mean": {
                name: curve.mean(axis=1).tolist() for name, curve in curves.items()
            },
            "std": {
                name: [_spread(row) for row in curve] for name, curve in curves.items()
            },
            "seeds": [
                {
                    "seed": plan.replicas[row].seed,
                    "history": history.replica(row),
                    **extra[row],
                }
                for row in rows
            ],
        }
    best = max(float(np.nanmax(curve)) for curve in means.values())
    for index, choice in enumerate(plan.choices):
        inits[choice.name]["summary"]["epochs_to_90pct"] = epochs_to_target(
            means[index].tolist(), best
        )
    return inits, best


def run_compare(config: CompareConfig, progress: Progress | None = None) -> dict:
    """Run the comparison ``config`` describes and return the results as plain data.

    ``progress`` is called as ``progress(stage, done, total)`` with the
    stages ``initializing``, ``probing`` and ``training``. The result's keys
    are described in docs/compare.md; floats that are NaN or infinite (a
    diverged replica) become None.
    """
    started = time.perf_counter()
    plan = prepare(config)
    prepared = time.perf_counter()
    data = plan.dataset
    splits = Splits.from_dataset(data)
    network = StackedNetwork(
        plan.network_spec, data.input_shape, data.num_classes, len(plan.replicas)
    )
    logger.info(
        "training %d replicas of %s on %s",
        len(plan.replicas),
        plan.spec.text,
        data.name,
    )

    records, dd_seconds = _initialize(plan, network, splits, progress)
    initialized = time.perf_counter()
    statistics, probes = _record_at_init(plan, network, splits, progress)
    probed = time.perf_counter()

    generators = [stream_generator(replica.seed, "train") for replica in plan.replicas]
    history = train_replicas(
        network,
        splits,
        plan.settings,
        generators,
        [replica.dropout for replica in plan.replicas],
        on_epoch=(
            None
            if progress is None
            else lambda epoch, total: progress("training", epoch, total)
        ),
    )
    trained = time.perf_counter()

    extra = {
        row: {
            "activations": statistics[row],
            "probe": probes[row],
            "data_dependent": records.get((replica.init, replica.seed)),
        }
        for row, replica in enumerate(plan.replicas)
        if not replica.symmetry_variant
    }
    inits, best = _summaries(plan, history, extra)
    result = {
        "config": config.to_dict(),
        "data": data.to_dict(),
        "model": {
            "spec": plan.spec.text,
            "layers": [
                {"name": layer.name, "weight_shape": list(layer.weight_shape)}
                for layer in network.layers
            ],
            "dropout": plan.main_dropout,
        },
        "training": {
            "replicas": len(plan.replicas),
            "symmetry_variant_dropout": plan.variant_dropout,
            "best_mean_test_accuracy": best,
            "target_fraction": TARGET_FRACTION,
            "biases": 0.0,
        },
        "environment": {"torch": torch.__version__, "threads": torch.get_num_threads()},
        "inits": inits,
        "symmetry": _symmetry(plan, network, history),
    }
    finished = time.perf_counter()
    result["timing"] = {
        "total_seconds": finished - started,
        "prepare_seconds": prepared - started,
        "initialize_seconds": initialized - prepared,
        "probe_seconds": probed - initialized,
        "train_seconds": trained - probed,
        "data_dependent_seconds": {
            choice.name: [dd_seconds[(index, seed)] for seed in plan.config.seed_values]
            for index, choice in enumerate(plan.choices)
            if choice.data_dependent
        },
    }
    return plain(result)


def plain(value: Any) -> Any:
    """Return ``value`` as JSON-ready data: NumPy scalars to Python, NaN and infinity to None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
