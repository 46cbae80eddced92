"""Start-up: --help and config errors are reported before torch or Lightning is imported."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

HEAVY_MODULES = ("torch", "pytorch_lightning", "lightning_fabric", "torchmetrics")


def imported_modules(importtime_output: str) -> set[str]:
    """Names of the modules listed by `python -X importtime` (one per "import time:" line)."""
    names = set()
    for line in importtime_output.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def assert_no_heavy_import(stderr: str) -> None:
    modules = imported_modules(stderr)
    assert modules, "python -X importtime printed no import lines"
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY_MODULES)
    assert heavy == []


def run_train_importtime(*args: str) -> subprocess.CompletedProcess:
    """Run scripts/train.py under `python -X importtime`, which lists every import on stderr."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "scripts" / "train.py"), *args],
        cwd=ROOT,
        env={**os.environ, "HYDRA_FULL_ERROR": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_config_error_exits_before_torch_import():
    result = run_train_importtime("data.echo_index=12")
    assert result.returncode == 2
    assert "error: invalid data.echo_index=12" in result.stderr
    assert_no_heavy_import(result.stderr)


def test_help_exits_before_torch_import():
    result = run_train_importtime("--help")
    assert result.returncode == 0
    assert "Powered by Hydra" in result.stdout
    assert_no_heavy_import(result.stderr)
