"""The backward pass of the textbook networks: gradient std per layer, towards the input.

The networks of the forward experiment (standard-normal inputs of width 100,
1,000 rows, five hidden layers of 50 units, zero biases) get a standard-normal
upstream gradient at the last hidden layer's output; then the same hidden
stack with input width 64 and a linear output layer gets the gradient of
the mean cross-entropy on digits. For every hidden layer ``l`` the figure is
the std of the gradient with respect to its input (the network input for
``l = 1``), read from :func:`initlab.probe.probe`.

What happens, which is not what the usual story says: with ``0.01 * N(0,
1)`` the gradient vanishes towards the input; with ``N(0, 1)`` most tanh
units are saturated and each passes almost no gradient (its derivative
``1 - a^2`` is below 0.02), yet the gradient through the whole net grows
about 2-fold per layer towards the input, because the large weights
multiply it by about ``sqrt(50)`` per layer; with Glorot it stays within an
order of magnitude. Steps:

1. random upstream: for each activation and init, build and fill the
   network as the forward experiment does and probe it with
   ``upstream="random"``;
2. for tanh with ``N(0, 1)``, measure how much of the gradient at the
   pre-activations flows through saturated units;
3. digits: probe the 64-50x5-10 network on ``digits_rows`` training rows
   with their labels (cross-entropy);
4. check the claims on the tanh networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from initlab.data import load
from initlab.experiments import claims as c
from initlab.experiments.forward import SMALL, STANDARD, SignalConfig
from initlab.experiments.signal import (
    PROBE_STATISTICS,
    column,
    hidden_layers,
    initialize,
    plain_mlp,
    short_name,
)
from initlab.probe import probe
from initlab.training import stream_generator

NAME = "backward"
SUMMARY = "gradients layer by layer at init: vanishing, growing and well-scaled"
ORDER = 20

SIZES = {"small": {"rows": 300, "digits_rows": 300}, "default": {}}

OPTION_HELP = {
    "seed": "seed of the inputs, the weights, the upstream gradient and the digits split",
    "rows": "number of standard-normal input rows",
    "input_width": "number of input features of the random-upstream networks",
    "depth": "number of hidden layers",
    "width": "units per hidden layer",
    "activations": "comma-separated activations of the random-upstream networks",
    "inits": "comma-separated init specs",
    "digits_rows": "digits training rows for the cross-entropy gradient (0 skips it)",
}

# tanh saturates where |a| > 0.99, the probe's default margin.
SATURATION = 0.99

# The backward statistics only; histograms are the forward experiment's.
STATISTICS = tuple(name for name in PROBE_STATISTICS if name != "histogram")


@dataclass(frozen=True)
class Config(SignalConfig):
    """The backward experiment's settings; ``digits_rows`` 0 skips the digits part."""

    digits_rows: int = 1000

    def __post_init__(self) -> None:
        self.validate(non_negative=("digits_rows",))


def _gradients(report: Any) -> dict[str, Any]:
    layers = hidden_layers(report)
    return {
        "grad_in": column(layers, "grad_in"),
        "grad_out": column(layers, "grad_out"),
        "saturated": column(layers, "saturated"),
        "loss": report.loss,
    }


def saturated_gradient_share(
    model: nn.Sequential, inputs: torch.Tensor, generator: torch.Generator
) -> list[float]:
    """Return, per hidden layer, the share of ``sum (dL/dz)^2`` that saturated units carry.

    ``z`` is the layer's pre-activation and ``L = sum(G * output)`` for a
    standard-normal upstream gradient ``G``. A unit counts as saturated for
    a sample when ``|tanh(z)| > 0.99``, where its derivative is below 0.02.
    """
    pre_activations: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []
    h = inputs
    for module in model:
        h = module(h)
        if isinstance(module, nn.Linear):
            h.retain_grad()
            pre_activations.append(h)
        else:
            outputs.append(h)
    upstream = torch.randn(h.shape, generator=generator)
    (h * upstream).sum().backward()
    shares = []
    for z, a in zip(pre_activations, outputs, strict=True):
        energy = z.grad.double() ** 2
        saturated = a.detach().abs() > SATURATION
        shares.append(float(energy[saturated].sum() / energy.sum()))
    return shares


