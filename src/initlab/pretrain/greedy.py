"""Greedy layer-wise unsupervised pretraining of a stack of Linear layers.

An unsupervised model (an autoencoder or an RBM) is trained on the inputs,
and its encoder is copied into the first hidden layer. That layer, now
frozen, turns all the data into codes, the next model is trained on those
codes, and so on up the network. The output layer keeps its own
initialization, and the caller then fine-tunes the whole network with labels.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from initlab.backends.torch import make_generator
from initlab.errors import ConfigError, DataError, ModelSpecError, SchemeError
from initlab.pretrain import autoencoder as ae
from initlab.pretrain import rbm as rbm_module
from initlab.pretrain.stack import HiddenLayer, LinearStack, find_linear_stack
from initlab.registry import parse_scheme
from initlab.schemes import Scheme

logger = logging.getLogger("initlab.pretrain")

LAYER_MODELS = ("autoencoder", "rbm")
NOISE_KINDS = ("masking", "gaussian")
OPTIMIZERS = ("sgd", "adam")

# Hinton's "A Practical Guide to Training Restricted Boltzmann Machines"
# (2010) starts RBM weights from N(0, 0.01^2); autoencoders start from the
# scale-preserving Glorot uniform init.
DEFAULT_INIT = {"autoencoder": "glorot_uniform", "rbm": "normal(std=0.01)"}


@dataclass(frozen=True)
class PretrainOptions:
    """Validated options of :func:`greedy_layerwise`, which documents each one."""

    layer_model: str = "autoencoder"
    tied: bool = True
    denoising: float = 0.0
    noise: str = "masking"
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    init: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.layer_model not in LAYER_MODELS:
            raise ConfigError(
                f"invalid layer_model {self.layer_model!r}: use one of {', '.join(LAYER_MODELS)}"
            )
        if self.noise not in NOISE_KINDS:
            raise ConfigError(
                f"invalid noise {self.noise!r}: use one of {', '.join(NOISE_KINDS)}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"invalid optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}"
            )
        if not isinstance(self.tied, bool):
            raise ConfigError(f"tied must be True or False, got {self.tied!r}")

        _require_int("epochs", self.epochs, minimum=1)
        _require_int("batch_size", self.batch_size, minimum=1)
        _require_int("seed", self.seed, minimum=0)
        _require_number("lr", self.lr)
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")

        _require_number("denoising", self.denoising)
        if self.noise == "masking" and not 0 <= self.denoising < 1:
            raise ConfigError(
                f"denoising with masking noise is the probability of zeroing an input "
                f"and must be in [0, 1), got {self.denoising!r}"
            )
        if self.denoising < 0:
            raise ConfigError(
                f"denoising with gaussian noise is the noise std and must be at least 0, "
                f"got {self.denoising!r}"
            )

        if self.layer_model == "rbm" and self.denoising:
            raise ConfigError(
                "denoising applies to autoencoders only; use layer_model='autoencoder' "
                "or denoising=0 with layer_model='rbm'"
            )
        if self.layer_model == "rbm" and not self.tied:
            raise ConfigError(
                "an RBM always ties its weights in both directions; use tied=True with "
                "layer_model='rbm'"
            )

        try:
            self.scheme()
        except SchemeError as error:
            raise ConfigError(f"invalid init {self.init!r}: {error}") from None

    def scheme(self) -> Scheme:
        """Build the scheme that initializes each layer model's weights."""
        return parse_scheme(self.init or DEFAULT_INIT[self.layer_model])


def _require_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{name} must be an integer of at least {minimum}, got {value!r}"
        )


def _require_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")


@dataclass
class LayerRecord:
    """The training record of one hidden layer's unsupervised model.

    ``losses`` contains the mean training loss of each epoch: the reconstruction
    MSE of the (corrupted) batches for an autoencoder, the CD-1
    reconstruction MSE for an RBM. ``initial_error`` and ``final_error`` are
    the MSE of the clean, noise-free reconstruction of all the layer's
    inputs before and after training.
    """

    name: str
    in_features: int
    out_features: int
    activation: str
    layer_model: str
    losses: list[float]
    initial_error: float
    final_error: float
    seconds: float


