"""Time the batched comparison engine against a sequential loop of single models.

Trains the same replicas both ways, in one process: every (init, seed) pair
of the default comparison (ten inits, five seeds, mlp:5x50:tanh on digits,
plain SGD, lr 0.05, batch 32, 30 epochs). The batched engine trains all
replicas as one stacked computation. The baseline trains one ``nn.Module``
after another, with the same data order and evaluation after every epoch.
The sequential loop runs with 1 and with 2 torch threads and the faster
one is the baseline. Run from the repository root:

    .venv/bin/python benchmarks/bench_compare.py
    .venv/bin/python benchmarks/bench_compare.py --epochs 3   # a quick look
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time

import torch

from initlab.data import load
from initlab.experiments.compare import DEFAULT_INITS
from initlab.models import build_model, parse_model_spec
from initlab.training import (
    Splits,
    StackedNetwork,
    TrainingSettings,
    initialize_replica,
    stream_generator,
    train_replicas,
    train_single,
)


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=30, help="epochs per replica [default: 30]"
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds per init [default: 5]"
    )
    parser.add_argument(
        "--threads",
        default="1,2",
        help="comma-separated torch thread counts to try [default: 1,2]",
    )
    return parser.parse_args()


def _initialized(spec, dataset, pairs) -> StackedNetwork:
    network = StackedNetwork(spec, dataset.input_shape, dataset.num_classes, len(pairs))
    for replica, (name, seed) in enumerate(pairs):
        initialize_replica(network, replica, name, stream_generator(seed, "init", name))
    return network


def _time_batched(start, splits, settings, pairs) -> tuple[float, float]:
    network = copy.deepcopy(start)
    generators = [stream_generator(seed, "train") for _, seed in pairs]
    wall, cpu = time.perf_counter(), time.process_time()
    train_replicas(network, splits, settings, generators)
    return time.perf_counter() - wall, time.process_time() - cpu


def _time_sequential(
    start, spec, dataset, splits, settings, pairs
) -> tuple[float, float]:
    models = []
    for replica in range(len(pairs)):
        model = build_model(spec, dataset.input_shape, dataset.num_classes)
        models.append(start.store_replica(replica, model))
    wall, cpu = time.perf_counter(), time.process_time()
    for model, (_, seed) in zip(models, pairs, strict=True):
        train_single(model, splits, settings, stream_generator(seed, "train"))
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    arguments = _parse_arguments()
    thread_counts = [int(part) for part in arguments.threads.split(",")]
    dataset = load("digits", seed=0)
    splits = Splits.from_arrays(
        dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
    )
    spec = parse_model_spec("mlp:5x50:tanh")
    settings = TrainingSettings(epochs=arguments.epochs)
    pairs = [(name, seed) for name in DEFAULT_INITS for seed in range(arguments.seeds)]
    start = _initialized(spec, dataset, pairs)

    # Warm up: the first optimizer step imports modules lazily.
    warm_up = _initialized(spec, dataset, pairs[:2])
    _time_batched(warm_up, splits, TrainingSettings(epochs=1), pairs[:2])

    print(
        f"{len(pairs)} replicas ({len(DEFAULT_INITS)} inits x {arguments.seeds} "
        f"seeds) of {spec.text} on digits, {arguments.epochs} epochs, "
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    # Wall-clock seconds decide; CPU seconds (all threads) show how much
    # of the wall time was spent waiting when other processes share the cores.
    batched: dict[int, float] = {}
    sequential: dict[int, float] = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        batched[threads], cpu = _time_batched(start, splits, settings, pairs)
        print(
            f"batched,    {threads} thread(s): {batched[threads]:8.1f} s wall, "
            f"{cpu:8.1f} s CPU",
            flush=True,
        )
    for threads in thread_counts:
        torch.set_num_threads(threads)
        sequential[threads], cpu = _time_sequential(
            start, spec, dataset, splits, settings, pairs
        )
        print(
            f"sequential, {threads} thread(s): {sequential[threads]:8.1f} s wall, "
            f"{cpu:8.1f} s CPU",
            flush=True,
        )

    best_sequential = min(sequential.values())
    for threads, seconds in batched.items():
        print(
            f"batched at {threads} thread(s) vs best sequential: "
            f"{best_sequential / seconds:.2f}x faster (target: at least 4x)"
        )


if __name__ == "__main__":
    main()