def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: per-layer gradient std for every network."""
    config = config or Config()
    hidden = (config.width,) * config.depth
    inputs = torch.randn(
        config.rows,
        config.input_width,
        generator=stream_generator(config.seed, "inputs"),
    )
    total = len(config.activations) * len(config.inits) + (
        len(config.inits) if config.digits_rows else 0
    )
    done = 0
    random_upstream: dict[str, dict[str, Any]] = {}
    for activation in config.activations:
        random_upstream[activation] = {}
        for init in config.inits:
            model = plain_mlp(config.input_width, hidden, activation)
            initialize(model, init, stream_generator(config.seed, "weights"))
            report = probe(
                model,
                inputs,
                upstream="random",
                seed=config.seed,
                statistics=STATISTICS,
            )
            random_upstream[activation][init] = _gradients(report)
            done += 1
            if progress is not None:
                progress("backward", done, total)

    saturated_share = None
    if "tanh" in config.activations and STANDARD in config.inits:
        model = plain_mlp(config.input_width, hidden, "tanh")
        initialize(model, STANDARD, stream_generator(config.seed, "weights"))
        saturated_share = saturated_gradient_share(
            model, inputs, stream_generator(config.seed, "upstream")
        )

    digits: dict[str, Any] | None = None
    if config.digits_rows:
        dataset = load("digits", seed=config.seed)
        rows = min(config.digits_rows, dataset.num_train)
        order = torch.randperm(
            dataset.num_train, generator=stream_generator(config.seed, "digits rows")
        )[:rows]
        x = torch.as_tensor(dataset.x_train, dtype=torch.float32)[order]
        y = torch.as_tensor(dataset.y_train, dtype=torch.int64)[order]
        digits = {"rows": rows, "networks": {}}
        for init in config.inits:
            model = plain_mlp(dataset.num_features, hidden, "tanh", dataset.num_classes)
            initialize(model, init, stream_generator(config.seed, "weights"))
            report = probe(model, x, y, seed=config.seed, statistics=STATISTICS)
            digits["networks"][init] = _gradients(report)
            done += 1
            if progress is not None:
                progress("backward", done, total)

    claims, not_checked = check_claims(config, random_upstream, saturated_share, digits)
    return {
        "experiment": NAME,
        "config": asdict(config),
        "claims": claims,
        "not_checked": not_checked,
        "random_upstream": random_upstream,
        "tanh_standard_saturated_share": saturated_share,
        "digits": digits,
    }


def _rate_to_input(grad_in: list[float | None]) -> float | None:
    """Return the mean factor per layer from the last hidden layer's input to the network input."""
    return c.geometric_rate(grad_in[-1], grad_in[0], len(grad_in) - 1)


def _spread(values: list[float | None]) -> float | None:
    kept = [value for value in values if value is not None and value > 0]
    if len(kept) != len(values) or not kept:
        return None
    return max(kept) / min(kept)


def _glorot_stable_claim(
    networks: dict[str, Any], claim_id: str, text: str
) -> dict[str, Any] | None:
    """Build the claim that every Glorot network keeps its per-layer gradient std within 10-fold.

    Returns None when ``networks`` has no Glorot init.
    """
    glorot = [init for init in ("glorot_normal", "glorot_uniform") if init in networks]
    if not glorot:
        return None

    spreads = [_spread(networks[init]["grad_in"]) for init in glorot]
    return c.claim(
        claim_id,
        text,
        "largest over smallest per-layer gradient std below 10",
        "; ".join(
            f"{init}: ratio {c.number(spread)}"
            for init, spread in zip(glorot, spreads, strict=True)
        ),
        all(spread is not None and spread < 10 for spread in spreads),
    )


