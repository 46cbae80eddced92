"""Sweeps end to end: scripts/train.py -m with each launcher and the Optuna sweeper, the report, TensorBoard."""

import csv
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytorch_lightning as pl
import yaml
from hydra import compose, initialize_config_dir

from conftest import ROOT, read_metrics, run_script
from echo_lstm.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from echo_lstm.data import EchoDataModule
from echo_lstm.model import EchoClassifier
from echo_lstm.sweep import available_cpus, threads_per_job

# A problem small enough that one run takes a few seconds. It sits in an
# experiment config, so the run folders name only the swept keys.
TINY_EXPERIMENT = """\
# @package _global_
task_name: tiny_sweep
data:
  n_features: 10
  seq_length: 5
  echo_index: 2
  train_size: 320
  val_size: 100
  test_size: 100
trainer:
  max_epochs: 2
  enable_progress_bar: false
callbacks:
  progress_bar: null
"""
GRID_FOLDERS = {
    "data.seq_length=3,model.hidden_size=8",
    "data.seq_length=3,model.hidden_size=16",
    "data.seq_length=5,model.hidden_size=8",
    "data.seq_length=5,model.hidden_size=16",
}
HPARAM_METRICS = {"val/acc", "test/acc", "fit_seconds"}


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("conf")
    (folder / "experiment").mkdir()
    (folder / "experiment" / "tiny_sweep.yaml").write_text(TINY_EXPERIMENT)
    return folder


