"""The symmetry problem: zero and constant inits never make their neurons different.

Units of a layer that start with equal incoming weights and biases get equal
gradients, so plain gradient descent keeps them equal and a layer of 50
units computes one function (Rumelhart, Hinton and Williams, 1986, "Learning
representations by back-propagating errors", noted that random initial
weights are needed to break this symmetry). This experiment trains the
64-50x5-10 tanh MLP on digits with plain SGD (learning rate 0.05, batch 32,
30 epochs) from zeros, constant(0.02), constant(0.5) and a random init,
each without dropout and with dropout 0.2, and counts the distinct neurons
of every hidden layer after every epoch. Two neurons are the same when
their incoming weights and bias differ by at most 1e-4 times the layer's
largest absolute weight (:func:`initlab.training.count_distinct_neurons`).

Dropout can break the tie, because each unit gets its own mask, but only
where a gradient flows: zeros gives every hidden weight a gradient of
exactly 0, and constant(0.5) gives pre-activations near +-25 from the
second hidden layer on, where tanh rounds to exactly +-1 in float32 and its
derivative ``1 - tanh^2`` is exactly 0. Steps:

1. load digits and stack one replica per (init, dropout rate);
2. initialize each replica (biases 0) and record the distinct counts, the
   hidden pre-activations' size and the fraction of units whose tanh
   derivative is exactly 0 on the training split;
3. train all replicas together (:func:`initlab.training.train_replicas`),
   counting distinct neurons after every epoch;
4. record the largest change of each hidden weight and check the claims.
"""

from __future__ import annotations

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
    count_distinct_neurons,
    initialize_replica,
    stream_generator,
    train_replicas,
)

NAME = "symmetry"
SUMMARY = "zero and constant inits keep identical neurons; dropout breaks the tie only where gradients flow"
ORDER = 30

ZEROS = "zeros"
SMALL_CONSTANT = "constant(0.02)"
LARGE_CONSTANT = "constant(0.5)"
RANDOM = "glorot_uniform"
CONSTANT_INITS = (ZEROS, SMALL_CONSTANT, LARGE_CONSTANT)

SIZES = {"small": {"epochs": 2}, "default": {}}

OPTION_HELP = {
    "seed": "seed of the data split, the random init, the data order and the dropout masks",
    "hidden_layers": "number of hidden layers",
    "width": "units per hidden layer",
    "activation": "hidden activation",
    "inits": "comma-separated init specs",
    "dropout": "dropout rate of the second run of every init",
    "epochs": "training epochs",
    "batch_size": "minibatch size",
    "lr": "learning rate",
    "optimizer": "sgd (plain) or adam",
    "tolerance": "largest difference, relative to the layer's largest weight, at which two neurons count as the same",
}


@dataclass(frozen=True)
class Config:
    """The symmetry experiment's settings; the defaults are the setup above."""

    seed: int = 0
    hidden_layers: int = 5
    width: int = 50
    activation: str = "tanh"
    inits: tuple[str, ...] = (ZEROS, SMALL_CONSTANT, LARGE_CONSTANT, RANDOM)
    dropout: float = 0.2
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.05
    optimizer: str = "sgd"
    tolerance: float = 1e-4

    def __post_init__(self) -> None:
        require_positive_integers(self, "hidden_layers", "width")
        require_non_negative_integers(self, "seed")
        if not 0 < self.dropout < 1:
            raise ConfigError(
                f"dropout must be in (0, 1), got {self.dropout!r}: the experiment compares "
                "training without dropout to training with it"
            )
        if not self.tolerance >= 0:
            raise ConfigError(f"tolerance must be at least 0, got {self.tolerance!r}")
        if not self.inits:
            raise ConfigError("inits must name at least one init, such as zeros")
        for init in self.inits:
            parse_scheme(init)
        self.settings()
        parse_model_spec(self.model_spec)

    @property
    def model_spec(self) -> str:
        """The model spec with dropout sites after every hidden activation."""
        return f"mlp:{self.hidden_layers}x{self.width}:{self.activation}:dropout={self.dropout:g}"

    def settings(self) -> TrainingSettings:
        """Return the training settings every replica uses."""
        return TrainingSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
        )


def _distinct_counts(
    network: StackedNetwork, replica: int, tolerance: float
) -> list[int]:
    return [
        count_distinct_neurons(
            network.weight(index, replica),
            network.biases[index][replica],
            tolerance=tolerance,
        )
        for index in range(len(network.hidden_layers))
    ]


