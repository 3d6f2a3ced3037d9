"""Glorot and Bengio's sigmoid saturation experiment, at small scale on digits.

Glorot and Bengio (2010, "Understanding the difficulty of training deep
feedforward neural networks") trained a sigmoid MLP with four hidden layers
from the init they call standard, ``U[-1/sqrt(n), 1/sqrt(n)]`` with ``n``
the fan-in, and watched the top hidden layer's activations fall to 0 early
in training, where the sigmoid saturates and learning stalls; the network
left that plateau only after about 100 epochs in their runs. Their
normalized init (Glorot uniform) does not stall as long.

This experiment trains the 64-300x4-10 sigmoid MLP on digits with plain SGD
(learning rate 0.1, batch 10, 40 epochs, biases 0) from both inits, and
tracks the mean and std of each hidden layer's activations on a fixed set
of 300 test examples after every epoch, as the paper does. Steps:

1. load digits and stack one replica per (init, seed);
2. initialize: ``torch_default`` is ``U[-1/sqrt(fan_in), 1/sqrt(fan_in)]``,
   the standard init, and ``glorot_uniform`` is the normalized one;
3. train all replicas together, measuring the tracked activations after
   every epoch;
4. check the claims on the top hidden layer's mean and the test accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from initlab.data import load
from initlab.errors import ConfigError
from initlab.experiments import claims as c
from initlab.experiments.threads import single_threaded
from initlab.experiments.validation import (
    require_non_negative_integers,
    require_positive_integers,
)
from initlab.models import parse_model_spec
from initlab.registry import parse_scheme
from initlab.training import (
    Splits,
    StackedNetwork,
    TrainingSettings,
    initialize_replica,
    stream_generator,
    train_replicas,
)

NAME = "saturation"
SUMMARY = "sigmoid top-layer saturation under the standard and the normalized init"
ORDER = 50

STANDARD = "torch_default"
NORMALIZED = "glorot_uniform"
# The paper's plateau is in the first thousand or so updates; the claim
# reads the epoch at which this many steps have been taken.
EARLY_STEPS = 1000

SIZES = {"small": {"epochs": 7}, "default": {}}

OPTION_HELP = {
    "seed": "first seed; replicas use seed, seed + 1, ...",
    "seeds": "replicas per init",
    "hidden_layers": "number of hidden layers",
    "width": "units per hidden layer",
    "inits": "comma-separated init specs; torch_default is U[-1/sqrt(fan_in), 1/sqrt(fan_in)]",
    "epochs": "training epochs",
    "batch_size": "minibatch size",
    "lr": "learning rate of plain SGD",
    "monitor_rows": "test examples whose activations are tracked",
}


@dataclass(frozen=True)
class Config:
    """The saturation experiment's settings; the defaults are the setup above."""

    seed: int = 0
    seeds: int = 1
    hidden_layers: int = 4
    width: int = 300
    inits: tuple[str, ...] = (STANDARD, NORMALIZED)
    epochs: int = 40
    batch_size: int = 10
    lr: float = 0.1
    monitor_rows: int = 300

    def __post_init__(self) -> None:
        require_positive_integers(
            self, "seeds", "hidden_layers", "width", "monitor_rows"
        )
        require_non_negative_integers(self, "seed")
        if not self.inits:
            raise ConfigError(
                "inits must name at least one init, such as torch_default"
            )
        for init in self.inits:
            parse_scheme(init)
        self.settings()

    @property
    def model_spec(self) -> str:
        """The sigmoid MLP's spec."""
        return f"mlp:{self.hidden_layers}x{self.width}:sigmoid"

    def settings(self) -> TrainingSettings:
        """Plain SGD with the configured rate, batch and epochs."""
        return TrainingSettings(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer="sgd"
        )


@torch.no_grad()
def _activation_statistics(
    network: StackedNetwork, inputs: torch.Tensor
) -> list[list[tuple[float | None, float | None]]]:
    """Return (mean, std) of every hidden layer's activations per replica, None where not finite."""
    outputs = network.hidden_outputs(inputs)
    return [
        [
            (
                c.finite(output[replica].double().mean()),
                c.finite(output[replica].double().std(correction=0)),
            )
            for output in outputs
        ]
        for replica in range(network.replicas)
    ]


