"""Gains for every activation in a 50-layer MLP: magnitude, gradient and correlation by depth.

For each activation initlab has a gain for, the experiment builds a
50-layer MLP of width 128 with zero biases and weights ``N(0, gain^2 /
fan_in)`` (``N(0, 1 / fan_in)`` in the first layer, which sees the
unit-variance input rather than an activation output), for four gains: the forward gain ``1 / sqrt(E[phi(z)^2])``, the
backward gain ``1 / sqrt(E[phi'(z)^2])`` (both from
:mod:`initlab.gains`), PyTorch's table gain (``calculate_gain``, where it
has the activation) and gain 1. It measures, layer by layer:

* the root mean square of the pre-activations ``z = W h``, which the
  forward gain is built to keep at 1;
* the root mean square of the gradient with respect to each layer's input,
  for a standard-normal gradient injected at the last layer's output, and
  its mean factor per layer;
* the mean correlation of two inputs' representations: pairs of inputs with
  correlation 0.5 go through the network, and the cosine of their
  pre-activation vectors is averaged over the pairs.

Mean-field theory (Poole et al., 2016, "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz et al., 2017, "Deep
information propagation") predicts the factor per layer of the gradient's
second moment at the fixed point ``q* = 1`` as ``chi = gain^2 E[phi'(z)^2]``,
which is ``(forward gain / backward gain)^2`` at the forward gain: about
1.18 for tanh, the chaotic phase, where the gradient grows and two inputs
decorrelate. Steps:

1. draw the input pairs and one set of standard-normal weight matrices from
   the seed; every network scales the same draws by ``gain / sqrt(width)``;
2. for each activation and gain, run the forward and backward pass in
   float64 and record the three profiles;
3. compute the length map's slope at ``q = 1`` for the forward gain, which
   says whether keeping ``q = 1`` is stable;
4. check the claims.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from initlab.errors import ConfigError
from initlab.experiments import claims as c
from initlab.experiments.threads import single_threaded
from initlab.experiments.validation import (
    require_non_negative_integers,
    require_positive_integers,
)
from initlab.gains import (
    backward_gain,
    calculate_gain,
    forward_gain,
    gaussian_moment,
    known_activations,
    resolve_activation,
)
from initlab.training import stream_generator

NAME = "activations"
SUMMARY = (
    "forward, backward, PyTorch and unit gains in 50-layer MLPs for every activation"
)
ORDER = 60

# Names that are aliases of another entry of known_activations().
ALIASES = {"linear": "identity", "swish": "silu"}
# calculate_gain has no "identity"; its name for the same gain is "linear".
TABLE_NAMES = {"identity": "linear"}
GAIN_KINDS = ("forward", "backward", "torch", "one")
# Step of the central difference for the length map's slope at q = 1.
SLOPE_STEP = 1e-3

SIZES = {
    "small": {"activations": ("tanh", "relu", "gelu"), "depth": 30, "pairs": 32},
    "default": {},
}

OPTION_HELP = {
    "seed": "seed of the inputs, the weights and the upstream gradient",
    "activations": "comma-separated activations [default: every one initlab has a gain for]",
    "depth": "number of layers",
    "width": "units per layer (also the input width)",
    "pairs": "input pairs; the batch has twice as many rows",
    "input_correlation": "correlation of the two inputs of a pair",
}


def default_activations() -> tuple[str, ...]:
    """Return every activation initlab has a gain for, without aliases."""
    return tuple(name for name in known_activations() if name not in ALIASES)


@dataclass(frozen=True)
class Config:
    """The activations experiment's settings; the defaults are the setup above."""

    seed: int = 0
    activations: tuple[str, ...] = ()
    depth: int = 50
    width: int = 128
    pairs: int = 64
    input_correlation: float = 0.5

    def __post_init__(self) -> None:
        require_positive_integers(self, "depth", "width", "pairs")
        if self.depth < 2:
            raise ConfigError(f"depth must be at least 2, got {self.depth}")
        require_non_negative_integers(self, "seed")
        if not -1 < self.input_correlation < 1:
            raise ConfigError(
                f"input_correlation must be in (-1, 1), got {self.input_correlation!r}"
            )
        for name in self.activations:
            resolve_activation(name)

    @property
    def chosen_activations(self) -> tuple[str, ...]:
        """The configured activations, or all of them when none are named."""
        return self.activations or default_activations()


def gains_for(name: str) -> dict[str, float]:
    """Return the gains to compare for ``name``; ``torch`` only where PyTorch's table has it."""
    gains = {"forward": forward_gain(name), "backward": backward_gain(name)}
    # calculate_gain raises ValueError for a name its table does not have.
    with contextlib.suppress(ValueError):
        gains["torch"] = float(calculate_gain(TABLE_NAMES.get(name, name)))
    gains["one"] = 1.0
    return gains