@torch.no_grad()
def _pre_activation_facts(
    network: StackedNetwork, replica: int, inputs: torch.Tensor, activation: str
) -> list[dict[str, float | None]]:
    """Return, per hidden layer of one replica, mean |z| and the fraction of exactly-zero derivatives.

    Backward multiplies by ``1 - tanh(z)^2``, which is exactly 0 where the
    float32 output is +-1 (tanh of about 9.02 or more rounds to 1). For
    activations other than tanh the fraction is None.
    """
    facts: list[dict[str, float | None]] = []
    h = inputs
    for index in range(len(network.hidden_layers)):
        # (batch, out) = (batch, in) @ (in, out) + (out,)
        z = h @ network.weight(index, replica).T + network.biases[index][replica]
        h = z if network.activation is None else network.activation(z)
        flat = None
        if activation == "tanh":
            flat = float((h.abs() == 1).double().mean())
        facts.append(
            {
                "mean_abs_pre_activation": float(z.abs().double().mean()),
                "zero_derivative_fraction": flat,
            }
        )
    return facts


@single_threaded
def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: distinct neurons per epoch for every replica."""
    config = config or Config()

    dataset = load("digits", seed=config.seed)
    splits = Splits.from_dataset(dataset)
    replicas = [(init, rate) for init in config.inits for rate in (0.0, config.dropout)]
    network = StackedNetwork(
        parse_model_spec(config.model_spec),
        dataset.input_shape,
        dataset.num_classes,
        len(replicas),
    )
    for index, (init, _) in enumerate(replicas):
        initialize_replica(
            network, index, init, stream_generator(config.seed, "init", init)
        )
    hidden = len(network.hidden_layers)
    initial = [
        [network.weight(layer, index).detach().clone() for layer in range(hidden)]
        for index in range(len(replicas))
    ]
    at_init = [
        _pre_activation_facts(network, index, splits.x_train, config.activation)
        for index in range(len(replicas))
    ]

    counts: list[list[list[int]]] = [
        [_distinct_counts(network, index, config.tolerance)]
        for index in range(len(replicas))
    ]

    def on_epoch(epoch: int, epochs: int) -> None:
        for index in range(len(replicas)):
            counts[index].append(_distinct_counts(network, index, config.tolerance))
        if progress is not None:
            progress("symmetry", epoch, epochs)

    # Replicas share their data-order seed, so every init sees the same
    # first epoch; with dropout the masks come from the same generator.
    generators = [stream_generator(config.seed, "train") for _ in replicas]
    history = train_replicas(
        network,
        splits,
        config.settings(),
        generators,
        [rate for _, rate in replicas],
        on_epoch=on_epoch,
    )
    runs = []
    for index, (init, rate) in enumerate(replicas):
        change = [
            float(
                (network.weight(layer, index).detach() - initial[index][layer])
                .abs()
                .max()
            )
            for layer in range(hidden)
        ]
        curves = history.replica(index)
        runs.append(
            {
                "init": init,
                "dropout": rate,
                "distinct": counts[index],
                "max_weight_change": change,
                "at_init": at_init[index],
                "test_accuracy": curves["test_accuracy"],
                "train_loss": c.finite_list(curves["train_loss"]),
            }
        )
    claims, not_checked = check_claims(config, runs)
    return {
        "experiment": NAME,
        "config": {**asdict(config), "model": config.model_spec},
        "claims": claims,
        "not_checked": not_checked,
        "dataset": dataset.to_dict(),
        "runs": runs,
    }


def _find(
    runs: list[dict[str, Any]], init: str, dropout: bool
) -> dict[str, Any] | None:
    for run_ in runs:
        if run_["init"] == init and (run_["dropout"] > 0) == dropout:
            return run_
    return None


def check_claims(
    config: Config, runs: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the runs that were made."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    width = config.width

    plain = [r for r in (_find(runs, i, False) for i in CONSTANT_INITS) if r]
    if plain:
        largest = {r["init"]: max(max(epoch) for epoch in r["distinct"]) for r in plain}
        claims.append(
            c.claim(
                "constant-no-dropout-one-neuron",
                "Without dropout, zero and constant inits keep one distinct neuron per "
                "hidden layer for the whole run.",
                f"at most 1 distinct neuron in every hidden layer after every epoch, for {', '.join(largest)}",
                "; ".join(f"{init}: at most {n}" for init, n in largest.items()),
                all(n == 1 for n in largest.values()),
            )
        )
    else:
        not_checked.append(
            {
                "id": "constant-no-dropout-one-neuron",
                "reason": "needs a zero or constant init",
            }
        )

    small = _find(runs, SMALL_CONSTANT, True)
    if small:
        final = small["distinct"][-1]
        claims.append(
            c.claim(
                "small-constant-dropout-breaks",
                "With dropout, constant(0.02) breaks the symmetry: every neuron becomes distinct.",
                f"{width} distinct neurons in every hidden layer after training",
                f"distinct neurons by layer after training: {', '.join(map(str, final))}",
                all(n == width for n in final),
            )
        )
    else:
        not_checked.append(
            {"id": "small-constant-dropout-breaks", "reason": "needs constant(0.02)"}
        )

    zeros = _find(runs, ZEROS, True)
    if zeros:
        final = zeros["distinct"][-1]
        change = max(zeros["max_weight_change"])
        claims.append(
            c.claim(
                "zeros-dropout-stays",
                "With dropout, zeros still cannot break the symmetry: its hidden weights "
                "get gradients of exactly 0.",
                "1 distinct neuron per hidden layer after training, and no hidden weight changed",
                f"distinct by layer {', '.join(map(str, final))}; largest hidden weight change {c.number(change)}",
                all(n == 1 for n in final) and change == 0,
            )
        )
    else:
        not_checked.append({"id": "zeros-dropout-stays", "reason": "needs zeros"})

    large = _find(runs, LARGE_CONSTANT, True)
    if large:
        final = large["distinct"][-1]
        deeper = large["at_init"][1:]
        mean_abs = [layer["mean_abs_pre_activation"] for layer in deeper]
        flat = [layer["zero_derivative_fraction"] for layer in deeper]
        claims.append(
            c.claim(
                "large-constant-dropout-stays",
                "With dropout, constant(0.5) cannot break the symmetry either: its "
                "pre-activations are near +-25, where tanh's derivative is exactly 0 in float32.",
                "1 distinct neuron per hidden layer after training",
                f"distinct by layer {', '.join(map(str, final))}; at init, mean |z| of layers "
                f"2 to {config.hidden_layers} {c.numbers(mean_abs)}, fraction of units with a "
                f"derivative of exactly 0 {c.numbers(flat)}",
                all(n == 1 for n in final),
            )
        )
    else:
        not_checked.append(
            {"id": "large-constant-dropout-stays", "reason": "needs constant(0.5)"}
        )

    random_runs = [r for r in runs if r["init"] not in CONSTANT_INITS]
    if random_runs:
        first = {
            f"{r['init']} (dropout {r['dropout']:g})": r["distinct"][0]
            for r in random_runs
        }
        last = {
            f"{r['init']} (dropout {r['dropout']:g})": r["distinct"][-1]
            for r in random_runs
        }
        claims.append(
            c.claim(
                "random-all-distinct",
                "A random init has as many distinct neurons as units from the start.",
                f"{width} distinct neurons in every hidden layer at init and after training",
                "; ".join(
                    f"{label}: at init {min(first[label])} to {max(first[label])}, "
                    f"after training {min(last[label])} to {max(last[label])}"
                    for label in first
                ),
                all(
                    n == width
                    for counts in (*first.values(), *last.values())
                    for n in counts
                ),
            )
        )
    else:
        not_checked.append(
            {"id": "random-all-distinct", "reason": "needs a random init"}
        )
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the distinct-neuron curves and the per-run table."""
    from initlab.experiments.figures import add_figure, profile_panels, table_number

    runs = result["runs"]
    panels = []
    for label, with_dropout in (("without dropout", False), ("with dropout", True)):
        series = {
            r["init"]: [sum(epoch) / len(epoch) for epoch in r["distinct"]]
            for r in runs
            if (r["dropout"] > 0) == with_dropout
        }
        panels.append((label, series))
    epochs = len(runs[0]["distinct"])
    add_figure(
        section,
        profile_panels(
            panels,
            xlabel="epoch",
            ylabel="distinct neurons (mean over hidden layers)",
            x_values=list(range(epochs)),
            columns=2,
        ),
        figure_dir,
        "symmetry-distinct.png",
        "Distinct neurons per hidden layer, averaged over the hidden layers, after "
        "every epoch (epoch 0 is the init; log scale).",
    )
    rows = [
        [
            r["init"],
            f"{r['dropout']:g}",
            ", ".join(map(str, r["distinct"][0])),
            ", ".join(map(str, r["distinct"][-1])),
            table_number(max(r["max_weight_change"])),
            table_number(r["test_accuracy"][-1]),
        ]
        for r in runs
    ]
    section.add_table(
        [
            "init",
            "dropout",
            "distinct at init",
            "distinct after training",
            "largest hidden weight change",
            "test accuracy",
        ],
        rows,
        caption="Distinct neurons per hidden layer, 1 to last.",
    )
