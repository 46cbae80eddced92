from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from conftest import ROOT, run_script
from echo_lstm.config import ConfigError, check_config

CONF = ROOT / "conf"
GROUPS = ["data", "model", "trainer", "logger", "callbacks", "experiment", "hparams_search"]


def group_options() -> list[tuple[str, str]]:
    return [(group, path.stem) for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))]


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=["output_dir=unused", *overrides])


def test_default_config_passes_checks():
    check_config(compose_train())


@pytest.mark.parametrize(("group", "option"), group_options())
def test_group_option_composes(group, option):
    cfg = compose_train(f"{group}={option}")
    check_config(cfg)
    assert cfg.data.n_features == cfg.model.n_features


def test_every_group_has_an_option():
    present = {group for group, _ in group_options()}
    assert {"data", "model", "trainer", "logger", "callbacks", "experiment"} <= present


def test_default_parts_instantiate(tmp_path):
    cfg = compose_train(f"output_dir={tmp_path}")
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    assert datamodule.n_features == model.hparams.n_features == 100
    assert (datamodule.seq_length, datamodule.echo_index, model.hparams.hidden_size) == (10, 7, 25)


def test_build_skips_memory_filling(tmp_path):
    import torch

    from echo_lstm.train import build

    previous = torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory
    try:
        _, _, _, trainer = build(compose_train(f"output_dir={tmp_path}"))
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.utils.deterministic.fill_uninitialized_memory
        assert [type(callback).__name__ for callback in trainer.callbacks].count("ModelCheckpoint") == 2
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.utils.deterministic.fill_uninitialized_memory = previous[1]


INVALID = [
    ("data.seq_length=0", "data.seq_length=0", "an integer >= 1"),
    ("model.hidden_size=${oops}", "model.hidden_size", "Interpolation key 'oops' not found"),
    ("data.n_features=1", "data.n_features=1", "an integer >= 2"),
    ("data.echo_index=10", "data.echo_index=10", "[-10, 9]"),
    ("data.echo_index=-11", "data.echo_index=-11", "[-10, 9]"),
    ("model.hidden_size=0", "model.hidden_size=0", "an integer >= 1"),
    ("model.num_layers=0", "model.num_layers=0", "an integer >= 1"),
    ("model.dropout=1.0", "model.dropout=1.0", "[0, 1)"),
    ("model.dropout=-0.1", "model.dropout=-0.1", "[0, 1)"),
    ("model.lr=0", "model.lr=0", "a number > 0"),
    ("model.lr=-0.01", "model.lr=-0.01", "a number > 0"),
    ("data.batch_size=0", "data.batch_size=0", "an integer >= 1"),
    ("data.train_size=0", "data.train_size=0", "an integer >= 1"),
    ("data.val_size=0", "data.val_size=0", "an integer >= 1"),
    ("data.test_size=0", "data.test_size=0", "an integer >= 1"),
    ("model.cell=transformer", "model.cell='transformer'", "one of lstm, gru, rnn"),
    ("data.seq_length=ten", "data.seq_length='ten'", "an integer >= 1"),
]


@pytest.mark.parametrize(("override", "named", "allowed"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_value_rejected_in_process(override, named, allowed):
    with pytest.raises(ConfigError) as error:
        check_config(compose_train(override))
    assert named in str(error.value)
    assert allowed in str(error.value)


@pytest.mark.parametrize(("override", "named", "allowed"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_value_stops_cli_without_traceback(tmp_path: Path, override, named, allowed):
    result = run_script("train.py", override, f"hydra.run.dir={tmp_path / 'run'}", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: invalid {named}:")
    assert allowed in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_build_warns_single_layer_dropout(tmp_path, caplog):
    import torch

    from echo_lstm.train import build

    previous = torch.are_deterministic_algorithms_enabled()
    try:
        build(compose_train(f"output_dir={tmp_path}", "model.dropout=0.5"))
    finally:
        torch.use_deterministic_algorithms(previous)
    assert "model.dropout=0.5 has no effect with model.num_layers=1" in caplog.text
