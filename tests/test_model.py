"""The network: built from its spec, output shapes, non-crossing quantiles."""

from __future__ import annotations

import pytest
import torch

from lstm_forecast.model import LSTMForecaster
from lstm_forecast.spec import ModelSpec

FIVE = (0.1, 0.25, 0.5, 0.75, 0.9)


@pytest.mark.parametrize(("layers", "n_series"), [(1, 1), (2, 3)])
def test_output_shape_and_quantiles_never_cross(layers, n_series):
    torch.manual_seed(0)
    model = LSTMForecaster(
        ModelSpec(n_inputs=4, hidden=8, layers=layers, horizon=5, quantiles=FIVE, n_series=n_series)
    )
    with torch.no_grad():
        model.head.weight.mul_(50)  # large raw outputs: crossing would show if possible
        out = model(torch.randn(7, 30, 4), torch.zeros(7, dtype=torch.long))
    assert out.shape == (7, 30, 5, 5)
    assert (out.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize(("layers", "n_series"), [(1, 1), (2, 3), (3, 12)])
def test_the_network_has_the_tensors_its_spec_names(layers, n_series):
    spec = ModelSpec(6, 16, layers, 4, (0.1, 0.5, 0.9), n_series, dropout=0.2)
    model = LSTMForecaster(spec)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == spec.weight_shapes()
    assert spec.embedding_dim == (0 if n_series == 1 else min(8, n_series))
    assert model.lstm.dropout == (0.2 if layers > 1 else 0.0)


def test_first_gives_the_same_outputs_as_slicing_the_whole_sequence():
    spec = ModelSpec(3, 8, 2, 4, (0.1, 0.5, 0.9), 3, dropout=0.3)
    torch.manual_seed(0)
    model = LSTMForecaster(spec).train()
    x, ids = torch.randn(5, 20, 3), torch.tensor([0, 1, 2, 0, 1])
    keep = (torch.rand(5, 20, 8) >= 0.3).float() / 0.7
    torch.manual_seed(1)  # the dropout between the LSTM's layers draws the same in both
    whole = model(x, ids, keep)
    torch.manual_seed(1)
    tail = model(x, ids, keep, first=12)
    assert tail.shape == (5, 8, 4, 3)
    torch.testing.assert_close(tail, whole[:, 12:])
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x, ids, first=-1), model(x, ids)[:, -1:])