def length_map_slope(name: str, gain: float) -> float:
    """Return ``d/dq [gain^2 E[phi(sqrt(q) z)^2]]`` at ``q = 1``, by a central difference.

    Below 1 the map ``q -> gain^2 E[phi(sqrt(q) z)^2]`` pulls a drifted
    magnitude back to its fixed point ``q = 1``; above 1 it pushes it away.
    """
    phi = resolve_activation(name)

    def moment(q: float) -> float:
        scale = math.sqrt(q)
        return gaussian_moment(lambda x: phi(scale * x))

    return (
        gain**2 * (moment(1 + SLOPE_STEP) - moment(1 - SLOPE_STEP)) / (2 * SLOPE_STEP)
    )


def _profiles(
    name: str,
    gain: float,
    inputs: torch.Tensor,
    weights: list[torch.Tensor],
    upstream: torch.Tensor,
    pairs: int,
) -> dict[str, Any]:
    phi = resolve_activation(name)
    width = weights[0].shape[0]
    x = inputs.clone().requires_grad_(True)
    h = x
    layer_inputs: list[torch.Tensor] = []
    rms: list[float | None] = []
    correlation: list[float | None] = []
    for index, standard in enumerate(weights):
        if h is not x:
            h.retain_grad()
        layer_inputs.append(h)
        # The first layer sees the unit-variance input, not an activation
        # output, so gain 1 already gives it pre-activations of variance 1.
        scale = (1.0 if index == 0 else gain) / math.sqrt(width)
        # (2 * pairs, width): rows [0, pairs) and [pairs, 2 * pairs) are the pairs.
        z = h @ (standard * scale).T
        rms.append(c.finite(z.detach().pow(2).mean().sqrt()))
        first, second = z.detach()[:pairs], z.detach()[pairs:]
        cosine = (first * second).sum(1) / (first.norm(dim=1) * second.norm(dim=1))
        correlation.append(c.finite(cosine.mean()))
        h = phi(z)
    (h * upstream).sum().backward()
    gradient = [
        c.finite(tensor.grad.pow(2).mean().sqrt()) if tensor.grad is not None else None
        for tensor in layer_inputs
    ]
    return {
        "pre_activation_rms": rms,
        "correlation": correlation,
        "gradient_rms": gradient,
        "output_std": c.finite(h.detach().std()),
    }


