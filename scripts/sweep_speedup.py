"""Time one 4-run grid with the basic launcher (one job at a time) and with joblib, two jobs at a time.

Usage: python scripts/sweep_speedup.py [OUTPUT_FOLDER] (default: outputs/benchmarks/<date_time>).
Prints the wall time of each sweep, the load average around it, and the
speedups. The basic launcher runs once with torch's default thread count and
once with OMP_NUM_THREADS=1, which separates the gain of running jobs in
parallel from the cost of too many threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = [
    "experiment=memory_sweep",
    "model.hidden_size=32,64",
    "data.seq_length=20,40",
    # Long enough that fitting, not the start of each worker process, dominates.
    "trainer.max_epochs=10",
    # Epochs alone set the budget, so both sweeps do the same work.
    "trainer.max_time=null",
]
# name -> (launcher overrides, extra environment)
LAUNCHERS = {
    "basic": (["hydra/launcher=basic"], {}),
    "basic_1_thread": (["hydra/launcher=basic"], {"OMP_NUM_THREADS": "1"}),
    "joblib_2_jobs": (["hydra/launcher=parallel", "hydra.launcher.n_jobs=2"], {}),
}


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def time_sweep(name: str, output: Path) -> float:
    launcher, environment = LAUNCHERS[name]
    sweep_dir = output / name
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", *GRID, *launcher, f"hydra.sweep.dir={sweep_dir}"]
    print(f"{name}: load average before {load_average()}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **environment}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: the {name} sweep failed with exit code {result.returncode}:\n{result.stderr[-2000:]}")
    print(f"{name}: {seconds:.1f} s wall, load average after {load_average()}", flush=True)
    return seconds


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "outputs" / "benchmarks" / time.strftime("%Y-%m-%d_%H-%M-%S")
    print(f"{os.cpu_count()} CPUs; grid: {' '.join(GRID)}")
    seconds = {name: time_sweep(name, output) for name in LAUNCHERS}
    for serial in ("basic", "basic_1_thread"):
        print(f"speedup of joblib_2_jobs over {serial}: {seconds[serial] / seconds['joblib_2_jobs']:.2f}x")


if __name__ == "__main__":
    main()
