"""Typed timestamps with a time zone: daily data keeps its dates, intraday data becomes UTC."""

from __future__ import annotations

import pandas as pd

from lstm_forecast.typed_dates import naive_timestamps

DAYS = pd.bdate_range("2024-03-04", periods=10)  # spans the US change to summer time


def iso(values: pd.Series) -> list[str]:
    return values.dt.strftime("%Y-%m-%d %H:%M").tolist()


def test_naive_values_are_left_alone():
    values = pd.Series(DAYS)
    got, note = naive_timestamps(values)
    assert got is values and note is None


def test_daily_local_midnights_keep_their_dates():
    for zone in ("America/New_York", "Asia/Tokyo", "UTC"):
        got, note = naive_timestamps(pd.Series(DAYS.tz_localize(zone)))
        assert iso(got) == iso(pd.Series(DAYS)), zone
        assert "local calendar dates" in note


def test_daily_utc_midnights_shown_in_another_zone_keep_their_utc_dates():
    shown = pd.Series(DAYS.tz_localize("UTC").tz_convert("America/Chicago"))
    assert iso(shown)[0] == "2024-03-03 18:00"  # what the session shows: the day before
    got, note = naive_timestamps(shown)
    assert iso(got) == iso(pd.Series(DAYS)) and "UTC midnight" in note


def test_intraday_becomes_utc():
    bars = pd.date_range("2024-03-08 09:30", periods=20, freq="30min", tz="America/New_York")
    got, note = naive_timestamps(pd.Series(bars))
    assert iso(got)[0] == "2024-03-08 14:30" and "UTC" in note
