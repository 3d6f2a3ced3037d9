"""Saxe, McClelland and Ganguli (2014): orthogonal init makes deep linear nets learn as fast as shallow ones.

"Exact solutions to the nonlinear dynamics of learning in deep linear
neural networks" (ICLR 2014) showed that a deep linear network started
from random orthogonal weights learns in a number of steps that does not
grow with depth, when the learning rate is scaled as ``1 / depth``, while a
scaled Gaussian start ``N(0, 1 / n)`` slows down as the network deepens:
the product of many Gaussian matrices has singular values spread over
orders of magnitude, the product of orthogonal ones has all of them at 1.

This experiment trains 64-64x(D-1)-10 linear MLPs (no biases, no
activation) on digits for D = 2, 4, 8, 16, 32 and 64, with the squared
error to one-hot targets, ``L = mean over samples of 0.5 * ||y - W x||^2``
where ``W = W_D ... W_1``, by full-batch gradient descent at learning rate
``c / D`` for c in 0.1, 0.3 and 1, and counts the steps until the loss is
within 5% of the least-squares optimum ``L*`` (``L <= 1.05 L*``). For each
depth and init the best c (fewest steps) is reported. Steps:

1. load digits and reduce the training split to its second moments
   ``S_xx = X^T X / n``, ``S_yx = Y^T X / n`` and ``mean ||y||^2``, from
   which the full-batch loss and its gradient follow exactly:
   ``L = 0.5 (tr(W S_xx W^T) - 2 tr(W S_yx^T) + mean ||y||^2)``;
2. compute ``L*`` from the pseudo-inverse solution ``W* = S_yx S_xx^+``;
3. for each depth, stack one replica per (init, c) and run gradient
   descent in float64 until every replica reached the criterion, diverged
   or used ``max_steps``;
4. check the claims on the best c per depth and init.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from initlab.backends.torch import fill_
from initlab.data import load
from initlab.errors import ConfigError
from initlab.experiments import claims as c
from initlab.experiments.threads import single_threaded
from initlab.experiments.validation import (
    require_non_negative_integers,
    require_positive_integers,
)
from initlab.registry import parse_scheme
from initlab.training import stream_generator

NAME = "orthogonal"
SUMMARY = (
    "orthogonal vs scaled Gaussian init in deep linear networks (Saxe et al., 2014)"
)
ORDER = 70

ORTHOGONAL = "orthogonal"
GAUSSIAN = "lecun_normal"
# A replica whose loss exceeds this multiple of its initial loss has diverged.
DIVERGED = 1e6

SIZES = {
    "small": {"depths": (2, 8, 32), "lr_scales": (0.3, 1.0), "max_steps": 400},
    "default": {},
}

OPTION_HELP = {
    "seed": "seed of the data split and the weights",
    "depths": "comma-separated numbers of weight layers D",
    "width": "units per hidden layer",
    "inits": "comma-separated init specs; lecun_normal is N(0, 1/fan_in)",
    "lr_scales": "comma-separated values of c; the learning rate is c / D",
    "max_steps": "gradient steps before a replica counts as not reaching the criterion",
    "tolerance": "criterion: loss at most (1 + tolerance) times the least-squares optimum",
    "record_every": "steps between the recorded points of each loss curve",
}


@dataclass(frozen=True)
class Config:
    """The orthogonal experiment's settings; the defaults are the setup above."""

    seed: int = 0
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
    width: int = 64
    inits: tuple[str, ...] = (ORTHOGONAL, GAUSSIAN)
    lr_scales: tuple[float, ...] = (0.1, 0.3, 1.0)
    max_steps: int = 1500
    tolerance: float = 0.05
    record_every: int = 10

    def __post_init__(self) -> None:
        require_positive_integers(self, "width", "max_steps", "record_every")
        require_non_negative_integers(self, "seed")
        if not self.depths or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.depths
        ):
            raise ConfigError(f"depths must be positive integers, got {self.depths!r}")
        if not self.lr_scales or any(
            not math.isfinite(s) or s <= 0 for s in self.lr_scales
        ):
            raise ConfigError(
                f"lr_scales must be positive numbers, got {self.lr_scales!r}"
            )
        if not self.tolerance > 0:
            raise ConfigError(f"tolerance must be positive, got {self.tolerance!r}")
        if not self.inits:
            raise ConfigError("inits must name at least one init, such as orthogonal")
        for init in self.inits:
            parse_scheme(init)


