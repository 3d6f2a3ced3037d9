"""Save and restore what a probe pass could change: buffers, modes and the global RNG.

A forward pass in train mode updates batch-norm running statistics and
``num_batches_tracked``, and dropout draws from the global torch RNG. The
probe saves both before its pass and puts them back afterwards, also when
the pass raises. Parameters and their ``.grad`` fields need no copy: the
probe computes gradients with ``torch.autograd.grad``, which writes no
``.grad``, and it never steps an optimizer.
"""

from __future__ import annotations

import torch
from torch import nn


class ModelState:
    """A snapshot of a model's buffers and train/eval flags and of torch's global RNG."""

    def __init__(self, model: nn.Module) -> None:
        # Keep each buffer object as well as a copy of its values, so a
        # model that rebinds a buffer attribute gets the original back.
        self._buffers = [
            (module, name, buffer, buffer.detach().clone())
            for module in model.modules()
            for name, buffer in module._buffers.items()
            if buffer is not None
        ]
        self._training = [(module, module.training) for module in model.modules()]
        self._cpu_rng = torch.get_rng_state()
        self._cuda_rng = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        )

    def seed_global_rng(self, seed: int) -> None:
        """Seed the global CPU RNG, and the CUDA ones already in use, so dropout masks follow ``seed``.

        ``torch.manual_seed`` is not used because it would also queue a seed
        for CUDA devices that are not initialized yet, a change that outlives
        the restore.
        """
        torch.default_generator.manual_seed(seed)
        if self._cuda_rng is not None:
            for device in range(len(self._cuda_rng)):
                torch.cuda.default_generators[device].manual_seed(seed)

    def restore(self) -> None:
        """Put the buffers, modes and RNG states back as they were at the snapshot."""
        with torch.no_grad():
            for module, name, buffer, saved in self._buffers:
                module._buffers[name] = buffer
                buffer.copy_(saved)
        for module, training in self._training:
            module.training = training
        torch.set_rng_state(self._cpu_rng)
        if self._cuda_rng is not None:
            torch.cuda.set_rng_state_all(self._cuda_rng)
