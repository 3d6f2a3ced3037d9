"""Glorot against He in deep plain ReLU networks: which init lets a 30-layer MLP train.

He, Zhang, Ren and Sun (2015, "Delving deep into rectifiers: surpassing
human-level performance on ImageNet classification") showed that a 30-layer
plain ReLU network initialized with the Glorot (Xavier) scale does not
train, while their init, ``Var(w) = 2 / fan_in``, does: ReLU zeroes half of
its input, so ``Var(w) = 1 / fan_in`` (Glorot for square layers) halves the
signal's variance at every layer, and after 29 layers it is ``2^-29``
(about 2e-9) of the input's. At 22 layers both inits trained in their runs.

This experiment trains plain ReLU MLPs of 10, 22 and 30 weight layers
(width 64) on digits with plain SGD (learning rate 0.01, batch 64, about
1,000 steps, 3 seeds) from glorot_uniform, he_normal and normal(std=0.01),
and measures the activation std by depth at init. Steps:

1. load digits;
2. for each depth, stack one replica per (init, seed) and initialize it
   (biases 0);
3. record every hidden layer's activation std at init on the first
   ``stats_rows`` training rows;
4. train the replicas together for the number of epochs that covers
   ``steps`` minibatch steps, measuring the mean cross-entropy and the
   accuracy on both splits after every epoch;
5. check the claims on the means over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    hidden_statistics,
    initialize_replica,
    stream_generator,
    train_replicas,
)

NAME = "depth"
SUMMARY = "glorot vs he in 10-, 22- and 30-layer plain ReLU MLPs"
ORDER = 40

GLOROT = "glorot_uniform"
HE = "he_normal"
SMALL = "normal(std=0.01)"
LN10 = math.log(10)

SIZES = {
    "small": {"depths": (10, 30), "seeds": 1, "steps": 300},
    "default": {},
}

OPTION_HELP = {
    "seed": "first seed; replicas use seed, seed + 1, ...",
    "seeds": "replicas per init and depth",
    "depths": "comma-separated numbers of weight layers (hidden layers + output layer)",
    "width": "units per hidden layer",
    "inits": "comma-separated init specs",
    "lr": "learning rate of plain SGD",
    "batch_size": "minibatch size",
    "steps": "minimum number of minibatch steps; training runs whole epochs",
    "stats_rows": "training rows for the activation std at init",
}


@dataclass(frozen=True)
class Config:
    """The depth experiment's settings; the defaults are the setup above."""

    seed: int = 0
    seeds: int = 3
    depths: tuple[int, ...] = (10, 22, 30)
    width: int = 64
    inits: tuple[str, ...] = (GLOROT, HE, SMALL)
    lr: float = 0.01
    batch_size: int = 64
    steps: int = 1000
    stats_rows: int = 512

    def __post_init__(self) -> None:
        require_positive_integers(
            self, "seeds", "width", "batch_size", "steps", "stats_rows"
        )
        require_non_negative_integers(self, "seed")
        if not self.depths or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 2 for d in self.depths
        ):
            raise ConfigError(
                f"depths must be integers of at least 2 (weight layers), got {self.depths!r}"
            )
        if not self.inits:
            raise ConfigError("inits must name at least one init, such as he_normal")
        for init in self.inits:
            parse_scheme(init)
        self.settings(1)

    def model_spec(self, depth: int) -> str:
        """Return the spec of a ReLU MLP with ``depth`` weight layers: ``depth - 1`` hidden, one output."""
        return f"mlp:{depth - 1}x{self.width}:relu"

    def settings(self, epochs: int) -> TrainingSettings:
        """Plain SGD for ``epochs`` epochs."""
        return TrainingSettings(
            epochs=epochs, batch_size=self.batch_size, lr=self.lr, optimizer="sgd"
        )


