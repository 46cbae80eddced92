"""Measure echo-lstm's speed and memory reach in one run; write docs/benchmarks.md.

Usage: python scripts/benchmark.py [--quick] [--accelerator auto|cpu|gpu] [--torch-threads N]
                                   [--output PATH] [--json PATH]

Five measurements, each compared with its reference inside the same run:

1. training throughput of the pipeline's training step against a minimal
   hand-written PyTorch loop with the same model, batch size, optimizer and data;
2. time to 99% validation accuracy on the tutorial problem, from process
   start and from the start of `fit`, and the default experiment's test accuracy;
3. data generation throughput against what training consumes;
4. the memory frontier of `experiment=long_distance` for `echo_index=0`;
5. start-up: time until the first training step, and until a config error
   or `--help` is reported.

Runs of scripts/train.py go to subprocesses, as a user starts them; throughput
and data generation run in this process. `--quick` shrinks every budget so a
test can smoke-run the whole script in under a minute; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "scripts" / "train.py"

# The problem of the classic Keras tutorial on echo sequence prediction.
TUTORIAL_PROBLEM = ["data.n_features=25", "data.seq_length=10", "data.echo_index=7", "model.hidden_size=25"]


@dataclass
class Budget:
    """Sizes of one benchmark run; `--quick` uses the small one."""

    throughput_steps: int  # training steps per timed run, warm-up included
    warmup_steps: int
    throughput_rounds: int  # alternating plain, bare-Lightning and pipeline runs
    scan_batch_sizes: tuple[int, ...]  # larger batches, one round each
    generation_epochs: int
    frontier_lengths: tuple[int, ...]
    frontier_seconds: int  # trainer.max_time of each long-distance run
    quick_data: tuple[str, ...]  # extra overrides for the training subprocesses


FULL = Budget(
    throughput_steps=600,
    warmup_steps=100,
    throughput_rounds=3,
    scan_batch_sizes=(256, 1024),
    generation_epochs=20,
    frontier_lengths=(20, 50, 100),
    frontier_seconds=300,
    quick_data=(),
)
QUICK = Budget(
    throughput_steps=40,
    warmup_steps=10,
    throughput_rounds=1,
    scan_batch_sizes=(128,),
    generation_epochs=2,
    frontier_lengths=(20,),
    frontier_seconds=5,
    quick_data=("data.train_size=640", "data.val_size=200", "data.test_size=200", "trainer.max_epochs=1"),
)


def describe_machine(accelerator: str) -> dict[str, str]:
    """Return CPU model, cores, torch threads, versions and the device the benchmark trains on."""
    import pytorch_lightning as pl
    import torch

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = torch.cuda.get_device_name(0) if accelerator == "gpu" else "cpu"
    return {
        "CPU": cpu or platform.processor() or "unknown",
        "CPU cores usable": str(usable),
        "torch threads": str(torch.get_num_threads()),
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "pytorch-lightning": pl.__version__,
        "OS": platform.platform(),
        "device": device,
    }


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def compose(overrides: list[str], output_dir: Path):
    """Compose conf/train.yaml with Hydra's compose API, as scripts/train.py would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=[*overrides, f"output_dir={output_dir}"])


# 1. Training throughput -----------------------------------------------------


def step_seconds(stamps: list[float], warmup: int) -> tuple[float, float]:
    """Median and mean time between consecutive step starts after warm-up.

    The median is robust to other jobs on a busy machine. The mean also counts
    costs that come every few steps, such as the periodic checkpoint.
    """
    steady = stamps[warmup:]
    intervals = [b - a for a, b in zip(steady, steady[1:])]
    return statistics.median(intervals), statistics.mean(intervals)


def time_plain_loop(cfg, budget: Budget, device: str) -> tuple[float, float]:
    """Train with a hand-written loop; return the median and mean seconds per step."""
    import torch
    import torch.nn.functional as F
    from hydra.utils import instantiate

    torch.use_deterministic_algorithms(False)  # Lightning leaves it on after a run with deterministic=True
    torch.manual_seed(cfg.seed)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.lr)
    clip = cfg.trainer.gradient_clip_val

    # NOTE: on a GPU the steps run asynchronously, so the intervals measure the
    # pace at which the queue drains. This path has not been run on a GPU yet.
    stamps = []
    for x, y in datamodule.epoch_batches(0):
        stamps.append(time.perf_counter())
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    if device != "cpu":
        torch.cuda.synchronize()
    return step_seconds(stamps, budget.warmup_steps)


