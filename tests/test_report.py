"""The sweep report on sweep folders written here: finished, failed, running and not yet started runs."""

import csv
import json
from pathlib import Path

import pytest
from matplotlib.image import imread
from omegaconf import OmegaConf

from conftest import run_script
from echo_lstm.report import COMPLETED, FAILED, MISSING, build_grid, load_runs, swept_values, write_report


def make_run(sweep_dir: Path, seq_length: int, hidden_size: int, metrics: dict | None) -> Path:
    """Write a run folder as Hydra and train() leave it: .hydra/ files and, once done, metrics.json."""
    folder = sweep_dir / f"data.seq_length={seq_length},model.hidden_size={hidden_size}"
    (folder / ".hydra").mkdir(parents=True)
    config = {"data": {"seq_length": seq_length, "seed": "${seed}"}, "model": {"hidden_size": hidden_size}, "seed": 42}
    OmegaConf.save(OmegaConf.create(config), folder / ".hydra" / "config.yaml")
    overrides = [f"data.seq_length={seq_length}", f"model.hidden_size={hidden_size}"]
    OmegaConf.save(OmegaConf.create(overrides), folder / ".hydra" / "overrides.yaml")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def completed(test_acc: float, fit_seconds: float) -> dict:
    return {"status": COMPLETED, "val/acc": test_acc, "test/acc": test_acc, "test/loss": 0.5, "fit_seconds": fit_seconds, "epochs": 3}


@pytest.fixture
def partial_sweep(tmp_path: Path) -> Path:
    """A 2 x 3 grid: two runs done, one failed, one running, two not started."""
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    multirun = {"hydra": {"overrides": {"task": ["experiment=memory_sweep"]}, "sweeper": {"params": {"model.hidden_size": "8,16,32", "data.seq_length": "5,10"}}}}
    OmegaConf.save(OmegaConf.create(multirun), sweep_dir / "multirun.yaml")
    make_run(sweep_dir, 5, 8, completed(0.91, 12.0))
    make_run(sweep_dir, 5, 16, completed(0.98, 20.4))
    make_run(sweep_dir, 10, 8, {"status": FAILED, "error": "NonFiniteLossError: non-finite train/loss=nan"})
    make_run(sweep_dir, 10, 16, None)
    return sweep_dir


def test_load_runs_reads_status(partial_sweep):
    statuses = {run.name: run.status for run in load_runs(partial_sweep)}
    assert statuses == {
        "data.seq_length=5,model.hidden_size=8": COMPLETED,
        "data.seq_length=5,model.hidden_size=16": COMPLETED,
        "data.seq_length=10,model.hidden_size=8": FAILED,
        "data.seq_length=10,model.hidden_size=16": MISSING,
    }


def test_swept_values_from_multirun_yaml(partial_sweep):
    assert swept_values(partial_sweep, "model.hidden_size") == [8, 16, 32]
    assert swept_values(partial_sweep, "data.seq_length") == [5, 10]
    assert swept_values(partial_sweep, "model.lr") == []


def test_grid_marks_failed_and_missing(partial_sweep):
    grid = build_grid(load_runs(partial_sweep), partial_sweep)
    assert grid.rows == [5, 10]
    assert grid.columns == [8, 16, 32]
    assert grid.cells[5, 16].text() == "0.980 (20.4 s)"
    assert grid.cells[10, 8].text() == FAILED
    assert grid.cells[10, 16].text() == MISSING
    assert grid.cells[5, 32].text() == MISSING
    assert grid.cells[5, 32].n_runs == 0


def test_cell_with_several_runs_shows_best_val_acc(tmp_path):
    make_run(tmp_path / "a", 5, 8, {**completed(0.7, 1.0), "val/acc": 0.6})
    make_run(tmp_path / "b", 5, 8, {**completed(0.5, 2.0), "val/acc": 0.9})
    grid = build_grid(load_runs(tmp_path), tmp_path)
    assert grid.cells[5, 8].n_runs == 2
    assert grid.cells[5, 8].test_acc == pytest.approx(0.5)


def test_report_files_agree_with_runs(partial_sweep):
    report = write_report(partial_sweep)

    assert "| 5 | 0.910 (12.0 s) | 0.980 (20.4 s) | missing |" in report
    assert "| 10 | failed | missing | missing |" in report
    assert "4 run folders: 2 completed, 1 failed, 1 without metrics.json" in report
    assert "NonFiniteLossError" in report
    assert (partial_sweep / "report.md").read_text() == report

    with (partial_sweep / "results.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6  # four run folders and two cells without one
    by_cell = {(row["data.seq_length"], row["model.hidden_size"]): row for row in rows}
    assert float(by_cell["5", "16"]["test/acc"]) == pytest.approx(0.98)
    assert by_cell["10", "8"]["status"] == FAILED
    assert by_cell["10", "16"]["status"] == MISSING
    assert by_cell["5", "32"]["run"] == ""

    image = imread(partial_sweep / "accuracy.png")
    assert image.shape[0] > 100
    assert image.shape[1] > 100


@pytest.mark.slow
def test_report_cli_rejects_folder_without_runs(tmp_path):
    result = run_script("report.py", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "no run folders" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_report_cli_defaults_to_newest_sweep(tmp_path, partial_sweep):
    older = tmp_path / "outputs" / "sweeps" / "older"
    make_run(older, 5, 8, completed(0.5, 1.0))
    newest = partial_sweep.rename(tmp_path / "outputs" / "sweeps" / "newest")
    newest.touch()

    result = run_script("report.py", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "# Sweep newest" in result.stdout
    assert (newest / "accuracy.png").is_file()
    assert not (older / "report.md").exists()