@single_threaded
def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: loss curves and init statistics per depth."""
    config = config or Config()

    dataset = load("digits", seed=config.seed)
    splits = Splits.from_dataset(dataset)
    steps_per_epoch = math.ceil(dataset.num_train / config.batch_size)
    epochs = math.ceil(config.steps / steps_per_epoch)
    seeds = [config.seed + offset for offset in range(config.seeds)]
    replicas = [(init, seed) for init in config.inits for seed in seeds]
    stats_inputs = splits.x_train[: config.stats_rows]
    total = len(config.depths) * epochs
    done = 0

    by_depth: dict[str, Any] = {}
    for depth in config.depths:
        network = StackedNetwork(
            parse_model_spec(config.model_spec(depth)),
            dataset.input_shape,
            dataset.num_classes,
            len(replicas),
        )
        for index, (init, seed) in enumerate(replicas):
            initialize_replica(
                network, index, init, stream_generator(seed, "init", init)
            )
        statistics = hidden_statistics(network, stats_inputs, bins=1)

        def on_epoch(epoch: int, epochs: int, depth: int = depth) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress("depth", done, total)

        generators = [stream_generator(seed, "train", depth) for _, seed in replicas]
        history = train_replicas(
            network, splits, config.settings(epochs), generators, on_epoch=on_epoch
        )
        runs = []
        for index, (init, seed) in enumerate(replicas):
            curves = history.replica(index)
            runs.append(
                {
                    "init": init,
                    "seed": seed,
                    "activation_std": [layer["std"] for layer in statistics[index]],
                    "train_loss": c.finite_list(curves["train_loss"]),
                    "test_loss": c.finite_list(curves["test_loss"]),
                    "test_accuracy": curves["test_accuracy"],
                }
            )
        by_depth[str(depth)] = runs

    summary = summarize(config, by_depth)
    claims, not_checked = check_claims(config, summary, steps_per_epoch)
    return {
        "experiment": NAME,
        "config": asdict(config),
        "claims": claims,
        "not_checked": not_checked,
        "dataset": dataset.to_dict(),
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "steps": epochs * steps_per_epoch,
        "summary": summary,
        "depths": by_depth,
    }


def _variance_ratio(stds: list[float]) -> float | None:
    """Mean factor per layer of the activation variance, from the first hidden layer to the last."""
    rate = c.geometric_rate(stds[0], stds[-1], len(stds) - 1)
    return None if rate is None else rate**2


def summarize(config: Config, by_depth: dict[str, Any]) -> dict[str, Any]:
    """Average every init's final figures and curves over its seeds, per depth."""
    summary: dict[str, Any] = {}
    for depth, runs in by_depth.items():
        summary[depth] = {}
        for init in config.inits:
            chosen = [r for r in runs if r["init"] == init]
            curve = [
                c.mean(values)
                for values in zip(*(r["train_loss"] for r in chosen), strict=True)
            ]
            ratios = [_variance_ratio(r["activation_std"]) for r in chosen]
            summary[depth][init] = {
                "final_train_loss": curve[-1],
                "final_train_loss_per_seed": [r["train_loss"][-1] for r in chosen],
                "final_test_accuracy": c.mean([r["test_accuracy"][-1] for r in chosen]),
                "largest_final_train_loss_gap_to_ln10": max(
                    abs(r["train_loss"][-1] - LN10)
                    if r["train_loss"][-1] is not None
                    else math.inf
                    for r in chosen
                ),
                "train_loss_curve": curve,
                "variance_ratio_per_layer": c.mean(ratios),
            }
    return summary


def _first_epoch_below(curve: list[float | None], level: float) -> int | None:
    for epoch, value in enumerate(curve):
        if value is not None and value < level:
            return epoch
    return None


