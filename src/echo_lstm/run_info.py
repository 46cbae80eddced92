"""The record of a run: what produced it, saved in the run folder and in TensorBoard's text tab.

`run_info.json` contains the resolved config, the command-line overrides, the
seed, the versions of Python and the main packages, the platform and the git
commit of the project with a flag for uncommitted changes. A resumed run
appends its own record under `resumes`, so the file shows every process that
wrote into the folder. scripts/reproduce.py reads it to warn when the
environment has changed since.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

RUN_INFO = "run_info.json"
# Distributions whose versions decide the numbers a run produces.
PACKAGES = ("torch", "pytorch-lightning", "hydra-core", "numpy", "tensorboard")


def package_versions() -> dict[str, str | None]:
    """Return the installed version of Python and each of PACKAGES (None where one is missing)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(directory: Path = Path(__file__).parent) -> dict[str, Any]:
    """Return the commit of the git work tree that contains `directory` and whether it has uncommitted changes.

    Both are None when git is missing or `directory` is not in a work tree,
    for example when the package is installed from a wheel.
    """
    try:
        commit = _git(directory, "rev-parse", "HEAD")
        changes = _git(directory, "status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(changes)}


def _git(directory: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.strip()


def hydra_overrides(cfg: DictConfig) -> tuple[list[str] | None, str | None]:
    """Return the command-line overrides of this call and the folder where Hydra writes its files.

    Outside a Hydra app (train() called from Python), the overrides come
    from the run folder's .hydra/overrides.yaml if there is one.
    """
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        return list(hydra_cfg.overrides.task), hydra_cfg.runtime.output_dir

    saved = Path(cfg.output_dir) / ".hydra" / "overrides.yaml"
    return (list(OmegaConf.load(saved)) if saved.is_file() else None), None


def collect_run_info(cfg: DictConfig, resumed_from: Path | None = None) -> dict[str, Any]:
    """Return the record of this process: config, overrides, seed, versions, platform and git state."""
    overrides, hydra_dir = hydra_overrides(cfg)
    info: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "overrides": overrides,
        "hydra_dir": hydra_dir,
        "seed": cfg.seed,
        "versions": package_versions(),
        "platform": platform.platform(),
        "git": git_state(),
    }
    if resumed_from is not None:
        info["resumed_from"] = str(resumed_from)
    else:
        info["config"] = OmegaConf.to_container(cfg, resolve=True)
    return info


def record_run(cfg: DictConfig, experiment: Any, resumed_from: Path | None = None, step: int = 0) -> dict[str, Any]:
    """Write this process's record to run_info.json and to TensorBoard's text tab; return it.

    `experiment` is the logger's SummaryWriter. A new run writes a new file;
    a resumed one appends its record to the `resumes` list of the original's.
    """
    info = collect_run_info(cfg, resumed_from)
    path = Path(cfg.output_dir) / RUN_INFO
    path.parent.mkdir(parents=True, exist_ok=True)

    if resumed_from is not None and path.is_file():
        record = json.loads(path.read_text())
        record.setdefault("resumes", []).append(info)
        tag = f"run_info/resume_{len(record['resumes'])}"
    else:
        record = info
        tag = "run_info"
    path.write_text(json.dumps(record, indent=2) + "\n")

    # Four leading spaces make TensorBoard's markdown show the JSON as a code block.
    text = "\n".join("    " + line for line in json.dumps(info, indent=2).splitlines())
    experiment.add_text(tag, text, global_step=step)
    experiment.flush()
    return info
