"""Checks: values that never pass (inf, beyond float32, non-positive under log returns, stray
zero or negative values in a positive series) and moves that look wrong (spikes, splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import (
    BOKEH,
    MSFT,
    PRICES_CSV,
    broken_file_test,
    load_fails,
    loader_settings,
    random_walk_prices,
    sine,
    write_data,
    write_prices,
)
from lstm_forecast import api
from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.settings import TrainConfig

BROKEN = {
    "inf": (PRICES_CSV.replace(",105,", ",inf,"), ["line 5", "2020-01-04", "inf", "finite"]),
    "beyond float32": (PRICES_CSV.replace(",105,", ",1e39,"), ["line 5", "too large", "float32"]),
}


test_broken_file = broken_file_test(BROKEN)


def test_positive_prices_pass_the_positive_check(tmp_path):
    path = write_data(tmp_path, PRICES_CSV)
    assert len(load(path, LoadOptions(transform="log-return", max_gap=5)).series[0]) == 10


@pytest.mark.parametrize(("value", "line"), [("0", 6), ("-3.5", 6)])
def test_non_positive_prices_when_positive_is_needed(tmp_path, value, line):
    path = write_data(tmp_path, PRICES_CSV.replace(",106,", f",{value},"))
    load_fails(
        path, f"line {line}", "2020-01-05", "not positive", "--transform", transform="log-return"
    )
    assert len(load(path).series[0]) == 10


def test_bokeh_unadjusted_close_warns_about_splits():
    ds = load(BOKEH, LoadOptions(target="close"))
    splits = [w for w in ds.warnings if "split" in w]
    assert any("AAPL" in w and "2000-06-21" in w and "2005-02-28" in w for w in splits)
    assert any("MSFT" in w and "2003-02-18" in w for w in splits)
    assert not any("2000-09-29" in w for w in splits)  # a real crash, not a split


def test_msft_volume_does_not_flag_the_1987_crash():
    ds = load(MSFT)
    assert not any("split" in w for w in ds.warnings)
    assert not any("2001-09" in w for w in ds.warnings)  # NYSE closed after 9/11: no gap
    assert "column 'Close': 2 XNYS sessions without a row: 1998-10-29, 1999-11-16" in ds.warnings


# ---------------------------------------------------------------------------------------------
# values that never pass silently: stray signs and one-row spikes

DAYS = pd.bdate_range("2010-01-04", periods=1000)  # write_prices' dates; row i is line i + 2


def _stray_message(tmp_path, values, **options) -> str:
    return load_fails(write_prices(tmp_path / "prices.csv", values), **options)


def test_a_sign_flip_in_a_price_series_is_an_error_naming_its_line_and_date(tmp_path):
    values = random_walk_prices(1000, seed=1)
    values[500] *= -1
    message = _stray_message(tmp_path, values)
    assert message.endswith(
        f": column 'Close': 1 zero or negative value in 'Close' among 999 positive ones, at "
        f"line 502 ({DAYS[500].date()}): {values[500]:g}; fix the file, or use --transform diff "
        f"for a genuine negative print"
    )
    assert _stray_message(tmp_path, values, transform="auto") == message


def test_zeros_in_a_price_series_are_an_error_naming_each(tmp_path):
    values = random_walk_prices(1000, seed=2)
    values[[0, 300, 301]] = 0.0  # also a leading zero and a run of two
    message = _stray_message(tmp_path, values)
    assert "3 zero or negative values in 'Close' among 997 positive ones" in message
    assert f"line 2 ({DAYS[0].date()}): 0, line 302 ({DAYS[300].date()}): 0, line 303 " in message


def test_an_explicit_diff_or_none_transform_accepts_a_genuine_negative_print(tmp_path):
    values = random_walk_prices(1000, seed=1)
    values[500] *= -1
    path = write_prices(tmp_path / "prices.csv", values)
    for transform in ("diff", "none"):
        ds = load(path, LoadOptions(transform=transform))
        assert ds.series[0].values[500] == values[500] and not ds.warnings
    load_fails(path, "line 502", "not positive", transform="log-return")


def test_series_that_really_cross_zero_still_load(tmp_path):
    stretch = [1.1, -0.6, -2.4, -1.3, 0.4]  # a future trading through zero for a few days
    oil = np.concatenate([np.linspace(60, 2, 500), stretch, np.linspace(3, 30, 495)])
    oil += np.random.default_rng(3).normal(0, 0.3, 1000) * ~np.isin(
        np.arange(1000), range(498, 507)
    )
    spread = 2 * np.abs(np.linspace(-1, 1, 1000)) - 0.008  # dips below zero for a few rows
    spread += np.random.default_rng(4).normal(0, 0.002, 1000)
    for values in (oil, spread, 10 * sine(1000)):
        assert (values <= 0).any()
        ds = load(write_prices(tmp_path / "p.csv", values))
        np.testing.assert_array_equal(ds.series[0].values, values)


def test_a_one_row_spike_is_a_warning_naming_its_line_and_date(tmp_path):
    values = random_walk_prices(1000, seed=5)
    values[400] *= 100
    values[700] /= 10
    ds = load(write_prices(tmp_path / "prices.csv", values))
    (warning,) = [w for w in ds.warnings if "spike" in w]
    v = values
    assert warning == (
        f"column 'Close': one-row spikes in 'Close' at line 402 ({DAYS[400].date()}): {v[400]:g} "
        f"between {v[399]:g} and {v[401]:g}, line 702 ({DAYS[700].date()}): {v[700]:g} between "
        f"{v[699]:g} and {v[701]:g}; a misplaced decimal point or unit?"
    )
    found = api.inspect(write_prices(tmp_path / "prices.csv", values))
    assert warning in found["warnings"]
    np.testing.assert_array_equal(ds.series[0].values, values)  # a warning: nothing changed


def test_a_lasting_move_is_no_spike(tmp_path):
    values = random_walk_prices(200, seed=6)
    values[100:] *= 10  # a unit change that stays (or a 10:1 reverse split)
    ds = load(write_prices(tmp_path / "prices.csv", values))
    assert not any("spike" in w for w in ds.warnings)


@loader_settings()
@given(
    seed=st.integers(0, 10_000),
    row=st.integers(0, 999),
    flip=st.sampled_from([-1.0, 0.0, -0.01]),
    transform=st.sampled_from(["auto", "diff"]),
)
def test_one_stray_sign_in_any_random_walk_is_caught(tmp_path_factory, seed, row, flip, transform):
    values = random_walk_prices(1000, seed=seed, vol=0.02)
    values[row] *= flip
    path = write_prices(Path(tmp_path_factory.mktemp("sign")) / "p.csv", values)
    if transform == "auto":
        load_fails(path, f"line {row + 2} ({DAYS[row].date()})", "--transform diff")
    else:
        assert load(path, LoadOptions(transform=transform)).series[0].values[row] == values[row]


@loader_settings()
@given(seed=st.integers(0, 10_000), start=st.floats(-3, 3))
def test_gradual_zero_crossings_never_count_as_strays(tmp_path_factory, seed, start):
    values = start + np.cumsum(np.random.default_rng(seed).normal(0, 0.1, 1000))
    path = write_prices(Path(tmp_path_factory.mktemp("walk")) / "p.csv", values)
    np.testing.assert_array_equal(load(path).series[0].values, values)


@loader_settings()
@given(seed=st.integers(0, 10_000), row=st.integers(1, 998), factor=st.sampled_from([10, 100]))
def test_every_slipped_decimal_point_is_warned_about(tmp_path_factory, seed, row, factor):
    values = random_walk_prices(1000, seed=seed)
    clean = load(write_prices(Path(tmp_path_factory.mktemp("c")) / "p.csv", values))
    assert not any("spike" in w for w in clean.warnings)
    values[row] *= factor if seed % 2 else 1 / factor
    ds = load(write_prices(Path(tmp_path_factory.mktemp("s")) / "p.csv", values))
    (warning,) = [w for w in ds.warnings if "spike" in w]
    assert f"at line {row + 2} ({DAYS[row].date()}): {values[row]:g} between" in warning


def test_train_warns_about_spikes_and_accepts_an_explicit_diff(tmp_path):
    values = random_walk_prices(300, seed=7)
    values[150] *= 100
    values[200] *= -1
    path = write_prices(tmp_path / "prices.csv", values)
    tiny = dict(lookback=10, horizon=2, hidden=4, layers=1, epochs=1, seed=0)
    with pytest.raises(DataError, match=r"line 202 .*--transform diff"):
        api.train(path, tmp_path / "auto.lstm", TrainConfig(**tiny))
    said: list[str] = []
    result = api.train(
        path, tmp_path / "m.lstm", TrainConfig(**tiny, transform="diff"), notify=said.append
    )
    assert result.meta["transform"] == "diff" and (tmp_path / "m.lstm").exists()
    assert any(
        s.startswith("warning: column 'Close': one-row spike") and "line 152" in s for s in said
    )
