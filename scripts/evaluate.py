"""Score a finished run on a fresh test set. Usage: python scripts/evaluate.py run=<run folder> [n=...] [seed=...]."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from echo_lstm.config import ConfigError, check_config
from echo_lstm.inference import Run, RunError, find_run

log = logging.getLogger("echo_lstm")

# Lowest-accuracy target values listed in the report; evaluation.json has all of them.
REPORT_VALUES = 5


def check_settings(cfg: DictConfig, run: Run) -> dict[str, int]:
    """Return the problem to evaluate on, after the same checks as training; raise ConfigError."""
    for key, low in (("n", 1), ("seed", 0), ("batch_size", 1), ("examples", 0)):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"invalid {key}={value!r}: must be an integer >= {low}; set it with {key}=<value>")

    data = run.data
    problem = {
        "n_features": data["n_features"],
        "seq_length": data["seq_length"] if cfg.data.seq_length is None else cfg.data.seq_length,
        "echo_index": data["echo_index"] if cfg.data.echo_index is None else cfg.data.echo_index,
    }
    check_config(OmegaConf.create({"data": problem}))
    return problem


def format_sequence(sequence: list[int], echo_index: int) -> str:
    """Join the values with spaces and put the one at `echo_index` in brackets."""
    marked = [str(value) for value in sequence]
    marked[echo_index] = f"[{marked[echo_index]}]"
    return " ".join(marked)


def print_rows(title: str, rows: list[dict[str, Any]], echo_index: int) -> None:
    print(f"\n{title}")
    sequences = [format_sequence(row["sequence"], echo_index) for row in rows]
    width = max(len("sequence"), *(len(text) for text in sequences))
    print(f"  {'sequence':<{width}}  target  predicted  probability")
    for text, row in zip(sequences, rows):
        print(f"  {text:<{width}}  {row['target']:>6}  {row['predicted']:>9}  {row['probability']:>11.4f}")


def print_report(results: dict[str, Any], run: Run, path: Path) -> None:
    """Print the results the way a person checks a model: totals, then example rows, then the weak values."""
    training = results["training"]
    problem = f"n_features={results['n_features']} seq_length={results['seq_length']} echo_index={results['echo_index']}"
    print(f"run         {run.folder}")
    print(f"checkpoint  {results['checkpoint']}")
    if results["differs_from_training"]:
        changes = ", ".join(f"{key}={results[key]} (trained on {training[key]})" for key in results["differs_from_training"])
        print(f"data        {problem}; DIFFERS FROM TRAINING: {changes}")
    else:
        print(f"data        {problem}, as in training")
    freshness = "new sequences" if results["fresh"] else "the run's own validation or test sequences"
    print(f"test set    n={results['n']} seed={results['seed']}: {freshness}")
    low, high = results["acc_ci95"]
    print(
        f"acc         {results['acc']:.4f} ({results['correct']} of {results['n']} correct), "
        f"95% CI [{low:.4f}, {high:.4f}] by the {results['ci_method']}"
    )
    print(f"loss        {results['loss']:.4f} (mean cross-entropy)")

    echo_index = results["echo_index"]
    if results["examples"]:
        print_rows("examples (the value at echo_index in brackets)", results["examples"], echo_index)
    wrong = results["n"] - results["correct"]
    if results["mistakes"]:
        print_rows(f"mistakes (first {len(results['mistakes'])} of {wrong})", results["mistakes"], echo_index)

    seen = [row for row in results["per_value"] if row["count"]]
    perfect = sum(row["correct"] == row["count"] for row in seen)
    print(f"\nacc per target value: {perfect} of {len(seen)} values seen as targets are always right")
    weakest = sorted((row for row in seen if row["correct"] < row["count"]), key=lambda row: (row["acc"], row["value"]))
    for row in weakest[:REPORT_VALUES]:
        print(
            f"  value {row['value']:>3}: acc {row['acc']:.4f} ({row['correct']} of {row['count']}), "
            f"most often predicted as {row['most_confused_with']}"
        )
    if results["confusions"]:
        pairs = ", ".join(f"{pair['target']}->{pair['predicted']} ({pair['count']})" for pair in results["confusions"])
        print(f"most frequent confusions, target->predicted (count): {pairs}")
    print(f"\nresults: {path}")


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        run = find_run(cfg.run)
        problem = check_settings(cfg, run)
    except (RunError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

    # Imported here so that --help and input errors are reported before torch loads.
    from echo_lstm.evaluate import evaluate, write_results
    from echo_lstm.inference import load_model

    try:
        model = load_model(run)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

    results = evaluate(
        run,
        model,
        n=cfg.n,
        seed=cfg.seed,
        seq_length=problem["seq_length"],
        echo_index=problem["echo_index"],
        batch_size=cfg.batch_size,
        examples=cfg.examples,
    )
    if not results["fresh"]:
        log.warning("seed=%d is a seed of the run's validation or test set; choose another seed for unseen data", cfg.seed)
    path = write_results(run, results)
    print_report(results, run, path)


if __name__ == "__main__":
    main()
