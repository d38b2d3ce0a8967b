"""Training end to end in Python: determinism, saved models, skill where there is some."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import random_walk_prices, sine, write_prices, write_sequence
from lstm_forecast import api, artifacts
from lstm_forecast.settings import TrainConfig

TINY = dict(lookback=24, horizon=3, hidden=16, layers=1, epochs=4, patience=10, seed=0)


@pytest.fixture(scope="module")
def walk_file(tmp_path_factory):
    return write_prices(
        tmp_path_factory.mktemp("walk") / "walk.csv", random_walk_prices(900, seed=3)
    )


@pytest.fixture(scope="module")
def trained(walk_file, tmp_path_factory):
    model = tmp_path_factory.mktemp("model") / "walk.lstm"
    result = api.train(walk_file, model, TrainConfig(**TINY), threads=1)
    return model, result


def test_same_seed_gives_bit_identical_weights_and_forecasts(walk_file, trained, tmp_path):
    model, first = trained
    again = tmp_path / "again.lstm"
    second = api.train(walk_file, again, TrainConfig(**TINY), threads=1)
    assert first.weights.keys() == second.weights.keys()
    for key in first.weights:
        np.testing.assert_array_equal(first.weights[key], second.weights[key])
    a = api.predict(walk_file, model)
    b = api.predict(walk_file, again)
    assert a.equals(b)


def test_save_load_predict_is_identical_to_the_trained_weights(walk_file, trained):
    model, result = trained
    meta, weights = artifacts.load_model(model)
    for key, value in result.weights.items():
        np.testing.assert_array_equal(weights[key], value)
    assert meta["config"]["lookback"] == TINY["lookback"]
    assert meta["series"][0]["last"].startswith("2013-06-14")  # 900 business days from 2010-01-04
    numpy_fc = api.predict(walk_file, model, engine="numpy")
    torch_fc = api.predict(walk_file, model, engine="torch")
    assert list(numpy_fc.columns) == ["series", "date", "horizon", "forecast", "q10", "q50", "q90"]
    assert numpy_fc["date"].tolist() == ["2013-06-17", "2013-06-18", "2013-06-19"]
    for col in ("forecast", "q10", "q50", "q90"):
        np.testing.assert_allclose(numpy_fc[col], torch_fc[col], rtol=1e-5)


def test_quantiles_are_ordered_and_near_the_last_price(walk_file, trained):
    model, _ = trained
    fc = api.predict(walk_file, model, since="2013-01-02")
    assert (fc["q10"] <= fc["q50"]).all() and (fc["q50"] <= fc["q90"]).all()
    last = random_walk_prices(900, seed=3)[-1]
    tail = fc[fc["origin"] == fc["origin"].max()]
    assert np.all(np.abs(tail["forecast"] / last - 1) < 0.05)
    assert fc["actual"].notna().sum() > 0 and fc["actual"].isna().sum() == 3 + 2 + 1


def test_random_walk_is_not_claimed_as_skill(trained):
    _, result = trained
    evaluation = result.meta["evaluation"]
    assert evaluation["beats_naive"] is False
    lstm, naive = evaluation["models"]["lstm"]["mae"], evaluation["models"]["naive"]["mae"]
    assert np.mean(lstm) >= 0.99 * np.mean(naive)


def test_sine_wave_is_learned_far_better_than_naive(tmp_path):
    path = write_sequence(tmp_path / "sine.csv", sine(1500, period=40.0), name="sinewave")
    model = tmp_path / "sine.lstm"
    cfg = TrainConfig(lookback=40, horizon=1, hidden=32, layers=1, epochs=25, patience=25, seed=0)
    result = api.train(path, model, cfg, threads=1)
    ev = result.meta["evaluation"]
    assert ev["beats_naive"] is True
    assert ev["models"]["lstm"]["mase"][0] < 0.25 * ev["models"]["naive"]["mase"][0]
    fc = api.predict(path, model)
    assert fc["date"].tolist() == [1500]
    np.testing.assert_allclose(fc["forecast"].iloc[0], np.sin(2 * np.pi * 1500 / 40), atol=0.05)
