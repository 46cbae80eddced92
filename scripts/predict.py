"""Print a finished run's prediction for each input sequence.

Usage: python scripts/predict.py run=<run folder> 'sequence=[3,14,15,...]'
       python scripts/predict.py run=<run folder> file=<path, or - for stdin> [json=true]
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

from echo_lstm.config import ConfigError
from echo_lstm.inference import RunError, SequenceError, find_run, parse_sequence

log = logging.getLogger("echo_lstm")


@dataclass
class Line:
    """One input sequence: its line number (None for sequence=...), its text, then its values or its error.

    After prediction, `top_values` and `top_probabilities` hold the prediction
    followed by the alternatives, most probable first.
    """

    number: int | None
    text: str
    values: list[int] | None = None
    error: str | None = None
    top_values: list[int] | None = None
    top_probabilities: list[float] | None = None


def read_lines(cfg: DictConfig) -> list[tuple[int | None, Any]]:
    """Return the input as (line number, raw sequence) pairs; raise ConfigError for a missing or empty input."""
    if cfg.sequence is not None and cfg.file is not None:
        raise ConfigError(f"set either sequence or file, not both (file={cfg.file})")
    if cfg.sequence is not None:
        sequence = cfg.sequence
        if isinstance(sequence, ListConfig):
            return [(None, OmegaConf.to_container(sequence))]
        return [(None, str(sequence))]
    if cfg.file is None:
        raise ConfigError("missing input: set sequence=[v0,v1,...] or file=<path> (file=- reads standard input)")

    if cfg.file == "-":
        source, text = "standard input", sys.stdin.read()
    else:
        path = Path(str(cfg.file))
        if not path.is_file():
            raise ConfigError(f"file not found: file={path}; set file=<path of a text file> or file=- for standard input")
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"invalid file={path}: not UTF-8 text; write one sequence per line") from None

    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ConfigError(f"empty input: {source} has no sequences; write one sequence per line")
    return lines


def format_text(line: Line) -> str:
    values, probabilities = line.top_values, line.top_probabilities
    prefix = "" if line.number is None else f"line {line.number}: "
    alternatives = ", ".join(f"{value} (p={p:.4f})" for value, p in zip(values[1:], probabilities[1:]))
    suffix = f"; alternatives {alternatives}" if alternatives else ""
    return f"{prefix}predicted {values[0]} (p={probabilities[0]:.4f}){suffix}"


def format_json(line: Line) -> str:
    values, probabilities = line.top_values, line.top_probabilities
    record: dict[str, Any] = {} if line.number is None else {"line": line.number}
    if line.error is not None:
        record.update(input=line.text, error=line.error)
    else:
        record.update(
            sequence=line.values,
            predicted=values[0],
            probability=probabilities[0],
            alternatives=[{"value": v, "probability": p} for v, p in zip(values[1:], probabilities[1:])],
        )
    return json.dumps(record)


def print_results(lines: list[Line], as_json: bool) -> int:
    """Print one output line per input line, in input order; return the exit code, 2 if any line is invalid.

    An invalid line's error goes to stderr, and in JSON mode also to stdout
    as an object with `input` and `error`, so that stdout has one object per input line.
    """
    invalid = 0
    for line in lines:
        if line.error is not None:
            invalid += 1
            where = "" if line.number is None else f"line {line.number}: "
            print(f"error: {where}{line.error}", file=sys.stderr)
        if line.error is None or as_json:
            print(format_json(line) if as_json else format_text(line))

    if invalid and len(lines) > 1:
        print(f"error: {invalid} of {len(lines)} input lines invalid; they have no prediction", file=sys.stderr)
    return 2 if invalid else 0


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        run = find_run(cfg.run)
        for key, low in (("alternatives", 0), ("batch_size", 1)):
            value = cfg[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"invalid {key}={value!r}: must be an integer >= {low}; set it with {key}=<value>")
        if not isinstance(cfg.json, bool):
            raise ConfigError(f"invalid json={cfg.json!r}: must be true or false")
        raw_lines = read_lines(cfg)
    except (RunError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

    data = run.data
    lines = []
    for number, raw in raw_lines:
        line = Line(number, raw if isinstance(raw, str) else str(raw))
        try:
            line.values = parse_sequence(raw, data["n_features"], data["seq_length"])
        except SequenceError as error:
            line.error = str(error)
        lines.append(line)
    valid = [line for line in lines if line.error is None]
    if not valid:
        # Nothing to predict: report every line without loading torch.
        sys.exit(print_results(lines, cfg.json))

    # Imported here so that --help and input errors are reported before torch loads.
    import torch

    from echo_lstm.inference import load_model, predict_top_k

    try:
        model = load_model(run)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    log.info(
        "run %s, %s: predicts the value at echo_index=%d of %d integers in 0..%d",
        run.folder, run.describe_checkpoint(), data["echo_index"], data["seq_length"], data["n_features"] - 1,
    )

    # NOTE: the whole input is read before the first prediction, so file=- prints nothing until its input ends.
    for start in range(0, len(valid), cfg.batch_size):
        chunk = valid[start : start + cfg.batch_size]
        sequences = torch.tensor([line.values for line in chunk])  # (batch, seq_length)
        values, probabilities = predict_top_k(model, sequences, 1 + cfg.alternatives)
        for line, top_values, top_probabilities in zip(chunk, values.tolist(), probabilities.tolist()):
            line.top_values, line.top_probabilities = top_values, top_probabilities
    sys.exit(print_results(lines, cfg.json))


if __name__ == "__main__":
    main()