def step_clock():
    """Return a Lightning callback whose `stamps` list gets the start time of every training step."""
    import pytorch_lightning as pl

    class StepClock(pl.Callback):
        def __init__(self):
            self.stamps: list[float] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.stamps.append(time.perf_counter())

    return StepClock()


def time_fit(cfg, budget: Budget, **trainer_overrides) -> tuple[float, float]:
    """Train one epoch of a run built as `scripts/train.py` builds it; return the median and mean seconds per step."""
    from echo_lstm.train import build

    clock = step_clock()
    datamodule, model, _, trainer = build(cfg, extra_callbacks=[clock], max_epochs=1, **trainer_overrides)
    trainer.fit(model, datamodule=datamodule)
    return step_seconds(clock.stamps, budget.warmup_steps)


def time_pipeline(cfg, budget: Budget) -> tuple[float, float]:
    """Time the pipeline: the configured Trainer, logger and every callback.

    The epoch ends with validation and the best-`val/acc` checkpoint, after
    the last timed step.
    """
    return time_fit(cfg, budget)


def time_bare_lightning(cfg, budget: Budget) -> tuple[float, float]:
    """Time the same model with a Trainer that has no logger, callbacks or progress bar.

    It keeps the configured clipping and determinism, so the gap to the plain
    loop is Lightning's own loop, and the gap to the pipeline is what the
    pipeline adds on top.
    """
    from omegaconf import open_dict

    bare = cfg.copy()
    with open_dict(bare):
        bare.callbacks = {}
    return time_fit(
        bare,
        budget,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )


def measure_throughput(
    budget: Budget, common: list[str], accelerator: str, work: Path, batch_size: int | None = None, rounds: int | None = None
) -> dict:
    """Alternate plain, bare-Lightning and pipeline runs; compare the median over runs of each run's median step time.

    `batch_size` defaults to the configured one and `rounds` to the budget's.
    """
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    device = "cuda" if accelerator == "gpu" else "cpu"
    batch_size = batch_size or compose(common, work).data.batch_size
    rounds = rounds or budget.throughput_rounds
    overrides = [
        *common,
        f"data.batch_size={batch_size}",
        f"data.train_size={batch_size * budget.throughput_steps}",
        # Validation runs once, after the timed steps.
        f"data.val_size={batch_size}",
    ]

    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "lightning": [], "pipeline": []}
    for round_index in range(rounds):
        cfg = compose(overrides, work / f"throughput-{batch_size}-{round_index}")
        runs["plain"].append(time_plain_loop(cfg, budget, device))
        runs["lightning"].append(time_bare_lightning(cfg, budget))
        runs["pipeline"].append(time_pipeline(cfg, budget))

    result = {
        "batch_size": batch_size,
        "steps": budget.throughput_steps,
        "warmup_steps": budget.warmup_steps,
        "rounds": rounds,
    }
    for name, timings in runs.items():
        result[f"{name}_samples_per_s"] = batch_size / statistics.median(median for median, _ in timings)
        result[f"{name}_mean_samples_per_s"] = batch_size / statistics.median(mean for _, mean in timings)
    result["ratio"] = result["pipeline_samples_per_s"] / result["plain_samples_per_s"]
    result["mean_ratio"] = result["pipeline_mean_samples_per_s"] / result["plain_mean_samples_per_s"]
    result["lightning_ratio"] = result["lightning_samples_per_s"] / result["plain_samples_per_s"]
    return result


# 3. Data generation ---------------------------------------------------------


def measure_generation(budget: Budget, work: Path) -> dict:
    """Time whole training epochs of data: drawing the integers and one-hot encoding every batch."""
    from hydra.utils import instantiate

    datamodule = instantiate(compose([], work).data)
    start = time.perf_counter()
    samples = 0
    for epoch in range(budget.generation_epochs):
        for x, _ in datamodule.epoch_batches(epoch):
            samples += len(x)
    return {"samples_per_s": samples / (time.perf_counter() - start)}


# 2, 4, 5. Runs of scripts/train.py -----------------------------------------


