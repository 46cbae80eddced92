"""One training run: build the parts from the config, fit, test the best checkpoint, write results."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams

from echo_lstm.resume import find_checkpoint
from echo_lstm.run_info import record_run
from echo_lstm.sweep import set_threads_per_job

log = logging.getLogger(__name__)

# Metrics shown against the hyperparameters in TensorBoard's HParams tab.
HPARAM_METRICS = ("val/acc", "test/acc", "fit_seconds")


def flatten_hparams(cfg: DictConfig) -> dict[str, Any]:
    """Flatten the data, model and trainer config into `section.key` scalars.

    TensorBoard's HParams tab only takes bool, int, float and str values, so
    `_target_` entries are dropped and nulls become the string "null".
    """
    flat: dict[str, Any] = {"seed": cfg.seed}
    for section in ("data", "model", "trainer"):
        values = OmegaConf.to_container(cfg[section], resolve=True)
        for key, value in values.items():
            if key.startswith("_") or isinstance(value, (dict, list)):
                continue
            flat[f"{section}.{key}"] = "null" if value is None else value
    return flat


def log_hparams(logger: TensorBoardLogger, params: dict[str, Any], metric_names: tuple[str, ...]) -> None:
    """Write the HParams summary; TensorBoard reads each metric's last scalar of the same tag.

    Lightning's `log_hyperparams(params, metrics)` would also log the metrics at
    step 0, which puts a false first point on the `val/acc` curve.
    """
    experiment, session_start, session_end = hparams(params, {name: 0.0 for name in metric_names})
    writer = logger.experiment._get_file_writer()
    for summary in (experiment, session_start, session_end):
        writer.add_summary(summary)
    logger.experiment.flush()


def build(cfg: DictConfig, extra_callbacks: list[pl.Callback] = (), **trainer_overrides: Any):
    """Instantiate a run's datamodule, model, logger and Trainer from its config.

    `extra_callbacks` and `trainer_overrides` let a benchmark time the same
    Trainer with its own clock and a shorter schedule.
    """
    set_threads_per_job()
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("torch_threads") is not None:
        torch.set_num_threads(cfg.torch_threads)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    if OmegaConf.select(cfg, "model.dropout", default=0) and OmegaConf.select(cfg, "model.num_layers", default=1) == 1:
        log.warning("model.dropout=%s has no effect with model.num_layers=1; set model.num_layers=2 or more", cfg.model.dropout)
    logger: TensorBoardLogger = instantiate(cfg.logger)
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values() if callback is not None]
    trainer_args = {"logger": logger, "callbacks": [*callbacks, *extra_callbacks], **trainer_overrides}
    trainer: pl.Trainer = instantiate(cfg.trainer, **trainer_args)
    # `deterministic=True` also fills each uninitialized tensor (as from torch.empty) with NaN, a debugging
    # aid that took 10% of a default-model training step on a CPU. Kernels stay deterministic without it.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return datamodule, model, logger, trainer


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train and test one run; return and save its metrics to `metrics.json` in the run folder."""
    run_dir = Path(cfg.output_dir)
    datamodule, model, logger, trainer = build(cfg)

    # NOTE: on resume, fit_seconds covers only the resumed part of the run.
    ckpt_path = find_checkpoint(cfg.resume) if cfg.get("resume") else None
    record_run(cfg, logger.experiment, resumed_from=ckpt_path)
    log.info("fitting; run folder %s; resuming from %s", run_dir, ckpt_path)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    fit_seconds = time.perf_counter() - start

    checkpoint = trainer.checkpoint_callback
    has_best = isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path
    # The path itself, unlike ckpt_path="best", spares a warning about the periodic ModelCheckpoint.
    best_path = checkpoint.best_model_path if has_best else None
    (test_results,) = trainer.test(model, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True)

    metrics: dict[str, Any] = {
        "status": "completed",
        "val/acc": float(checkpoint.best_model_score) if has_best else float(trainer.callback_metrics["val/acc"]),
        "test/acc": test_results["test/acc"],
        "test/loss": test_results["test/loss"],
        "global_step": trainer.global_step,
        "epochs": trainer.current_epoch,
        "fit_seconds": round(fit_seconds, 3),
        "best_checkpoint": str(Path(checkpoint.best_model_path).relative_to(run_dir)) if has_best else None,
    }

    logger.log_metrics({"fit_seconds": fit_seconds}, step=trainer.global_step)
    log_hparams(logger, flatten_hparams(cfg), HPARAM_METRICS)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