@dataclass(frozen=True)
class Moments:
    """Second moments of the training split that fix the full-batch squared error."""

    xx: torch.Tensor  # (features, features)
    yx: torch.Tensor  # (classes, features)
    yy: float  # mean ||y||^2
    optimum: float  # least-squares L*

    def loss(self, product: torch.Tensor) -> torch.Tensor:
        """Return the loss of each replica's end-to-end map ``product`` (R, classes, features)."""
        fitted = torch.einsum("rcf,fg,rcg->r", product, self.xx, product)
        cross = torch.einsum("rcf,cf->r", product, self.yx)
        return 0.5 * (fitted - 2 * cross + self.yy)


def moments(x: torch.Tensor, y: torch.Tensor, classes: int) -> Moments:
    """Reduce inputs ``x`` (n, features) and labels ``y`` to :class:`Moments`, in float64."""
    x = x.to(torch.float64)
    targets = torch.nn.functional.one_hot(y, classes).to(torch.float64)
    n = x.shape[0]
    xx = x.T @ x / n
    yx = targets.T @ x / n
    yy = float((targets**2).sum(1).mean())
    best = yx @ torch.linalg.pinv(xx)
    optimum = float(
        0.5 * (torch.trace(best @ xx @ best.T) - 2 * torch.trace(best @ yx.T) + yy)
    )
    return Moments(xx, yx, yy, optimum)


def train_depth(
    config: Config, depth: int, data: Moments, features: int, classes: int
) -> list[dict[str, Any]]:
    """Run gradient descent for every (init, c) replica of one depth; return one record each.

    This loop replaces :func:`initlab.training.train_replicas`, which trains
    classifiers with biases on minibatch cross-entropy: the experiment needs
    full-batch gradient descent on the squared error of bias-free linear
    networks, with a learning rate per replica and a stop per replica.
    """
    replicas = [(init, scale) for init in config.inits for scale in config.lr_scales]
    widths = [features] + [config.width] * (depth - 1) + [classes]
    weights = []
    for layer in range(depth):
        # (R, out, in): replica r's weight of this layer, PyTorch layout.
        stacked = torch.empty(
            len(replicas), widths[layer + 1], widths[layer], dtype=torch.float64
        )
        for index, (init, _) in enumerate(replicas):
            generator = stream_generator(config.seed, "weights", init, depth, layer)
            fill_(stacked[index], init, generator=generator)
        weights.append(stacked.requires_grad_(True))
    rates = torch.tensor(
        [scale / depth for _, scale in replicas], dtype=torch.float64
    ).view(-1, 1, 1)
    active = torch.ones(len(replicas), dtype=torch.bool)
    threshold = (1 + config.tolerance) * data.optimum
    reached: list[int | None] = [None] * len(replicas)
    diverged = [False] * len(replicas)
    curves: list[list[float | None]] = [[] for _ in replicas]
    curve_steps: list[list[int]] = [[] for _ in replicas]
    initial: list[float] = []

    for step in range(config.max_steps + 1):
        # W_D ... W_1 from the output side: every product is (R, classes, width)
        # times (R, width, width), which costs classes / width of the
        # (width, width) products of the other order.
        product = weights[-1]
        for weight in reversed(weights[:-1]):
            product = torch.bmm(product, weight)
        losses = data.loss(product)
        values = losses.detach().tolist()
        if step == 0:
            initial = values
        last = step == config.max_steps
        for index, value in enumerate(values):
            if not active[index]:
                continue
            if not math.isfinite(value) or value > DIVERGED * initial[index]:
                diverged[index] = True
                active[index] = False
            elif value <= threshold:
                reached[index] = step
                active[index] = False
            # Every record_every steps, and the step at which a replica stops.
            if step % config.record_every == 0 or not active[index] or last:
                curves[index].append(c.finite(value))
                curve_steps[index].append(step)
        if not active.any() or last:
            break
        gradients = torch.autograd.grad(losses.sum(), weights)
        with torch.no_grad():
            mask = active.to(torch.float64).view(-1, 1, 1)
            for weight, gradient in zip(weights, gradients, strict=True):
                # Finished or diverged replicas keep their weights.
                weight -= rates * mask * torch.nan_to_num(gradient)

    return [
        {
            "init": init,
            "lr_scale": scale,
            "lr": scale / depth,
            "steps_to_criterion": reached[index],
            "diverged": diverged[index],
            "initial_loss": c.finite(initial[index]),
            "loss_curve": curves[index],
            "loss_curve_steps": curve_steps[index],
        }
        for index, (init, scale) in enumerate(replicas)
    ]


