"""End to end: scripts/train.py in a subprocess, results read back from disk."""

import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import read_metrics

pytestmark = pytest.mark.slow

METRICS = ["train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"]


def load_events(run_dir) -> EventAccumulator:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return events


def test_small_problem_reaches_full_accuracy(trained_run):
    metrics = read_metrics(trained_run)
    assert metrics["status"] == "completed"
    assert metrics["test/acc"] >= 0.99
    assert metrics["val/acc"] >= 0.99
    assert metrics["global_step"] > 0
    assert metrics["epochs"] >= 1
    assert 0 < metrics["fit_seconds"] < 600
    assert math.isfinite(metrics["test/loss"])


def test_run_folder_holds_config_and_checkpoints(trained_run):
    assert (trained_run / ".hydra" / "config.yaml").is_file()
    assert (trained_run / ".hydra" / "overrides.yaml").is_file()
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()
    best = trained_run / read_metrics(trained_run)["best_checkpoint"]
    assert best.is_file()
    assert best.parent == trained_run / "checkpoints"


def test_best_checkpoint_loads_weights_only(trained_run):
    best = trained_run / read_metrics(trained_run)["best_checkpoint"]
    checkpoint = torch.load(best, weights_only=True)
    assert "rnn.weight_ih_l0" in checkpoint["state_dict"]


def test_event_files_hold_every_metric(trained_run):
    tags = load_events(trained_run).Tags()["scalars"]
    for name in METRICS + ["fit_seconds"]:
        assert name in tags


def test_final_scalars_match_metrics_json(trained_run):
    events = load_events(trained_run)
    metrics = read_metrics(trained_run)
    assert events.Scalars("test/acc")[-1].value == pytest.approx(metrics["test/acc"])
    assert events.Scalars("val/acc")[-1].value == pytest.approx(metrics["val/acc"])


def test_hparams_hold_flat_config_and_metrics(trained_run):
    content = load_events(trained_run).PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])

    hparams = start.session_start_info.hparams
    assert hparams["data.seq_length"].number_value == 5
    assert hparams["data.n_features"].number_value == 10
    assert hparams["model.hidden_size"].number_value == 25
    assert hparams["model.cell"].string_value == "lstm"
    assert "model._target_" not in hparams

    metric_names = {info.name.tag for info in experiment.experiment.metric_infos}
    assert metric_names == {"val/acc", "test/acc", "fit_seconds"}
    assert "hp_metric" not in load_events(trained_run).Tags()["scalars"]
