"""The classifier: a recurrent network over one-hot sequences, a linear head on the last step."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class EchoClassifier(pl.LightningModule):
    """Predict the integer at `echo_index` as one of `n_features` classes."""

    def __init__(
        self,
        n_features: int = 100,
        hidden_size: int = 25,
        num_layers: int = 1,
        dropout: float = 0.0,
        lr: float = 0.01,
        cell: str = "lstm",
        forget_bias: float = 1.0,
    ):
        super().__init__()
        # The run logs its flattened config itself, so Lightning must not log these too.
        self.save_hyperparameters(logger=False)

        self.rnn = _CELLS[cell](
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            # PyTorch applies dropout between stacked layers only and warns on one layer.
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = nn.Linear(hidden_size, n_features)
        if cell == "lstm":
            self.init_forget_bias(forget_bias)

        # Loss and accuracy means per stage. Steps only update them and each epoch
        # end logs them once: under cProfile, two `self.log` calls per step took
        # as long as the forward and backward pass of this small network on a CPU.
        self.train_metrics = self._epoch_metrics()
        self.val_metrics = self._epoch_metrics()
        self.test_metrics = self._epoch_metrics()
        self._saved_train_sums: dict | None = None  # from the checkpoint a run resumes from

    @staticmethod
    def _epoch_metrics() -> nn.ModuleDict:
        # Accuracy is the mean of per-sample correctness, which equals torchmetrics'
        # micro-averaged MulticlassAccuracy at about half its update cost (torchmetrics 1.9).
        return nn.ModuleDict({"loss": MeanMetric(), "acc": MeanMetric()})

    @torch.no_grad()
    def init_forget_bias(self, value: float) -> None:
        """Set the LSTM forget-gate bias (b_ih + b_hh) to `value` in every layer.

        A positive bias keeps the forget gate open at the start of training, so
        gradients reach early time steps (Jozefowicz et al., 2015, use 1.0).
        PyTorch orders the gates input, forget, cell, output.
        """
        hidden = self.hparams.hidden_size
        for name, bias in self.rnn.named_parameters():
            if name.startswith("bias_ih"):
                bias[hidden : 2 * hidden].fill_(value)
            elif name.startswith("bias_hh"):
                bias[hidden : 2 * hidden].fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map one-hot inputs (batch, seq_length, n_features) to logits (batch, n_features)."""
        outputs, _ = self.rnn(x)  # (batch, seq_length, hidden_size)
        return self.head(outputs[:, -1])  # (batch, n_features)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)

        metrics = getattr(self, f"{stage}_metrics")
        metrics["loss"].update(loss.detach(), weight=len(y))
        metrics["acc"].update((logits.argmax(dim=-1) == y).float().mean(), weight=len(y))
        return loss

    def _log_epoch(self, stage: str) -> None:
        """Log `<stage>/loss` and `<stage>/acc` over the epoch's samples, then reset them."""
        metrics = getattr(self, f"{stage}_metrics")
        self.log(f"{stage}/loss", metrics["loss"].compute(), prog_bar=stage != "train")
        self.log(f"{stage}/acc", metrics["acc"].compute(), prog_bar=True)
        for metric in metrics.values():
            metric.reset()

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The running train sums of the epoch, outside the state_dict so that
        # they never count as weights.
        checkpoint["train_sums"] = {
            "epoch": self.current_epoch,
            "states": {
                name: {state: value.detach().clone() for state, value in metric.metric_state.items()}
                for name, metric in self.train_metrics.items()
            },
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._saved_train_sums = checkpoint.get("train_sums")

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        """Restore the train sums of a checkpoint written mid-epoch, so the resumed epoch logs the same means.

        A resumed run that starts a new epoch (batch_idx 0) starts from zero.
        """
        saved, self._saved_train_sums = self._saved_train_sums, None
        if saved is None or batch_idx == 0 or saved["epoch"] != self.current_epoch:
            return
        for name, states in saved["states"].items():
            for state, value in states.items():
                setattr(self.train_metrics[name], state, value.to(self.device))

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
