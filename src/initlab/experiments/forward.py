"""The textbook forward-pass experiment: what each init does to activations layer by layer.

A batch of standard-normal inputs of width 100 (1,000 rows) goes through
five hidden layers of 50 units with zero biases, for each activation (tanh,
sigmoid, relu) and each init: ``0.01 * N(0, 1)``, ``N(0, 1)``, and LeCun,
Glorot and He in their normal and uniform forms. The numbers are those of
:func:`initlab.probe.probe`: per layer the mean and std of the activation
output, the saturated fraction (``|tanh| > 0.99``, sigmoid below 0.01 or
above 0.99), the zero and dead fractions after ReLU, and a histogram.

The setup is the one Glorot and Bengio (2010, "Understanding the difficulty
of training deep feedforward neural networks") and many tutorials use to
show vanishing and saturating activations. Steps:

1. draw the inputs from ``(seed, "inputs")``;
2. for each activation and init, build the network and fill its weights
   from one generator seeded by ``(seed, "weights")``, the same for every
   init, so the normal inits share one underlying standard-normal draw;
3. probe it with a random upstream gradient and keep the forward figures;
4. check the claims on the tanh and relu networks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from initlab.errors import ConfigError
from initlab.experiments import claims as c
from initlab.experiments.signal import (
    PROBE_STATISTICS,
    column,
    hidden_layers,
    initialize,
    plain_mlp,
    short_name,
)
from initlab.experiments.validation import (
    require_non_negative_integers,
    require_positive_integers,
)
from initlab.models import activation_module
from initlab.probe import probe
from initlab.registry import parse_scheme
from initlab.training import stream_generator

NAME = "forward"
SUMMARY = (
    "activations layer by layer at init: vanishing, saturating and well-scaled signals"
)
ORDER = 10

SMALL = "normal(std=0.01)"
STANDARD = "normal(std=1.0)"
DEFAULT_INITS = (
    SMALL,
    STANDARD,
    "lecun_normal",
    "lecun_uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
)
GAUSSIAN_INITS = (SMALL, STANDARD, "lecun_normal", "glorot_normal", "he_normal")

SIZES = {"small": {"rows": 300}, "default": {}}

OPTION_HELP = {
    "seed": "seed of the inputs, the weights and the upstream gradient",
    "rows": "number of standard-normal input rows",
    "input_width": "number of input features",
    "depth": "number of hidden layers",
    "width": "units per hidden layer",
    "activations": "comma-separated activations, one set of networks each",
    "inits": "comma-separated init specs",
    "bins": "histogram bins per layer",
}


@dataclass(frozen=True)
class SignalConfig:
    """Settings of the standard-normal inputs and the plain MLPs, shared by forward and backward."""

    seed: int = 0
    rows: int = 1000
    input_width: int = 100
    depth: int = 5
    width: int = 50
    activations: tuple[str, ...] = ("tanh", "sigmoid", "relu")
    inits: tuple[str, ...] = DEFAULT_INITS

    def validate(
        self, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = ()
    ) -> None:
        """Raise ConfigError for the first invalid field.

        ``positive`` and ``non_negative`` name a subclass's own integer
        fields, which are checked together with the shared counts and ``seed``.
        """
        require_positive_integers(
            self, "rows", "input_width", "depth", "width", *positive
        )
        require_non_negative_integers(self, "seed", *non_negative)

        if not self.activations or not self.inits:
            raise ConfigError("activations and inits must each name at least one entry")
        for activation in self.activations:
            activation_module(activation)
        for init in self.inits:
            parse_scheme(init)


@dataclass(frozen=True)
class Config(SignalConfig):
    """The forward experiment's settings; the defaults are the textbook setup."""

    bins: int = 64

    def __post_init__(self) -> None:
        self.validate(positive=("bins",))


def measure(
    config: Config, activation: str, init: str, inputs: torch.Tensor
) -> dict[str, Any]:
    """Probe one network and return its per-layer figures."""
    model = plain_mlp(config.input_width, (config.width,) * config.depth, activation)
    initialize(model, init, stream_generator(config.seed, "weights"))
    report = probe(
        model,
        inputs,
        upstream="random",
        seed=config.seed,
        bins=config.bins,
        statistics=PROBE_STATISTICS,
    )
    layers = hidden_layers(report)
    return {
        "pre_std": column(layers, "pre_std"),
        "mean": column(layers, "mean"),
        "std": column(layers, "std"),
        "saturated": column(layers, "saturated"),
        "zero": column(layers, "zero"),
        "dead": column(layers, "dead"),
        "verdict": column(layers, "verdict"),
        "histogram": column(layers, "histogram"),
    }


