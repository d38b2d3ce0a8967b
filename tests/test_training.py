"""Training: the time-ordered split, leak-free statistics, determinism, many series, covariates,
and the validation forecasts it hands to the evaluation."""

from __future__ import annotations

import numpy as np

from helpers import GLOBAL_CONFIG, GOOG, WALK_CONFIG, memory_dataset
from lstm_forecast import api
from lstm_forecast.settings import TrainConfig
from lstm_forecast.spec import ModelSpec
from lstm_forecast.training import split


def test_split_keeps_training_targets_out_of_the_validation_tail():
    values = 100 + np.cumsum(np.random.default_rng(0).normal(size=500))
    cfg = TrainConfig(lookback=30, horizon=5, val_size=0.2)
    (part,) = split(memory_dataset(values), cfg, "diff")
    assert part.n_train == 400
    first, last = part.train_origins
    assert first == 29 and last + cfg.horizon == part.n_train - 1  # last target is row 399
    assert part.val_origins[0] == part.n_train - 1  # first target at row 400, in the tail
    assert part.val_origins[-1] + cfg.horizon == len(values) - 1


def test_fitted_statistics_ignore_everything_after_the_training_part():
    rng = np.random.default_rng(1)
    values = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    volume = rng.uniform(1e6, 2e6, (600, 1))
    cfg = TrainConfig(lookback=20, horizon=3, val_size=0.25)
    base = split(memory_dataset(values, volume), cfg, "log-return")[0].stats
    changed_values, changed_volume = values.copy(), volume.copy()
    changed_values[450:] *= rng.uniform(0.2, 5.0, 150)
    changed_volume[450:] *= 1000
    other = split(memory_dataset(changed_values, changed_volume), cfg, "log-return")[0].stats
    assert other == base


def test_same_seed_gives_bit_identical_weights_and_forecasts(walk_file, walk_model, tmp_path):
    model, first = walk_model
    again = tmp_path / "again.lstm"
    second = api.train(walk_file, again, TrainConfig(**WALK_CONFIG), threads=1)
    assert first.weights.keys() == second.weights.keys()
    for key in first.weights:
        np.testing.assert_array_equal(first.weights[key], second.weights[key])
    a = api.predict(walk_file, model)
    b = api.predict(walk_file, again)
    assert a.equals(b)


def test_the_card_names_the_network_the_weights_fit(walk_model):
    _, result = walk_model
    card = result.card
    assert card.network == ModelSpec.for_training(card.config, n_inputs=2, n_series=1)
    got = {k: v.shape for k, v in result.weights.items()}
    assert got == card.network.weight_shapes()


def test_validation_forecasts_cover_every_validation_origin(walk_model):
    _, result = walk_model
    (info,) = result.card.series
    origins, q = result.validation[info.name]
    horizon, levels = WALK_CONFIG["horizon"], result.card.config.quantiles
    assert origins[0] == info.n_train - 1 and origins[-1] == info.rows - 1 - horizon
    assert np.array_equal(origins, np.arange(origins[0], origins[-1] + 1))
    assert q.shape == (len(origins), horizon, len(levels))
    assert (np.diff(q, axis=-1) >= 0).all() and np.isfinite(q).all()
    assert result.card.evaluation["origins"] == len(origins)  # what the table scored


def test_one_global_model_keeps_every_ticker_scaled_separately(global_model):
    _, result = global_model
    names = [s["name"] for s in result.meta["series"]]
    assert names == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert result.meta["target"] == "Adj Close"
    scales = {s["name"]: s["stats"]["scale"] for s in result.meta["series"]}
    assert len(set(scales.values())) == 5
    assert result.card.network.n_series == 5 and "embed.weight" in result.weights
    assert result.card.series_ids() == {name: i for i, name in enumerate(names)}


def test_covariates_are_used_and_required_again_at_prediction(tmp_path):
    path = tmp_path / "goog.lstm"
    cfg = TrainConfig(**GLOBAL_CONFIG, features=["Open", "High", "Low", "Volume"])
    result = api.train(GOOG, path, cfg, threads=1)
    kinds = {f["name"]: f["kind"] for f in result.meta["series"][0]["stats"]["features"]}
    assert kinds == {"Open": "log-diff", "High": "log-diff", "Low": "log-diff", "Volume": "log1p"}
    assert result.card.network.n_inputs == 2 + 4
    a = api.predict(GOOG, path, engine="numpy")
    b = api.predict(GOOG, path, engine="torch")
    np.testing.assert_allclose(a["forecast"], b["forecast"], rtol=2e-5)
    assert a["date"].tolist()[0] == "2018-01-22"  # after Friday 2018-01-19


def test_date_feature_inputs(tmp_path):
    path = tmp_path / "cal.lstm"
    result = api.train(GOOG, path, TrainConfig(**GLOBAL_CONFIG, date_features=True), threads=1)
    assert result.card.network.n_inputs == 2 + 4
    assert len(api.predict(GOOG, path)) == 4
