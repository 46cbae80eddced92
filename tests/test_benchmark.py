"""scripts/benchmark.py --quick: every measurement runs and the results page is written."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SECTIONS = [
    "## Machine",
    "## 1. Training throughput",
    "## 2. Time to 99% validation accuracy",
    "## 3. Data generation",
    "## 4. Memory frontier",
    "## 5. Start-up",
]


@pytest.fixture(scope="module")
def quick_benchmark(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--quick", "--torch-threads", "1",
         "--output", str(out / "benchmarks.md"), "--json", str(out / "results.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, out


def test_quick_benchmark_prints_device(quick_benchmark):
    result, _ = quick_benchmark
    assert "benchmark on device: cpu" in result.stdout


def test_quick_benchmark_page_has_every_section(quick_benchmark):
    _, out = quick_benchmark
    page = (out / "benchmarks.md").read_text()
    for section in SECTIONS:
        assert section in page
    assert "| bare Lightning |" in page
    assert "| 128 |" in page


def test_quick_benchmark_results_are_plausible(quick_benchmark):
    _, out = quick_benchmark
    results = json.loads((out / "results.json").read_text())
    throughput = results["throughput"]
    assert throughput["ratio"] > 0
    assert throughput["lightning_ratio"] > 0
    assert [row["batch_size"] for row in results["throughput_scan"]] == [128]
    assert all(row["ratio"] > 0 for row in results["throughput_scan"])
    assert results["generation"]["samples_per_s"] > 0
    assert results["machine"]["torch threads"] == "1"
    assert [row["seq_length"] for row in results["frontier"]] == [20]
    assert {"steps_to_99", "seconds_to_99"} <= set(results["frontier"][0])
    assert results["startup"]["config_error_exit_code"] == 2
    assert results["startup"]["help_exit_code"] == 0
    assert results["startup"]["first_step_seconds"] > results["startup"]["fit_start_seconds"]


def test_first_at_or_above_reads_events(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import benchmark

    writer = SummaryWriter(str(tmp_path))
    for step, value in [(100, 0.5), (200, 0.991), (300, 0.995)]:
        writer.add_scalar("val/acc", value, step, walltime=1000.0 + step)
    writer.close()

    assert benchmark.first_at_or_above(tmp_path, "val/acc", 0.99) == (200, 1200.0)
    assert benchmark.first_at_or_above(tmp_path, "val/acc", 0.999) is None
    assert benchmark.first_at_or_above(tmp_path, "test/acc", 0.5) is None
