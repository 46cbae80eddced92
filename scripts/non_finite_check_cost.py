"""Measure the cost of the StopOnNonFiniteLoss callback, on one thread.

Usage: python scripts/non_finite_check_cost.py [REPEATS] (default: 5).
Prints the time of one check against the time of one training batch, which
does not depend on the machine's load as much as the fit times do, and the
median fit times with and without the callback, measured alternately.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
import timeit

import pytorch_lightning as pl
import torch

from echo_lstm.callbacks import StopOnNonFiniteLoss
from echo_lstm.data import EchoDataModule
from echo_lstm.model import EchoClassifier


def fit_seconds(callbacks: list[pl.Callback]) -> float:
    """Fit 2 epochs (200 batches of 64) of the default problem and return the wall time."""
    pl.seed_everything(0, verbose=False)
    datamodule = EchoDataModule(val_size=64)
    model = EchoClassifier(n_features=100, hidden_size=25)
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - start


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    check = StopOnNonFiniteLoss()
    trainer = pl.Trainer(logger=False, enable_progress_bar=False)
    loss = torch.tensor(2.3, requires_grad=True)
    calls = 10_000
    check_seconds = timeit.timeit(lambda: check.on_train_batch_end(trainer, None, {"loss": loss}, None, 0), number=calls) / calls

    without, with_check = [], []
    for _ in range(repeats):
        without.append(fit_seconds([]))
        with_check.append(fit_seconds([StopOnNonFiniteLoss()]))
    batch_seconds = statistics.median(without) / 200
    print(f"one check: {check_seconds * 1e6:.1f} us; one training batch: {batch_seconds * 1e3:.2f} ms ({check_seconds / batch_seconds:.2%})")
    print(f"median fit without the check: {statistics.median(without):.2f} s, with it: {statistics.median(with_check):.2f} s")
    print(f"ratio: {statistics.median(with_check) / statistics.median(without):.3f}")


if __name__ == "__main__":
    main()
