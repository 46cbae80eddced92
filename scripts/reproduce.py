"""Re-run a finished run from its saved config and compare the results with the original.

Usage: python scripts/reproduce.py <run folder> [--out DIR] [--compare DIR]

The new run trains from `<run folder>/.hydra/config.yaml` into a new folder,
by default outputs/reproduce/<date_time>; the original folder is only read.
The verdict compares every value of metrics.json except `fit_seconds` (wall
time) and every tensor of the final weights (checkpoints/last.ckpt) and of the
best checkpoint. Exit code: 0 identical, 1 different, 2 invalid input or a
failed run.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from echo_lstm.resume import LAST_CHECKPOINT, SAVED_CONFIG
from echo_lstm.run_info import RUN_INFO, git_state, package_versions

TRAIN_SCRIPT = Path(__file__).resolve().parent / "train.py"
METRICS = "metrics.json"
# Wall time differs between any two runs, so the verdict leaves it out.
NOT_COMPARED = ("fit_seconds",)


class InputError(Exception):
    """A run folder that cannot be reproduced or compared; the message is one line for the user."""


def check_run_folder(folder: Path, role: str) -> None:
    """Raise InputError unless `folder` contains a finished run: saved config, metrics.json and last.ckpt."""
    if not folder.is_dir():
        raise InputError(f"{role} run folder {folder} not found; pass the folder of a finished run")
    for required in (SAVED_CONFIG, Path(METRICS), LAST_CHECKPOINT):
        if not (folder / required).is_file():
            raise InputError(
                f"{role} run folder {folder} has no {required}; pass the folder of a run that finished "
                "(resume an unfinished one with scripts/train.py resume=<run folder>)"
            )


def environment_warnings(run: Path) -> list[str]:
    """Return one line for each recorded version or git state that differs from the current one."""
    path = run / RUN_INFO
    if not path.is_file():
        return [f"{path} not found, so versions and commit cannot be checked"]
    recorded = json.loads(path.read_text())

    warnings = []
    current = package_versions()
    for name, version in recorded.get("versions", {}).items():
        if current.get(name) != version:
            warnings.append(f"{name} is {current.get(name)} now, the run used {version}")

    git_now, git_then = git_state(), recorded.get("git", {})
    if git_now.get("commit") != git_then.get("commit"):
        warnings.append(f"git commit is {git_now.get('commit')} now, the run used {git_then.get('commit')}")
    if git_then.get("dirty"):
        warnings.append("the run had uncommitted changes, so its code may differ from its commit")
    if git_now.get("dirty"):
        warnings.append("the work tree has uncommitted changes now")
    return warnings


def run_again(run: Path, out: Path) -> None:
    """Train from `run`'s saved config into `out` in a subprocess; raise InputError if it fails."""
    # Quoted, so that Hydra takes characters such as '=' in the path literally.
    quoted = str(out).replace("\\", "\\\\").replace("'", "\\'")
    command = [
        sys.executable,
        str(TRAIN_SCRIPT),
        "--config-dir",
        str((run / SAVED_CONFIG).parent.resolve()),
        "--config-name",
        SAVED_CONFIG.stem,
        f"hydra.run.dir='{quoted}'",
    ]
    print(f"training again into {out}", flush=True)
    result = subprocess.run(command)
    if result.returncode != 0:
        raise InputError(f"the new run failed with exit code {result.returncode}; see its output above and {out}")


def compare_metrics(original: dict[str, Any], new: dict[str, Any]) -> tuple[int, list[str]]:
    """Return how many metrics.json values were compared and one line per difference."""
    keys = [key for key in original.keys() | new.keys() if key not in NOT_COMPARED]
    differences = []
    for key in sorted(keys):
        old_value, new_value = original.get(key), new.get(key)
        if old_value == new_value:
            continue
        line = f"{METRICS} {key}: {old_value!r} (original) vs {new_value!r} (new)"
        if _is_number(old_value) and _is_number(new_value):
            line += f", difference {new_value - old_value:+.3g}"
        differences.append(line)
    return len(keys), differences


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def compare_weights(original: Path, new: Path, label: str) -> tuple[int, list[str]]:
    """Return how many tensors two checkpoints' state_dicts contain and one line per tensor that differs."""
    import torch

    old_weights = torch.load(original, map_location="cpu", weights_only=True)["state_dict"]
    new_weights = torch.load(new, map_location="cpu", weights_only=True)["state_dict"]

    differences = []
    for name in sorted(old_weights.keys() | new_weights.keys()):
        if name not in old_weights or name not in new_weights:
            differences.append(f"{label} {name}: only in the {'new' if name in new_weights else 'original'} run")
            continue
        old_tensor, new_tensor = old_weights[name], new_weights[name]
        if old_tensor.shape != new_tensor.shape:
            differences.append(f"{label} {name}: shape {tuple(old_tensor.shape)} vs {tuple(new_tensor.shape)}")
        elif not torch.equal(old_tensor, new_tensor):
            gap = (new_tensor.double() - old_tensor.double()).abs().max().item()
            differences.append(f"{label} {name}: max absolute difference {gap:.3g}")
    return len(old_weights.keys() | new_weights.keys()), differences


def compare_runs(original: Path, new: Path) -> list[str]:
    """Print the verdict for two finished run folders; return the lines of the differences."""
    old_metrics = json.loads((original / METRICS).read_text())
    new_metrics = json.loads((new / METRICS).read_text())
    n_values, differences = compare_metrics(old_metrics, new_metrics)

    pairs = [(LAST_CHECKPOINT, LAST_CHECKPOINT)]
    if old_metrics.get("best_checkpoint") and new_metrics.get("best_checkpoint"):
        pairs.append((Path(old_metrics["best_checkpoint"]), Path(new_metrics["best_checkpoint"])))
    n_tensors = 0
    for old_path, new_path in pairs:
        count, lines = compare_weights(original / old_path, new / new_path, old_path.name)
        n_tensors += count
        differences += lines

    checked = (
        f"{n_values} values of {METRICS} (without {', '.join(NOT_COMPARED)}) and {n_tensors} tensors of "
        + " and ".join(old_path.name for old_path, _ in pairs)
    )
    if differences:
        print(f"different: {len(differences)} differences in {checked}")
        for line in differences:
            print(f"  {line}")
    else:
        print(f"identical: {checked}")
    return differences


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="folder of a finished run, e.g. outputs/default/2026-12-04_19-49-50")
    parser.add_argument(
        "--out", type=Path, help="folder for the new run; must not exist yet (default: outputs/reproduce/<date_time>)"
    )
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="compare with this finished run folder instead of training again"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_run_folder(args.run, "original")
        if args.compare is not None:
            check_run_folder(args.compare, "compared")
            new = args.compare
        else:
            new = args.out or Path("outputs") / "reproduce" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
            if new.exists():
                raise InputError(f"{new} already exists; pass a new folder with --out so that no run is overwritten")

        for warning in environment_warnings(args.run):
            print(f"warning: {warning}", file=sys.stderr)

        if args.compare is None:
            run_again(args.run, new)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    differences = compare_runs(args.run, new)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
