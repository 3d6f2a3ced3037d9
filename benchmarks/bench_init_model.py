"""Benchmark model initialization: parallel chunked fills and deferred materialization.

Two measurements, each against a baseline measured in the same run:

1. Fill throughput on a 4096 x 4096 float32 tensor, uniform and normal.
   The baseline is ``torch.nn.init.uniform_`` / ``normal_`` (one
   generator, one core). It runs against ``initlab.initialize`` on a
   Linear of that size with the same distribution (chunked streams on a
   thread pool, record included). Each is timed as the best of five runs.
2. Building a model of about 1.3 billion parameters (20 x Linear(8192,
   8192) by default): PyTorch's eager construction against building on the
   ``meta`` device plus ``initlab.initialize.materialize`` with the torch
   preset, and allocating and zeroing the same tensors as a floor. Each
   variant runs in a fresh subprocess, because a process's peak memory
   cannot be separated once two variants ran in it, and the variants take
   turns for ``--rounds`` rounds (3 by default); each time is the median
   of its rounds. Memory is the peak RSS minus the RSS right after
   ``import torch`` (so it includes the import of initlab for
   materialize); the time leaves imports out.

Usage::

    .venv/bin/python benchmarks/bench_init_model.py              # both parts
    .venv/bin/python benchmarks/bench_init_model.py --part fill
    .venv/bin/python benchmarks/bench_init_model.py --part model --layers 4

The model part needs about 5.4 GB per variant at the default size; the
variants run one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

FILL_SIZE = 4096
REPEATS = 5


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def _peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _best(function, repeats: int = REPEATS) -> tuple[float, float]:
    """Return the shortest wall time of ``repeats`` runs and that run's CPU time."""
    runs = []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        function()
        runs.append((time.perf_counter() - start, time.process_time() - cpu_start))
    return min(runs)


def bench_fill(threads: int) -> list[dict]:
    """Time torch.nn.init against initlab on a 4096 x 4096 float32 tensor."""
    import torch
    from torch import nn

    from initlab.initialize import initialize

    torch.set_num_threads(threads)
    weight = torch.empty(FILL_SIZE, FILL_SIZE)
    generator = torch.Generator().manual_seed(0)
    layer = nn.Linear(FILL_SIZE, FILL_SIZE, bias=False)
    cases = [
        (
            "uniform",
            lambda: nn.init.uniform_(weight, -0.02, 0.02, generator=generator),
            "uniform(a=-0.02, b=0.02)",
        ),
        (
            "normal",
            lambda: nn.init.normal_(weight, 0.0, 0.02, generator=generator),
            "normal(std=0.02)",
        ),
    ]
    rows = []
    for name, baseline, spec in cases:
        torch_seconds, torch_cpu = _best(baseline)
        ours_one, _ = _best(lambda spec=spec: initialize(layer, spec, threads=1))
        ours, ours_cpu = _best(
            lambda spec=spec: initialize(layer, spec, threads=threads)
        )
        rows.append(
            {
                "distribution": name,
                "torch_seconds": torch_seconds,
                "torch_cpu_seconds": torch_cpu,
                "initlab_1_thread_seconds": ours_one,
                "initlab_seconds": ours,
                "initlab_cpu_seconds": ours_cpu,
                "threads": threads,
                "speedup": torch_seconds / ours,
            }
        )
    return rows


def _build(layers: int, width: int):
    from torch import nn

    return nn.Sequential(*(nn.Linear(width, width) for _ in range(layers)))


def run_variant(variant: str, layers: int, width: int, threads: int) -> dict:
    """Build the model one way, in this process, and report time and memory."""
    import torch

    torch.set_num_threads(threads)
    baseline_rss = _rss_bytes()
    if variant == "materialize":
        # Import time is paid once per process, not per model; the memory
        # the import takes stays in the measurement.
        from initlab.initialize import materialize
    start = time.perf_counter()
    cpu_start = time.process_time()
    if variant == "eager":
        model = _build(layers, width)
    elif variant == "zeros":
        tensors = [
            torch.zeros(shape)
            for _ in range(layers)
            for shape in ((width, width), (width,))
        ]
        model = tensors
    elif variant == "materialize":
        with torch.device("meta"):
            model = _build(layers, width)
        materialize(model, "cpu", preset="torch", threads=threads)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    del model
    return {
        "variant": variant,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_above_import_bytes": _peak_rss_bytes() - baseline_rss,
    }


