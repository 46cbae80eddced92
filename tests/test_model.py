import pytest
import torch
import torch.nn.functional as F

from echo_lstm.data import EchoDataModule
from echo_lstm.model import EchoClassifier


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
