"""Several series in one global model, covariates, and both prediction engines."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import BOKEH, GOOG
from lstm_forecast import api, artifacts
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig

SMALL = dict(lookback=30, horizon=4, hidden=16, layers=2, epochs=2, seed=0)


@pytest.fixture(scope="module")
def global_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("global") / "stocks.lstm"
    result = api.train(BOKEH, path, TrainConfig(**SMALL), threads=1)
    return path, result


def test_one_model_forecasts_every_ticker(global_model):
    path, result = global_model
    names = [s["name"] for s in result.meta["series"]]
    assert names == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert result.meta["target"] == "Adj Close"
    fc = api.predict(BOKEH, path)
    assert fc["series"].tolist() == [n for n in names for _ in range(4)]
    assert set(fc["date"]) == {"2013-03-04", "2013-03-05", "2013-03-06", "2013-03-07"}
    last = {"AAPL": 56.137353, "FB": 27.78, "GOOG": 404.34317, "IBM": 175.27118, "MSFT": 24.684342}
    for name, value in last.items():
        got = fc.loc[fc["series"] == name, "forecast"].to_numpy()
        assert np.all(np.abs(got / value - 1) < 0.1), name


def test_series_are_scaled_separately_and_selectable(global_model):
    path, result = global_model
    scales = {s["name"]: s["stats"]["scale"] for s in result.meta["series"]}
    assert len(set(scales.values())) == 5
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


def test_covariates_are_used_and_required_again_at_prediction(tmp_path):
    path = tmp_path / "goog.lstm"
    cfg = TrainConfig(**SMALL, features=["Open", "High", "Low", "Volume"])
    result = api.train(GOOG, path, cfg, threads=1)
    kinds = {f["name"]: f["kind"] for f in result.meta["series"][0]["stats"]["features"]}
    assert kinds == {"Open": "log-diff", "High": "log-diff", "Low": "log-diff", "Volume": "log1p"}
    assert result.meta["n_inputs"] == 2 + 4
    a = api.predict(GOOG, path, engine="numpy")
    b = api.predict(GOOG, path, engine="torch")
    np.testing.assert_allclose(a["forecast"], b["forecast"], rtol=2e-5)
    assert a["date"].tolist()[0] == "2018-01-22"  # after Friday 2018-01-19


def test_calendar_inputs(tmp_path):
    path = tmp_path / "cal.lstm"
    result = api.train(GOOG, path, TrainConfig(**SMALL, calendar=True), threads=1)
    assert result.meta["n_inputs"] == 2 + 4
    assert len(api.predict(GOOG, path)) == 4


def test_a_series_too_short_is_skipped_with_a_warning():
    ds = api.load_data(BOKEH, LoadOptions(min_rows=200))
    assert [s.name for s in ds.series] == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert any("FB" in w for w in ds.warnings)
