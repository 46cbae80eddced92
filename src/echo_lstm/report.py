"""Summarize a sweep folder: test accuracy and fit time by seq_length and hidden_size.

A sweep folder contains one subfolder per run, each with Hydra's `.hydra/` and,
once the run ends, `metrics.json`. The report reads whatever is there, so it
works on a sweep that is still running or partly failed.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

COMPLETED = "completed"
FAILED = "failed"
# A run folder without metrics.json: still running, or killed before the end.
MISSING = "missing"

ROW_KEY = "data.seq_length"
COLUMN_KEY = "model.hidden_size"
METRIC_COLUMNS = ("val/acc", "test/acc", "test/loss", "fit_seconds", "epochs")


@dataclass
class SweepRun:
    """One run folder of a sweep, with its config and, once finished, its metrics."""

    folder: Path
    name: str
    config: DictConfig
    overrides: list[str]
    metrics: dict[str, Any] | None

    @property
    def status(self) -> str:
        return self.metrics.get("status", COMPLETED) if self.metrics else MISSING

    @property
    def error(self) -> str | None:
        return self.metrics.get("error") if self.metrics else None

    def value(self, key: str) -> Any:
        """Return a config value, or None where it is absent or cannot be resolved outside Hydra."""
        try:
            return OmegaConf.select(self.config, key, default=None)
        except Exception:  # an interpolation such as ${hydra:...} needs a running Hydra
            return None


def load_runs(sweep_dir: Path) -> list[SweepRun]:
    """Read every run folder under `sweep_dir`: any folder with a `.hydra/config.yaml`."""
    runs = []
    for config_path in sorted(sweep_dir.rglob(".hydra/config.yaml")):
        folder = config_path.parent.parent
        overrides_path = folder / ".hydra" / "overrides.yaml"
        metrics_path = folder / "metrics.json"
        runs.append(
            SweepRun(
                folder=folder,
                name=str(folder.relative_to(sweep_dir)),
                config=OmegaConf.load(config_path),
                overrides=list(OmegaConf.load(overrides_path)) if overrides_path.is_file() else [],
                metrics=json.loads(metrics_path.read_text()) if metrics_path.is_file() else None,
            )
        )
    return runs


def swept_values(sweep_dir: Path, key: str) -> list[Any]:
    """Return the values of `key` that the sweep's `multirun.yaml` lists, or [] if it lists none.

    Both command-line sweeps (`model.hidden_size=8,16`) and `hydra.sweeper.params`
    count. A continuous Optuna range such as `interval(...)` lists no values.
    """
    multirun_path = sweep_dir / "multirun.yaml"
    if not multirun_path.is_file():
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    multirun = OmegaConf.load(multirun_path)
    arguments = list(OmegaConf.select(multirun, "hydra.overrides.task", default=None) or [])
    params = OmegaConf.select(multirun, "hydra.sweeper.params", default=None) or {}
    arguments += [f"{name}={value}" for name, value in params.items()]

    values: list[Any] = []
    for override in OverridesParser.create().parse_overrides(arguments):
        if override.key_or_group != key:
            continue
        if not override.is_sweep_override():
            values = [override.value()]
        elif override.is_discrete_sweep():
            values = list(override.sweep_iterator())
    return values


@dataclass
class Cell:
    """One (seq_length, hidden_size) cell: the run shown, or the status of the runs there."""

    status: str
    run: SweepRun | None = None
    n_runs: int = 0

    @property
    def test_acc(self) -> float:
        return float(self.run.metrics["test/acc"]) if self.status == COMPLETED else math.nan

    def text(self) -> str:
        if self.status != COMPLETED:
            return self.status
        return f"{self.test_acc:.3f} ({self.run.metrics['fit_seconds']:.1f} s)"


@dataclass
class Grid:
    """The runs of a sweep arranged by seq_length (rows) and hidden_size (columns)."""

    rows: list[Any]
    columns: list[Any]
    cells: dict[tuple[Any, Any], Cell]


def _sorted_values(values: set[Any]) -> list[Any]:
    """Sort numbers by value, then anything else (a string, None) by its text."""
    numbers = sorted(value for value in values if isinstance(value, (int, float)))
    others = sorted((value for value in values if not isinstance(value, (int, float))), key=str)
    return numbers + others


def build_grid(runs: list[SweepRun], sweep_dir: Path) -> Grid:
    """Arrange the runs by seq_length and hidden_size, with every value the sweep lists.

    Where several runs share a cell (a sweep over more keys, or a search), the
    cell shows the completed run with the best val/acc.
    """
    rows = _sorted_values({run.value(ROW_KEY) for run in runs} | set(swept_values(sweep_dir, ROW_KEY)))
    columns = _sorted_values({run.value(COLUMN_KEY) for run in runs} | set(swept_values(sweep_dir, COLUMN_KEY)))

    cells: dict[tuple[Any, Any], Cell] = {}
    for row in rows:
        for column in columns:
            in_cell = [run for run in runs if run.value(ROW_KEY) == row and run.value(COLUMN_KEY) == column]
            completed = [run for run in in_cell if run.status == COMPLETED]
            if completed:
                best = max(completed, key=lambda run: run.metrics["val/acc"])
                cells[row, column] = Cell(COMPLETED, best, len(in_cell))
            elif any(run.status == FAILED for run in in_cell):
                cells[row, column] = Cell(FAILED, None, len(in_cell))
            else:
                cells[row, column] = Cell(MISSING, None, len(in_cell))
    return Grid(rows, columns, cells)


def markdown_table(grid: Grid) -> str:
    """Return the grid as a Markdown table: test accuracy and fit seconds per cell."""
    header = f"| {ROW_KEY} \\ {COLUMN_KEY} | " + " | ".join(str(column) for column in grid.columns) + " |"
    rule = "| --- |" + " ---: |" * len(grid.columns)
    lines = [header, rule]
    for row in grid.rows:
        cells = [grid.cells[row, column].text() for column in grid.columns]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(sweep_dir: Path, runs: list[SweepRun], grid: Grid) -> str:
    """Return report.md: counts, the table, and the runs that did not complete."""
    counts = {status: sum(run.status == status for run in runs) for status in (COMPLETED, FAILED, MISSING)}
    empty_cells = sum(1 for cell in grid.cells.values() if cell.n_runs == 0)
    lines = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"{len(runs)} run folders: {counts[COMPLETED]} completed, {counts[FAILED]} failed, "
        f"{counts[MISSING]} without metrics.json (running or killed); "
        f"{empty_cells} grid cells without a run folder.",
        "",
        "Cells: test/acc of the best checkpoint (fit seconds). `failed`: the run "
        "recorded an error; `missing`: no result yet.",
    ]
    if any(cell.n_runs > 1 for cell in grid.cells.values()):
        lines.append("Cells with several runs show the one with the best val/acc; results.csv lists all.")
    lines += ["", markdown_table(grid), ""]

    problems = [run for run in runs if run.status != COMPLETED]
    if problems:
        lines += ["## Runs without a result", ""]
        lines += [f"- `{run.name}`: {run.status}: {run.error or 'no metrics.json'}" for run in problems]
        lines.append("")
    return "\n".join(lines)


def write_csv(runs: list[SweepRun], grid: Grid, path: Path) -> None:
    """Write one row per run, plus one per grid cell that has no run folder yet."""
    override_keys = sorted({line.split("=", 1)[0].lstrip("+~") for run in runs for line in run.overrides})
    key_columns = [ROW_KEY, COLUMN_KEY] + [key for key in override_keys if key not in (ROW_KEY, COLUMN_KEY)]
    fieldnames = ["run", "status", *key_columns, *METRIC_COLUMNS, "error"]

    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fieldnames)
        writer.writeheader()
        for run in runs:
            row = {"run": run.name, "status": run.status, "error": run.error or ""}
            row.update({key: run.value(key) for key in key_columns})
            row.update({name: (run.metrics or {}).get(name, "") for name in METRIC_COLUMNS})
            writer.writerow(row)
        for (seq_length, hidden_size), cell in grid.cells.items():
            if cell.n_runs == 0:
                writer.writerow({"run": "", "status": MISSING, ROW_KEY: seq_length, COLUMN_KEY: hidden_size})


def plot_heatmap(grid: Grid, title: str, path: Path) -> None:
    """Save a heatmap of test accuracy; failed and missing cells are grey with their status."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    accuracy = np.array([[grid.cells[row, column].test_acc for column in grid.columns] for row in grid.rows])
    colormap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")

    figure, axes = plt.subplots(figsize=(1.3 * len(grid.columns) + 2.5, 0.8 * len(grid.rows) + 2))
    image = axes.imshow(np.ma.masked_invalid(accuracy), cmap=colormap, vmin=0.0, vmax=1.0, origin="lower", aspect="auto")
    axes.set_xticks(range(len(grid.columns)), [str(column) for column in grid.columns])
    axes.set_yticks(range(len(grid.rows)), [str(row) for row in grid.rows])
    axes.set_xlabel(COLUMN_KEY)
    axes.set_ylabel(ROW_KEY)
    axes.set_title(title)

    for i, row in enumerate(grid.rows):
        for j, column in enumerate(grid.columns):
            cell = grid.cells[row, column]
            if cell.status == COMPLETED:
                text, color = f"{cell.test_acc:.2f}", "black" if cell.test_acc > 0.6 else "white"
            else:
                text, color = cell.status, "black"
            axes.text(j, i, text, ha="center", va="center", color=color, fontsize=10)

    figure.colorbar(image, ax=axes, label="test/acc")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(sweep_dir: Path) -> str:
    """Write report.md, results.csv and accuracy.png into `sweep_dir`; return the Markdown.

    Raises FileNotFoundError when `sweep_dir` contains no run folder and no multirun.yaml.
    """
    runs = load_runs(sweep_dir)
    if not runs and not (sweep_dir / "multirun.yaml").is_file():
        raise FileNotFoundError(f"no run folders (with .hydra/config.yaml) and no multirun.yaml in {sweep_dir}")

    grid = build_grid(runs, sweep_dir)
    report = markdown_report(sweep_dir, runs, grid)
    (sweep_dir / "report.md").write_text(report)
    write_csv(runs, grid, sweep_dir / "results.csv")
    plot_heatmap(grid, f"test/acc: {sweep_dir.name}", sweep_dir / "accuracy.png")
    return report
