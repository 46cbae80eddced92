"""Score a trained run on a fresh test set: accuracy with its confidence interval, per-value accuracy, examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from scipy.stats import binomtest
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from echo_lstm.inference import Run
from echo_lstm.model import EchoClassifier

CONFIDENCE_LEVEL = 0.95
CI_METHOD = "Wilson score interval"
# Most frequent (target, predicted) pairs kept in the results.
MAX_CONFUSIONS = 10


def evaluate(
    run: Run,
    model: EchoClassifier,
    n: int,
    seed: int,
    seq_length: int,
    echo_index: int,
    batch_size: int = 1000,
    examples: int = 5,
) -> dict[str, Any]:
    """Score `model` on `n` new sequences drawn from `seed` and return the results as a JSON-ready dict.

    The set is drawn the way the training run draws its validation and test
    sets (`EchoDataModule.fixed_batches`), so `seed=data.test_seed` with
    `n=data.test_size` reproduces the run's test set.
    """
    data = run.data
    n_features = data["n_features"]
    datamodule = instantiate(run.config.data, seq_length=seq_length, echo_index=echo_index, batch_size=batch_size)
    batches = datamodule.fixed_batches(n, seed)

    accuracy = MulticlassAccuracy(num_classes=n_features, average="micro")
    confusion = MulticlassConfusionMatrix(num_classes=n_features)
    loss_sum = 0.0
    predicted_batches, probability_batches = [], []
    with torch.inference_mode():
        for x, y in batches:
            logits = model(x)  # (batch, n_features)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            probability, predicted = logits.softmax(dim=-1).max(dim=-1)  # (batch,) each
            accuracy.update(predicted, y)
            confusion.update(predicted, y)
            predicted_batches.append(predicted)
            probability_batches.append(probability)

    predicted = torch.cat(predicted_batches)  # (n,)
    probability = torch.cat(probability_batches)  # (n,)
    counts = confusion.compute()  # (n_features, n_features): rows are targets, columns predictions
    correct = int(counts.trace())
    interval = binomtest(correct, n).proportion_ci(confidence_level=CONFIDENCE_LEVEL, method="wilson")

    training = {"seq_length": data["seq_length"], "echo_index": data["echo_index"]}
    used = {"seq_length": seq_length, "echo_index": echo_index}
    return {
        "checkpoint": run.describe_checkpoint(),
        "n": n,
        "seed": seed,
        "fresh": seq_length != data["seq_length"] or seed not in (data["val_seed"], data["test_seed"]),
        "n_features": n_features,
        **used,
        "training": training,
        "differs_from_training": [key for key in used if used[key] != training[key]],
        "acc": float(accuracy.compute()),
        "correct": correct,
        "loss": loss_sum / n,
        "acc_ci95": [float(interval.low), float(interval.high)],
        "ci_method": CI_METHOD,
        "per_value": per_value_accuracy(counts),
        "confusions": most_frequent_confusions(counts, MAX_CONFUSIONS),
        "examples": example_rows(batches, predicted, probability, range(min(examples, n))),
        "mistakes": example_rows(batches, predicted, probability, _first_mistakes(batches.targets, predicted, examples)),
    }


def per_value_accuracy(counts: torch.Tensor) -> list[dict[str, Any]]:
    """Return, per target value, its count, correct predictions, accuracy and the value most often predicted instead.

    `acc` is None for a value that never occurs as a target, and
    `most_confused_with` is None for a value that is never mispredicted.
    """
    wrong = counts.clone()
    wrong.fill_diagonal_(0)
    rows = []
    for value in range(counts.shape[0]):
        count = int(counts[value].sum())
        correct = int(counts[value, value])
        rows.append(
            {
                "value": value,
                "count": count,
                "correct": correct,
                "acc": correct / count if count else None,
                "most_confused_with": int(wrong[value].argmax()) if wrong[value].sum() > 0 else None,
            }
        )
    return rows


def most_frequent_confusions(counts: torch.Tensor, limit: int) -> list[dict[str, int]]:
    """Return up to `limit` (target, predicted) pairs with target != predicted, most frequent first."""
    wrong = counts.clone()
    wrong.fill_diagonal_(0)
    n_features = counts.shape[0]
    top = wrong.flatten().topk(min(limit, wrong.numel()))
    return [
        {"target": index // n_features, "predicted": index % n_features, "count": int(count)}
        for count, index in zip(top.values.tolist(), top.indices.tolist())
        if count > 0
    ]


def _first_mistakes(targets: torch.Tensor, predicted: torch.Tensor, limit: int) -> list[int]:
    return (predicted != targets).nonzero().flatten()[:limit].tolist()


def example_rows(batches, predicted: torch.Tensor, probability: torch.Tensor, rows) -> list[dict[str, Any]]:
    """Return the given rows of the set as sequence, target, predicted value and its probability."""
    return [
        {
            "sequence": batches.values[row].tolist(),
            "target": int(batches.targets[row]),
            "predicted": int(predicted[row]),
            "probability": float(probability[row]),
        }
        for row in rows
    ]


def results_path(run: Run, results: dict[str, Any]) -> Path:
    """Return where the results go: evaluation.json, or a name of its own for a seq_length or echo_index probe.

    A probe gets its own file so that it never overwrites the evaluation on the training settings.
    """
    if not results["differs_from_training"]:
        return run.folder / "evaluation.json"
    return run.folder / f"evaluation_seq_length={results['seq_length']}_echo_index={results['echo_index']}.json"


def write_results(run: Run, results: dict[str, Any]) -> Path:
    """Write the results as JSON into the run folder and return the file's path."""
    path = results_path(run, results)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
