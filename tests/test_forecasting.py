"""Forecasts from a saved model: both engines, dates, quantiles, many series."""

from __future__ import annotations

import numpy as np

from helpers import BOKEH, random_walk_prices
from lstm_forecast import api, artifacts


def test_save_load_predict_is_identical_to_the_trained_weights(walk_file, walk_model):
    model, result = walk_model
    card, weights = artifacts.load_model(model)
    for key, value in result.weights.items():
        np.testing.assert_array_equal(weights[key], value)
    assert card.config.lookback == result.card.config.lookback == 24
    assert card.series[0].last.startswith("2013-06-14")  # 900 business days from 2010-01-04
    numpy_fc = api.predict(walk_file, model, engine="numpy")
    torch_fc = api.predict(walk_file, model, engine="torch")
    assert list(numpy_fc.columns) == ["series", "date", "horizon", "forecast", "q10", "q50", "q90"]
    assert numpy_fc["date"].tolist() == ["2013-06-17", "2013-06-18", "2013-06-19"]
    for col in ("forecast", "q10", "q50", "q90"):
        np.testing.assert_allclose(numpy_fc[col], torch_fc[col], rtol=1e-5)


def test_quantiles_are_ordered_and_near_the_last_price(walk_file, walk_model):
    model, _ = walk_model
    fc = api.predict(walk_file, model, since="2013-01-02")
    assert (fc["q10"] <= fc["q50"]).all() and (fc["q50"] <= fc["q90"]).all()
    last = random_walk_prices(900, seed=3)[-1]
    tail = fc[fc["origin"] == fc["origin"].max()]
    assert np.all(np.abs(tail["forecast"] / last - 1) < 0.05)
    assert fc["actual"].notna().sum() > 0 and fc["actual"].isna().sum() == 3 + 2 + 1


def test_one_model_forecasts_every_ticker(global_model):
    path, result = global_model
    names = [s["name"] for s in result.meta["series"]]
    fc = api.predict(BOKEH, path)
    assert fc["series"].tolist() == [n for n in names for _ in range(4)]
    assert set(fc["date"]) == {"2013-03-04", "2013-03-05", "2013-03-06", "2013-03-07"}
    last = {"AAPL": 56.137353, "FB": 27.78, "GOOG": 404.34317, "IBM": 175.27118, "MSFT": 24.684342}
    for name, value in last.items():
        got = fc.loc[fc["series"] == name, "forecast"].to_numpy()
        assert np.all(np.abs(got / value - 1) < 0.1), name


def test_series_are_selectable(global_model):
    path, _ = global_model
    only = api.predict(BOKEH, path, series=["IBM", "FB"])
    assert only["series"].unique().tolist() == ["IBM", "FB"]


def test_engines_agree_with_a_series_embedding(global_model):
    path, _ = global_model
    _, weights = artifacts.load_model(path)
    assert "embed.weight" in weights
    a = api.predict(BOKEH, path, since="2013-01-02", engine="numpy")
    b = api.predict(BOKEH, path, since="2013-01-02", engine="torch")
    for col in ("forecast", "q10", "q50", "q90"):
        np.testing.assert_allclose(a[col], b[col], rtol=2e-5)
