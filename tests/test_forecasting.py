"""Forecasts from a saved model: both engines, dates, quantiles, many series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import BOKEH, random_walk_prices, write_prices
from lstm_forecast import api, artifacts
from lstm_forecast.settings import TrainConfig


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


def test_a_series_forecast_does_not_depend_on_the_series_batched_with_it(global_model):
    path, _ = global_model
    together = api.predict(BOKEH, path, since="2013-02-01")  # every series in one pass
    for name in ("FB", "IBM"):
        alone = api.predict(BOKEH, path, since="2013-02-01", series=[name])
        mine = together[together["series"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, mine, check_exact=True)


def test_engines_agree_with_a_series_embedding(global_model):
    path, _ = global_model
    _, weights = artifacts.load_model(path)
    assert "embed.weight" in weights
    a = api.predict(BOKEH, path, since="2013-01-02", engine="numpy")
    b = api.predict(BOKEH, path, since="2013-01-02", engine="torch")
    for col in ("forecast", "q10", "q50", "q90"):
        np.testing.assert_allclose(a[col], b[col], rtol=2e-5)


@pytest.fixture(scope="module")
def older_model(tmp_path_factory):
    """A small model of the first 600 of 900 business days, the full 900 rows, and a copy
    whose rows after row 750 are changed."""
    folder = tmp_path_factory.mktemp("recal")
    values = random_walk_prices(900, seed=3) * np.exp(np.linspace(0, 0.3, 900) ** 2)
    model = folder / "m.lstm"
    cfg = TrainConfig(lookback=20, horizon=3, hidden=8, layers=1, epochs=1, seed=0)
    api.train(write_prices(folder / "old.csv", values[:600]), model, cfg, threads=1)
    changed = values.copy()
    changed[751:] *= np.linspace(1.0, 1.5, 149)
    full = write_prices(folder / "full.csv", values)
    return model, full, write_prices(folder / "changed.csv", changed)


DAYS = pd.bdate_range("2010-01-04", periods=900).strftime("%Y-%m-%d")


def test_recalibration_uses_only_each_origins_past(older_model):
    model, full, changed = older_model
    a = api.predict(full, model, since=DAYS[500], recalibrate=True)
    b = api.predict(changed, model, since=DAYS[500], recalibrate=True)
    cols = ["forecast", "q10", "q50", "q90"]
    known = (a["origin"] <= DAYS[750]).to_numpy()
    pd.testing.assert_frame_equal(a.loc[known, cols], b.loc[known, cols])
    assert not np.allclose(a.loc[~known, "q90"], b.loc[~known, "q90"])


def test_recalibration_starts_at_the_training_cutoff_whatever_is_asked(older_model):
    model, full, _ = older_model
    plain = api.predict(full, model, since=DAYS[500])
    early = api.predict(full, model, since=DAYS[500], recalibrate=True)
    late = api.predict(full, model, since=DAYS[700], recalibrate=True)
    cols = ["forecast", "q10", "q50", "q90"]
    from_700 = (early["origin"] >= DAYS[700]).to_numpy()
    np.testing.assert_array_equal(early.loc[from_700, cols], late[cols])
    before = (early["origin"] <= DAYS[599]).to_numpy()  # up to the cutoff: the model's own
    pd.testing.assert_frame_equal(early.loc[before, cols], plain.loc[before, cols])
    np.testing.assert_array_equal(early["forecast"], plain["forecast"])  # the median stays
    assert not np.allclose(early.loc[~before, "q10"], plain.loc[~before, "q10"])
    nightly = api.predict(full, model, recalibrate=True)
    last = early[early["origin"] == DAYS[899]]
    np.testing.assert_allclose(nightly[cols], last[cols], rtol=1e-12)