VARIANTS = ("zeros", "eager", "materialize")


def _run_in_subprocess(variant: str, layers: int, width: int, threads: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--variant",
        variant,
        "--layers",
        str(layers),
        "--width",
        str(width),
        "--threads",
        str(threads),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def bench_model(layers: int, width: int, threads: int, rounds: int) -> dict:
    """Run every variant once per round, each in a fresh subprocess, and take medians.

    All three variants pay for the first touch of fresh memory. On the
    development VM that cost moved between 1.5 s and 6.5 s for the same
    5 GiB from one run to the next. The likely cause is whether the
    hypervisor still backs the pages that the guest kernel hands out.
    Taking turns round after round exposes the variants to the same drift,
    and the median keeps one unlucky run from deciding the ratio.
    """
    runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            runs[variant].append(_run_in_subprocess(variant, layers, width, threads))

    def median(variant: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[variant])

    summary = {
        variant: {
            "seconds": median(variant, "seconds"),
            "cpu_seconds": median(variant, "cpu_seconds"),
            "peak_rss_above_import_bytes": max(
                run["peak_rss_above_import_bytes"] for run in runs[variant]
            ),
        }
        for variant in VARIANTS
    }
    round_ratios = [
        eager["seconds"] / ours["seconds"]
        for eager, ours in zip(runs["eager"], runs["materialize"], strict=True)
    ]
    parameter_bytes = layers * (width * width + width) * 4
    return {
        "layers": layers,
        "width": width,
        "parameters": layers * (width * width + width),
        "parameter_bytes": parameter_bytes,
        "largest_layer_bytes": (width * width + width) * 4,
        "rounds": rounds,
        "runs": runs,
        "variants": summary,
        "round_ratios": round_ratios,
        "speedup": summary["eager"]["seconds"] / summary["materialize"]["seconds"],
    }


def _print_fill(rows: list[dict]) -> None:
    print(f"fill of a {FILL_SIZE}x{FILL_SIZE} float32 tensor, best of {REPEATS}")
    print(
        "distribution  torch.nn.init (CPU)  initlab 1 thread  "
        "initlab (CPU)        threads  speedup"
    )
    for row in rows:
        print(
            f"{row['distribution']:<12}  {row['torch_seconds']:.3f} s ({row['torch_cpu_seconds']:.3f} s)"
            f"  {row['initlab_1_thread_seconds']:>14.3f} s"
            f"  {row['initlab_seconds']:.3f} s ({row['initlab_cpu_seconds']:.3f} s)"
            f"  {row['threads']:>7}  {row['speedup']:>6.2f}x"
        )


def _print_model(report: dict) -> None:
    gib = 2**30
    print(
        f"model: {report['layers']} x Linear({report['width']}, {report['width']}), "
        f"{report['parameters'] / 1e9:.2f} billion parameters, "
        f"{report['parameter_bytes'] / gib:.2f} GiB; {report['rounds']} rounds"
    )
    budget = report["parameter_bytes"] + report["largest_layer_bytes"]
    print(
        "variant      median s  median CPU s  runs (s)                 peak RSS above import"
    )
    for name, row in report["variants"].items():
        runs = ", ".join(f"{run['seconds']:.2f}" for run in report["runs"][name])
        print(
            f"{name:<11}  {row['seconds']:>8.2f}  {row['cpu_seconds']:>12.2f}  {runs:<23}  "
            f"{row['peak_rss_above_import_bytes'] / gib:>6.2f} GiB"
        )
    per_round = ", ".join(f"{ratio:.2f}x" for ratio in report["round_ratios"])
    print(
        f"eager / materialize: {report['speedup']:.2f}x (medians); per round {per_round}"
    )
    print(
        f"memory budget (parameters + largest layer): {budget / gib:.2f} GiB; "
        f"materialize used at most {report['variants']['materialize']['peak_rss_above_import_bytes'] / gib:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["fill", "model", "both"], default="both")
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--width", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each model variant (median)"
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:
        report = run_variant(args.variant, args.layers, args.width, args.threads)
        print(json.dumps(report))
        return

    print(f"load average before the run: {os.getloadavg()[0]:.2f}")
    if args.part in ("fill", "both"):
        _print_fill(bench_fill(args.threads))
    if args.part in ("model", "both"):
        _print_model(bench_model(args.layers, args.width, args.threads, args.rounds))
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
