"""LSUV against He and Glorot init in a 30-layer ReLU MLP.

He, Zhang, Ren and Sun (2015) showed that a 30-layer ReLU network from
Glorot init does not train while one from He init does, because Glorot's
variance ``2 / (fan_in + fan_out)`` halves the signal's variance at every
ReLU layer. LSUV (Mishkin and Matas, 2016) reaches unit variance without a
formula: it measures each layer's output on a batch and rescales the layer.

This experiment trains the 30-layer ReLU MLP of width 64 on digits with
plain SGD (learning rate 0.01, batch 64) for 1,000 steps and 3 seeds. The
inits are LSUV, applied on the training split through
:func:`initlab.data_dependent.apply`, he_normal and glorot_uniform, with
biases at 0. Every ``eval_every`` steps
it measures the mean cross-entropy and accuracy of each replica on the
whole training and test splits.

Steps:

1. load the data and split it with ``config.seed``;
2. for every data-dependent init and seed, initialize a standalone model on
   the training split;
3. stack one replica per (init, seed), copy the data-dependent ones in and
   initialize the others from their scheme;
4. train all replicas together, step by step, with one data order per seed;
5. check the claims on the means over seeds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from initlab import data_dependent
from initlab.errors import ConfigError, ModelSpecError, SchemeError
from initlab.experiments import claims as c
from initlab.experiments.validation import (
    require_integers,
    require_non_negative_integers,
    require_optional_integer,
    require_positive_numbers,
)
from initlab.models import build_model, parse_model_spec
from initlab.registry import parse_scheme
from initlab.training import (
    Splits,
    StackedNetwork,
    derive_seed,
    initialize_replica,
    stream_generator,
)
from initlab.training.evaluation import evaluate_split

logger = logging.getLogger("initlab.experiments.lsuv")

NAME = "lsuv"
SUMMARY = "LSUV vs he_normal vs glorot_uniform in a 30-layer ReLU MLP on digits"

ORDER = 90
SIZES = {
    "small": {
        "depth": 10,
        "seeds": 1,
        "steps": 120,
        "eval_every": 20,
        "checkpoint": 60,
        "max_train": 640,
    },
    "default": {},
}

OPTION_HELP = {
    "data": "data set name or file",
    "depth": "number of weight layers, output layer included",
    "width": "units per hidden layer",
    "activation": "hidden activation",
    "inits": "comma-separated inits; lsuv(...) and pretrained(...) run on the training split",
    "seeds": "seeds per init",
    "seed": "first seed, also the seed of the train/test split",
    "steps": "SGD steps",
    "batch_size": "samples per SGD step",
    "lr": "SGD learning rate",
    "eval_every": "steps between measurements on the whole splits",
    "checkpoint": "step at which LSUV and he_normal are compared",
    "max_train": "use at most this many training samples, or none for all",
}

Progress = Callable[[str, int, int], None]

# A network that has not left its initial loss: with 10 classes and outputs
# that barely depend on the input, the cross-entropy stays near
# ln 10 = 2.303 and the accuracy near chance (0.1).
STALL_MIN_LOSS = 2.25
STALL_MAX_ACCURACY = 0.3


@dataclass(frozen=True)
class Config:
    """Everything that decides this experiment's results.

    ``depth`` counts weight layers, so the network has ``depth - 1`` hidden
    layers of ``width`` units. ``seeds`` replicas per init use seeds
    ``seed, seed + 1, ...``, and ``seed`` also splits the data. Metrics are
    measured every ``eval_every`` steps; ``checkpoint`` is the step at which
    LSUV and He are compared. ``max_train`` caps the number of training
    samples (all of them when None), to run at a small size.
    """

    data: str = "digits"
    depth: int = 30
    width: int = 64
    activation: str = "relu"
    inits: tuple[str, ...] = ("lsuv", "he_normal", "glorot_uniform")
    seeds: int = 3
    seed: int = 0
    steps: int = 1000
    batch_size: int = 64
    lr: float = 0.01
    eval_every: int = 50
    checkpoint: int = 500
    max_train: int | None = None

    def __post_init__(self) -> None:
        require_integers(
            self,
            ("width", "seeds", "steps", "batch_size", "eval_every"),
            minimum=1,
            expected="an integer of at least 1",
        )
        if (
            isinstance(self.depth, bool)
            or not isinstance(self.depth, int)
            or self.depth < 2
        ):
            raise ConfigError(
                f"depth counts weight layers and must be an integer of at least 2, got {self.depth!r}"
            )
        require_non_negative_integers(self, "seed")
        require_positive_numbers(self, "lr")
        if self.checkpoint % self.eval_every or not 0 < self.checkpoint <= self.steps:
            raise ConfigError(
                f"checkpoint must be a multiple of eval_every ({self.eval_every}) in "
                f"(0, steps={self.steps}], got {self.checkpoint!r}"
            )
        require_optional_integer(self, "max_train", minimum=2)
        if not self.inits:
            raise ConfigError("inits must name at least one init, such as lsuv")
        try:
            for init in self.inits:
                if data_dependent.is_data_dependent(init):
                    data_dependent.parse_spec(init)
                else:
                    parse_scheme(init)
            parse_model_spec(self.model_spec)
        except (SchemeError, ModelSpecError) as error:
            raise ConfigError(str(error)) from error

    @property
    def model_spec(self) -> str:
        """The model spec string, such as ``mlp:29x64:relu``."""
        return f"mlp:{self.depth - 1}x{self.width}:{self.activation}"

    @property
    def eval_steps(self) -> list[int]:
        """The steps at which metrics are measured, 0 included."""
        steps = list(range(0, self.steps + 1, self.eval_every))
        if steps[-1] != self.steps:
            steps.append(self.steps)
        return steps


def _batches(
    generators: Sequence[torch.Generator], samples: int, batch_size: int
) -> Any:
    """Yield one ``(replicas, batch)`` index tensor per step, forever.

    Each replica walks through its own permutation of the training split,
    drawn from its generator at the start of every epoch. The last batch of
    an epoch contains the remainder.
    """
    while True:
        order = torch.stack(
            [torch.randperm(samples, generator=generator) for generator in generators]
        )
        for start in range(0, samples, batch_size):
            yield order[:, start : start + batch_size]


def _measure(network: StackedNetwork, splits: Splits) -> dict[str, list[float]]:
    train_loss, train_accuracy = evaluate_split(network, splits.x_train, splits.y_train)
    test_loss, test_accuracy = evaluate_split(network, splits.x_test, splits.y_test)
    return {
        "train_loss": train_loss.tolist(),
        "train_accuracy": train_accuracy.tolist(),
        "test_loss": test_loss.tolist(),
        "test_accuracy": test_accuracy.tolist(),
    }


def train_steps(
    network: StackedNetwork,
    splits: Splits,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    generators: Sequence[torch.Generator],
    eval_steps: Sequence[int],
) -> dict[str, np.ndarray]:
    """Train every replica with plain SGD for ``steps`` steps; return metrics by step.

    Each metric is a float64 array of shape ``(len(eval_steps), replicas)``,
    measured on whole splits after the given number of steps. A diverged
    replica's loss is NaN there.
    """
    optimizer = torch.optim.SGD(network.parameters(), lr=lr)
    batches = _batches(generators, splits.x_train.shape[0], batch_size)
    rows: dict[str, list[list[float]]] = {}
    wanted = set(eval_steps)

    def record() -> None:
        for metric, values in _measure(network, splits).items():
            rows.setdefault(metric, []).append(values)

    network.eval()
    if 0 in wanted:
        record()
    for step in range(1, steps + 1):
        indices = next(batches)  # (R, B)
        logits = network(splits.x_train[indices])  # (R, B, classes)
        losses = F.cross_entropy(
            logits.transpose(1, 2), splits.y_train[indices], reduction="none"
        )  # (R, B)
        optimizer.zero_grad(set_to_none=True)
        # Replicas share no parameter, so the gradient of the summed loss
        # with respect to replica r's weights is that of r's own loss.
        losses.mean(dim=1).sum().backward()
        optimizer.step()
        if step in wanted:
            record()
    return {
        metric: np.asarray(values, dtype=np.float64) for metric, values in rows.items()
    }


def _load(config: Config) -> Any:
    from initlab.data import load

    dataset = load(config.data, seed=config.seed)
    if config.max_train is not None:
        rows = config.max_train
        dataset = replace(
            dataset, x_train=dataset.x_train[:rows], y_train=dataset.y_train[:rows]
        )
    return dataset


def _initialize(
    config: Config, dataset: Any, network: StackedNetwork, replicas: list
) -> tuple[dict[str, list[dict]], dict[str, list[float]]]:
    records: dict[str, list[dict]] = {}
    seconds: dict[str, list[float]] = {}
    for index, (init, seed) in enumerate(replicas):
        if data_dependent.is_data_dependent(init):
            model = build_model(
                config.model_spec, dataset.input_shape, dataset.num_classes
            )
            record = data_dependent.apply(
                init,
                model,
                dataset.x_train,
                dataset.y_train,
                seed=derive_seed(seed, "init", init),
            )
            network.load_replica(index, model)
            seconds.setdefault(init, []).append(record["seconds"])
            records.setdefault(init, []).append(
                {"seed": seed, "options": record["options"], "layers": record["layers"]}
            )
        else:
            generator = stream_generator(seed, "init", init)
            initialize_replica(network, index, parse_scheme(init), generator)
    return records, seconds


def _mean_at(
    curves: dict[str, Any], init: str, metric: str, position: int
) -> float | None:
    """Return the mean over seeds at one measurement, None when a seed diverged."""
    values = [curve[position] for curve in curves[init][metric]]
    if any(value is None for value in values):
        return None
    return float(np.mean(values))


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def _claims(
    config: Config, curves: dict[str, Any], records: dict[str, list[dict]]
) -> list[dict[str, Any]]:
    at_checkpoint = config.eval_steps.index(config.checkpoint)
    claims: list[dict[str, Any]] = []

    for init, init_records in records.items():
        options = init_records[0]["options"]
        if "target_std" not in options:
            continue
        target, tol = options["target_std"], options["tol"]
        layers = [layer for record in init_records for layer in record["layers"]]
        worst = max(
            abs(layer["std_after"] - target) for layer in layers if layer["calls"]
        )
        claims.append(
            c.claim(
                f"{init}-unit-std",
                f"{init} gives every layer output std {target} on its calibration batch.",
                f"|std - {target}| <= {tol} for every layer and seed",
                f"largest |std - {target}| = {c.number(worst)} over {len(layers)} layers",
                worst <= tol,
            )
        )

    if "lsuv" in curves and "he_normal" in curves:
        lsuv = _mean_at(curves, "lsuv", "train_loss", at_checkpoint)
        he = _mean_at(curves, "he_normal", "train_loss", at_checkpoint)
        claims.append(
            c.claim(
                "lsuv-vs-he",
                "LSUV trains at least as fast as he_normal.",
                f"mean training cross-entropy at step {config.checkpoint}: lsuv < he_normal",
                f"lsuv {c.number(lsuv)}, he_normal {c.number(he)}",
                # A diverged run (None) counts as an infinite loss.
                _or_inf(lsuv) < _or_inf(he),
            )
        )

    if "glorot_uniform" in curves:
        loss = _mean_at(curves, "glorot_uniform", "train_loss", -1)
        accuracy = _mean_at(curves, "glorot_uniform", "test_accuracy", -1)
        claims.append(
            c.claim(
                "glorot-stalls",
                f"glorot_uniform stalls at {config.depth} layers.",
                f"after {config.steps} steps mean training cross-entropy >= "
                f"{STALL_MIN_LOSS} and mean test accuracy <= {STALL_MAX_ACCURACY}",
                f"cross-entropy {c.number(loss)}, test accuracy {c.number(accuracy)}",
                loss is not None
                and accuracy is not None
                and loss >= STALL_MIN_LOSS
                and accuracy <= STALL_MAX_ACCURACY,
            )
        )
    return claims


def _interpretation(config: Config, curves: dict[str, Any]) -> str:
    at_checkpoint = config.eval_steps.index(config.checkpoint)
    losses = ", ".join(
        f"{init} {c.number(_mean_at(curves, init, 'train_loss', at_checkpoint))}"
        for init in curves
    )
    finals = ", ".join(
        f"{init} {c.number(_mean_at(curves, init, 'test_accuracy', -1))}"
        for init in curves
    )
    return (
        "LSUV sets each layer's output std to 1 by measuring it on a batch, with no "
        "variance formula, so it needs no gain for the activation; Glorot's formula "
        "ignores that ReLU zeroes half its inputs and halves the variance at every "
        f"layer. Mean training cross-entropy at step {config.checkpoint}: {losses}. "
        f"Mean test accuracy after {config.steps} steps: {finals}."
    )


def run(config: Config | None = None, *, progress: Progress | None = None) -> dict:
    """Run the experiment and return its results as plain data.

    ``progress`` is called as ``progress(stage, done, total)`` after the
    initialization and after training.
    """
    config = config or Config()
    started = time.perf_counter()
    dataset = _load(config)
    seeds = [config.seed + offset for offset in range(config.seeds)]
    replicas = [(init, seed) for init in config.inits for seed in seeds]
    spec = parse_model_spec(config.model_spec)
    network = StackedNetwork(
        spec, dataset.input_shape, dataset.num_classes, len(replicas)
    )

    records, init_seconds = _initialize(config, dataset, network, replicas)
    if progress is not None:
        progress("initialization", 1, 2)

    splits = Splits.from_dataset(dataset)
    # Replicas of one seed share their data order, so every init sees the
    # same minibatches.
    generators = [stream_generator(seed, "order") for _, seed in replicas]
    training_started = time.perf_counter()
    metrics = train_steps(
        network,
        splits,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        generators=generators,
        eval_steps=config.eval_steps,
    )
    training_seconds = time.perf_counter() - training_started
    if progress is not None:
        progress("training", 2, 2)

    curves: dict[str, Any] = {}
    for init in config.inits:
        columns = [index for index, (name, _) in enumerate(replicas) if name == init]
        curves[init] = {
            "seeds": seeds,
            **{
                metric: [c.finite_list(values[:, column]) for column in columns]
                for metric, values in metrics.items()
            },
        }
    claims = _claims(config, curves, records)
    return {
        "experiment": NAME,
        "config": {**asdict(config), "model": config.model_spec},
        "claims": claims,
        "interpretation": _interpretation(config, curves),
        "steps": config.eval_steps,
        "inits": curves,
        "data_dependent": records,
        "timing": {
            "initialization_seconds": init_seconds,
            "training_seconds": training_seconds,
            "total": time.perf_counter() - started,
        },
    }


def _band(curves: list[list[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    array = np.array(
        [[np.nan if v is None else v for v in curve] for curve in curves], dtype=float
    )
    return np.nanmean(array, axis=0), np.nanstd(array, axis=0)


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the loss curves by step, the final-accuracy table and LSUV's per-layer std."""
    from matplotlib.figure import Figure

    from initlab.experiments.figures import add_figure, table_number
    from initlab.report.plots import series_colors

    steps = np.asarray(result["steps"], dtype=float)
    inits = result["inits"]
    figure = Figure(figsize=(10.4, 4.0), layout="constrained")
    panels = figure.subplots(1, 2)
    colors = series_colors(len(inits))
    for axes, metric, label in (
        (panels[0], "train_loss", "training cross-entropy"),
        (panels[1], "test_accuracy", "test accuracy"),
    ):
        for color, (init, data) in zip(colors, inits.items(), strict=True):
            mean, spread = _band(data[metric])
            axes.plot(steps, mean, color=color, label=init)
            axes.fill_between(
                steps, mean - spread, mean + spread, color=color, alpha=0.18
            )
        axes.set_xlabel("SGD step")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
    panels[0].axvline(result["config"]["checkpoint"], color="0.4", linestyle="--")
    panels[0].legend()
    add_figure(
        section,
        figure,
        figure_dir,
        "lsuv-curves.png",
        "Training cross-entropy and test accuracy on whole splits by step, mean and "
        "spread over seeds; the dashed line marks the step the claim compares.",
    )

    rows = [
        [
            init,
            table_number(_band(data["train_loss"])[0][-1]),
            table_number(_band(data["test_accuracy"])[0][-1]),
        ]
        for init, data in inits.items()
    ]
    section.add_table(
        ["init", "final training cross-entropy", "final test accuracy"],
        rows,
        caption="After the last step, mean over seeds",
    )

    for init, records in result["data_dependent"].items():
        layers = records[0]["layers"]
        if not layers or "std_before" not in layers[0]:
            continue
        figure = Figure(figsize=(7.5, 3.8), layout="constrained")
        axes = figure.subplots()
        depth = np.arange(1, len(layers) + 1)
        for key, label in (("std_before", "before rescaling"), ("std_after", "after")):
            values = [np.nan if layer[key] is None else layer[key] for layer in layers]
            axes.plot(depth, values, marker="o", markersize=3, label=label)
        axes.set_xlabel("layer")
        axes.set_ylabel("output std on the calibration batch")
        axes.grid(True, alpha=0.3)
        axes.legend()
        add_figure(
            section,
            figure,
            figure_dir,
            f"lsuv-{init}-std.png".replace("(", "-").replace(")", "").replace("=", ""),
            f"{init}, first seed: each layer's output std after orthogonal init (with "
            "the layers below already rescaled) and after rescaling.",
        )
