"""The echo sequence prediction data: random integer sequences, one-hot encoded.

A sample is `seq_length` integers drawn uniformly from `0 .. n_features-1`.
The input is their one-hot encoding over all `n_features` categories and the
target is the integer at position `echo_index`.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F


def encode(values: torch.Tensor, n_features: int) -> torch.Tensor:
    """One-hot encode integer values over all `n_features` categories.

    The width is always `n_features`, whatever values occur, so a batch that
    happens to miss a value is encoded exactly as one that has it.
    """
    if values.dtype.is_floating_point:
        raise ValueError(f"values must be integers, got dtype {values.dtype}")
    if values.numel() and (values.min() < 0 or values.max() >= n_features):
        raise ValueError(
            f"values must lie in 0..{n_features - 1}, got min {int(values.min())} "
            f"and max {int(values.max())}"
        )
    return F.one_hot(values.long(), n_features).float()  # (..., n_features)


def decode(scores: torch.Tensor) -> torch.Tensor:
    """Return the integer each one-hot, probability or logits vector stands for (argmax)."""
    return scores.argmax(dim=-1)


def generate_values(
    n: int, seq_length: int, n_features: int, generator: torch.Generator
) -> torch.Tensor:
    """Draw `n` random sequences in one vectorized call: (n, seq_length), int64."""
    return torch.randint(0, n_features, (n, seq_length), generator=generator)


def seeded_generator(*keys: int) -> torch.Generator:
    """Return a torch.Generator whose state is a pure function of the integer keys.

    numpy's SeedSequence mixes the keys, so (seed, epoch) and (seed, epoch + 1)
    give unrelated streams rather than neighbouring ones.
    """
    seed = int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(seed)


class EchoBatches:
    """Iterate over fixed sequences in batches of (one-hot inputs, targets).

    The integers are stored and the one-hot encoding is made per batch, which
    keeps memory at `n * seq_length` integers instead of `n * seq_length * n_features` floats.
    """

    def __init__(self, values: torch.Tensor, echo_index: int, n_features: int, batch_size: int):
        self.values = values  # (n, seq_length)
        self.targets = values[:, echo_index]  # (n,)
        self.n_features = n_features
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.values) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.values), self.batch_size):
            stop = start + self.batch_size
            x = F.one_hot(self.values[start:stop], self.n_features).float()  # (batch, seq_length, n_features)
            yield x, self.targets[start:stop]


class TrainStream:
    """Training batches that are new every epoch: a pure function of (seed, epoch).

    Lightning calls `iter()` once per epoch; the epoch number comes from the
    attached trainer, so a run resumed at epoch k gets the data of epoch k.
    Lightning saves `state_dict()` in each checkpoint and hands it back to
    `load_state_dict()` on resume, so a run resumed mid-epoch skips the batches
    that it had already trained on.
    """

    def __init__(self, datamodule: "EchoDataModule"):
        self.datamodule = datamodule
        self.epoch = 0  # epoch of the batches that the latest iter() returned
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches already trained on)

    def __len__(self) -> int:
        dm = self.datamodule
        return -(-dm.train_size // dm.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The loop's `processed` count is the epoch that Lightning 2.6 also passes to
        # samplers. `trainer.current_epoch` counts completed epochs, which lags by
        # one here when a run resumes from a checkpoint written at an epoch's end.
        trainer = self.datamodule.trainer
        self.epoch = trainer.fit_loop.epoch_progress.current.processed if trainer is not None else 0
        batches = iter(self.datamodule.epoch_batches(self.epoch))

        if self._resume_at is not None:
            resume_epoch, done = self._resume_at
            self._resume_at = None
            if resume_epoch == self.epoch:
                batches = islice(batches, done, None)
        return batches

    def state_dict(self) -> dict[str, Any]:
        """Return the epoch and how many of its batches the training loop has taken.

        The count comes from the loop's progress, not from this iterator,
        because Lightning fetches one batch ahead of the one it trains on.
        """
        done = self.datamodule.trainer.fit_loop.epoch_loop.batch_progress.current.ready
        return {"epoch": self.epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume_at = (state["epoch"], state["batches_done"])


class EchoDataModule(pl.LightningDataModule):
    """Generate echo sequences: fresh training data per epoch, fixed validation and test sets."""

    def __init__(
        self,
        n_features: int = 100,
        seq_length: int = 10,
        echo_index: int = 7,
        batch_size: int = 64,
        train_size: int = 6400,
        val_size: int = 2000,
        test_size: int = 10000,
        seed: int = 0,
        val_seed: int = 1,
        test_seed: int = 2,
        curriculum_start: int | None = None,
        curriculum_growth: int = 5,
    ):
        super().__init__()
        self.n_features = n_features
        self.seq_length = seq_length
        self.echo_index = echo_index
        self.batch_size = batch_size
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.seed = seed
        self.val_seed = val_seed
        self.test_seed = test_seed
        self.curriculum_start = curriculum_start
        self.curriculum_growth = curriculum_growth

    def train_seq_length(self, epoch: int) -> int:
        """Return the length of the training sequences of one epoch.

        With a curriculum, epoch 0 trains on `curriculum_start` steps and each
        epoch adds `curriculum_growth` until `seq_length`. An LSTM that first
        learns to echo over short distances then extends its memory step by
        step, in far fewer steps than training at the full distance from the
        start needs. Validation and test always use `seq_length`.
        """
        if self.curriculum_start is None:
            return self.seq_length
        return min(self.seq_length, self.curriculum_start + self.curriculum_growth * epoch)

    def epoch_batches(self, epoch: int) -> EchoBatches:
        """Return the training batches of one epoch."""
        generator = seeded_generator(self.seed, epoch)
        values = generate_values(self.train_size, self.train_seq_length(epoch), self.n_features, generator)
        return EchoBatches(values, self.echo_index, self.n_features, self.batch_size)

    def fixed_batches(self, size: int, seed: int) -> EchoBatches:
        """Return a set that depends only on the data config and its own seed, not on the run's seed."""
        generator = seeded_generator(seed, self.seq_length, self.n_features)
        values = generate_values(size, self.seq_length, self.n_features, generator)
        return EchoBatches(values, self.echo_index, self.n_features, self.batch_size)

    def train_dataloader(self) -> TrainStream:
        return TrainStream(self)

    def val_dataloader(self) -> EchoBatches:
        return self.fixed_batches(self.val_size, self.val_seed)

    def test_dataloader(self) -> EchoBatches:
        return self.fixed_batches(self.test_size, self.test_seed)
