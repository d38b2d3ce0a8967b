"""The Python API end to end: honest validation verdicts, results a run record is made from,
the caller's options left alone, --keep-better."""

from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pandas as pd
import pytest

from helpers import BOKEH, WALK_CONFIG, long_prices, sine, store_lake, write_sequence
from lstm_forecast import api, artifacts
from lstm_forecast.errors import ConfigError, DataError, Interrupted
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig


def test_random_walk_is_not_claimed_as_skill(walk_model):
    _, result = walk_model
    evaluation = result.meta["evaluation"]
    assert evaluation["beats_naive"] is False
    lstm, naive = evaluation["models"]["lstm"]["mae"], evaluation["models"]["naive"]["mae"]
    assert np.mean(lstm) >= 0.99 * np.mean(naive)
    assert evaluation["verdict"].startswith("No evidence of skill")
    assert evaluation["dm_test"]["baseline"] == "naive"


def test_sine_wave_is_learned_far_better_than_naive(tmp_path):
    path = write_sequence(tmp_path / "sine.csv", sine(1500, period=40.0), name="sinewave")
    model = tmp_path / "sine.lstm"
    cfg = TrainConfig(lookback=40, horizon=1, hidden=32, layers=1, epochs=25, patience=25, seed=0)
    result = api.train(path, model, cfg, threads=1)
    ev = result.meta["evaluation"]
    assert ev["beats_naive"] is True
    assert ev["models"]["lstm"]["mase"][0] < 0.25 * ev["models"]["naive"]["mase"][0]
    assert ev["verdict"].startswith("Evidence of skill") and ev["dm_test"]["p_value"] < 0.05
    fc = api.predict(path, model)
    assert fc["date"].tolist() == [1500]
    np.testing.assert_allclose(fc["forecast"].iloc[0], np.sin(2 * np.pi * 1500 / 40), atol=0.05)


def test_the_run_record_comes_from_the_result(walk_model):
    _, result = walk_model
    ev, tr = result.meta["evaluation"], result.meta["training"]
    assert result.record == {
        "beats_naive": ev["beats_naive"],
        "interval_skill": ev["interval_skill"],
        "coverage_tests_pass": ev["coverage_tests_pass"],
        "lstm_mase": ev["models"]["lstm"]["mase"],
        "naive_mase": ev["models"]["naive"]["mase"],
        "coverage": ev["models"]["lstm"]["coverage"],
        "windows_per_s": tr["windows_per_s"],
        "epochs_run": tr["epochs_run"],
    }
    assert "kept" not in result.meta  # only --keep-better says which model it kept


def test_the_callers_load_options_are_left_alone(walk_file, walk_model, tmp_path):
    model, _ = walk_model
    options = LoadOptions(max_gap=3)
    before = dataclasses.replace(options)
    api.train(walk_file, tmp_path / "m.lstm", TrainConfig(**{**WALK_CONFIG, "epochs": 1}), options)
    api.predict(walk_file, model, options=options)
    assert options == before


def test_keep_better_keeps_the_new_model_when_it_scores_alike(walk_file, tmp_path):
    model = tmp_path / "m.lstm"
    config = TrainConfig(**{**WALK_CONFIG, "epochs": 1})
    api.train(walk_file, model, config, threads=1)
    said: list[str] = []
    again = api.train(walk_file, model, config, threads=1, keep_better=True, notify=said.append)
    assert again.card.kept == "new" and again.record["kept"] == "new"
    (line,) = [x for x in said if x.startswith("keep-better")]
    new_score, old_score = (part.split()[-1].rstrip(")") for part in line.split(","))
    assert new_score == old_score and "new model replaces" in line
    assert artifacts.load_model(model)[0].kept == "new"


def test_a_series_too_short_is_skipped_with_a_warning():
    ds = api.load_data(BOKEH, LoadOptions(min_rows=200))
    assert [s.name for s in ds.series] == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert any("FB" in w for w in ds.warnings)