def check_claims(
    config: Config, summary: dict[str, Any], steps_per_epoch: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the means over seeds."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    deepest = str(max(config.depths))

    def final(depth: str, init: str) -> tuple[float | None, float | None]:
        entry = summary[depth][init]
        return entry["final_train_loss"], entry["final_test_accuracy"]

    if "30" in summary and GLOROT in config.inits and HE in config.inits:
        loss, accuracy = final("30", GLOROT)
        claims.append(
            c.claim(
                "depth30-glorot-stalls",
                "At 30 layers Glorot stays at the initial loss, as He et al. (2015) found.",
                "mean training cross-entropy at least 2.25 and mean test accuracy at most 0.3",
                f"cross-entropy {c.number(loss)}, test accuracy {c.number(accuracy)}",
                loss is not None and loss >= 2.25 and accuracy <= 0.3,
            )
        )
        loss, accuracy = final("30", HE)
        claims.append(
            c.claim(
                "depth30-he-trains",
                "At 30 layers He trains.",
                "mean training cross-entropy at most 0.3 and mean test accuracy at least 0.8",
                f"cross-entropy {c.number(loss)}, test accuracy {c.number(accuracy)}",
                loss is not None and loss <= 0.3 and accuracy >= 0.8,
            )
        )
    else:
        not_checked.append(
            {"id": "depth30", "reason": "needs depth 30, glorot_uniform and he_normal"}
        )

    if SMALL in config.inits:
        gaps = {
            depth: summary[depth][SMALL]["largest_final_train_loss_gap_to_ln10"]
            for depth in summary
        }
        claims.append(
            c.claim(
                "small-never-leaves-ln10",
                "normal(std=0.01) never leaves the initial loss ln 10 at any of these depths.",
                "every seed's final training cross-entropy within 0.01 of ln 10 = 2.303",
                "; ".join(
                    f"{depth} layers: loss {c.number(summary[depth][SMALL]['final_train_loss'], 4)}"
                    for depth in summary
                ),
                all(gap <= 0.01 for gap in gaps.values()),
            )
        )
    else:
        not_checked.append(
            {"id": "small-never-leaves-ln10", "reason": "needs normal(std=0.01)"}
        )

    if "10" in summary and GLOROT in config.inits and HE in config.inits:
        losses = {init: final("10", init) for init in (GLOROT, HE)}
        claims.append(
            c.claim(
                "depth10-both-train",
                "At 10 layers both Glorot and He train.",
                "for both, the criterion He meets at 30 layers: mean training cross-entropy "
                "at most 0.3 and mean test accuracy at least 0.8",
                "; ".join(
                    f"{init}: cross-entropy {c.number(loss)} (seeds: "
                    f"{c.numbers(summary['10'][init]['final_train_loss_per_seed'])}), "
                    f"test accuracy {c.number(accuracy)}"
                    for init, (loss, accuracy) in losses.items()
                ),
                all(
                    loss is not None and loss <= 0.3 and accuracy >= 0.8
                    for loss, accuracy in losses.values()
                ),
            )
        )
        reached = {
            init: _first_epoch_below(summary["10"][init]["train_loss_curve"], 1.0)
            for init in (GLOROT, HE)
        }
        claims.append(
            c.claim(
                "depth10-glorot-later",
                "At 10 layers Glorot leaves the initial loss later than He.",
                "Glorot's mean training cross-entropy falls below 1.0 at a later epoch than He's",
                "; ".join(
                    f"{init}: below 1.0 after "
                    + (
                        f"epoch {reached[init]} ({reached[init] * steps_per_epoch} steps)"
                        if reached[init] is not None
                        else "never"
                    )
                    for init in (GLOROT, HE)
                ),
                reached[HE] is not None
                and reached[GLOROT] is not None
                and reached[GLOROT] > reached[HE],
            )
        )
    else:
        not_checked.append(
            {"id": "depth10", "reason": "needs depth 10, glorot_uniform and he_normal"}
        )

    if "22" in summary and GLOROT in config.inits:
        loss, accuracy = final("22", GLOROT)
        claims.append(
            c.claim(
                "depth22-glorot-stalls",
                f"At 22 layers, unlike in He et al. (2015), Glorot also stalls at learning "
                f"rate {config.lr:g} at this scale.",
                "mean training cross-entropy at least 2.0 and mean test accuracy at most 0.3",
                f"cross-entropy {c.number(loss)}, test accuracy {c.number(accuracy)}",
                loss is not None and loss >= 2.0 and accuracy <= 0.3,
            )
        )
    else:
        not_checked.append(
            {
                "id": "depth22-glorot-stalls",
                "reason": "needs depth 22 and glorot_uniform",
            }
        )

    if GLOROT in config.inits and HE in config.inits and int(deepest) >= 3:
        glorot = summary[deepest][GLOROT]["variance_ratio_per_layer"]
        he = summary[deepest][HE]["variance_ratio_per_layer"]
        claims.append(
            c.claim(
                "init-variance-by-depth",
                "At init Glorot halves the activation variance at every ReLU layer, He keeps it.",
                f"mean factor per layer of the activation variance in the {deepest}-layer net: "
                "0.4 to 0.6 for Glorot, 0.8 to 1.25 for He",
                f"Glorot {c.number(glorot)}, He {c.number(he)} per layer",
                c.within(glorot, 0.4, 0.6) and c.within(he, 0.8, 1.25),
            )
        )
    else:
        not_checked.append(
            {
                "id": "init-variance-by-depth",
                "reason": "needs glorot_uniform, he_normal and depth >= 3",
            }
        )
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the loss curves per depth, the activation std by depth at init, and a summary table."""
    from initlab.experiments.figures import add_figure, profile_panels, table_number

    summary = result["summary"]
    steps_per_epoch = result["steps_per_epoch"]
    panels = [
        (
            f"{depth} layers",
            {init: entry["train_loss_curve"] for init, entry in by_init.items()},
        )
        for depth, by_init in summary.items()
    ]
    epochs = result["epochs"]
    add_figure(
        section,
        profile_panels(
            panels,
            xlabel="step",
            ylabel="training cross-entropy (mean over seeds)",
            log=False,
            x_values=[epoch * steps_per_epoch for epoch in range(epochs + 1)],
            reference=(LN10, "ln 10"),
        ),
        figure_dir,
        "depth-loss.png",
        "Mean cross-entropy on the whole training split after every epoch, per depth "
        "(mean over seeds); the dashed line is ln 10, the loss of a uniform guess.",
    )
    deepest = str(max(int(depth) for depth in result["depths"]))
    runs = result["depths"][deepest]
    profiles = {}
    for init in dict.fromkeys(r["init"] for r in runs):
        chosen = [r["activation_std"] for r in runs if r["init"] == init]
        profiles[init] = [c.mean(values) for values in zip(*chosen, strict=True)]
    add_figure(
        section,
        profile_panels(
            [(f"{deepest} layers, at init", profiles)],
            xlabel="hidden layer",
            ylabel="activation std",
            columns=1,
        ),
        figure_dir,
        "depth-activation-std.png",
        f"Std of each hidden layer's ReLU output at init in the {deepest}-layer network, "
        "on training rows (mean over seeds, log scale).",
    )
    rows = [
        [
            depth,
            init,
            table_number(entry["final_train_loss"], 4),
            table_number(entry["final_test_accuracy"]),
            table_number(entry["variance_ratio_per_layer"]),
        ]
        for depth, by_init in summary.items()
        for init, entry in by_init.items()
    ]
    section.add_table(
        [
            "weight layers",
            "init",
            "final training cross-entropy",
            "final test accuracy",
            "activation variance factor per layer at init",
        ],
        rows,
        caption=f"Means over seeds after {result['steps']} steps ({epochs} epochs).",
    )
