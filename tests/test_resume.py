"""A run killed with SIGKILL mid-epoch and resumed ends bit-identical to the uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, TINY_RUN, TINY_RUN_STEPS_PER_EPOCH, read_metrics, run_script
from echo_lstm.config import ConfigError
from echo_lstm.resume import find_checkpoint, resume_config, run_folder

# Wall time of the resumed process alone.
NOT_COMPARED = {"fit_seconds"}


def kill_after_first_checkpoint(run_dir: Path) -> subprocess.Popen:
    """Start TINY_RUN into `run_dir` and SIGKILL it as soon as its first checkpoint exists."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *TINY_RUN, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    try:
        while not checkpoint.is_file():
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    return process


def scalars(run_dir: Path) -> dict[tuple[str, int], float]:
    """Return every scalar of the run's event files by (tag, step); a later file's value wins."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {
        (tag, event.step): event.value
        for tag in events.Tags()["scalars"]
        if tag not in NOT_COMPARED
        for event in events.Scalars(tag)
    }


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory) -> dict:
    """Kill TINY_RUN mid-epoch, then resume it; return the folders and what the kill left."""
    base = tmp_path_factory.mktemp("resume")
    run_dir, resume_log = base / "run", base / "resume_log"

    process = kill_after_first_checkpoint(run_dir)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    left = {
        "returncode": process.returncode,
        "metrics_existed": (run_dir / "metrics.json").exists(),
        "batches_done": torch.load(checkpoint, weights_only=True)["loops"]["fit_loop"]["epoch_loop.batch_progress"][
            "current"
        ]["ready"],
        "config": (run_dir / ".hydra" / "config.yaml").read_text(),
        "event_files": sorted(path.name for path in run_dir.glob("events.out.tfevents.*")),
    }

    result = run_script("train.py", f"resume={run_dir}", f"hydra.run.dir={resume_log}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"run_dir": run_dir, "resume_log": resume_log, "checkpoint": checkpoint, "left": left}



@pytest.mark.slow
def test_kill_hit_middle_of_epoch(resumed_run):
    left = resumed_run["left"]
    assert left["returncode"] == -signal.SIGKILL
    assert not left["metrics_existed"]
    assert 0 < left["batches_done"] < TINY_RUN_STEPS_PER_EPOCH


@pytest.mark.slow
def test_resumed_weights_match_uninterrupted(resumed_run, tiny_run):
    for name in ["last.ckpt", read_metrics(tiny_run)["best_checkpoint"].removeprefix("checkpoints/")]:
        expected = torch.load(tiny_run / "checkpoints" / name, weights_only=True)["state_dict"]
        resumed = torch.load(resumed_run["run_dir"] / "checkpoints" / name, weights_only=True)["state_dict"]
        assert expected.keys() == resumed.keys()
        for key in expected:
            assert torch.equal(expected[key], resumed[key]), f"{name} {key}"


@pytest.mark.slow
def test_resumed_optimizer_matches_uninterrupted(resumed_run, tiny_run):
    expected = torch.load(tiny_run / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"][0]
    resumed = torch.load(resumed_run["run_dir"] / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"][0]
    assert expected["state"].keys() == resumed["state"].keys()
    for index, state in expected["state"].items():
        for key, value in state.items():
            assert torch.equal(value, resumed["state"][index][key]), f"param {index} {key}"


@pytest.mark.slow
def test_resumed_metrics_match_uninterrupted(resumed_run, tiny_run):
    expected = read_metrics(tiny_run)
    resumed = read_metrics(resumed_run["run_dir"])
    assert expected.keys() == resumed.keys()
    for key in expected.keys() - NOT_COMPARED:
        assert resumed[key] == expected[key], key


@pytest.mark.slow
def test_resumed_scalars_match_uninterrupted(resumed_run, tiny_run):
    expected = scalars(tiny_run)
    resumed = scalars(resumed_run["run_dir"])
    assert {"train/loss", "train/acc", "val/acc", "test/acc"} <= {tag for tag, _ in expected}
    assert resumed == expected


@pytest.mark.slow
def test_resume_keeps_original_files(resumed_run):
    run_dir, left = resumed_run["run_dir"], resumed_run["left"]
    assert (run_dir / ".hydra" / "config.yaml").read_text() == left["config"]
    event_files = {path.name for path in run_dir.glob("events.out.tfevents.*")}
    assert set(left["event_files"]) < event_files


@pytest.mark.slow
def test_resume_recorded_in_run_info(resumed_run):
    record = json.loads((resumed_run["run_dir"] / "run_info.json").read_text())
    assert record["seed"] == 42
    (resume,) = record["resumes"]
    assert resume["resumed_from"] == str(resumed_run["checkpoint"].resolve())
    assert resume["hydra_dir"] == str(resumed_run["resume_log"])
    assert resume["overrides"] == [f"resume={resumed_run['run_dir']}"]


@pytest.mark.slow
def test_resume_checkpoint_file_names_its_run(resumed_run):
    checkpoint = resumed_run["checkpoint"]
    assert find_checkpoint(checkpoint) == checkpoint
    assert find_checkpoint(resumed_run["run_dir"]) == checkpoint
    assert run_folder(checkpoint) == resumed_run["run_dir"].resolve()


def test_resume_missing_folder_rejected(tmp_path):
    with pytest.raises(ConfigError, match="no such run folder"):
        find_checkpoint(tmp_path / "missing")


def test_resume_folder_without_checkpoint_rejected(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoints/last.ckpt"):
        find_checkpoint(tmp_path)


def test_resume_finished_run_rejected(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\nresume: null\n")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    (tmp_path / "metrics.json").write_text("{}")
    cfg = OmegaConf.create({"seed": 1, "resume": str(tmp_path)})
    with pytest.raises(ConfigError, match="already finished"):
        resume_config(cfg, [f"resume={tmp_path}"])


def test_resume_takes_saved_config_and_folder(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 5\nresume: null\noutput_dir: elsewhere\n")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    cfg = OmegaConf.create({"seed": 1, "resume": str(tmp_path)})
    resumed = resume_config(cfg, [f"resume={tmp_path}"])
    assert resumed.seed == 5
    assert resumed.output_dir == str(tmp_path.resolve())
    assert resumed.resume == str((tmp_path / "checkpoints" / "last.ckpt").resolve())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["resume={missing}"], "no such run folder or checkpoint file"),
        (["resume={run_dir}", "model.lr=0.1"], "invalid overrides model.lr=0.1"),
    ],
    ids=["missing-folder", "extra-override"],
)
def test_invalid_resume_stops_cli_without_traceback(resumed_run, tmp_path, overrides, message):
    values = {"missing": tmp_path / "missing", "run_dir": resumed_run["run_dir"]}
    args = [override.format(**values) for override in overrides]
    result = run_script("train.py", *args, f"hydra.run.dir={tmp_path / 'log'}", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
