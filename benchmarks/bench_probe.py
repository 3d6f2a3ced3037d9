"""Probe overhead: a forward and backward pass with ``probe()`` against the same pass without it.

Baseline: ``torch.autograd.grad`` of the cross-entropy loss with respect to
every parameter, the pass the probe itself runs, without hooks. Each probe
variant is timed in the same blocks as the baseline, and a block's ratio is
the probe's time over the baseline's time in that block, so a change in
machine load between blocks cancels. Times are CPU time of this process,
because on a machine shared with other jobs wall time also counts the time
slices given to them. The figures are medians over blocks.

Variants: ``full`` (every statistic), ``light`` (light mode), ``hooks only``
and each statistic alone. The hooks-only probe computes nothing, so it
measures the fixed cost of the probe's Python, its state snapshot and its
bookkeeping. A statistic's cost is its time alone minus the hooks-only
time, in percent of the baseline.

Run: ``.venv/bin/python benchmarks/bench_probe.py`` (``--blocks``,
``--repeats``, ``--models`` to change the work).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from initlab.models import build_model
from initlab.probe import STATISTICS, probe

# Name: (model spec, input shape, batch, passes per variant in a block).
# More passes keep a block of the small MLP well above the timer's resolution.
MODELS = {
    "mlp 784-1024x8-10 relu": ("mlp:784-1024x8-10:relu", (784,), 256, 2),
    "mlp 100-50x5-10 tanh": ("mlp:100-50x5-10:tanh", (100,), 256, 40),
    "cnn 16-32 relu, 1x28x28": ("cnn:16-32:relu", (1, 28, 28), 256, 2),
}


def make_case(spec: str, input_shape: tuple[int, ...], batch: int):
    """Return the baseline pass, a factory of probe passes, and the number of recorded calls."""
    torch.manual_seed(0)
    model = build_model(spec, input_shape, 10)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn((batch, *input_shape), generator=generator)
    targets = torch.randint(0, 10, (batch,), generator=generator)
    parameters = [p for p in model.parameters() if p.requires_grad]

    def plain() -> None:
        loss = F.cross_entropy(model(inputs), targets)
        torch.autograd.grad(loss, parameters)

    def probed(**options) -> Callable[[], None]:
        return lambda: probe(model, inputs, targets, **options)

    calls = len(probe(model, inputs, light=True).layers)
    return plain, probed, calls


def seconds(function: Callable[[], None], repeats: int) -> float:
    start = time.process_time()
    for _ in range(repeats):
        function()
    return (time.process_time() - start) / repeats


def measure(name: str, blocks: int, repeats: int | None) -> None:
    spec, input_shape, batch, default_repeats = MODELS[name]
    repeats = repeats or default_repeats
    plain, probed, calls = make_case(spec, input_shape, batch)
    variants: dict[str, Callable[[], None]] = {
        "full": probed(),
        "light": probed(light=True),
        "hooks only": probed(statistics=()),
    }
    for statistic in STATISTICS:
        variants[statistic] = probed(statistics=(statistic,))

    # One untimed round warms up the allocator and the caches.
    plain()
    for function in variants.values():
        function()

    plain_times: list[float] = []
    ratios: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(blocks):
        baseline = seconds(plain, repeats)
        plain_times.append(baseline)
        for label, function in variants.items():
            ratios[label].append(seconds(function, repeats) / baseline)

    median = {label: statistics.median(values) for label, values in ratios.items()}
    plain_median = statistics.median(plain_times)
    print(
        f"\n{name}, batch {batch}: plain pass {plain_median * 1e3:.2f} ms, "
        f"{calls} recorded calls, {repeats} passes per variant in a block"
    )
    for label in ("full", "light", "hooks only"):
        low, high = min(ratios[label]), max(ratios[label])
        extra_per_call = (median[label] - 1) * plain_median / calls * 1e6
        print(
            f"  {label:<11} {median[label]:6.3f} x plain   "
            f"(blocks {low:.3f} to {high:.3f}), {extra_per_call:5.0f} us more per recorded call"
        )
    print("  cost of each statistic alone, above hooks only, in % of the plain pass:")
    for statistic in STATISTICS:
        cost = (median[statistic] - median["hooks only"]) * 100
        print(f"    {statistic:<15} {cost:6.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--blocks", type=int, default=7, help="timed blocks [default: 7]"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="passes per variant in a block [default: 2, and 40 for the small MLP]",
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=list(MODELS),
        choices=list(MODELS),
        help="models to time [default: all]",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, CPU time of this process, "
        f"median over {args.blocks} blocks"
    )
    for name in args.models:
        measure(name, args.blocks, args.repeats)


if __name__ == "__main__":
    main()
