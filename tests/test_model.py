"""The network: output shapes, non-crossing quantiles, and the numpy engine's agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_forecast import engine
from lstm_forecast.model import LSTMForecaster


@pytest.mark.parametrize(("layers", "n_series"), [(1, 1), (2, 3)])
def test_output_shape_and_quantiles_never_cross(layers, n_series):
    torch.manual_seed(0)
    model = LSTMForecaster(
        n_inputs=4,
        hidden=8,
        layers=layers,
        horizon=5,
        n_quantiles=5,
        median_index=2,
        n_series=n_series,
    )
    with torch.no_grad():
        model.head.weight.mul_(50)  # large raw outputs: crossing would show if possible
        out = model(torch.randn(7, 30, 4), torch.zeros(7, dtype=torch.long))
    assert out.shape == (7, 30, 5, 5)
    assert (out.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize(("layers", "n_series"), [(1, 1), (2, 4)])
def test_numpy_engine_matches_torch(layers, n_series):
    torch.manual_seed(1)
    model = LSTMForecaster(
        n_inputs=3,
        hidden=16,
        layers=layers,
        horizon=4,
        n_quantiles=3,
        median_index=1,
        n_series=n_series,
    ).eval()
    x = torch.randn(11, 25, 3)
    ids = torch.arange(11) % n_series
    with torch.no_grad():
        expected = model(x, ids)[:, -1].numpy()
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    got = engine.forward(weights, x.numpy(), ids.numpy(), layers, 4, 3, 1)
    assert got.shape == (11, 4, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
