"""``initlab probe``: per-layer signal diagnostics of a model on one batch."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_BATCH = 256
OUTPUT_FORMATS = ("table", "json", "csv")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="run one batch through a model and report, per layer, what happens to the signal",
        description=(
            "Run one batch through a model, forward and backward, and report for every "
            "layer the output statistics, gradient std, saturated and dead units, "
            "symmetric neurons and a verdict. Nothing is trained."
        ),
    )

    # What to build and what to feed it.
    parser.add_argument(
        "target",
        help="a model spec such as mlp:5x50:tanh or cnn:16-32:relu, or package.module:factory",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="data set: digits, mnist-5k, gaussian:N (N standard-normal features) or a file",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"samples in the batch, drawn from the training split [default: {DEFAULT_BATCH}]",
    )
    parser.add_argument(
        "--init",
        help="scheme for every Linear and conv weight, biases set to zero, such as glorot_normal or 'normal(std=0.01)' [default: the model's own initialization]",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the data split, the batch, --init and the probe [default: 0]",
    )

    # What to write.
    parser.add_argument(
        "--out", help="folder for probe.json, probe.csv and the PNG plots"
    )
    parser.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default="table",
        help="what to print: a table, the JSON report or the CSV rows [default: table]",
    )

    # How to run the pass.
    parser.add_argument(
        "--upstream",
        choices=["loss", "random"],
        default="loss",
        help="backpropagate the cross-entropy loss on the labels, or a standard-normal gradient from the output [default: loss]",
    )
    parser.add_argument(
        "--eval",
        action="store_true",
        help="probe in eval mode (dropout off, batch norm on running statistics) [default: train mode]",
    )
    parser.add_argument(
        "--light",
        action="store_true",
        help="light mode: sampled histograms, no symmetry, weight or input-gradient statistics",
    )
    parser.add_argument(
        "--images",
        action="store_true",
        help="feed (channels, rows, columns) images to a package.module:factory model; cnn specs always get images",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from initlab.errors import ConfigError, InitlabError, ModelSpecError
    from initlab.models import load_target
    from initlab.probe import probe

    if args.batch < 1:
        raise ConfigError(f"--batch must be a positive integer, got {args.batch}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {args.seed}")
    dataset = _load_dataset(args)
    inputs, labels = _batch(dataset, args.batch, args.seed)
    model = load_target(args.target, tuple(dataset.input_shape), dataset.num_classes)
    applied = _apply_init(model, args.init, args.seed) if args.init else None
    if args.eval:
        model.eval()

    options: dict[str, Any] = {"upstream": "random"}
    if args.upstream == "loss":
        options = {"targets": labels}
    try:
        report = probe(
            model,
            inputs,
            seed=args.seed,
            applied=applied,
            light=args.light,
            label=args.init or args.target,
            **options,
        )
    except InitlabError:
        raise
    except (RuntimeError, IndexError, ValueError) as error:
        # A factory built for other data fails inside torch. Name the shape
        # the model must accept instead of showing torch's traceback.
        raise ModelSpecError(
            f"model {args.target!r} failed on a batch of {args.data} with inputs of shape "
            f"{tuple(inputs.shape)}: {_first_line(error)}; build it for samples of shape "
            f"{tuple(dataset.input_shape)} and {dataset.num_classes} output classes"
        ) from error

    console = Console()
    if args.format == "json":
        console.out(report.to_json(), highlight=False)
    elif args.format == "csv":
        console.out(report.to_csv(), end="", highlight=False)
    else:
        report.render(console)
    if args.out:
        written = write_outputs(report, args.out)
        names = ", ".join(str(path) for path in written)
        console.print(f"wrote {names}", highlight=False, soft_wrap=True)
    return 0


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(error).__name__


def write_outputs(report: Any, folder: str) -> list[Any]:
    """Write probe.json, probe.csv and the plots of ``report`` into ``folder``; return the paths."""
    from pathlib import Path

    from initlab.atomic import write_json, write_text
    from initlab.probe import plots

    directory = Path(folder)
    written = [
        write_json(directory / "probe.json", report.to_dict()),
        write_text(directory / "probe.csv", report.to_csv()),
        plots.plot_activation_std(report, directory / "activation_std.png"),
    ]
    if any(record.grad_std is not None for record in report.layers):
        written.append(plots.plot_gradient_std(report, directory / "gradient_std.png"))
    if any(record.histogram is not None for record in report.layers):
        written.append(
            plots.plot_activation_histograms(
                report, directory / "activation_histograms.png"
            )
        )
    return written


def _load_dataset(args: argparse.Namespace) -> Any:
    from initlab.data import load

    dataset = load(args.data, seed=args.seed)
    if args.target.startswith("cnn:") or args.images:
        dataset = dataset.as_images()
    return dataset


def _batch(dataset: Any, size: int, seed: int) -> tuple[Any, Any]:
    """Return ``size`` training samples and their labels, drawn without replacement from ``seed``."""
    import numpy as np
    import torch

    from initlab.errors import ConfigError

    available = dataset.num_train
    if size > available:
        raise ConfigError(
            f"--batch {size} is larger than the {available} training samples of {dataset.name}; "
            f"use --batch {available} or less"
        )
    order = np.random.default_rng(seed).permutation(available)[:size]
    inputs = torch.as_tensor(
        np.ascontiguousarray(dataset.x_train[order]), dtype=torch.float32
    )
    labels = torch.as_tensor(dataset.y_train[order], dtype=torch.int64)
    return inputs, labels


def _apply_init(model: Any, spec: str, seed: int) -> dict[str, Any]:
    """Fill every Linear and conv weight from ``spec`` and zero its bias; return the applied mapping."""
    import torch

    from initlab.backends.torch import fill_, make_generator
    from initlab.models import linear_layers
    from initlab.registry import parse_scheme

    scheme = parse_scheme(spec)
    layers = linear_layers(model)
    generator = make_generator(seed)
    applied: dict[str, Any] = {}
    for name, module in layers:
        transposed = isinstance(
            module,
            (
                torch.nn.ConvTranspose1d,
                torch.nn.ConvTranspose2d,
                torch.nn.ConvTranspose3d,
            ),
        )
        fill_(
            module.weight,
            scheme,
            layout="torch_transposed" if transposed else "torch",
            groups=getattr(module, "groups", 1),
            generator=generator,
        )
        if module.bias is not None:
            with torch.no_grad():
                module.bias.zero_()
        applied[f"{name}.weight" if name else "weight"] = scheme
    return applied