@single_threaded
def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: per-epoch activation statistics and accuracy."""
    config = config or Config()

    dataset = load("digits", seed=config.seed)
    splits = Splits.from_dataset(dataset)
    monitor = splits.x_test[: config.monitor_rows]
    seeds = [config.seed + offset for offset in range(config.seeds)]
    replicas = [(init, seed) for init in config.inits for seed in seeds]
    network = StackedNetwork(
        parse_model_spec(config.model_spec),
        dataset.input_shape,
        dataset.num_classes,
        len(replicas),
    )
    for index, (init, seed) in enumerate(replicas):
        initialize_replica(network, index, init, stream_generator(seed, "init", init))

    tracked = [_activation_statistics(network, monitor)]

    def on_epoch(epoch: int, epochs: int) -> None:
        tracked.append(_activation_statistics(network, monitor))
        if progress is not None:
            progress("saturation", epoch, epochs)

    # Replicas with the same seed share their data order.
    generators = [stream_generator(seed, "train") for _, seed in replicas]
    history = train_replicas(
        network, splits, config.settings(), generators, on_epoch=on_epoch
    )
    steps_per_epoch = math.ceil(dataset.num_train / config.batch_size)
    runs = []
    for index, (init, seed) in enumerate(replicas):
        curves = history.replica(index)
        layers = len(network.hidden_layers)
        runs.append(
            {
                "init": init,
                "seed": seed,
                # [epoch][layer], epoch 0 at init.
                "mean": [
                    [epoch[index][layer][0] for layer in range(layers)]
                    for epoch in tracked
                ],
                "std": [
                    [epoch[index][layer][1] for layer in range(layers)]
                    for epoch in tracked
                ],
                "test_accuracy": curves["test_accuracy"],
                "train_loss": c.finite_list(curves["train_loss"]),
            }
        )
    claims, not_checked = check_claims(config, runs, steps_per_epoch)
    return {
        "experiment": NAME,
        "config": {**asdict(config), "model": config.model_spec},
        "claims": claims,
        "not_checked": not_checked,
        "dataset": dataset.to_dict(),
        "steps_per_epoch": steps_per_epoch,
        "runs": runs,
    }


def _mean_over_seeds(
    runs: list[dict[str, Any]], init: str, key: str
) -> list[Any] | None:
    chosen = [r for r in runs if r["init"] == init]
    if not chosen:
        return None
    return [
        sum(values) / len(values)
        for values in zip(*(r[key] for r in chosen), strict=True)
    ]


def _top_means(runs: list[dict[str, Any]], init: str) -> list[float] | None:
    chosen = [r for r in runs if r["init"] == init]
    if not chosen:
        return None
    per_seed = [[epoch[-1] for epoch in r["mean"]] for r in chosen]
    return [c.mean(values) for values in zip(*per_seed, strict=True)]


def check_claims(
    config: Config, runs: list[dict[str, Any]], steps_per_epoch: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the mean over seeds."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    early_epoch = math.ceil(EARLY_STEPS / steps_per_epoch)
    present = [init for init in (STANDARD, NORMALIZED) if init in config.inits]
    top = {init: _top_means(runs, init) for init in present}

    if present and config.epochs >= early_epoch:
        claims.append(
            c.claim(
                "top-layer-falls-early",
                "Under both inits the top hidden layer's mean activation falls towards 0 "
                "in the first thousand or so steps.",
                f"mean over the tracked examples below 0.15 after epoch {early_epoch} "
                f"({early_epoch * steps_per_epoch} steps), from about 0.5 at init",
                "; ".join(
                    f"{init}: {c.number(top[init][0])} at init, "
                    f"{c.number(top[init][early_epoch])} after epoch {early_epoch}"
                    for init in present
                ),
                all(
                    top[init][early_epoch] is not None and top[init][early_epoch] < 0.15
                    for init in present
                ),
            )
        )
    else:
        not_checked.append(
            {
                "id": "top-layer-falls-early",
                "reason": f"needs torch_default or glorot_uniform and at least {early_epoch} epochs",
            }
        )

    full = config.epochs >= 40
    for init, holds_if, claim_id, text, expected in (
        (
            NORMALIZED,
            lambda mean, accuracy: mean is not None and mean > 0.2 and accuracy > 0.85,
            "normalized-desaturates",
            "With the normalized init (Glorot uniform) the top hidden layer then "
            "desaturates and the network learns.",
            "top-layer mean above 0.2 and test accuracy above 0.85 at epoch 40",
        ),
        (
            STANDARD,
            lambda mean, accuracy: mean is not None and mean < 0.05 and accuracy < 0.2,
            "standard-stays-saturated",
            "With the standard init U[-1/sqrt(n), 1/sqrt(n)] the top hidden layer stays "
            "saturated and the network does not learn.",
            "top-layer mean below 0.05 and test accuracy below 0.2 (chance is 0.1) at epoch 40",
        ),
    ):
        if init not in config.inits or not full:
            not_checked.append(
                {"id": claim_id, "reason": f"needs {init} and 40 epochs"}
            )
            continue
        accuracy = _mean_over_seeds(runs, init, "test_accuracy")
        mean = top[init][40]
        claims.append(
            c.claim(
                claim_id,
                text,
                expected,
                f"top-layer mean {c.number(mean)}, test accuracy {c.number(accuracy[40])} "
                f"at epoch 40",
                holds_if(mean, accuracy[40]),
            )
        )
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the per-layer activation mean and std curves and the accuracy table."""
    from initlab.experiments.figures import add_figure
    from initlab.report.plots import curves_figure

    runs = result["runs"]
    inits = list(dict.fromkeys(r["init"] for r in runs))
    layers = result["config"]["hidden_layers"]
    panels = []
    for init in inits:
        chosen = [r for r in runs if r["init"] == init]
        series = {}
        for layer in range(layers):
            means = [
                c.mean([r["mean"][epoch][layer] for r in chosen])
                for epoch in range(len(chosen[0]["mean"]))
            ]
            stds = [
                c.mean([r["std"][epoch][layer] for r in chosen])
                for epoch in range(len(chosen[0]["std"]))
            ]
            series[f"layer {layer + 1}"] = (means, stds)
        panels.append((init, "activation mean (band: std)", series, False))
    add_figure(
        section,
        curves_figure(panels, xlabel="epoch"),
        figure_dir,
        "saturation-activations.png",
        "Mean (line) and std (band) of each hidden layer's sigmoid activations on 300 "
        "test examples after every epoch; epoch 0 is the init.",
    )
    accuracy_series = {}
    for init in inits:
        chosen = [r for r in runs if r["init"] == init]
        values = [
            sum(r["test_accuracy"][epoch] for r in chosen) / len(chosen)
            for epoch in range(len(chosen[0]["test_accuracy"]))
        ]
        accuracy_series[init] = (values, [0.0] * len(values))
    add_figure(
        section,
        curves_figure(
            [("test accuracy", "accuracy", accuracy_series, False)], columns=1
        ),
        figure_dir,
        "saturation-accuracy.png",
        "Test accuracy after every epoch (mean over seeds).",
    )
