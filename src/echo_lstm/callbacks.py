"""Lightning callbacks of this project that Lightning does not ship."""

from __future__ import annotations

from typing import Any, Mapping

import pytorch_lightning as pl
import torch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(pl.Callback):
    """Stop the run with NonFiniteLossError at the first batch whose training loss is NaN or infinite.

    Lightning's `Trainer(detect_anomaly=True)` finds the same fault through
    autograd's anomaly mode, which slows every step. This check reads one
    scalar per batch.
    """

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor) and not torch.isfinite(loss).all():
            raise NonFiniteLossError(
                f"non-finite train/loss={loss.item()} at epoch {trainer.current_epoch}, "
                f"batch {batch_idx}; lower model.lr or set trainer.gradient_clip_val"
            )