def sweep(config_dir: Path, sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return run_script(
        "train.py", "-m", "--config-dir", str(config_dir), "experiment=tiny_sweep", f"hydra.sweep.dir={sweep_dir}", *overrides
    )


def run_folders(sweep_dir: Path) -> set[str]:
    return {path.parent.parent.name for path in sweep_dir.glob("*/.hydra/config.yaml")}


@pytest.fixture(scope="module")
def grid_sweep(config_dir, tmp_path_factory) -> Path:
    """A 2 x 2 grid run two jobs at a time by the joblib launcher."""
    sweep_dir = tmp_path_factory.mktemp("grid") / "sweep"
    result = sweep(
        config_dir,
        sweep_dir,
        "hydra/launcher=parallel",
        "hydra.launcher.n_jobs=2",
        "data.seq_length=3,5",
        "model.hidden_size=8,16",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sweep_dir


@pytest.mark.parametrize(
    ("launcher", "cpus", "threads"),
    [
        ({"n_jobs": 2}, 2, 1),
        ({"n_jobs": 2}, 16, 8),
        ({"n_jobs": 3}, 2, 1),
        ({"n_jobs": -1}, 4, 1),
        ({"n_jobs": -2}, 4, 1),
        ({"n_jobs": 1}, 4, 4),
        ({"cpus_per_task": 3}, 16, 3),
        ({}, 4, None),
    ],
)
def test_threads_per_job(launcher, cpus, threads):
    assert threads_per_job(launcher, cpus) == threads


def compose_launcher(launcher: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True).hydra.launcher


def test_parallel_launcher_uses_every_core():
    launcher = compose_launcher("parallel")
    assert launcher._target_.endswith("JoblibLauncher")
    assert launcher.n_jobs == -1
    assert threads_per_job(launcher, 2) == 1


def test_slurm_launcher_documents_resources():
    launcher = compose_launcher("slurm")
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.partition is None
    assert launcher.timeout_min == 60
    assert launcher.cpus_per_task == 2
    assert launcher.gpus_per_node == 0
    assert threads_per_job(launcher, 16) == 2


def test_non_finite_loss_stops_training():
    class NanAtThirdBatch(EchoClassifier):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            return loss * float("nan") if batch_idx == 2 else loss

    datamodule = EchoDataModule(n_features=10, seq_length=5, echo_index=2, train_size=320, val_size=50, test_size=50, batch_size=32)
    model = NanAtThirdBatch(n_features=10, hidden_size=8)
    trainer = pl.Trainer(
        max_epochs=1,
        callbacks=[StopOnNonFiniteLoss()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(NonFiniteLossError, match=r"non-finite train/loss=nan at epoch 0, batch 2"):
        trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 3


@pytest.mark.slow
def test_grid_folders_name_swept_keys(grid_sweep):
    assert run_folders(grid_sweep) == GRID_FOLDERS
    for name in GRID_FOLDERS:
        assert read_metrics(grid_sweep / name)["status"] == "completed"


@pytest.mark.slow
def test_parallel_jobs_share_cpus(grid_sweep):
    expected = max(available_cpus() // 2, 1)
    for name in GRID_FOLDERS:
        log = (grid_sweep / name / "train.log").read_text()
        assert f"torch threads for this job: {expected}" in log


@pytest.mark.slow
def test_report_matches_grid(grid_sweep):
    result = run_script("report.py", str(grid_sweep), timeout=120)
    assert result.returncode == 0, result.stderr

    for seq_length in (3, 5):
        cells = []
        for hidden_size in (8, 16):
            metrics = read_metrics(grid_sweep / f"data.seq_length={seq_length},model.hidden_size={hidden_size}")
            cells.append(f"{metrics['test/acc']:.3f} ({metrics['fit_seconds']:.1f} s)")
        assert f"| {seq_length} | {cells[0]} | {cells[1]} |" in result.stdout
    assert (grid_sweep / "report.md").read_text() in result.stdout

    with (grid_sweep / "results.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert {row["run"] for row in rows} == GRID_FOLDERS
    for row in rows:
        assert float(row["test/acc"]) == pytest.approx(read_metrics(grid_sweep / row["run"])["test/acc"])
    assert (grid_sweep / "accuracy.png").read_bytes().startswith(b"\x89PNG")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_tensorboard_hparams_lists_every_run(grid_sweep):
    port = free_port()
    base = f"http://127.0.0.1:{port}/data/plugin/hparams"
    session_request = {"experimentName": "", "startIndex": 0, "sliceSize": 100, "colParams": [], "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]}
    tensorboard = [str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(grid_sweep), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(tensorboard, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        groups: list = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(groups) < len(GRID_FOLDERS):
            time.sleep(1)
            try:
                groups = post_json(f"{base}/session_groups", session_request).get("sessionGroups", [])
            except (urllib.error.URLError, ConnectionError):
                continue
        experiment = post_json(f"{base}/experiment", {"experimentName": ""})
    finally:
        server.terminate()
        server.wait(timeout=30)

    hparam_names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"data.seq_length", "model.hidden_size", "model.lr"} <= hparam_names
    assert {info["name"]["tag"] for info in experiment["metricInfos"]} == HPARAM_METRICS

    assert {group["name"] for group in groups} == GRID_FOLDERS
    for group in groups:
        hparams = group["hparams"]  # a JSON null here would make TensorBoard treat the column as text
        assert set(hparams) == hparam_names
        assert None not in hparams.values()
        seq_length, hidden_size = re.fullmatch(r"data.seq_length=(\d+),model.hidden_size=(\d+)", group["name"]).groups()
        assert hparams["data.seq_length"] == int(seq_length)
        assert hparams["model.hidden_size"] == int(hidden_size)

        metrics = {value["name"]["tag"]: value["value"] for value in group["metricValues"]}
        assert set(metrics) == HPARAM_METRICS
        assert metrics["test/acc"] == pytest.approx(read_metrics(grid_sweep / group["name"])["test/acc"])


@pytest.mark.slow
def test_submitit_local_sweep_completes(config_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = sweep(
        config_dir, sweep_dir, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "hydra.launcher.cpus_per_task=1", "model.hidden_size=8,16"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_folders(sweep_dir) == {"model.hidden_size=8", "model.hidden_size=16"}
    for name in run_folders(sweep_dir):
        assert read_metrics(sweep_dir / name)["status"] == "completed"
        assert "torch threads for this job: 1" in (sweep_dir / name / "train.log").read_text()


@pytest.mark.slow
def test_optuna_search_reports_best_value(config_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = sweep(config_dir, sweep_dir, "hparams_search=optuna", "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    trials = run_folders(sweep_dir)
    assert len(trials) == 3
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(read_metrics(sweep_dir / name)["val/acc"] for name in trials))
    assert set(best["best_params"]) == {"model.lr", "model.hidden_size", "data.batch_size"}
    assert "Best value" in result.stdout + result.stderr


@pytest.mark.slow
def test_invalid_run_fails_alone(config_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = sweep(config_dir, sweep_dir, "data.seq_length=2,5")  # echo_index=2 needs seq_length >= 3
    output = result.stdout + result.stderr

    assert result.returncode == 1
    assert read_metrics(sweep_dir / "data.seq_length=5")["status"] == "completed"
    failed = read_metrics(sweep_dir / "data.seq_length=2")
    assert failed["status"] == "failed"
    assert "invalid data.echo_index=2" in failed["error"]
    assert "failed run data.seq_length=2: ConfigError" in output
    assert "1 of 2 runs did not complete" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_single_run_config_error_exits_2(tmp_path):
    result = run_script("train.py", "data.seq_length=2", "data.echo_index=2", f"hydra.run.dir={tmp_path / 'run'}", timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: invalid data.echo_index=2")
    assert result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "run" / "metrics.json").exists()
