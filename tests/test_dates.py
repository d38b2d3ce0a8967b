"""Forecast timestamps: sessions of the data's trading calendar, else the series' own steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_forecast.forecasting import format_index, future_index


@pytest.mark.parametrize(
    ("dates", "freq", "expected"),
    [
        (pd.bdate_range("2018-08-20", "2018-08-31"), "B", ["2018-09-03", "2018-09-04"]),  # none
        (pd.date_range("2020-01-01", periods=30), "D", ["2020-01-31", "2020-02-01"]),
        (pd.date_range("2019-01-31", periods=13, freq="ME"), "ME", ["2020-02-29", "2020-03-31"]),
        (pd.date_range("2019-01-01", periods=13, freq="MS"), "MS", ["2020-02-01", "2020-03-01"]),
        (
            pd.date_range("2024-01-05", periods=20, freq="W-FRI"),
            "W-FRI",
            ["2024-05-24", "2024-05-31"],
        ),
    ],
)
def test_daily_and_coarser_on_the_data_own_steps(dates, freq, expected):
    out = future_index(dates.to_numpy("datetime64[ns]"), freq, 2, "none")
    assert list(format_index(out.index, freq)) == expected


def test_the_friday_before_labor_day_is_followed_by_the_next_nyse_session():
    dates = pd.bdate_range("2018-08-20", "2018-08-31").to_numpy("datetime64[ns]")
    assert list(format_index(future_index(dates, "B", 2, "XNYS").index, "B")) == [
        "2018-09-04",
        "2018-09-05",
    ]


def test_weekly_data_keep_their_own_steps_on_any_calendar():
    dates = pd.date_range("2024-01-05", periods=20, freq="W-FRI").to_numpy("datetime64[ns]")
    out = future_index(dates, "W-FRI", 2, "XNYS")
    assert list(format_index(out.index, "W-FRI")) == ["2024-05-24", "2024-05-31"]


def test_intraday_steps_stay_in_the_trading_session():
    days = pd.bdate_range("2024-01-01", periods=10)
    bars = [d + pd.Timedelta(minutes=570 + 5 * k) for d in days for k in range(78)]  # 9:30-15:55
    out = future_index(pd.DatetimeIndex(bars).to_numpy("datetime64[ns]"), "5min", 3, "none")
    assert list(format_index(out.index, "5min")) == [
        "2024-01-15T09:30:00",
        "2024-01-15T09:35:00",
        "2024-01-15T09:40:00",
    ]


def test_round_the_clock_data_keeps_every_hour():
    hours = pd.date_range("2024-01-01", periods=24 * 14, freq="h")
    out = future_index(hours.to_numpy("datetime64[ns]"), "h", 2, "daily")
    assert list(format_index(out.index, "h")) == ["2024-01-15T00:00:00", "2024-01-15T01:00:00"]


def test_plain_sequences_count_rows():
    assert future_index(np.arange(100), None, 3).index.tolist() == [100, 101, 102]


def test_intraday_bars_after_a_friday_close_skip_a_monday_holiday():
    days = pd.bdate_range("2024-01-02", "2024-01-12")  # Monday 15 January is MLK Day
    bars = [d + pd.Timedelta(minutes=570 + 5 * k) for d in days for k in range(78)]
    out = future_index(pd.DatetimeIndex(bars).to_numpy("datetime64[ns]"), "5min", 2, "XNYS")
    assert list(format_index(out.index, "5min")) == ["2024-01-16T09:30:00", "2024-01-16T09:35:00"]
    assert "America/New_York" in out.note