def check_claims(
    config: Config,
    random_upstream: dict[str, dict[str, Any]],
    saturated_share: list[float] | None,
    digits: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the tanh networks that were run."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    tanh = random_upstream.get("tanh", {})
    depth = config.depth
    if depth < 2:
        return claims, [{"id": "all", "reason": "every claim needs depth >= 2"}]

    if SMALL in tanh:
        grad = tanh[SMALL]["grad_in"]
        claims.append(
            c.claim(
                "tanh-small-gradient-vanishes",
                "With tanh and weights 0.01 * N(0, 1), the gradient vanishes towards the input.",
                "std of the gradient at the network input below 1e-5 (unit upstream gradient)",
                f"gradient std at the input of layers 1 to {depth}: {c.numbers(grad)}",
                grad[0] is not None and grad[0] < 1e-5,
            )
        )
    else:
        not_checked.append(
            {
                "id": "tanh-small-gradient-vanishes",
                "reason": "needs tanh and normal(std=0.01)",
            }
        )

    if STANDARD in tanh and saturated_share is not None:
        saturated = tanh[STANDARD]["saturated"]
        claims.append(
            c.claim(
                "tanh-standard-saturated-units-pass-little",
                "With tanh and weights N(0, 1), the saturated units, more than half of "
                "each layer, pass almost no gradient.",
                "saturated units carry less than 1% of the squared gradient at the "
                "pre-activations of every layer",
                f"saturated fraction {c.numbers(saturated)}; their share of the squared "
                f"gradient {c.numbers(saturated_share)}",
                all(share < 0.01 for share in saturated_share),
            )
        )
        grad = tanh[STANDARD]["grad_in"]
        rate = _rate_to_input(grad)
        claims.append(
            c.claim(
                "tanh-standard-gradient-grows",
                "Yet with tanh and weights N(0, 1) the gradient through the whole net grows "
                "about 2-fold per layer towards the input, because the weights are large.",
                "mean growth per layer towards the input between 1.5 and 2.5",
                f"growth {c.number(rate)} per layer; gradient std at the input of layers 1 "
                f"to {depth}: {c.numbers(grad)}",
                c.within(rate, 1.5, 2.5),
            )
        )
    else:
        not_checked.append(
            {
                "id": "tanh-standard-gradient-grows",
                "reason": "needs tanh and normal(std=1.0)",
            }
        )

    glorot_claim = _glorot_stable_claim(
        tanh,
        "tanh-glorot-gradient-stable",
        "With tanh and Glorot weights, the gradient std stays within an order of "
        "magnitude across the layers.",
    )
    if glorot_claim is not None:
        claims.append(glorot_claim)
    else:
        not_checked.append(
            {
                "id": "tanh-glorot-gradient-stable",
                "reason": "needs tanh and a glorot init",
            }
        )

    if digits is not None:
        claims.extend(_digits_claims(digits, depth))
    else:
        not_checked.append({"id": "digits", "reason": "digits_rows is 0"})
    return claims, not_checked


def _digits_claims(digits: dict[str, Any], depth: int) -> list[dict[str, Any]]:
    networks = digits["networks"]
    claims = []
    if SMALL in networks:
        rate = _rate_to_input(networks[SMALL]["grad_in"])
        claims.append(
            c.claim(
                "digits-small-gradient-vanishes",
                "With a real loss (cross-entropy on digits), 0.01 * N(0, 1) weights also "
                "make the gradient vanish towards the input.",
                "gradient std falls more than 10-fold per layer towards the input",
                f"factor {c.number(rate)} per layer; by layer {c.numbers(networks[SMALL]['grad_in'])}",
                rate is not None and rate < 0.1,
            )
        )
    if STANDARD in networks:
        rate = _rate_to_input(networks[STANDARD]["grad_in"])
        claims.append(
            c.claim(
                "digits-standard-gradient-grows",
                "With cross-entropy on digits, N(0, 1) weights also make the gradient grow "
                "towards the input.",
                "mean growth per layer towards the input between 1.5 and 2.5",
                f"growth {c.number(rate)} per layer; by layer "
                f"{c.numbers(networks[STANDARD]['grad_in'])}",
                c.within(rate, 1.5, 2.5),
            )
        )
    glorot_claim = _glorot_stable_claim(
        networks,
        "digits-glorot-gradient-stable",
        "With cross-entropy on digits, Glorot weights keep the gradient std within "
        "an order of magnitude across the layers.",
    )
    if glorot_claim is not None:
        claims.append(glorot_claim)
    return claims


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the gradient-by-layer figures and tables."""
    from initlab.experiments.figures import add_figure, profile_panels, table_number

    depth = result["config"]["depth"]
    panels = [
        (
            f"{activation}, random upstream",
            {short_name(init): data["grad_in"] for init, data in by_init.items()},
        )
        for activation, by_init in result["random_upstream"].items()
    ]
    digits = result.get("digits")
    if digits is not None:
        panels.append(
            (
                "tanh, cross-entropy on digits",
                {
                    short_name(init): d["grad_in"]
                    for init, d in digits["networks"].items()
                },
            )
        )
    add_figure(
        section,
        profile_panels(
            panels,
            xlabel="hidden layer (1 = next to the input)",
            ylabel="std of the gradient at the layer's input",
            columns=2,
        ),
        figure_dir,
        "backward-gradient-std.png",
        "Std of the gradient with respect to each hidden layer's input at init (log "
        "scale). The first panels inject a standard-normal gradient at the last hidden "
        "layer; the last one backpropagates the mean cross-entropy of a digits batch.",
    )
    tables = [
        (f"{activation}, random upstream", by_init)
        for activation, by_init in result["random_upstream"].items()
    ]
    if digits is not None:
        tables.append(("tanh, cross-entropy on digits", digits["networks"]))
    for title, by_init in tables:
        rows = [
            [
                short_name(init),
                " / ".join(table_number(value) for value in data["grad_in"]),
                table_number(_rate_to_input(data["grad_in"])),
            ]
            for init, data in by_init.items()
        ]
        section.add_table(
            [
                "init",
                f"gradient std at the input of layers 1 to {depth}",
                "factor per layer towards the input",
            ],
            rows,
            caption=title,
        )
    share = result.get("tanh_standard_saturated_share")
    if share is not None:
        section.add_text(
            "tanh with N(0, 1): share of the squared gradient at the pre-activations that "
            f"flows through saturated units, by layer: {c.numbers(share)}."
        )
