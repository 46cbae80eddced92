"""Shared fixtures: the command line of scripts/train.py and one small trained run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A problem that a real run learns to 100% in a few seconds on two CPU cores.
# EarlyStopping stops only once val/acc is strictly above its threshold, so 1.0 would never stop.
SMALL_PROBLEM = [
    "data.n_features=10",
    "data.seq_length=5",
    "data.echo_index=2",
    "data.train_size=3200",
    "data.val_size=500",
    "data.test_size=1000",
    "trainer.max_epochs=15",
    "callbacks.early_stopping.stopping_threshold=0.999",
    "callbacks.progress_bar.refresh_rate=0",
]

# SMALL_PROBLEM cut to two epochs of 20 steps, with dropout so that training
# draws random numbers, and a checkpoint every 5 steps: the reproducibility
# tests re-run and resume it.
TINY_RUN = [
    *SMALL_PROBLEM,
    "data.train_size=1280",
    "trainer.max_epochs=2",
    "model.num_layers=2",
    "model.dropout=0.5",
    "callbacks.periodic_checkpoint.every_n_train_steps=5",
]
TINY_RUN_STEPS_PER_EPOCH = 20


def run_script(script: str, *args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a script of scripts/ in a subprocess with the test interpreter; capture its output."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train_run(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """Train SMALL_PROBLEM into `run_dir` with extra overrides; fail the test if the run fails."""
    result = run_script("train.py", *SMALL_PROBLEM, f"hydra.run.dir={run_dir}", *overrides)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """Folder of one finished run of SMALL_PROBLEM, shared by the tests that only read it."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    train_run(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Folder of one finished run of TINY_RUN, shared by the tests that only read it."""
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    result = run_script("train.py", *TINY_RUN, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run_dir


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())