@dataclass
class PretrainResult:
    """Records of every hidden layer, and the trained layer models themselves."""

    layers: list[LayerRecord]
    options: PretrainOptions
    seconds: float
    layer_models: list[nn.Module] = field(repr=False, default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the records and options as plain data (the layer models are left out)."""
        return {
            "options": asdict(self.options),
            "seconds": self.seconds,
            "layers": [asdict(layer) for layer in self.layers],
        }


def _as_tensor(data: Any, stack: LinearStack, device: torch.device) -> torch.Tensor:
    if data is None:
        raise DataError(
            "greedy layer-wise pretraining needs training inputs: pass data as a "
            "tensor or array of shape (samples, features), or a Dataset"
        )

    if hasattr(data, "x_train"):
        data = data.x_train
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, torch.Tensor):
        raise DataError(
            f"pretraining data must be a tensor, an array or a Dataset, got {type(data).__name__}"
        )
    if not data.is_floating_point():
        raise DataError(
            f"pretraining data must be floating point, got dtype {data.dtype}"
        )
    if data.dim() < 2 or data.shape[0] == 0:
        raise DataError(
            f"pretraining data must have shape (samples, features) with at least one "
            f"sample, got shape {tuple(data.shape)}"
        )

    inputs = data.flatten(1) if stack.flatten else data
    first = stack.hidden[0]
    if inputs.dim() != 2 or inputs.shape[1] != first.linear.in_features:
        raise DataError(
            f"pretraining data of shape {tuple(data.shape)} does not fit layer "
            f"{first.name!r}, which takes {first.linear.in_features} features"
        )
    if not torch.isfinite(inputs).all():
        raise DataError("pretraining data contains NaN or infinite values")
    dtype = first.linear.weight.dtype
    return inputs.to(device=device, dtype=dtype)


def _check_rbm_activations(stack: LinearStack) -> None:
    for layer in stack.hidden:
        if len(layer.activations) != 1 or not isinstance(
            layer.activations[0], nn.Sigmoid
        ):
            raise ModelSpecError(
                f"layer {layer.name!r} has activation {layer.activation_name}, but an RBM's "
                "hidden units are sigmoid; use layer_model='autoencoder' or a sigmoid network"
            )


def _build_layer_model(
    stack: LinearStack, index: int, options: PretrainOptions
) -> nn.Module:
    layer = stack.hidden[index]
    n_in, n_out = layer.linear.in_features, layer.linear.out_features
    if options.layer_model == "rbm":
        model: nn.Module = rbm_module.RBM(n_in, n_out, gaussian_visible=index == 0)
    else:
        below = stack.hidden[index - 1].activation_copies() if index else []
        model = ae.Autoencoder(
            n_in, n_out, layer.activation_copies(), below, tied=options.tied
        )
    weight = layer.linear.weight
    return model.to(device=weight.device, dtype=weight.dtype)


def _make_optimizer(parameters: Any, options: PretrainOptions) -> torch.optim.Optimizer:
    if options.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=options.lr)
    return torch.optim.SGD(parameters, lr=options.lr)


def _train_epoch(
    model: nn.Module,
    inputs: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    options: PretrainOptions,
    generator: torch.Generator,
) -> float:
    order = torch.randperm(inputs.shape[0], generator=generator, device=inputs.device)
    total = 0.0
    for start in range(0, inputs.shape[0], options.batch_size):
        batch = inputs[order[start : start + options.batch_size]]
        optimizer.zero_grad(set_to_none=True)
        if isinstance(model, rbm_module.RBM):
            loss = model.contrastive_divergence_(batch, generator)
        else:
            noisy = ae.corrupt(batch, options.noise, options.denoising, generator)
            batch_loss = F.mse_loss(model(noisy), batch)
            batch_loss.backward()
            loss = batch_loss.detach().item()
        optimizer.step()
        total += loss * batch.shape[0]
    return total / inputs.shape[0]


def _reconstruction_error(model: nn.Module, inputs: torch.Tensor) -> float:
    if isinstance(model, rbm_module.RBM):
        return rbm_module.reconstruction_error(model, inputs)
    return ae.reconstruction_error(model, inputs)


def _copy_encoder(model: nn.Module, layer: HiddenLayer) -> None:
    with torch.no_grad():
        layer.linear.weight.copy_(model.weight)
        if layer.linear.bias is not None:
            layer.linear.bias.copy_(model.bias)


def _make_progress(enabled: bool | None) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    show = console.is_terminal if enabled is None else enabled
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    )


def greedy_layerwise(
    model: nn.Module,
    data: Any,
    *,
    layer_model: str = "autoencoder",
    tied: bool = True,
    denoising: float = 0.0,
    noise: str = "masking",
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str = "adam",
    lr: float = 1e-3,
    init: str | None = None,
    seed: int = 0,
    progress: bool | None = None,
    on_epoch: Callable[[str, int, float], None] | None = None,
) -> PretrainResult:
    """Pretrain the hidden layers of ``model`` greedily, in place, and return their records.

    Args:
        model: an ``nn.Sequential`` of Linear layers with activations (an
            mlp spec's model), optionally led by ``nn.Flatten``. Every Linear
            but the last is pretrained; the last keeps its initialization.
        data: the unlabelled training inputs: a tensor or array of shape
            ``(samples, features)`` (or images, when the model starts with
            Flatten), or a Dataset, whose ``x_train`` is used. The first
            RBM assumes standardised inputs.
        layer_model: ``"autoencoder"`` or ``"rbm"`` (sigmoid networks only,
            trained with CD-1).
        tied: tie the autoencoder's decoder weight to the encoder's transpose.
        denoising: the corruption level of a denoising autoencoder: the
            probability of zeroing each input for ``noise="masking"``, the
            std of the added noise for ``noise="gaussian"``; 0 for none.
        noise: ``"masking"`` or ``"gaussian"``.
        epochs: passes over the data for each layer.
        batch_size: samples per update.
        optimizer: ``"sgd"`` (plain) or ``"adam"``.
        lr: the learning rate.
        init: scheme spec for each layer model's weights; None for
            glorot_uniform (autoencoders) or normal(std=0.01) (RBMs).
        seed: seeds the initialization, the shuffling, the corruption and the
            RBM samples, so a seed gives the same weights on the same device.
        progress: show a progress bar per layer; None shows it only when
            standard error is a terminal.
        on_epoch: called as ``on_epoch(layer_name, epoch, loss)`` after
            every epoch, for callers that track progress themselves.

    Raises:
        ModelSpecError: naming the layer, for a model that is not a stack of
            Linear layers with matching sizes, or a non-sigmoid layer with
            ``layer_model="rbm"``.
        DataError: for missing data or data that does not fit the first layer.
        ConfigError: for an invalid option.
        All of them are raised before anything is trained.
    """
    options = PretrainOptions(
        layer_model=layer_model,
        tied=tied,
        denoising=denoising,
        noise=noise,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        init=init,
        seed=seed,
    )
    stack = find_linear_stack(model)
    if options.layer_model == "rbm":
        _check_rbm_activations(stack)
    device = stack.hidden[0].linear.weight.device
    codes = _as_tensor(data, stack, device)
    scheme = options.scheme()

    # One generator on the model's device draws everything, because CUDA
    # sampling calls reject a CPU generator.
    # NOTE: only the CPU path has been run; no test covers a CUDA model.
    generator = make_generator(options.seed, device)
    started = time.perf_counter()
    records: list[LayerRecord] = []
    layer_models: list[nn.Module] = []
    with _make_progress(progress) as bar:
        for index, layer in enumerate(stack.hidden):
            layer_started = time.perf_counter()
            unit = _build_layer_model(stack, index, options)
            unit.reset_parameters(scheme, generator)
            initial = _reconstruction_error(unit, codes)
            optim = _make_optimizer(unit.parameters(), options)
            task = bar.add_task(
                f"layer {layer.name} ({options.layer_model})",
                total=options.epochs,
                loss="",
            )
            losses: list[float] = []
            unit.train()
            for epoch in range(options.epochs):
                loss = _train_epoch(unit, codes, optim, options, generator)
                losses.append(loss)
                bar.update(task, advance=1, loss=f"loss {loss:.4f}")
                if on_epoch is not None:
                    on_epoch(layer.name, epoch, loss)
            unit.eval()
            final = _reconstruction_error(unit, codes)
            _copy_encoder(unit, layer)
            with torch.no_grad():
                codes = unit.encode(codes)
            records.append(
                LayerRecord(
                    name=layer.name,
                    in_features=layer.linear.in_features,
                    out_features=layer.linear.out_features,
                    activation=layer.activation_name,
                    layer_model=options.layer_model,
                    losses=losses,
                    initial_error=initial,
                    final_error=final,
                    seconds=time.perf_counter() - layer_started,
                )
            )
            layer_models.append(unit)
            logger.info(
                "pretrained layer %s: reconstruction MSE %.4g -> %.4g",
                layer.name,
                initial,
                final,
            )
    return PretrainResult(records, options, time.perf_counter() - started, layer_models)