def best_run(runs: list[dict[str, Any]], init: str) -> dict[str, Any] | None:
    """Return the run of ``init`` with the fewest steps to the criterion, else the lowest final loss."""
    chosen = [r for r in runs if r["init"] == init]
    if not chosen:
        return None
    done = [r for r in chosen if r["steps_to_criterion"] is not None]
    if done:
        return min(done, key=lambda r: r["steps_to_criterion"])
    finite = [
        r for r in chosen if not r["diverged"] and r["loss_curve"][-1] is not None
    ]
    if finite:
        return min(finite, key=lambda r: r["loss_curve"][-1])
    return chosen[0]


@single_threaded
def run(
    config: Config | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and return plain data: steps to the criterion per depth, init and c."""
    config = config or Config()

    dataset = load("digits", seed=config.seed)
    data = moments(
        torch.as_tensor(dataset.x_train),
        torch.as_tensor(dataset.y_train),
        dataset.num_classes,
    )
    by_depth: dict[str, Any] = {}
    best: dict[str, dict[str, Any]] = {}
    for done, depth in enumerate(config.depths, start=1):
        runs = train_depth(
            config, depth, data, dataset.num_features, dataset.num_classes
        )
        by_depth[str(depth)] = runs
        best[str(depth)] = {}
        for init in config.inits:
            chosen = best_run(runs, init)
            best[str(depth)][init] = {
                "steps_to_criterion": chosen["steps_to_criterion"],
                "lr_scale": chosen["lr_scale"],
                "final_loss": chosen["loss_curve"][-1],
                "diverged": chosen["diverged"],
            }
        if progress is not None:
            progress("orthogonal", done, len(config.depths))
    claims, not_checked = check_claims(config, best)
    return {
        "experiment": NAME,
        "config": asdict(config),
        "claims": claims,
        "not_checked": not_checked,
        "dataset": dataset.to_dict(),
        "least_squares_loss": data.optimum,
        "criterion_loss": (1 + config.tolerance) * data.optimum,
        "best": best,
        "depths": by_depth,
    }


def _steps_text(entry: dict[str, Any], max_steps: int) -> str:
    steps = entry["steps_to_criterion"]
    if steps is not None:
        return str(steps)
    # best_run picks a diverged run only when every c diverged.
    return "diverged for every c" if entry["diverged"] else f"not within {max_steps}"


def check_claims(
    config: Config, best: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check the expected outcomes on the best c per depth and init."""
    claims: list[dict[str, Any]] = []
    not_checked: list[dict[str, str]] = []
    depths = sorted(int(depth) for depth in best)

    def steps(depth: int, init: str) -> float:
        value = best[str(depth)][init]["steps_to_criterion"]
        return math.inf if value is None else value

    def listing(init: str) -> str:
        return "; ".join(
            f"D={depth}: {_steps_text(best[str(depth)][init], config.max_steps)}"
            for depth in depths
        )

    if ORTHOGONAL in config.inits and 32 in depths and len(depths) >= 2:
        counts = [steps(depth, ORTHOGONAL) for depth in depths]
        flat = counts[-1] <= 2 * min(counts)
        claims.append(
            c.claim(
                "orthogonal-depth-independent",
                "With orthogonal init, the steps to the criterion do not grow with depth.",
                "under 300 steps at D = 32, and at the largest depth at most twice the "
                "fewest steps of any depth",
                f"steps with the best c: {listing(ORTHOGONAL)}",
                steps(32, ORTHOGONAL) < 300 and flat,
            )
        )
    else:
        not_checked.append(
            {
                "id": "orthogonal-depth-independent",
                "reason": "needs orthogonal, D = 32 and a second depth",
            }
        )

    if GAUSSIAN in config.inits and 32 in depths and len(depths) >= 2:
        counts = [steps(depth, GAUSSIAN) for depth in depths]
        growing = all(
            later >= earlier for earlier, later in zip(counts, counts[1:], strict=False)
        )
        claims.append(
            c.claim(
                "gaussian-slows-with-depth",
                "With scaled Gaussian init N(0, 1/n), the steps to the criterion grow with depth.",
                f"steps never fewer at a larger depth, and the criterion not reached within "
                f"{config.max_steps} steps at D = 32",
                f"steps with the best c: {listing(GAUSSIAN)}",
                growing and math.isinf(steps(32, GAUSSIAN)),
            )
        )
    else:
        not_checked.append(
            {
                "id": "gaussian-slows-with-depth",
                "reason": "needs lecun_normal, D = 32 and a second depth",
            }
        )
    return claims, not_checked


def render(result: dict[str, Any], section: Any, figure_dir: Path) -> None:
    """Add steps-to-criterion by depth, the loss curves of the best c, and a table."""
    from initlab.experiments.figures import add_figure, profile_panels, table_number

    best = result["best"]
    config = result["config"]
    depths = sorted(int(depth) for depth in best)
    inits = config["inits"]
    cap = config["max_steps"]
    # Runs that never reached the criterion are drawn at max_steps.
    series = {
        init: [
            best[str(depth)][init]["steps_to_criterion"]
            if best[str(depth)][init]["steps_to_criterion"] is not None
            else cap
            for depth in depths
        ]
        for init in inits
    }
    add_figure(
        section,
        profile_panels(
            [("steps to the criterion (best c)", series)],
            xlabel="depth D",
            ylabel="steps",
            x_values=depths,
            columns=1,
            reference=(cap, f"max_steps ({cap}): not reached"),
        ),
        figure_dir,
        "orthogonal-steps.png",
        "Gradient steps until the loss is within 5% of the least-squares optimum, with "
        "the best learning-rate scale c per depth and init (log scale).",
    )
    every = config["record_every"]
    panels = []
    for init in inits:
        curves = {}
        for depth in depths:
            runs = [
                r
                for r in result["depths"][str(depth)]
                if r["init"] == init
                and r["lr_scale"] == best[str(depth)][init]["lr_scale"]
            ]
            curves[f"D={depth}"] = (
                runs[0]["loss_curve_steps"],
                [
                    None if value is None else value - result["least_squares_loss"]
                    for value in runs[0]["loss_curve"]
                ],
            )
        panels.append((init, curves))
    add_figure(
        section,
        profile_panels(
            panels,
            xlabel="step",
            ylabel="loss - least-squares optimum",
            columns=2,
            reference=(
                result["criterion_loss"] - result["least_squares_loss"],
                "criterion",
            ),
        ),
        figure_dir,
        "orthogonal-loss.png",
        f"Excess loss over the least-squares optimum every {every} steps, with the best c "
        "per depth (log scale); a curve ends where it reached the criterion.",
    )
    rows = [
        [
            depth,
            init,
            _steps_text(best[str(depth)][init], cap),
            table_number(best[str(depth)][init]["lr_scale"]),
            table_number(best[str(depth)][init]["final_loss"], 4),
        ]
        for depth in depths
        for init in inits
    ]
    section.add_table(
        ["D", "init", "steps to the criterion", "best c", "last recorded loss"],
        rows,
        caption=f"Least-squares optimum {table_number(result['least_squares_loss'], 4)}; "
        f"criterion {table_number(result['criterion_loss'], 4)}.",
    )
