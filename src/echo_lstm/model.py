"""The classifier: a recurrent network over one-hot sequences, a linear head on the last step."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

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

        self.train_acc = MulticlassAccuracy(num_classes=n_features, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=n_features, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=n_features, average="micro")

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

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str, accuracy: MulticlassAccuracy):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        accuracy(logits, y)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=stage != "train")
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx):
        self._step(batch, "test", self.test_acc)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
