"""Continue a run that stopped early: find its checkpoint and take back its saved config.

`resume=<run folder>` continues from `<run folder>/checkpoints/last.ckpt`;
`resume=<checkpoint file>` from that file of a run folder. The resumed run
uses the config that the original run saved in `.hydra/config.yaml` and
writes into the original folder, so it ends as the uninterrupted run would.

Like config.py, this module imports neither torch nor Lightning, so a wrong
path is reported before the heavy imports.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from echo_lstm.config import ConfigError

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
SAVED_CONFIG = Path(".hydra") / "config.yaml"


def find_checkpoint(resume: str | Path) -> Path:
    """Return the checkpoint that `resume` names: a run folder's last.ckpt, or the file itself."""
    path = Path(resume)
    if path.is_dir():
        checkpoint = path / LAST_CHECKPOINT
        if not checkpoint.is_file():
            raise ConfigError(
                f"invalid resume={resume}: no {LAST_CHECKPOINT} in that folder (the run stopped before its "
                "first checkpoint); start a new run, or set resume=<checkpoint file>"
            )
        return checkpoint
    if path.is_file():
        return path
    raise ConfigError(f"invalid resume={resume}: no such run folder or checkpoint file; set resume=<run folder>")


def run_folder(checkpoint: Path) -> Path:
    """Return the run folder whose checkpoints/ folder contains `checkpoint`."""
    folder = checkpoint.resolve().parent.parent
    if checkpoint.resolve().parent.name != LAST_CHECKPOINT.parent.name or not (folder / SAVED_CONFIG).is_file():
        raise ConfigError(
            f"invalid resume={checkpoint}: the checkpoint is not in the checkpoints/ folder of a run "
            f"with a saved {SAVED_CONFIG}; set resume=<run folder>"
        )
    return folder


def resume_config(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """Return the config to run: `cfg` itself, or for `resume=...` the original run's saved config.

    `overrides` are the command-line overrides of this call. Any other than
    `resume=...` would change the run, so they are rejected instead of being
    silently dropped.
    """
    resume = cfg.get("resume")
    if resume is None:
        return cfg

    others = [override for override in overrides if not override.startswith("resume=")]
    if others:
        raise ConfigError(
            f"invalid overrides {' '.join(others)} with resume={resume}: a resumed run takes the original "
            "run's saved config; drop them, or start a new run"
        )

    checkpoint = find_checkpoint(resume)
    folder = run_folder(checkpoint)
    if (folder / "metrics.json").is_file():
        raise ConfigError(
            f"invalid resume={resume}: the run in {folder} already finished (it has metrics.json); "
            "re-run it with scripts/reproduce.py instead"
        )
    original = OmegaConf.load(folder / SAVED_CONFIG)
    original.output_dir = str(folder)
    original.resume = str(checkpoint.resolve())
    return original
