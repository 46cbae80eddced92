"""scripts/evaluate.py on a finished run: results checked against an independent count of the same set."""

import json
import shutil

import pytest
import torch

from conftest import read_metrics, run_script
from echo_lstm.data import generate_values, seeded_generator
from echo_lstm.inference import RunError, find_run, load_model
from echo_lstm.model import EchoClassifier

pytestmark = pytest.mark.slow

# conftest.SMALL_PROBLEM
N_FEATURES, SEQ_LENGTH, ECHO_INDEX, TEST_SEED, TEST_SIZE = 10, 5, 2, 2, 1000


@pytest.fixture(scope="module")
def run_copy(trained_run, tmp_path_factory):
    """A copy of the trained run, so that evaluation files never land in the shared fixture."""
    folder = tmp_path_factory.mktemp("evaluate") / "run"
    shutil.copytree(trained_run, folder)
    return folder


def count_correct(run_dir, n: int, seed: int, seq_length: int, echo_index: int) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Score the best checkpoint on the documented set by hand: (correct, values, targets)."""
    checkpoint = torch.load(run_dir / read_metrics(run_dir)["best_checkpoint"])
    model = EchoClassifier(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()

    values = generate_values(n, seq_length, N_FEATURES, seeded_generator(seed, seq_length, N_FEATURES))
    targets = values[:, echo_index]
    with torch.no_grad():
        predicted = model(torch.nn.functional.one_hot(values, N_FEATURES).float()).argmax(dim=-1)
    return int((predicted == targets).sum()), values, targets


def test_evaluation_json_matches_independent_count(run_copy):
    result = run_script("evaluate.py", f"run={run_copy}", "n=300", "seed=7")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((run_copy / "evaluation.json").read_text())
    correct, values, targets = count_correct(run_copy, 300, 7, SEQ_LENGTH, ECHO_INDEX)

    assert results["n"] == 300
    assert results["correct"] == correct
    assert results["acc"] == pytest.approx(correct / 300)
    assert [row["count"] for row in results["per_value"]] == torch.bincount(targets, minlength=N_FEATURES).tolist()
    assert results["examples"][0]["sequence"] == values[0].tolist()
    assert results["examples"][0]["target"] == int(targets[0])
    assert results["differs_from_training"] == []
    assert results["fresh"] is True

    low, high = results["acc_ci95"]
    assert low <= results["acc"] <= high
    assert results["ci_method"] == "Wilson score interval"
    assert f"acc         {results['acc']:.4f} ({correct} of 300 correct)" in result.stdout
    assert "Wilson score interval" in result.stdout
    assert "as in training" in result.stdout


def test_probe_states_change_and_keeps_own_file(run_copy):
    # The model learned echo_index=2, so asking for index 1 gives an accuracy well below 1: a count that can disagree.
    result = run_script("evaluate.py", f"run={run_copy}", "n=300", "data.seq_length=6", "data.echo_index=1")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((run_copy / "evaluation_seq_length=6_echo_index=1.json").read_text())
    correct, _, _ = count_correct(run_copy, 300, 3, 6, 1)

    assert results["correct"] == correct
    assert results["acc"] < 0.9
    assert results["differs_from_training"] == ["seq_length", "echo_index"]
    assert results["training"] == {"seq_length": SEQ_LENGTH, "echo_index": ECHO_INDEX}
    assert "DIFFERS FROM TRAINING: seq_length=6 (trained on 5), echo_index=1 (trained on 2)" in result.stdout


def test_test_seed_reproduces_training_test_acc(trained_run):
    from echo_lstm.evaluate import evaluate

    run = find_run(trained_run)
    results = evaluate(run, load_model(run), n=TEST_SIZE, seed=TEST_SEED, seq_length=SEQ_LENGTH, echo_index=ECHO_INDEX)
    metrics = read_metrics(trained_run)

    assert results["acc"] == pytest.approx(metrics["test/acc"])
    assert results["loss"] == pytest.approx(metrics["test/loss"], rel=1e-4)
    assert results["fresh"] is False


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.echo_index=5", "invalid data.echo_index=5: must be an integer in [-5, 4] for data.seq_length=5"),
        ("data.seq_length=2", "invalid data.echo_index=2: must be an integer in [-2, 1] for data.seq_length=2"),
        ("n=0", "invalid n=0: must be an integer >= 1"),
    ],
)
def test_invalid_setting_is_one_line_error(trained_run, override, message):
    result = run_script("evaluate.py", f"run={trained_run}", override)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}; set ")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_run_without_checkpoint_is_error(trained_run, tmp_path):
    (tmp_path / ".hydra").mkdir()
    shutil.copy(trained_run / ".hydra" / "config.yaml", tmp_path / ".hydra")
    result = run_script("evaluate.py", f"run={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no checkpoint in run={tmp_path}")
    assert "Traceback" not in result.stderr


def test_missing_run_folder_is_error(tmp_path):
    result = run_script("evaluate.py", f"run={tmp_path / 'absent'}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: run folder not found: run={tmp_path / 'absent'}; set run=<folder of a finished training run>"
    )


def test_other_n_features_in_config_is_error(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "run")
    config = tmp_path / "run" / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("n_features: 10", "n_features: 12"))
    result = run_script("evaluate.py", f"run={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "incompatible checkpoint" in result.stderr
    assert "trained with n_features=10 but the run config has data.n_features=12" in result.stderr
    assert "Traceback" not in result.stderr


def test_mismatched_state_dict_is_error(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "run")
    best = tmp_path / "run" / read_metrics(trained_run)["best_checkpoint"]
    checkpoint = torch.load(best)
    checkpoint["state_dict"]["head.weight"] = torch.zeros(3, 3)
    torch.save(checkpoint, best)

    with pytest.raises(RunError, match=r"incompatible checkpoint .*weights do not fit .*head.weight"):
        load_model(find_run(tmp_path / "run"))


def test_checkpoint_with_code_is_rejected(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "run")
    best = tmp_path / "run" / read_metrics(trained_run)["best_checkpoint"]
    checkpoint = torch.load(best)
    checkpoint["extra"] = RunError("a pickled object, not plain data")
    torch.save(checkpoint, best)

    with pytest.raises(RunError, match="cannot load checkpoint .*objects other than tensors") as error:
        load_model(find_run(tmp_path / "run"))
    assert "weights_only" not in str(error.value)


def test_damaged_checkpoint_is_rejected(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "run")
    best = tmp_path / "run" / read_metrics(trained_run)["best_checkpoint"]
    best.write_text("garbage")

    with pytest.raises(RunError, match="cannot load checkpoint .*or is damaged; use a .ckpt file"):
        load_model(find_run(tmp_path / "run"))
