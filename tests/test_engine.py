"""The numpy forward pass: the same numbers as the torch network from the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_forecast import engine
from lstm_forecast.model import LSTMForecaster
from lstm_forecast.spec import ModelSpec


@pytest.mark.parametrize(("layers", "n_series"), [(1, 1), (2, 4)])
def test_numpy_engine_matches_torch(layers, n_series):
    torch.manual_seed(1)
    spec = ModelSpec(
        n_inputs=3,
        hidden=16,
        layers=layers,
        horizon=4,
        quantiles=(0.1, 0.5, 0.9),
        n_series=n_series,
    )
    model = LSTMForecaster(spec).eval()
    x = torch.randn(11, 25, 3)
    ids = torch.arange(11) % n_series
    with torch.no_grad():
        expected = model(x, ids)[:, -1].numpy()
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    got = engine.forward(spec, weights, x.numpy(), ids.numpy())
    assert got.shape == (11, 4, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_monotone_is_the_median_plus_cumulative_softplus_steps():
    raw = np.array([[0.0, 1.0, 0.0]])  # one step each side of a median of 1
    out = engine.monotone(raw, mid=1)
    step = np.log(2.0)  # softplus(0)
    np.testing.assert_allclose(out, [[1.0 - step, 1.0, 1.0 + step]], rtol=1e-12)


def test_a_windows_forecast_does_not_depend_on_the_rest_of_its_batch():
    torch.manual_seed(2)
    spec = ModelSpec(n_inputs=2, hidden=32, layers=2, horizon=3, quantiles=(0.1, 0.5, 0.9))
    weights = {k: v.numpy() for k, v in LSTMForecaster(spec).eval().state_dict().items()}
    x = np.random.default_rng(0).standard_normal((700, 30, 2)).astype("float32")
    whole = engine.forward(spec, weights, x, None)
    for first, size in ((0, 1), (1, 7), (333, 200), (100, 600)):
        part = engine.forward(spec, weights, x[first : first + size], None)
        np.testing.assert_array_equal(part, whole[first : first + size])