def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: per activation and init, per-layer figures."""
    config = config or Config()
    inputs = torch.randn(
        config.rows,
        config.input_width,
        generator=stream_generator(config.seed, "inputs"),
    )
    networks: dict[str, dict[str, Any]] = {}
    total = len(config.activations) * len(config.inits)
    done = 0
    for activation in config.activations:
        networks[activation] = {}
        for init in config.inits:
            networks[activation][init] = measure(config, activation, init, inputs)
            done += 1
            if progress is not None:
                progress("forward", done, total)
    claims, not_checked = check_claims(config, networks)
    return {
        "experiment": NAME,
        "config": asdict(config),
        "claims": claims,
        "not_checked": not_checked,
        "networks": networks,
    }


def check_claims(
    config: Config, networks: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the networks that were run."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    tanh = networks.get("tanh", {})
    last = config.depth

    if SMALL in tanh and config.depth >= 2:
        std = tanh[SMALL]["std"]
        fold = c.geometric_rate(std[-1], std[0], config.depth - 1)
        expected_fold = 1 / (0.01 * math.sqrt(config.width))
        claims.append(
            c.claim(
                "tanh-small-vanishes",
                "With tanh and weights 0.01 * N(0, 1), the activation std falls about "
                "14-fold per layer after the first.",
                f"per-layer fall between 12 and 16.5 (1 / (0.01 * sqrt({config.width})) = "
                f"{expected_fold:.1f} while tanh is linear), and std below 1e-4 at layer {last}",
                f"fall {c.number(fold)} per layer; std by layer {c.numbers(std)}",
                c.within(fold, 12, 16.5) and std[-1] is not None and std[-1] < 1e-4,
            )
        )
    else:
        not_checked.append(
            {
                "id": "tanh-small-vanishes",
                "reason": "needs tanh, normal(std=0.01) and depth >= 2",
            }
        )

    if STANDARD in tanh:
        saturated = tanh[STANDARD]["saturated"]
        claims.append(
            c.claim(
                "tanh-standard-saturates",
                "With tanh and weights N(0, 1), more than half the units of every layer "
                "are saturated.",
                "fraction of outputs with |a| > 0.99 above 0.5 in every layer",
                f"saturated fraction by layer {c.numbers(saturated)}",
                all(value is not None and value > 0.5 for value in saturated),
            )
        )
    else:
        not_checked.append(
            {
                "id": "tanh-standard-saturates",
                "reason": "needs tanh and normal(std=1.0)",
            }
        )

    glorot = [init for init in ("glorot_normal", "glorot_uniform") if init in tanh]
    if glorot:
        firsts = [tanh[init]["std"][0] for init in glorot]
        lasts = [tanh[init]["std"][-1] for init in glorot]
        claims.append(
            c.claim(
                "tanh-glorot-gentle",
                "With tanh and Glorot weights, the activation std falls only gently: "
                f"about 0.67 at layer 1 and 0.33 at layer {last}.",
                f"std at layer 1 in [0.62, 0.72] and at layer {last} in [0.28, 0.38], "
                f"for {' and '.join(glorot)}",
                "; ".join(
                    f"{init}: layer 1 {c.number(first)}, layer {last} {c.number(final)}"
                    for init, first, final in zip(glorot, firsts, lasts, strict=True)
                ),
                all(c.within(v, 0.62, 0.72) for v in firsts)
                and all(c.within(v, 0.28, 0.38) for v in lasts),
            )
        )
    else:
        not_checked.append(
            {"id": "tanh-glorot-gentle", "reason": "needs tanh and a glorot init"}
        )

    relu = networks.get("relu", {})
    gaussian = [init for init in GAUSSIAN_INITS if init in relu]
    if len(gaussian) >= 2:
        zeros = [relu[init]["zero"] for init in gaussian]
        spread = max(max(values) - min(values) for values in zip(*zeros, strict=True))
        claims.append(
            c.claim(
                "relu-sparsity-scale-free",
                "ReLU is positively homogeneous, so with the same underlying N(0, 1) draw "
                "the scale of a Gaussian init does not change which units are zero.",
                f"fraction of zero outputs equal within 0.005 in every layer across {', '.join(short_name(i) for i in gaussian)}",
                f"largest spread {c.number(spread)}; zero fraction by layer "
                f"{c.numbers(zeros[0])}",
                spread <= 0.005,
            )
        )
    else:
        not_checked.append(
            {
                "id": "relu-sparsity-scale-free",
                "reason": "needs relu and two Gaussian inits",
            }
        )
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the std-by-depth figure, the histogram grids and the per-layer tables."""
    from initlab.experiments.figures import (
        add_figure,
        layer_labels,
        profile_panels,
        table_number,
    )
    from initlab.report.plots import histogram_grid_figure

    networks = result["networks"]
    depth = result["config"]["depth"]
    labels = layer_labels(depth)
    panels = [
        (
            activation,
            {short_name(init): data["std"] for init, data in by_init.items()},
        )
        for activation, by_init in networks.items()
    ]
    add_figure(
        section,
        profile_panels(panels, xlabel="hidden layer", ylabel="activation std"),
        figure_dir,
        "forward-std.png",
        "Std of each hidden layer's activation output at init, one panel per "
        "activation (log scale).",
    )
    for activation, by_init in networks.items():
        histograms = {
            short_name(init): data["histogram"]
            for init, data in by_init.items()
            if all(h is not None for h in data["histogram"])
        }
        if histograms:
            add_figure(
                section,
                histogram_grid_figure(
                    histograms,
                    layer_labels=labels,
                    title=f"{activation}: activation histograms by layer",
                ),
                figure_dir,
                f"forward-histograms-{activation}.png",
                f"{activation}: histogram of each hidden layer's activations at init, "
                "one row per init; every panel keeps its own x range.",
            )
    for activation, by_init in networks.items():
        third = "saturated" if activation in ("tanh", "sigmoid") else "zero"
        rows = []
        for init, data in by_init.items():
            rows.append(
                [
                    short_name(init),
                    " / ".join(table_number(v) for v in data["mean"]),
                    " / ".join(table_number(v) for v in data["std"]),
                    " / ".join(table_number(v) for v in data[third]),
                ]
            )
        section.add_table(
            ["init", "mean by layer", "std by layer", f"{third} fraction by layer"],
            rows,
            caption=f"{activation}: activation output per hidden layer, 1 to {depth}.",
        )
