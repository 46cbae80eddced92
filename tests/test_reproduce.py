"""Runs repeat exactly: the same seed gives the same results, and reproduce.py reports any difference."""

import json
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, TINY_RUN, read_metrics, run_script
from echo_lstm.run_info import PACKAGES, git_state, package_versions


def load_weights(run_dir: Path, name: str = "last.ckpt") -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / name, weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def reproduction(tiny_run, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """reproduce.py's result on the tiny run, and the folder of its new run."""
    out = tmp_path_factory.mktemp("reproduce") / "again"
    return run_script("reproduce.py", str(tiny_run), "--out", str(out)), out


@pytest.mark.slow
def test_same_seed_gives_identical_weights(tiny_run, reproduction):
    _, again = reproduction
    expected, repeated = load_weights(tiny_run), load_weights(again)
    assert expected.keys() == repeated.keys()
    for key in expected:
        assert torch.equal(expected[key], repeated[key]), key


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(tiny_run, reproduction):
    _, again = reproduction
    expected, repeated = read_metrics(tiny_run), read_metrics(again)
    del expected["fit_seconds"], repeated["fit_seconds"]
    assert repeated == expected


@pytest.mark.slow
def test_other_seed_gives_other_weights(tiny_run, tmp_path):
    other = tmp_path / "seed7"
    result = run_script("train.py", *TINY_RUN, "seed=7", f"hydra.run.dir={other}")
    assert result.returncode == 0, result.stderr[-3000:]
    expected, different = load_weights(tiny_run), load_weights(other)
    for key in expected:
        assert not torch.equal(expected[key], different[key]), key


@pytest.mark.slow
def test_reproduce_says_identical(reproduction):
    result, _ = reproduction
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("identical: 7 values of metrics.json (without fit_seconds) and 20 tensors")


@pytest.mark.slow
def test_reproduce_keeps_original(tiny_run, reproduction):
    _, again = reproduction
    assert again.parent != tiny_run.parent
    assert list(tiny_run.glob("reproduce*")) == []
    assert (again / ".hydra" / "config.yaml").is_file()


@pytest.fixture(scope="module")
def altered_comparison(tiny_run, reproduction, tmp_path_factory) -> subprocess.CompletedProcess:
    """reproduce.py --compare on a copy of the tiny run with one metric, one weight and two records altered."""
    _, again = reproduction
    altered = tmp_path_factory.mktemp("altered") / "run"
    shutil.copytree(tiny_run, altered)

    metrics = read_metrics(altered)
    metrics["test/acc"] += 0.25
    (altered / "metrics.json").write_text(json.dumps(metrics))

    checkpoint = torch.load(altered / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["state_dict"]["head.bias"][0] += 0.5
    torch.save(checkpoint, altered / "checkpoints" / "last.ckpt")

    record = json.loads((altered / "run_info.json").read_text())
    record["versions"]["torch"] = "1.0.0"
    record["git"]["commit"] = "0" * 40
    (altered / "run_info.json").write_text(json.dumps(record))

    return run_script("reproduce.py", str(altered), "--compare", str(again))


@pytest.mark.slow
def test_reproduce_reports_differences(altered_comparison):
    assert altered_comparison.returncode == 1
    assert altered_comparison.stdout.startswith("different: 2 differences")


@pytest.mark.slow
def test_reproduce_reports_altered_metric(altered_comparison):
    lines = altered_comparison.stdout.splitlines()
    (line,) = [line for line in lines if "metrics.json test/acc" in line]
    assert re.fullmatch(r"  metrics\.json test/acc: .* \(original\) vs .* \(new\), difference -0\.25", line)


@pytest.mark.slow
def test_reproduce_reports_altered_weight(altered_comparison):
    assert "  last.ckpt head.bias: max absolute difference 0.5" in altered_comparison.stdout.splitlines()


@pytest.mark.slow
def test_reproduce_warns_on_other_versions(altered_comparison):
    stderr = altered_comparison.stderr
    assert f"warning: torch is {metadata.version('torch')} now, the run used 1.0.0" in stderr
    assert f"the run used {'0' * 40}" in stderr


def test_reproduce_missing_folder_rejected(tmp_path):
    result = run_script("reproduce.py", str(tmp_path / "missing"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: original run folder {tmp_path / 'missing'} not found; pass the folder of a finished run"
    ]


def test_reproduce_folder_without_config_rejected(tmp_path):
    result = run_script("reproduce.py", str(tmp_path), timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: original run folder {tmp_path} has no .hydra/config.yaml")


@pytest.mark.slow
def test_reproduce_existing_out_rejected(tiny_run, tmp_path):
    result = run_script("reproduce.py", str(tiny_run), "--out", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path} already exists; pass a new folder with --out so that no run is overwritten"
    ]


@pytest.mark.slow
def test_run_info_records_environment(tiny_run):
    record = json.loads((tiny_run / "run_info.json").read_text())
    assert record["seed"] == 42
    assert record["config"]["data"]["seq_length"] == 5
    assert record["config"]["output_dir"] == str(tiny_run)
    assert record["overrides"] == TINY_RUN
    assert record["versions"] == package_versions()
    assert set(PACKAGES) < record["versions"].keys()
    assert record["platform"]
    assert record["git"].keys() == {"commit", "dirty"}


@pytest.mark.slow
def test_run_info_in_tensorboard_text(tiny_run):
    events = EventAccumulator(str(tiny_run), size_guidance={"tensors": 0})
    events.Reload()
    (event,) = events.Tensors("run_info/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert '"pytorch-lightning":' in text
    assert '"seed": 42' in text


@pytest.mark.slow
def test_checkpoint_holds_resume_state_and_loads_weights_only(tiny_run):
    checkpoint = torch.load(tiny_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches_done": 20}]
    (resume_state,) = [state for key, state in checkpoint["callbacks"].items() if key.startswith("ResumeState")]
    assert resume_state["random_states"]["torch"].dtype == torch.uint8
    assert checkpoint["hyper_parameters"]["hidden_size"] == 25


def test_git_state_outside_work_tree_is_null(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_git_state_records_commit_and_changes(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "--quiet")
    (tmp_path / "file.txt").write_text("one\n")
    git("add", "file.txt")
    git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "first")
    assert git_state(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}

    (tmp_path / "file.txt").write_text("two\n")
    assert git_state(tmp_path)["dirty"] is True


def test_lock_pins_every_installed_dependency():
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = version

    # Walk the installed dependency tree of the package, without optional extras.
    pending, seen = ["echo-lstm"], set()
    while pending:
        for line in metadata.requires(pending.pop()) or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in seen:
                seen.add(name)
                pending.append(name)

    for name in seen:
        assert name in pinned, f"{name} is not pinned in requirements.lock"
        assert metadata.version(name).split("+")[0] == pinned[name], name