@dataclass
class TrainRun:
    returncode: int
    wall_seconds: float  # process start to exit
    fit_start_seconds: float | None  # process start to the "fitting" log line
    fit_start_wall: float | None  # time.time() at the "fitting" log line
    metrics: dict
    output: str


# train.py logs this line right before `trainer.fit`.
FIT_START_LINE = "fitting; run folder"


def run_train(name: str, overrides: list[str], work: Path, timeout: float) -> TrainRun:
    """Run scripts/train.py in a subprocess; read back metrics.json.

    The start of `fit` is the moment the "fitting" log line arrives on the
    pipe, timed with a monotonic clock, because the wall clock of a virtual
    machine can jump by seconds.
    """
    run_dir = work / name
    # refresh_rate=0 turns the bar off. Without the callback, Lightning would add its default bar.
    command = [
        sys.executable, str(TRAIN_SCRIPT), *overrides, f"hydra.run.dir={run_dir}", "callbacks.progress_bar.refresh_rate=0"
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    fit_start = fit_start_wall = None
    lines = []
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        for line in process.stdout:
            if fit_start is None and FIT_START_LINE in line:
                fit_start = time.perf_counter() - started
                fit_start_wall = time.time()
            lines.append(line)
        returncode = process.wait()
        watchdog.cancel()
    wall = time.perf_counter() - started

    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return TrainRun(returncode, wall, fit_start, fit_start_wall, metrics, "".join(lines))


def time_command(*args: str) -> tuple[float, int]:
    """Wall seconds and exit code of scripts/train.py with `args`."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(TRAIN_SCRIPT), *args], cwd=ROOT, capture_output=True, timeout=120)
    return time.perf_counter() - start, result.returncode


def measure_tutorial(budget: Budget, common: list[str], work: Path) -> dict:
    """Time to 99% val/acc: early stopping ends `fit` at the first epoch whose val/acc reaches 0.99."""
    overrides = [
        *TUTORIAL_PROBLEM,
        *common,
        "callbacks.early_stopping.stopping_threshold=0.99",
        *budget.quick_data,
    ]
    run = run_train("tutorial", overrides, work, timeout=600)
    return summarize_run(run)


def measure_default(budget: Budget, common: list[str], work: Path) -> dict:
    run = run_train("default", [*common, *budget.quick_data], work, timeout=600)
    return summarize_run(run)


def measure_frontier(budget: Budget, common: list[str], work: Path) -> list[dict]:
    """Train experiment=long_distance as shipped at each seq_length, within `frontier_seconds` of fit.

    The experiment's own early stopping ends a run at `val/acc` 0.995. The
    time to 99% comes from the first `val/acc` scalar at or above 0.99 in the
    run's TensorBoard events.
    """
    rows = []
    for seq_length in budget.frontier_lengths:
        name = f"long_distance_{seq_length}"
        overrides = [
            "experiment=long_distance",
            f"data.seq_length={seq_length}",
            *common,
            f"+trainer.max_time='{max_time(budget.frontier_seconds)}'",
            *(o for o in budget.quick_data if not o.startswith("trainer.max_epochs")),
        ]
        run = run_train(name, overrides, work, timeout=budget.frontier_seconds + 600)
        row = {"seq_length": seq_length, **summarize_run(run), "steps_to_99": None, "seconds_to_99": None}
        reached = first_at_or_above(work / name, "val/acc", 0.99)
        if reached is not None:
            # Lightning logs an epoch-end validation at the index of the epoch's
            # last step, so the steps trained by then are one more.
            row["steps_to_99"] = reached[0] + 1
            if run.fit_start_wall is not None:
                row["seconds_to_99"] = reached[1] - run.fit_start_wall
        rows.append(row)
    return rows


def first_at_or_above(run_dir: Path, tag: str, threshold: float) -> tuple[int, float] | None:
    """Return the step and wall time of the first `tag` scalar at or above `threshold` in a run's events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return None
    for event in events.Scalars(tag):
        if event.value >= threshold:
            return event.step, event.wall_time
    return None


def max_time(seconds: int) -> str:
    """Format seconds as the Trainer's `max_time` string, DD:HH:MM:SS."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days:02d}:{hours:02d}:{minutes:02d}:{secs:02d}"


def summarize_run(run: TrainRun) -> dict:
    if run.returncode != 0:
        raise RuntimeError(f"scripts/train.py failed with exit code {run.returncode}:\n{run.output[-3000:]}")
    metrics = run.metrics
    fit_end = run.fit_start_seconds + metrics["fit_seconds"] if run.fit_start_seconds is not None else None
    return {
        "val_acc": metrics["val/acc"],
        "test_acc": metrics["test/acc"],
        "epochs": metrics["epochs"],
        "global_step": metrics["global_step"],
        "fit_seconds": metrics["fit_seconds"],
        "process_start_to_fit_end": fit_end,
        "process_start_to_fit_start": run.fit_start_seconds,
        "process_seconds": run.wall_seconds,
    }


def measure_startup(budget: Budget, common: list[str], work: Path) -> dict:
    """Start-up times: `--help`, a config error, and a run that stops after one training step."""
    help_seconds, help_code = time_command("--help")
    error_seconds, error_code = time_command("data.echo_index=99")
    overrides = [
        *common,
        # One epoch of one batch: a fit of a single training step and one validation batch.
        "trainer.max_epochs=1",
        "+trainer.num_sanity_val_steps=0",
        "data.train_size=64",
        "data.val_size=64",
        "data.test_size=64",
    ]
    run = run_train("first_step", overrides, work, timeout=300)
    summary = summarize_run(run)
    return {
        "help_seconds": help_seconds,
        "help_exit_code": help_code,
        "config_error_seconds": error_seconds,
        "config_error_exit_code": error_code,
        "fit_start_seconds": summary["process_start_to_fit_start"],
        # A one-step fit: Trainer set-up, one training step and one validation batch.
        "first_step_seconds": summary["process_start_to_fit_end"],
    }


# The results page -----------------------------------------------------------


def fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_page(path: Path, results: dict, command: str) -> None:
    machine, thr, gen = results["machine"], results["throughput"], results["generation"]
    tutorial, default, startup = results["tutorial"], results["default"], results["startup"]
    consumed = thr["pipeline_samples_per_s"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {results['date']} in {results['total_seconds']:.0f} s.",
        "Every ratio compares two measurements of the same run. Absolute times",
        "depend on the machine and on its load, shown below as the 1, 5 and 15",
        "minute load averages at the start and the end of the run.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in machine.items()),
        f"| load average at start | {results['load_start']} |",
        f"| load average at end | {results['load_end']} |",
        "",
        "## 1. Training throughput",
        "",
        "Samples per second of the training step in steady state: the median time",
        f"between the starts of consecutive steps after {thr['warmup_steps']} warm-up steps, over",
        f"{plural(thr['rounds'], 'alternating run')} of {thr['steps']} steps each, batch size {thr['batch_size']}, on the",
        "default problem. All three loops train the same model class on the same",
        "batches with the same Adam settings and gradient clipping.",
        "",
        "- plain PyTorch: a hand-written loop, no Lightning.",
        "- bare Lightning: `pl.Trainer` with the configured clipping and",
        "  determinism, but no logger, no callbacks and no progress bar. This is",
        "  the least that any run through Lightning's training loop costs.",
        "- echo-lstm pipeline: the run as `scripts/train.py` builds it, with the",
        "  TensorBoard logger, the progress bar and every configured callback.",
        "",
        "| loop | samples/s from the median step | samples/s from the mean step | ratio to plain (median) |",
        "| --- | --- | --- | --- |",
        f"| plain PyTorch | {thr['plain_samples_per_s']:.0f} | {thr['plain_mean_samples_per_s']:.0f} | 1.000 |",
        f"| bare Lightning | {thr['lightning_samples_per_s']:.0f} | {thr['lightning_mean_samples_per_s']:.0f} "
        f"| {thr['lightning_ratio']:.3f} |",
        f"| **echo-lstm pipeline** | {thr['pipeline_samples_per_s']:.0f} | {thr['pipeline_mean_samples_per_s']:.0f} "
        f"| **{thr['ratio']:.3f}** |",
        "",
        "The median is the headline because it ignores steps slowed by other jobs",
        "on the machine. The mean also counts what comes every few steps, such as",
        "the periodic checkpoint, and every delay from other jobs.",
        "",
        f"A plain step takes {step_ms(thr, 'plain'):.2f} ms. Lightning's loop adds "
        f"{step_ms(thr, 'lightning') - step_ms(thr, 'plain'):.2f} ms to it, and the",
        f"pipeline's logger, callbacks and progress bar another {step_ms(thr, 'pipeline') - step_ms(thr, 'lightning'):.2f} ms.",
        "",
        "The pipeline keeps its own per-step work small. Each epoch end logs the",
        "epoch means once, with no `self.log` call per step. Steps queue their",
        "outputs, and the torchmetrics metrics update in bulk. `build()` turns off",
        "the NaN filling of uninitialized memory that `deterministic=True` brings,",
        "which took 10% of a plain step on a 2-core CPU. The TQDM progress bar",
        "redraws every 20 steps.",
        "Lightning's own cost is its per-step work around the step: hook dispatch",
        "to the module and to every callback, and the closure of its automatic",
        "optimization. Its share of a step falls as steps grow. The same",
        "measurement with larger batches:",
        "",
        "| batch size | rounds | plain step (ms) | added by Lightning (ms) | added by the pipeline (ms) "
        "| bare Lightning / plain | pipeline / plain |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {row['batch_size']} | {row['rounds']} | {step_ms(row, 'plain'):.2f} "
            f"| {step_ms(row, 'lightning') - step_ms(row, 'plain'):.2f} "
            f"| {step_ms(row, 'pipeline') - step_ms(row, 'lightning'):.2f} "
            f"| {row['lightning_ratio']:.3f} | {row['ratio']:.3f} |"
            for row in [thr, *results["throughput_scan"]]
        ),
        "",
        "Rows from one round are noisier than the headline. On a 2-core CPU their",
        "ratios moved by up to 0.09 between benchmark runs, so a small or negative",
        "difference in those rows is noise.",
        "",
        "The project's target is a ratio of at least 0.9 at the default batch size,",
        "so that Lightning's per-step cost does not dominate a small LSTM. This run",
        f"{'meets' if thr['ratio'] >= 0.9 else 'misses'} it.",
        "",
        "## 2. Time to 99% validation accuracy",
        "",
        "`scripts/train.py` in a subprocess, without the progress bar because its",
        "output is a pipe. Early stopping ends `fit` after the",
        f"first epoch ({steps_per_epoch(default)} steps) whose `val/acc` reaches the threshold, so times",
        "are rounded up to a whole epoch.",
        "",
        "| run | val/acc | test/acc | epochs | fit (s) | process start to fit start (s) "
        "| process start to fit end (s) | reached the threshold |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        run_row("tutorial problem, `" + " ".join(TUTORIAL_PROBLEM) + "`, threshold 0.99", tutorial, 0.99),
        run_row("default experiment, threshold 0.995", default, 0.995),
        "",
        "## 3. Data generation",
        "",
        "Whole training epochs drawn and one-hot encoded batch by batch, as the",
        "training loop consumes them, on the default problem.",
        "",
        "| | samples/s |",
        "| --- | --- |",
        f"| generation | {gen['samples_per_s']:.0f} |",
        f"| training consumption (pipeline, section 1) | {consumed:.0f} |",
        f"| **share of each training step spent generating** | **{consumed / gen['samples_per_s']:.1%}** |",
        "",
        "## 4. Memory frontier",
        "",
        "`experiment=long_distance` as shipped, with `echo_index=0`, `n_features=100`",
        "and the given `seq_length`. Its early stopping ends a run at `val/acc` 0.995;",
        f"the budget is {results['frontier_seconds']} s of `fit` (`trainer.max_time`). The curriculum",
        "starts at 10 steps and adds 5 per epoch. Time and steps to 99% are those of",
        "the first validation with `val/acc` at or above 0.99, timed by the wall clock",
        "of its TensorBoard event from the start of `fit`.",
        "",
        "| seq_length | val/acc | test/acc | epochs | steps | fit (s) | steps to 99% | time to 99% (s) | test/acc >= 0.99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {row['seq_length']} | {row['val_acc']:.4f} | {row['test_acc']:.4f} | {row['epochs']} | "
            f"{row['global_step']} | {row['fit_seconds']:.1f} | {row['steps_to_99'] or 'not reached'} | "
            f"{fmt(row['seconds_to_99'], 1)} | {'yes' if row['test_acc'] >= 0.99 else 'no'} |"
            for row in results["frontier"]
        ),
        "",
        "## 5. Start-up",
        "",
        "Wall time from launching `scripts/train.py` until:",
        "",
        "| event | seconds |",
        "| --- | --- |",
        f"| `--help` printed (exit code {startup['help_exit_code']}) | {startup['help_seconds']:.2f} |",
        f"| config error reported (`data.echo_index=99`, exit code {startup['config_error_exit_code']}) "
        f"| {startup['config_error_seconds']:.2f} |",
        f"| `fit` starts | {fmt(startup['fit_start_seconds'])} |",
        f"| the first training step ends (a one-step `fit`) | {fmt(startup['first_step_seconds'])} |",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def step_ms(throughput: dict, loop: str) -> float:
    """Median milliseconds per step of one loop of a throughput result."""
    return 1000 * throughput["batch_size"] / throughput[f"{loop}_samples_per_s"]


def run_row(name: str, run: dict, threshold: float) -> str:
    return (
        f"| {name} | {run['val_acc']:.4f} | {run['test_acc']:.4f} | {run['epochs']} | {run['fit_seconds']:.2f} | "
        f"{fmt(run['process_start_to_fit_start'])} | {fmt(run['process_start_to_fit_end'])} | "
        f"{'yes' if run['val_acc'] >= threshold else 'no'} |"
    )


def steps_per_epoch(run: dict) -> int:
    """Optimizer steps per epoch of a finished run."""
    return run["global_step"] // max(run["epochs"], 1)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets for a smoke test; the numbers mean nothing")
    parser.add_argument(
        "--accelerator",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="device to train on; auto picks gpu where CUDA is available (default: auto)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch_threads for every run; on a shared machine 1 avoids threads waiting on each other (default: torch's)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results page to write (default: docs/benchmarks.md, or outputs/benchmarks-quick.md with --quick)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.output is None:
        # A smoke run must not replace the measured results page.
        args.output = ROOT / ("outputs/benchmarks-quick.md" if args.quick else "docs/benchmarks.md")
    started = time.perf_counter()
    load_start = load_average()

    import torch

    accelerator = args.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    elif accelerator == "gpu" and not torch.cuda.is_available():
        print("error: --accelerator=gpu but CUDA is not available; use --accelerator=cpu", file=sys.stderr)
        sys.exit(2)
    budget = QUICK if args.quick else FULL
    common = [f"trainer.accelerator={accelerator}"]
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
        common.append(f"torch_threads={args.torch_threads}")
    machine = describe_machine(accelerator)
    print(f"benchmark on device: {machine['device']} (accelerator={accelerator})", flush=True)

    with tempfile.TemporaryDirectory(prefix="echo-lstm-benchmark-") as tmp:
        work = Path(tmp)
        results = {"machine": machine, "frontier_seconds": budget.frontier_seconds}
        steps = [
            ("startup", lambda: measure_startup(budget, common, work)),
            ("throughput", lambda: measure_throughput(budget, common, accelerator, work)),
            (
                "throughput_scan",
                lambda: [
                    measure_throughput(budget, common, accelerator, work, batch_size=size, rounds=1)
                    for size in budget.scan_batch_sizes
                ],
            ),
            ("generation", lambda: measure_generation(budget, work)),
            ("tutorial", lambda: measure_tutorial(budget, common, work)),
            ("default", lambda: measure_default(budget, common, work)),
            ("frontier", lambda: measure_frontier(budget, common, work)),
        ]
        for name, measure in steps:
            step_start = time.perf_counter()
            results[name] = measure()
            print(f"{name}: {json.dumps(results[name])} ({time.perf_counter() - step_start:.0f} s)", flush=True)

    results["load_start"] = load_start
    results["load_end"] = load_average()
    results["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results["total_seconds"] = time.perf_counter() - started
    # The options that change the measurements; output paths are left out.
    command = "python scripts/benchmark.py" + (" --quick" if args.quick else "")
    command += f" --accelerator {args.accelerator}"
    if args.torch_threads is not None:
        command += f" --torch-threads {args.torch_threads}"
    write_page(args.output, results, command)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"ratio={results['throughput']['ratio']:.3f} wrote {args.output}")


if __name__ == "__main__":
    main()
