import pytest
import torch

from echo_lstm.data import EchoDataModule, decode, encode


def make_datamodule(**overrides) -> EchoDataModule:
    settings = dict(n_features=100, seq_length=10, echo_index=7, batch_size=32, train_size=256, val_size=64, test_size=64)
    settings.update(overrides)
    return EchoDataModule(**settings)


def test_batch_shapes_and_dtypes():
    x, y = next(iter(make_datamodule().epoch_batches(0)))
    assert x.shape == (32, 10, 100)
    assert x.dtype == torch.float32
    assert y.shape == (32,)
    assert y.dtype == torch.int64


def test_one_hot_covers_unseen_values():
    values = torch.tensor([[0, 3, 3]])
    x = encode(values, n_features=100)
    assert x.shape == (1, 3, 100)
    assert x.sum(dim=-1).eq(1).all()
    assert x[0, 1, 3] == 1
    assert x[..., 4:].sum() == 0


def test_encode_rejects_values_outside_range():
    with pytest.raises(ValueError, match=r"0\.\.9"):
        encode(torch.tensor([10]), n_features=10)
    with pytest.raises(ValueError, match="integers"):
        encode(torch.tensor([1.0]), n_features=10)


def test_decode_inverts_encode():
    values = torch.randint(0, 100, (50, 10), generator=torch.Generator().manual_seed(0))
    assert torch.equal(decode(encode(values, 100)), values)


def test_decode_logits_is_argmax():
    logits = torch.tensor([[0.1, 2.0, -1.0], [5.0, 0.0, 4.9]])
    assert decode(logits).tolist() == [1, 0]


@pytest.mark.parametrize("echo_index", [0, 7, 9, -1, -10])
def test_target_is_value_at_echo_index(echo_index):
    for x, y in make_datamodule(echo_index=echo_index).epoch_batches(0):
        assert torch.equal(y, decode(x)[:, echo_index])


def test_same_seed_and_epoch_give_same_batches():
    first = list(make_datamodule(seed=5).epoch_batches(3))
    second = list(make_datamodule(seed=5).epoch_batches(3))
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        assert torch.equal(x1, x2)
        assert torch.equal(y1, y2)


def test_epochs_and_seeds_give_different_batches():
    x0, _ = next(iter(make_datamodule(seed=5).epoch_batches(0)))
    x1, _ = next(iter(make_datamodule(seed=5).epoch_batches(1)))
    other_seed, _ = next(iter(make_datamodule(seed=6).epoch_batches(0)))
    assert not torch.equal(x0, x1)
    assert not torch.equal(x0, other_seed)


def test_val_and_test_sets_ignore_run_seed():
    first, second = make_datamodule(seed=1), make_datamodule(seed=2)
    for a, b in [(first.val_dataloader(), second.val_dataloader()), (first.test_dataloader(), second.test_dataloader())]:
        assert torch.equal(a.values, b.values)


def test_val_and_test_sets_differ():
    dm = make_datamodule(val_size=64, test_size=64)
    assert not torch.equal(dm.val_dataloader().values, dm.test_dataloader().values)


def test_last_batch_holds_remainder():
    batches = make_datamodule(train_size=70, batch_size=32).epoch_batches(0)
    sizes = [len(y) for _, y in batches]
    assert sizes == [32, 32, 6]
    assert len(batches) == 3
