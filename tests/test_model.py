import pytest
import torch
import torch.nn.functional as F

from echo_lstm.data import EchoDataModule
from echo_lstm.model import EchoClassifier, EpochMeans


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_output_shape(cell):
    model = EchoClassifier(n_features=12, hidden_size=7, num_layers=2, dropout=0.1, cell=cell)
    logits = model(torch.zeros(4, 6, 12))
    assert logits.shape == (4, 12)


def test_forget_bias_sets_forget_gate_only():
    model = EchoClassifier(n_features=5, hidden_size=3, forget_bias=2.0)
    total = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0  # gates: input, forget, cell, output
    assert torch.allclose(total[3:6], torch.full((3,), 2.0))
    assert not torch.allclose(total[0:3], torch.full((3,), 2.0))


def test_overfits_one_fixed_batch():
    torch.manual_seed(0)
    x, y = next(iter(EchoDataModule(n_features=20, seq_length=6, echo_index=1, batch_size=32).epoch_batches(0)))
    model = EchoClassifier(n_features=20, hidden_size=32, lr=0.02)
    optimizer = model.configure_optimizers()
    for _ in range(300):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    assert torch.equal(model(x).argmax(-1), y)


def _batches(sizes, n_features=7, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for size in sizes:
        logits = torch.randn(size, n_features, generator=generator)
        targets = torch.randint(0, n_features, (size,), generator=generator)
        yield F.cross_entropy(logits, targets), logits, targets


@pytest.mark.parametrize("max_queued", [1, 7 * 16 * 2, 2**20])
def test_epoch_means_match_direct_means(max_queued):
    # Unequal batches: the loss mean must weight each batch mean by its size.
    sizes = [16, 16, 16, 5]
    means = EpochMeans(max_queued=max_queued)
    all_logits, all_targets = [], []
    for loss, logits, targets in _batches(sizes):
        means.add(loss, logits, targets)
        all_logits.append(logits)
        all_targets.append(targets)
    logits, targets = torch.cat(all_logits), torch.cat(all_targets)

    loss, acc = means.compute()
    assert torch.allclose(loss, F.cross_entropy(logits, targets))
    assert acc.item() == (logits.argmax(-1) == targets).float().mean().item()


def test_epoch_means_queue_is_bounded():
    means = EpochMeans(max_queued=7 * 16 * 3)  # three batches of 16 samples and 7 classes
    for index, batch in enumerate(_batches([16] * 10)):
        means.add(*batch)
        assert len(means._queue) == (index + 1) % 3


def test_epoch_means_sums_round_trip():
    first, second = EpochMeans(), EpochMeans()
    batches = list(_batches([16, 16, 16, 16]))
    for batch in batches[:2]:
        first.add(*batch)
    second.load_sums(first.sums(), torch.device("cpu"))
    for batch in batches[2:]:
        first.add(*batch)
        second.add(*batch)
    assert [value.item() for value in first.compute()] == [value.item() for value in second.compute()]


def test_epoch_means_reset_drops_queue():
    means = EpochMeans()
    for batch in _batches([16, 16]):
        means.add(*batch)
    means.reset()
    batch = next(_batches([8], seed=1))
    means.add(*batch)
    assert torch.allclose(means.compute()[0], batch[0])