def test_a_signal_saves_a_checkpoint_and_resume_ends_with_the_uninterrupted_model(
    walk_file, tmp_path
):
    config = TrainConfig(**{**WALK_CONFIG, "epochs": 3, "patience": 10})
    model = tmp_path / "m.lstm"

    def stop_after_first_epoch(progress) -> None:
        if progress.epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # caught by training, between batches

    with pytest.raises(Interrupted, match="--resume") as caught:
        api.train(walk_file, model, config, threads=1, progress=stop_after_first_epoch)
    assert caught.value.exit_code == 128 + signal.SIGTERM
    ckpt = artifacts.checkpoint_path(model)
    assert ckpt.exists() and not model.exists()
    assert artifacts.load_checkpoint(ckpt)[0]["loop"]["epoch"] == 1
    other = dataclasses.replace(config, batch_size=config.batch_size + 1)
    with pytest.raises(ConfigError, match="other settings") as refused:
        api.train(walk_file, model, other, threads=1, resume=True)
    was = config.batch_size
    assert f"(batch_size={was} (now {was + 1})); resume with the same" in str(refused.value)
    resumed = api.train(walk_file, model, config, threads=1, resume=True)
    assert not ckpt.exists() and resumed.card.training.epochs_run == 3
    straight = api.train(walk_file, tmp_path / "straight.lstm", config, threads=1)
    for key, value in straight.weights.items():
        np.testing.assert_array_equal(resumed.weights[key], value)


def test_predict_reads_a_big_dataset_a_group_of_series_at_a_time(tmp_path, monkeypatch):
    lake = store_lake(tmp_path / "lake", long_prices(("AAPL", "IBM", "MSFT", "NVDA"), days=120))
    model = tmp_path / "m.lstm"
    config = TrainConfig(lookback=20, horizon=3, hidden=8, layers=1, epochs=1, seed=0)
    api.train(lake, model, config, threads=1)
    whole = api.predict(lake, model)
    more = store_lake(tmp_path / "more", long_prices(("AAPL", "IBM", "MSFT", "NVDA", "ZZZ")))
    loads, told = [], []
    real = api.load
    monkeypatch.setattr(
        api, "load", lambda data, opts: loads.append(opts.series) or real(data, opts)
    )
    monkeypatch.setattr(api, "PREDICT_GROUP_ROWS", 250)
    pd.testing.assert_frame_equal(api.predict(lake, model), whole)
    assert loads == [["AAPL", "IBM"], ["MSFT", "NVDA"]]
    loads.clear()
    grouped = api.predict(more, model, notify=told.append)
    assert [n for group in loads for n in group] == ["AAPL", "IBM", "MSFT", "NVDA"]
    assert "ZZZ" not in set(grouped["series"]) and len(grouped) == len(whole)
    assert "warning: 1 series are not in the model, no forecast: ZZZ" in told


def test_predict_names_each_series_too_short_and_forecasts_the_rest(tmp_path, monkeypatch):
    """In a universe, a new listing shorter than the lookback gets a one-line reason, and the
    grouped run says each message once and reports every group."""
    prices = long_prices(("AAPL", "IBM", "MSFT", "NVDA"), days=120)
    model = tmp_path / "m.lstm"
    config = TrainConfig(lookback=20, horizon=3, hidden=8, layers=1, epochs=1, seed=0)
    api.train(store_lake(tmp_path / "lake", prices), model, config, threads=1)
    newer = prices[(prices["Ticker"] != "IBM") | (prices.index >= len(prices) - 4 * 10)]
    lake = store_lake(tmp_path / "newer", newer)  # IBM: its last 10 rows only
    told, steps = [], []
    monkeypatch.setattr(api, "PREDICT_GROUP_ROWS", 250)
    frame = api.predict(lake, model, notify=told.append, progress=lambda *a: steps.append(a))
    assert sorted(set(frame["series"])) == ["AAPL", "MSFT", "NVDA"] and len(frame) == 9
    short = "warning: series 'IBM' has 10 rows, fewer than the model's lookback 20; no forecast"
    assert told.count(short) == 1 and len(told) == len(set(told))
    assert steps == [(1, 2, "3 series"), (2, 2, "4 series")]  # groups of about equal rows
    with pytest.raises(DataError, match="series 'IBM' has 10 rows, fewer than"):
        api.predict(lake, model, series=["IBM"])
