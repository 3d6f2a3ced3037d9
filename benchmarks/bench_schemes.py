"""Fill throughput of every scheme: initlab.nn against torch.nn.init on the same tensors.

For each preallocated float32 tensor (1024x1024, 4096x4096, 64x3x7x7,
256x256x3x3) and each scheme, the benchmark times initlab's function and
torch.nn.init's on the same tensor, alternating in blocks. A block times a
batch of calls of one, then of the other, and the order flips every block.
The block's ratio is torch's time over initlab's, so a change in machine
load between blocks cancels. The figures are medians over blocks of
process CPU time, which on a shared machine leaves out the time slices
other jobs get. ``tensor.fill_`` on the same tensor is the memory-bandwidth
ceiling. Throughput is GB/s of float32 output (4 bytes per element).

Schemes beyond torch.nn.init run against the torch.nn.init call that
draws the same distribution (``lecun_normal_`` against ``normal_`` with
std ``sqrt(1 / fan_in)``, ``he_truncated_normal_`` against
``trunc_normal_`` cut at 2 parent std).

Targets: truncated normal at +-2 std (mean 0, std 0.02, a=-0.04, b=0.04)
at least 5 times torch, every other scheme at least 0.95 times torch.

Run: ``.venv/bin/python benchmarks/bench_schemes.py`` (``--blocks``,
``--shapes``, ``--schemes`` to change the work). One thread, one process.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.init as tinit

import initlab.nn as init

SHAPES = {
    "1024x1024": (1024, 1024),
    "4096x4096": (4096, 4096),
    "64x3x7x7": (64, 3, 7, 7),
    "256x256x3x3": (256, 256, 3, 3),
}

# Each block runs calls for at least this much CPU time, so a block of a
# fast fill on a small tensor is not dominated by timer resolution.
BLOCK_SECONDS = 0.03

KERAS_FACTOR = 0.87962566103423978

Fill = Callable[[torch.Tensor, torch.Generator], object]


@dataclass(frozen=True)
class Case:
    """One scheme: initlab's call, torch's call and the ratio it must reach."""

    name: str
    initlab: Fill
    torch: Fill
    dims: tuple[int, ...] = (2, 3, 4, 5)
    target: float = 0.95


def _fan_in(tensor: torch.Tensor) -> int:
    return tensor.shape[1] * math.prod(tensor.shape[2:])


def _cases() -> list[Case]:
    two_std = {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04}
    return [
        Case("zeros_", lambda t, g: init.zeros_(t), lambda t, g: tinit.zeros_(t)),
        Case("ones_", lambda t, g: init.ones_(t), lambda t, g: tinit.ones_(t)),
        Case(
            "constant_(0.5)",
            lambda t, g: init.constant_(t, 0.5),
            lambda t, g: tinit.constant_(t, 0.5),
        ),
        Case(
            "uniform_(-1, 1)",
            lambda t, g: init.uniform_(t, -1.0, 1.0, generator=g),
            lambda t, g: tinit.uniform_(t, -1.0, 1.0, generator=g),
        ),
        Case(
            "normal_(0, 0.02)",
            lambda t, g: init.normal_(t, 0.0, 0.02, generator=g),
            lambda t, g: tinit.normal_(t, 0.0, 0.02, generator=g),
        ),
        Case(
            "trunc_normal_ +-2 std",
            lambda t, g: init.trunc_normal_(t, **two_std, generator=g),
            lambda t, g: tinit.trunc_normal_(t, **two_std, generator=g),
            target=5.0,
        ),
        Case(
            "trunc_normal_ std 0.02, a=-2, b=2",
            lambda t, g: init.trunc_normal_(t, std=0.02, generator=g),
            lambda t, g: tinit.trunc_normal_(t, std=0.02, generator=g),
        ),
        Case(
            "xavier_uniform_",
            lambda t, g: init.xavier_uniform_(t, generator=g),
            lambda t, g: tinit.xavier_uniform_(t, generator=g),
        ),
        Case(
            "xavier_normal_",
            lambda t, g: init.xavier_normal_(t, generator=g),
            lambda t, g: tinit.xavier_normal_(t, generator=g),
        ),
        Case(
            "kaiming_uniform_(a=sqrt 5)",
            lambda t, g: init.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
            lambda t, g: tinit.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
        ),
        Case(
            "kaiming_normal_(relu)",
            lambda t, g: init.kaiming_normal_(t, nonlinearity="relu", generator=g),
            lambda t, g: tinit.kaiming_normal_(t, nonlinearity="relu", generator=g),
        ),
        Case(
            "orthogonal_",
            lambda t, g: init.orthogonal_(t, generator=g),
            lambda t, g: tinit.orthogonal_(t, generator=g),
        ),
        Case("eye_", lambda t, g: init.eye_(t), lambda t, g: tinit.eye_(t), dims=(2,)),
        Case(
            "dirac_",
            lambda t, g: init.dirac_(t),
            lambda t, g: tinit.dirac_(t),
            dims=(3, 4, 5),
        ),
        Case(
            "sparse_(0.1)",
            lambda t, g: init.sparse_(t, 0.1, generator=g),
            lambda t, g: tinit.sparse_(t, 0.1, generator=g),
            dims=(2,),
        ),
        Case(
            "lecun_uniform_ (uniform_)",
            lambda t, g: init.lecun_uniform_(t, generator=g),
            lambda t, g: tinit.uniform_(
                t, -math.sqrt(3 / _fan_in(t)), math.sqrt(3 / _fan_in(t)), generator=g
            ),
        ),
        Case(
            "lecun_normal_ (normal_)",
            lambda t, g: init.lecun_normal_(t, generator=g),
            lambda t, g: tinit.normal_(t, 0.0, math.sqrt(1 / _fan_in(t)), generator=g),
        ),
        Case(
            "he_truncated_normal_ (trunc_normal_)",
            lambda t, g: init.he_truncated_normal_(t, generator=g),
            lambda t, g: _torch_keras_truncated(t, math.sqrt(2 / _fan_in(t)), g),
        ),
    ]


def _torch_keras_truncated(
    tensor: torch.Tensor, std: float, generator: torch.Generator
) -> torch.Tensor:
    parent = std / KERAS_FACTOR
    return tinit.trunc_normal_(tensor, 0.0, parent, -2 * parent, 2 * parent, generator)


def _cpu_seconds(function: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - start) / calls


def _calls_per_block(function: Callable[[], object]) -> int:
    once = max(_cpu_seconds(function, 1), 1e-7)
    return max(1, math.ceil(BLOCK_SECONDS / once))


@dataclass(frozen=True)
class Result:
    """Median seconds per call and the median ratio of one scheme on one shape."""

    shape: str
    case: Case
    fill_seconds: float
    torch_seconds: float
    initlab_seconds: float
    ratio: float


def measure(shape_name: str, case: Case, blocks: int) -> Result:
    """Time one scheme on one shape, alternating initlab and torch in blocks."""
    tensor = torch.empty(SHAPES[shape_name])
    generator = torch.Generator().manual_seed(0)

    def run_fill() -> None:
        tensor.fill_(0.5)

    def run_torch() -> None:
        case.torch(tensor, generator)

    def run_initlab() -> None:
        case.initlab(tensor, generator)

    # Warm-up, and the batch size from torch's time for one call.
    run_initlab()
    calls = _calls_per_block(run_torch)
    fill_calls = _calls_per_block(run_fill)

    fills, theirs, ours, ratios = [], [], [], []
    for block in range(blocks):
        fills.append(_cpu_seconds(run_fill, fill_calls))
        if block % 2 == 0:
            torch_time = _cpu_seconds(run_torch, calls)
            initlab_time = _cpu_seconds(run_initlab, calls)
        else:
            initlab_time = _cpu_seconds(run_initlab, calls)
            torch_time = _cpu_seconds(run_torch, calls)
        theirs.append(torch_time)
        ours.append(initlab_time)
        ratios.append(torch_time / initlab_time)
    return Result(
        shape_name,
        case,
        statistics.median(fills),
        statistics.median(theirs),
        statistics.median(ours),
        statistics.median(ratios),
    )


def _gbps(shape_name: str, seconds: float) -> float:
    return 4 * math.prod(SHAPES[shape_name]) / seconds / 1e9


def _row(result: Result) -> str:
    met = "yes" if result.ratio >= result.case.target else "NO"
    return (
        f"| {result.shape} | {result.case.name} "
        f"| {_gbps(result.shape, result.fill_seconds):.2f} "
        f"| {_gbps(result.shape, result.torch_seconds):.3f} "
        f"| {_gbps(result.shape, result.initlab_seconds):.3f} "
        f"| {result.ratio:.2f} | {result.case.target:g} | {met} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--blocks", type=int, default=9, help="timed blocks per scheme and shape (>= 5)"
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=list(SHAPES),
        choices=list(SHAPES),
        help="tensor shapes to run",
    )
    parser.add_argument(
        "--schemes",
        nargs="+",
        default=None,
        help="run only the schemes whose names start with one of these",
    )
    args = parser.parse_args()
    if args.blocks < 5:
        parser.error(f"--blocks must be >= 5 for a median, got {args.blocks}")

    torch.set_num_threads(1)
    cases = [
        case
        for case in _cases()
        if args.schemes is None or any(case.name.startswith(p) for p in args.schemes)
    ]
    print(
        f"torch {torch.__version__}, 1 thread, median of {args.blocks} blocks "
        "of process CPU time"
    )
    print(
        "| shape | scheme | fill_ GB/s | torch GB/s | initlab GB/s "
        "| ratio | target | met |"
    )
    print("|---|---|---|---|---|---|---|---|")
    missed = []
    for shape_name in args.shapes:
        for case in cases:
            if len(SHAPES[shape_name]) not in case.dims:
                continue
            result = measure(shape_name, case, args.blocks)
            print(_row(result), flush=True)
            if result.ratio < case.target:
                missed.append(result)
    if missed:
        print(f"\n{len(missed)} targets missed:")
        for result in missed:
            print(
                f"  {result.shape} {result.case.name}: {result.ratio:.2f} "
                f"against {result.case.target:g}"
            )
    else:
        print("\nevery target met")


if __name__ == "__main__":
    main()
