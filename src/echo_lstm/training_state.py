"""Training state that Lightning's checkpoints leave out, so a resumed run continues exactly.

Lightning 2.6 saves the weights, the optimizer, the loop progress and the
callbacks' states, and the training stream saves its position itself. It does
not save the global random states (dropout draws from torch's), nor the
running sums behind the epoch-level `train/loss` and `train/acc` of an epoch
cut short. `ResumeState` stores both, as tensors and plain Python values, so
the checkpoint still loads with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_sum

log = logging.getLogger(__name__)

# Prefix of the entries that `self.log` in `training_step` creates in Lightning's result collection.
_TRAIN_PREFIX = "training_step."


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
    """Save the random states and the running `train/*` epoch sums in each checkpoint; restore them on resume.

    The random states come back just before the first training batch after
    the resume, so nothing that Lightning runs in between (the sanity check)
    changes them. The running sums are added back after that batch's
    `training_step`. IEEE float addition is commutative, so the epoch mean
    equals the uninterrupted run's to the bit.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        return {
            "random_states": collect_random_states(),
            "epoch": trainer.current_epoch,
            "train_sums": self._collect_train_sums(trainer),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = state_dict

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._loaded is not None:
            set_random_states(self._loaded["random_states"])

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._loaded is None:
            return
        loaded, self._loaded = self._loaded, None
        # A checkpoint written at the end of an epoch resumes in the next one, whose sums start at zero.
        if loaded["epoch"] == trainer.current_epoch:
            self._add_train_sums(trainer, loaded["train_sums"])

    @staticmethod
    def _collect_train_sums(trainer: pl.Trainer) -> dict[str, dict[str, torch.Tensor]]:
        # NOTE: reads Lightning's private result collection (`trainer._results`, Lightning 2.6).
        results = trainer._results
        if results is None:
            return {}
        sums = {}
        for key, result in results.items():
            if not key.startswith(_TRAIN_PREFIX):
                continue
            if result.is_tensor and (result.meta.is_mean_reduction or result.meta.is_sum_reduction):
                sums[key] = {
                    name: getattr(result, name).detach().clone()
                    for name in ("value", "cumulated_batch_size")
                    if hasattr(result, name)
                }
            elif isinstance(result.value, Metric):
                sums[key] = _metric_sums(result.value)
        return sums

    @staticmethod
    def _add_train_sums(trainer: pl.Trainer, sums: dict[str, dict[str, torch.Tensor]]) -> None:
        results = trainer._results
        for key, saved in sums.items():
            result = results.get(key) if results is not None else None
            if result is None:
                log.warning("resume: %s is not logged by the resumed run; its epoch value covers the resumed part only", key)
                continue
            target = result if result.is_tensor else result.value
            for name, value in saved.items():
                setattr(target, name, getattr(target, name) + value.to(getattr(target, name).device))


def _metric_sums(metric: Metric) -> dict[str, torch.Tensor]:
    """Return the states of a torchmetrics metric that it reduces by summing, the ones a resume can add back."""
    sums = {}
    for name, reduction in metric._reductions.items():
        value = getattr(metric, name)
        if reduction is dim_zero_sum and isinstance(value, torch.Tensor):
            sums[name] = value.detach().clone()
        else:
            log.warning("resume: state %s of %s is not a sum; its epoch value will cover the resumed part only", name, type(metric).__name__)
    return sums
