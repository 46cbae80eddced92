"""Use a finished training run: find its best checkpoint and data config, load the model, parse sequences.

Shared by scripts/evaluate.py and scripts/predict.py. Everything up to
`load_model` imports neither torch nor Lightning, so a wrong run folder or a
bad sequence is reported before the slow imports.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from omegaconf import DictConfig, OmegaConf

from echo_lstm.config import ConfigError, check_config

if TYPE_CHECKING:
    import torch

    from echo_lstm.model import EchoClassifier

log = logging.getLogger(__name__)

# Checkpoint files of the ModelCheckpoint callback in conf/callbacks/default.yaml.
_BEST_CHECKPOINT = re.compile(r"epoch=(\d+)-val_acc=([0-9.]+)\.ckpt")
# One value of a sequence: a plain decimal integer, so "3.0", "1e2" and "1_000" are rejected.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Values are separated by a comma (with optional spaces) or by spaces alone.
_SEPARATOR = re.compile(r"\s*,\s*|\s+")


class RunError(ValueError):
    """A run folder without a usable config or checkpoint; the message is one line for the user."""


class SequenceError(ValueError):
    """A sequence that the model cannot take; the message is one line for the user."""


@dataclass(frozen=True)
class Run:
    """A finished training run: its folder, composed config and the checkpoint to use."""

    folder: Path
    config: DictConfig
    checkpoint: Path

    @property
    def data(self) -> dict[str, Any]:
        """The run's data config with interpolations resolved, e.g. `n_features`, `seq_length`, `echo_index`."""
        return OmegaConf.to_container(self.config.data, resolve=True)

    def describe_checkpoint(self) -> str:
        """Return the checkpoint path relative to the run folder, as metrics.json writes it."""
        return str(self.checkpoint.relative_to(self.folder))


def find_run(folder: str | Path | None) -> Run:
    """Read a run folder's config and pick its checkpoint; raise RunError naming what is missing.

    The checkpoint is the `best_checkpoint` of metrics.json. A run stopped
    before it wrote metrics.json falls back to the `epoch=...-val_acc=...` file
    with the highest `val/acc`, and then to `checkpoints/last.ckpt`.
    """
    if folder is None or str(folder).strip() == "":
        raise RunError("missing run folder: set run=<folder of a finished training run>, e.g. run=outputs/default/<date_time>")
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"run folder not found: run={folder}; set run=<folder of a finished training run>")

    config_path = folder / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise RunError(f"invalid run={folder}: it has no .hydra/config.yaml, so it is not the folder of a training run")
    config = OmegaConf.load(config_path)
    if not isinstance(config, DictConfig) or "data" not in config or "model" not in config:
        raise RunError(f"invalid run={folder}: .hydra/config.yaml has no data and model sections")
    # The saved config keeps `${hydra:runtime.output_dir}`, which only resolves
    # inside the training job, so point it at the folder it was saved in.
    config.output_dir = str(folder)
    try:
        check_config(config)
    except ConfigError as error:
        raise RunError(f"invalid config in {config_path}: {error}") from None

    return Run(folder=folder, config=config, checkpoint=_pick_checkpoint(folder))


def _pick_checkpoint(folder: Path) -> Path:
    metrics_path = folder / "metrics.json"
    if metrics_path.is_file():
        try:
            best = json.loads(metrics_path.read_text()).get("best_checkpoint")
        except (json.JSONDecodeError, AttributeError):
            raise RunError(f"invalid {metrics_path}: not a JSON object as written by scripts/train.py") from None
        if best is not None:
            if not (folder / best).is_file():
                raise RunError(f"checkpoint not found: {folder / best}, the best_checkpoint of {metrics_path}")
            return folder / best

    candidates = []
    for path in (folder / "checkpoints").glob("*.ckpt"):
        match = _BEST_CHECKPOINT.fullmatch(path.name)
        if match:
            candidates.append((float(match.group(2)), int(match.group(1)), path))
    if candidates:
        return max(candidates)[2]
    if (folder / "checkpoints" / "last.ckpt").is_file():
        log.warning("run %s has no best checkpoint; using checkpoints/last.ckpt", folder)
        return folder / "checkpoints" / "last.ckpt"
    raise RunError(f"no checkpoint in run={folder}: checkpoints/ has no .ckpt file; train the run to the end of its first epoch")


