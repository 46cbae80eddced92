"""Runs inside a Hydra multirun: torch threads per parallel job, failure records, and the end-of-sweep check.

This module imports neither torch nor Lightning at import time, so the Hydra
callback and the task wrapper cost nothing before a config error is reported.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from echo_lstm.config import ConfigError
from echo_lstm.report import COMPLETED, FAILED, load_runs

log = logging.getLogger(__name__)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def available_cpus() -> int:
    """Return the CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_job(launcher: Mapping[str, Any], cpus: int) -> int | None:
    """Return the torch thread count for one job of a sweep, or None to keep torch's default.

    The joblib launcher runs `n_jobs` jobs at once (negative values count back
    from the CPU count, as in joblib), so each job gets an equal share of the
    CPUs. A submitit job gets the `cpus_per_task` it reserves. The basic
    launcher runs one job at a time, which may use every CPU.
    """
    n_jobs = launcher.get("n_jobs")
    if n_jobs is not None:
        parallel_jobs = n_jobs if n_jobs > 0 else max(cpus + 1 + n_jobs, 1)
        # NOTE: a sweep with fewer runs than n_jobs still splits the CPUs n_jobs ways.
        return max(cpus // parallel_jobs, 1)

    cpus_per_task = launcher.get("cpus_per_task")
    if cpus_per_task:
        return int(cpus_per_task)
    return None


def set_threads_per_job() -> None:
    """In a multirun, limit torch's intra-op threads to this job's share of the CPUs.

    Two jobs on two cores that each start two threads spin against each other
    and run slower than one job at a time.
    """
    if not in_multirun():
        return
    threads = threads_per_job(HydraConfig.get().launcher, available_cpus())
    if threads is None:
        return

    import torch

    torch.set_num_threads(threads)
    log.info("torch threads for this job: %d", threads)


def record_failure(run_dir: Path, error: BaseException) -> None:
    """Write `status: failed` and the error to the run's metrics.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"status": FAILED, "error": f"{type(error).__name__}: {error}"}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def guard_run(task: Callable[[DictConfig], float | None]) -> Callable[[DictConfig], float | None]:
    """Wrap a Hydra task function so that a bad run reports itself and a sweep goes on.

    In a single run, a ConfigError prints one line and exits with code 2, and
    any other exception propagates. In a multirun, the run records its error
    in metrics.json and returns NaN. The launcher and the Optuna sweeper, which
    counts a NaN trial as failed, then go on with the other runs, and
    SweepSummary lists the failures at the end.
    """

    @functools.wraps(task)
    def guarded(cfg: DictConfig) -> float | None:
        try:
            return task(cfg)
        except ConfigError as error:
            if not in_multirun():
                print(f"error: {error}", file=sys.stderr)
                sys.exit(2)
            log.error("run failed: %s", error)
            record_failure(Path(cfg.output_dir), error)
        except Exception as error:
            if not in_multirun():
                raise
            log.exception("run failed: %s", error)
            record_failure(Path(cfg.output_dir), error)
        return math.nan

    return guarded


class SweepSummary(Callback):
    """Hydra callback: after a multirun, list the runs that failed or left no result, and exit 1 if any did."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        runs = load_runs(sweep_dir)
        not_completed = [run for run in runs if run.status != COMPLETED]
        log.info(
            "sweep finished: %d of %d runs completed in %s; summarize with: python scripts/report.py %s",
            len(runs) - len(not_completed),
            len(runs),
            sweep_dir,
            sweep_dir,
        )
        if not not_completed:
            return

        for run in not_completed:
            log.error("%s run %s: %s", run.status, run.name, run.error or "no metrics.json")
        log.error("%d of %d runs did not complete", len(not_completed), len(runs))
        sys.exit(1)