@single_threaded
def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: per activation and gain, three profiles by depth."""
    config = config or Config()

    generator = stream_generator(config.seed, "activations")
    dtype = torch.float64
    first = torch.randn(config.pairs, config.width, generator=generator, dtype=dtype)
    noise = torch.randn(config.pairs, config.width, generator=generator, dtype=dtype)
    rho = config.input_correlation
    second = rho * first + math.sqrt(1 - rho**2) * noise
    inputs = torch.cat([first, second])
    weights = [
        torch.randn(config.width, config.width, generator=generator, dtype=dtype)
        for _ in range(config.depth)
    ]
    upstream = torch.randn(
        2 * config.pairs, config.width, generator=generator, dtype=dtype
    )

    activations = config.chosen_activations
    results: dict[str, Any] = {}
    for done, name in enumerate(activations, start=1):
        gains = gains_for(name)
        forward = gains["forward"]
        entry: dict[str, Any] = {
            "gains": gains,
            "chi_at_forward_gain": (forward / gains["backward"]) ** 2,
            "length_map_slope_at_forward_gain": length_map_slope(name, forward),
            "networks": {},
        }
        for kind, gain in gains.items():
            profile = _profiles(name, gain, inputs, weights, upstream, config.pairs)
            gradient = profile["gradient_rms"]
            rate = c.geometric_rate(gradient[-1], gradient[0], config.depth - 1)
            profile["gradient_variance_factor_per_layer"] = (
                None if rate is None else rate**2
            )
            entry["networks"][kind] = profile
        results[name] = entry
        if progress is not None:
            progress("activations", done, len(activations))

    claims, not_checked = check_claims(config, results)
    return {
        "experiment": NAME,
        "config": {**asdict(config), "activations": list(activations)},
        "claims": claims,
        "not_checked": not_checked,
        "activations": results,
    }


def _magnitude_drift(profile: dict[str, Any]) -> float | None:
    """Return the larger of last/first and first/last pre-activation RMS."""
    first, last = profile["pre_activation_rms"][0], profile["pre_activation_rms"][-1]
    if first is None or last is None or first <= 0 or last <= 0:
        return None
    return max(last / first, first / last)


def check_claims(
    config: Config, results: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    depth = config.depth
    drift = {
        name: _magnitude_drift(entry["networks"]["forward"])
        for name, entry in results.items()
    }
    kept = [name for name, value in drift.items() if value is not None and value <= 2]
    lost = [name for name in drift if name not in kept]
    claims.append(
        c.claim(
            "forward-gain-keeps-magnitude",
            f"With its forward gain, every activation keeps the magnitude of the signal "
            f"over {depth} layers.",
            f"pre-activation RMS at layer {depth} within a factor 2 of layer 1, for every activation",
            f"kept by {len(kept)} of {len(drift)}"
            + (
                "; drifted: "
                + ", ".join(f"{name} ({c.number(drift[name])}x)" for name in lost)
                if lost
                else ""
            ),
            not lost,
        )
    )
    if lost:
        slopes = {
            name: results[name]["length_map_slope_at_forward_gain"] for name in drift
        }
        claims.append(
            c.claim(
                "drift-where-length-map-not-attracting",
                "Where the forward gain does not keep the magnitude, q = 1 is not an "
                "attracting fixed point of the length map q -> gain^2 E[phi(sqrt(q) z)^2].",
                "slope of the length map at q = 1 at least 1 (to 1e-6) for every activation "
                "that drifted: above 1 it pushes a drift further, at 1 (ReLU family) it "
                "leaves finite-width fluctuations uncorrected",
                "; ".join(
                    f"{name}: slope {c.number(slopes[name], 4)}" for name in lost
                ),
                all(slopes[name] >= 1 - 1e-6 for name in lost),
            )
        )

    if "tanh" in results:
        tanh = results["tanh"]
        forward = tanh["networks"]["forward"]
        factor = forward["gradient_variance_factor_per_layer"]
        claims.append(
            c.claim(
                "tanh-forward-gain-keeps-magnitude",
                f"For tanh the forward gain keeps the magnitude over {depth} layers.",
                f"pre-activation RMS at layer {depth} within a factor 2 of layer 1",
                f"RMS {c.number(forward['pre_activation_rms'][0])} at layer 1, "
                f"{c.number(forward['pre_activation_rms'][-1])} at layer {depth}",
                drift["tanh"] is not None and drift["tanh"] <= 2,
            )
        )
        claims.append(
            c.claim(
                "tanh-forward-gain-chaotic",
                "But for tanh the forward gain puts the network in the chaotic phase: the "
                "gradient's second moment grows about 1.18-fold per layer towards the input "
                "(its RMS about 1.09-fold).",
                f"measured factor per layer of the squared gradient RMS between 1.1 and 1.26 "
                f"(mean-field chi = {c.number(tanh['chi_at_forward_gain'])})",
                f"factor {c.number(factor)} per layer; gradient RMS at the input "
                f"{c.number(forward['gradient_rms'][0])} for a unit upstream gradient",
                c.within(factor, 1.1, 1.26),
            )
        )
        one = tanh["networks"]["one"]["correlation"][-1]
        claims.append(
            c.claim(
                "tanh-forward-gain-decorrelates",
                "And it decorrelates inputs: two inputs with correlation "
                f"{config.input_correlation:g} end up nearly orthogonal.",
                f"mean cosine of the pre-activations at layer {depth} below 0.2",
                f"{c.number(forward['correlation'][0])} at layer 1, "
                f"{c.number(forward['correlation'][-1])} at layer {depth} "
                f"(gain 1: {c.number(one)})",
                forward["correlation"][-1] is not None
                and forward["correlation"][-1] < 0.2,
            )
        )
    else:
        not_checked.append({"id": "tanh", "reason": "needs tanh among the activations"})
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add the magnitude, correlation and gradient profiles and a per-activation table."""
    from initlab.experiments.figures import add_figure, profile_panels, table_number

    activations = result["activations"]
    depth = result["config"]["depth"]
    for key, ylabel, log, filename, caption in (
        (
            "pre_activation_rms",
            "pre-activation RMS",
            True,
            "activations-magnitude.png",
            "Root mean square of each layer's pre-activations, one panel per activation, "
            "one line per gain (log scale).",
        ),
        (
            "gradient_rms",
            "gradient RMS at the layer's input",
            True,
            "activations-gradient.png",
            "Root mean square of the gradient with respect to each layer's input, for a "
            f"standard-normal gradient at layer {depth}'s output (log scale).",
        ),
        (
            "correlation",
            "mean cosine of a pair",
            False,
            "activations-correlation.png",
            "Mean cosine between the pre-activation vectors of two inputs whose "
            f"correlation is {result['config']['input_correlation']:g}, by layer.",
        ),
    ):
        panels = [
            (name, {kind: profile[key] for kind, profile in entry["networks"].items()})
            for name, entry in activations.items()
        ]
        add_figure(
            section,
            profile_panels(panels, xlabel="layer", ylabel=ylabel, log=log, columns=4),
            figure_dir,
            filename,
            caption,
        )
    rows = []
    for name, entry in activations.items():
        forward = entry["networks"]["forward"]
        rows.append(
            [
                name,
                " / ".join(
                    f"{kind} {table_number(entry['gains'][kind])}"
                    for kind in entry["gains"]
                ),
                table_number(forward["pre_activation_rms"][-1]),
                table_number(forward["correlation"][-1]),
                table_number(forward["gradient_rms"][0]),
                table_number(forward["gradient_variance_factor_per_layer"]),
                table_number(entry["chi_at_forward_gain"]),
                table_number(entry["length_map_slope_at_forward_gain"]),
            ]
        )
    section.add_table(
        [
            "activation",
            "gains",
            f"RMS at layer {depth}",
            f"cosine at layer {depth}",
            "gradient RMS at the input",
            "gradient variance factor per layer",
            "mean-field chi",
            "length-map slope",
        ],
        rows,
        caption="With the forward gain. chi = (forward gain / backward gain)^2; the "
        "length-map slope above 1 means q = 1 is unstable.",
    )