def load_model(run: Run) -> "EchoClassifier":
    """Load the run's checkpoint into an EchoClassifier in eval mode on the CPU.

    Raise RunError if the file is not a checkpoint, if its hyperparameters
    differ from the run's config (e.g. another `n_features`), or if its weights
    do not fit the model they describe.
    """
    # Imported here so that a wrong run folder is reported before torch loads.
    import pickle

    import torch

    from echo_lstm.model import EchoClassifier

    # weights_only=True is torch's default since 2.6 and is passed for older
    # releases: the file may contain tensors and plain containers, but no code.
    try:
        checkpoint = torch.load(run.checkpoint, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        # torch's message for an unpickling error advises weights_only=False,
        # which would run code from the file, so a plain description replaces it.
        message = str(error).strip()
        if isinstance(error, pickle.UnpicklingError):
            reason = "it contains objects other than tensors and plain values, or is damaged"
        else:
            reason = message.splitlines()[0] if message else type(error).__name__
        raise RunError(
            f"cannot load checkpoint {run.checkpoint}: {reason}; use a .ckpt file written by scripts/train.py"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise RunError(f"invalid checkpoint {run.checkpoint}: no state_dict and hyper_parameters; use one written by scripts/train.py")

    hparams = dict(checkpoint["hyper_parameters"])
    _check_hparams_match_config(run, hparams)
    try:
        model = EchoClassifier(**hparams)
    except TypeError as error:
        raise RunError(f"incompatible checkpoint {run.checkpoint}: {error}") from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        # PyTorch lists every missing, unexpected or reshaped tensor; the first one is enough.
        details = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = details[1] if len(details) > 1 else details[0]
        raise RunError(f"incompatible checkpoint {run.checkpoint}: its weights do not fit an EchoClassifier({_format_kwargs(hparams)}): {reason}") from None
    return model.eval()


def _check_hparams_match_config(run: Run, hparams: dict[str, Any]) -> None:
    data = run.data
    if hparams.get("n_features") != data["n_features"]:
        raise RunError(
            f"incompatible checkpoint {run.checkpoint}: it was trained with n_features={hparams.get('n_features')!r} "
            f"but the run config has data.n_features={data['n_features']!r}; use the run folder the checkpoint was trained in"
        )
    model_config = OmegaConf.to_container(run.config.model, resolve=True)
    for key, value in hparams.items():
        if key in model_config and model_config[key] != value:
            raise RunError(
                f"incompatible checkpoint {run.checkpoint}: it has {key}={value!r} but the run config has "
                f"model.{key}={model_config[key]!r}; use the run folder the checkpoint was trained in"
            )


def _format_kwargs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in values.items())


def parse_sequence(values: str | Iterable[Any], n_features: int, seq_length: int) -> list[int]:
    """Parse one input sequence into `seq_length` integers in `0 .. n_features-1`.

    `values` is a line of text, comma or space separated (optionally in square
    brackets), or a list as Hydra parses `sequence=[3,14,15]`. Raise
    SequenceError naming the first invalid value and the rule it breaks.
    """
    if isinstance(values, str):
        text = values.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1].strip()
        tokens = _SEPARATOR.split(text) if text else []
    else:
        # Hydra has parsed the list already; str() turns 3.0, true and null back
        # into tokens that the integer check rejects.
        tokens = [str(value) for value in values]

    if not tokens:
        raise SequenceError(f"empty sequence: must be {seq_length} integers in 0..{n_features - 1}")
    sequence = []
    for index, token in enumerate(tokens):
        if token == "":
            raise SequenceError(f"missing value at index {index}: two separators in a row")
        if not _INTEGER.fullmatch(token):
            raise SequenceError(f"invalid value {token!r} at index {index}: must be an integer in 0..{n_features - 1}")
        value = int(token)
        if not 0 <= value < n_features:
            raise SequenceError(
                f"invalid value {value} at index {index}: must be an integer in 0..{n_features - 1} "
                f"(the run's n_features={n_features})"
            )
        sequence.append(value)
    if len(sequence) != seq_length:
        raise SequenceError(f"invalid length {len(sequence)}: must be {seq_length} values (the run's seq_length)")
    return sequence


def predict_top_k(model: "EchoClassifier", sequences: "torch.Tensor", k: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Return the `k` most probable values and their softmax probabilities, each (n, k), best first."""
    import torch

    from echo_lstm.data import encode

    with torch.inference_mode():
        logits = model(encode(sequences, model.hparams.n_features))  # (n, n_features)
        probabilities = logits.softmax(dim=-1)
    top = probabilities.topk(min(k, probabilities.shape[-1]), dim=-1)
    return top.indices, top.values
