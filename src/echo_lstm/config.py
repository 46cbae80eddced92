"""Check a composed run config before any heavy import.

This module imports neither torch nor Lightning, so a user's typo is reported
in well under a second instead of after the imports and the first epoch.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

CELLS = ("lstm", "gru", "rnn")
_MISSING = object()


class ConfigError(ValueError):
    """A config value outside its allowed range; the message is one line for the user."""


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# key -> (check, allowed range as shown to the user)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data.n_features": (_int_at_least(2), "an integer >= 2"),
    "data.seq_length": (_int_at_least(1), "an integer >= 1"),
    "data.batch_size": (_int_at_least(1), "an integer >= 1"),
    "data.train_size": (_int_at_least(1), "an integer >= 1"),
    "data.val_size": (_int_at_least(1), "an integer >= 1"),
    "data.test_size": (_int_at_least(1), "an integer >= 1"),
    "data.val_seed": (_int_at_least(0), "an integer >= 0"),
    "data.test_seed": (_int_at_least(0), "an integer >= 0"),
    "data.curriculum_growth": (_int_at_least(1), "an integer >= 1"),
    "model.hidden_size": (_int_at_least(1), "an integer >= 1"),
    "model.num_layers": (_int_at_least(1), "an integer >= 1"),
    "model.dropout": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "model.lr": (lambda v: _number(v) and v > 0, "a number > 0"),
    "model.forget_bias": (_number, "a finite number"),
    "model.cell": (lambda v: v in CELLS, "one of " + ", ".join(CELLS)),
    "trainer.max_epochs": (_int_at_least(1), "an integer >= 1"),
    "trainer.gradient_clip_val": (
        lambda v: v is None or (_number(v) and v > 0),
        "a number > 0, or null for no clipping",
    ),
    "seed": (_int_at_least(0), "an integer >= 0"),
    "torch_threads": (lambda v: v is None or _int_at_least(1)(v), "an integer >= 1, or null for torch's default"),
}


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value outside its allowed range.

    Keys that a config does not define are skipped, so a custom data or model
    config only needs the keys it uses.
    """
    _check_interpolations(cfg)
    for key, (is_valid, allowed) in _RULES.items():
        value = OmegaConf.select(cfg, key, default=_MISSING)
        if value is _MISSING:
            continue
        if not is_valid(value):
            raise ConfigError(f"invalid {key}={value!r}: must be {allowed}; set it with {key}=<value>")

    seq_length = OmegaConf.select(cfg, "data.seq_length")
    echo_index = OmegaConf.select(cfg, "data.echo_index", default=_MISSING)
    if echo_index is not _MISSING:
        if not _int_at_least(-seq_length)(echo_index) or echo_index >= seq_length:
            raise ConfigError(
                f"invalid data.echo_index={echo_index!r}: must be an integer in "
                f"[-{seq_length}, {seq_length - 1}] for data.seq_length={seq_length}; "
                "set data.echo_index=<value> or a longer data.seq_length"
            )

    _check_curriculum(cfg)

    target = OmegaConf.select(cfg, "callbacks.early_stopping.stopping_threshold", default=None)
    if target is not None and not (_number(target) and 0 < target <= 1):
        raise ConfigError(
            f"invalid callbacks.early_stopping.stopping_threshold={target!r}: must be a "
            "number in (0, 1]; set callbacks.early_stopping.stopping_threshold=<value>"
        )



def _check_interpolations(cfg: DictConfig) -> None:
    """Reject a data, model or trainer value whose `${...}` interpolation does not resolve.

    Other sections refer to Hydra's run folder, which only resolves inside a run.
    """
    for section in ("data", "model", "trainer"):
        if section not in cfg:
            continue
        try:
            OmegaConf.to_container(cfg[section], resolve=True)
        except InterpolationResolutionError as error:
            key = error.full_key or section
            reason = str(error).splitlines()[0]
            raise ConfigError(f"invalid {key}: {reason}; set {key}=<value> or fix the interpolation") from None


def _check_curriculum(cfg: DictConfig) -> None:
    """Reject a curriculum whose first sequences are too short to hold `echo_index`."""
    start = OmegaConf.select(cfg, "data.curriculum_start", default=None)
    if start is None:
        return
    seq_length = OmegaConf.select(cfg, "data.seq_length")
    echo_index = OmegaConf.select(cfg, "data.echo_index", default=0)
    shortest = echo_index + 1 if echo_index >= 0 else -echo_index
    if not _int_at_least(shortest)(start) or start > seq_length:
        raise ConfigError(
            f"invalid data.curriculum_start={start!r}: must be null or an integer in "
            f"[{shortest}, {seq_length}] for data.seq_length={seq_length} and "
            f"data.echo_index={echo_index}; set data.curriculum_start=<value> or null"
        )
