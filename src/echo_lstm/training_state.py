"""Training state that Lightning's checkpoints leave out, so a resumed run continues exactly.

Lightning 2.6 saves the weights, the optimizer, the loop progress and the
callbacks' states, the training stream saves its position and the model its
running `train/*` sums. Lightning does not save the global random states
(dropout draws from torch's). `ResumeState` stores them as tensors and plain
Python values, so the checkpoint still loads with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback


def collect_random_states() -> dict[str, Any]:
    """Return the global random states of torch, CUDA, numpy and Python as tensors and plain values."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    version, python_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # weights_only loading (torch 2.13) rejects numpy arrays, so the MT19937 key travels as a tensor.
        "numpy": (torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian),
        "python": (version, list(python_state), gauss),
    }


def set_random_states(states: dict[str, Any]) -> None:
    """Restore what `collect_random_states` returned."""
    torch.set_rng_state(states["torch"])
    if states["torch.cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))


class ResumeState(Callback):
    """Save the global random states in each checkpoint and restore them on resume.

    The states come back just before the first training batch after the
    resume, so nothing that Lightning runs in between (the sanity check)
    changes them. The model saves the running `train/*` epoch sums itself.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"random_states": collect_random_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = state_dict

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._loaded is not None:
            set_random_states(self._loaded["random_states"])
            self._loaded = None
