"""The curriculum over seq_length: training data per epoch and its config checks."""

import pytest
from hydra import compose, initialize_config_dir

from conftest import ROOT
from echo_lstm.config import ConfigError, check_config
from echo_lstm.data import EchoDataModule


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=["output_dir=unused", *overrides])


def make_datamodule(**overrides) -> EchoDataModule:
    settings = dict(n_features=20, seq_length=30, echo_index=0, batch_size=16, train_size=64, val_size=32, test_size=32)
    settings.update(overrides)
    return EchoDataModule(**settings)


def test_curriculum_grows_training_length_per_epoch():
    datamodule = make_datamodule(curriculum_start=10, curriculum_growth=5)
    lengths = [datamodule.train_seq_length(epoch) for epoch in range(6)]
    assert lengths == [10, 15, 20, 25, 30, 30]


def test_curriculum_batches_have_epoch_length():
    datamodule = make_datamodule(curriculum_start=10, curriculum_growth=5)
    x, y = next(iter(datamodule.epoch_batches(1)))
    assert x.shape == (16, 15, 20)
    assert y.equal(x[:, 0].argmax(dim=-1))


def test_curriculum_keeps_validation_at_seq_length():
    datamodule = make_datamodule(curriculum_start=10)
    x, _ = next(iter(datamodule.val_dataloader()))
    assert x.shape[1] == 30


def test_curriculum_data_depends_on_seed_and_epoch_only():
    first = next(iter(make_datamodule(curriculum_start=10).epoch_batches(2)))
    again = next(iter(make_datamodule(curriculum_start=10).epoch_batches(2)))
    assert first[0].equal(again[0])
    assert first[1].equal(again[1])


def test_no_curriculum_trains_at_seq_length():
    datamodule = make_datamodule()
    assert datamodule.train_seq_length(0) == 30


def test_curriculum_negative_echo_index():
    datamodule = make_datamodule(echo_index=-2, curriculum_start=4)
    x, y = next(iter(datamodule.epoch_batches(0)))
    assert x.shape[1] == 4
    assert y.equal(x[:, 2].argmax(dim=-1))


def test_long_distance_experiment_passes_checks():
    cfg = compose_train("experiment=long_distance")
    check_config(cfg)
    assert cfg.data.echo_index == 0
    assert cfg.data.curriculum_start < cfg.data.seq_length


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.curriculum_start=7"],  # echo_index=7 needs at least 8 steps
        ["data.curriculum_start=11"],  # longer than seq_length=10
        ["data.curriculum_start=0", "data.echo_index=-1"],
        ["data.curriculum_start=ten"],
    ],
)
def test_invalid_curriculum_start_is_rejected(overrides):
    with pytest.raises(ConfigError, match="data.curriculum_start="):
        check_config(compose_train(*overrides))


def test_invalid_curriculum_growth_is_rejected():
    with pytest.raises(ConfigError, match="data.curriculum_growth=0"):
        check_config(compose_train("data.curriculum_start=8", "data.curriculum_growth=0"))
