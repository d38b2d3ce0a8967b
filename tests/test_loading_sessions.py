"""The loader's sessions stage: which trading calendar a file follows, and the sessions it has no
row for (holidays are none)."""

from __future__ import annotations

import json
import warnings

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from helpers import GOOG, run_cli, write_data
from lstm_forecast import api
from lstm_forecast.errors import ConfigError
from lstm_forecast.loading import LoadOptions, load


def sessions(code: str, start: str, end: str) -> pd.DatetimeIndex:
    """An exchange's sessions straight from exchange_calendars."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xcals.get_calendar(code, start=start, end=end).sessions


def write_days(tmp_path, days: pd.DatetimeIndex, name: str = "prices.csv"):
    """A price file with one row on each of `days` (a random walk)."""
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, len(days))))
    text = "Date,Close\n" + "".join(
        f"{d.date()},{c:.4f}\n" for d, c in zip(days, close, strict=True)
    )
    return write_data(tmp_path, text, name)


@pytest.mark.parametrize(("code", "holiday"), [("XETR", "2018-12-24"), ("XNYS", "2018-11-22")])
def test_generated_files_skipping_an_exchange_holidays_are_that_exchange(tmp_path, code, holiday):
    path = write_days(tmp_path, sessions(code, "2016-01-04", "2019-06-28"))
    proc = run_cli("inspect", path, "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    cal = found["calendar"]
    assert (cal["code"], cal["chosen"]) == (code, "inferred")
    assert cal["missing_sessions"] == {"count": 0, "dates": []}
    assert cal["holidays_with_rows"] == {"count": 0, "dates": []}
    assert cal["holidays_skipped"] >= 25 and cal["sessions"]["from"] == "2016-01-04"
    assert cal["sessions"]["to"] >= "2024-06-28"  # five years past the data's end
    assert found["warnings"] == [] and found["series"][0]["gaps"] == []
    assert holiday not in proc.stdout.split('"sessions"')[0]  # a holiday is no missing session


def test_a_missing_session_is_a_gap_named_and_holidays_are_not(tmp_path):
    frame = pd.read_csv(GOOG)
    dropped = ["2017-03-14", "2017-07-05", "2017-07-06"]  # around 4 July: sessions, not holidays
    path = tmp_path / "goog.csv"
    frame[~frame["Date"].isin(dropped)].to_csv(path, index=False)
    ds = load(path)
    assert ds.exchange == "XNYS"
    assert ds.warnings == [
        "column 'Adj Close': 3 XNYS sessions without a row: 2017-03-14, 2017-07-05 to 2017-07-06"
    ]
    assert ds.calendar_info["missing_sessions"]["dates"] == dropped
    assert ds.details["per_series"]["Adj Close"]["gaps"] == [
        ["2017-03-14", "2017-03-14"],
        ["2017-07-05", "2017-07-06"],
    ]


def test_empty_rows_on_holidays_are_dropped_not_filled(tmp_path):
    days = pd.bdate_range("2016-01-04", "2019-12-20")
    open_days = sessions("XETR", "2016-01-04", "2019-12-20")
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(days))))
    cells = [f"{c:.4f}" if d in open_days else "null" for d, c in zip(days, closes, strict=True)]
    cells[300] = "null"  # a session without a value: that one is filled
    text = "Date,Close\n" + "".join(f"{d.date()},{c}\n" for d, c in zip(days, cells, strict=True))
    ds = load(write_data(tmp_path, text))
    assert ds.exchange == "XETR"
    assert [str(d)[:10] for d in ds.series[0].index] == [str(d.date()) for d in open_days]
    assert ds.details["per_series"]["Close"]["filled"] == 1
    (warning,) = ds.warnings
    assert warning.startswith("column 'Close': forward-filled 30 missing 'Close' values")
    assert warning.endswith(
        "of these, 29 rows without a value on XETR holidays (2016-03-25, 2016-03-28, "
        "2016-05-16, ...) were dropped instead: no sessions"
    )
    assert ds.calendar_info["holidays_with_rows"]["count"] == 0


def test_an_explicit_exchange_is_used_and_its_evidence_shown(tmp_path):
    ds = load(GOOG, LoadOptions(exchange="nyse"))  # an alias, any case
    assert (ds.exchange, ds.calendar_info["chosen"]) == ("XNYS", "given")
    assert ds.warnings == [] and not any("trading calendar" in n for n in ds.notes)
    wrong = load(GOOG, LoadOptions(exchange="XETR"))  # German holidays: US ones look missing
    assert wrong.calendar_info["holidays_with_rows"]["count"] > 10
    assert any("XETR sessions without a row" in w for w in wrong.warnings)
    with pytest.raises(ConfigError, match=r"unknown calendar 'XNSY' .*did you mean XNYS"):
        load(GOOG, LoadOptions(exchange="XNSY"))


def test_weekdays_and_none_keep_the_data_own_gap_rule(tmp_path):
    days = pd.bdate_range("2018-01-01", "2018-12-31")
    path = write_days(tmp_path, days.delete(range(100, 110)))  # two weeks missing
    for code in ("weekdays", "none"):
        ds = load(path, LoadOptions(exchange=code))
        assert ds.exchange == code and (ds.calendar is None) == (code == "none")
        (warning,) = ds.warnings
        assert "1 gap in the dates (over 2 business days missing)" in warning


def test_weekly_data_need_no_calendar(tmp_path):
    path = write_days(tmp_path, pd.date_range("2015-01-02", periods=200, freq="W-FRI"))
    ds = load(path)
    assert ds.exchange == "none" and ds.calendar is None
    assert ds.calendar_info["reason"] == "W-FRI data: dates continue the data's own steps"


def test_a_plain_sequence_has_no_calendar(tmp_path):
    found = api.inspect(write_data(tmp_path, "v\n1\n2\n3\n4\n"))
    assert found["calendar"] is None


def bars_of(days: pd.DatetimeIndex) -> list[pd.Timestamp]:
    """Half-hour bars 09:30 to 15:30 (New York time) on each of `days`."""
    return [d + pd.Timedelta(minutes=570 + 30 * k) for d in days for k in range(13)]


def test_naive_intraday_times_are_read_as_the_exchange_local_time(tmp_path):
    days = sessions("XNYS", "2017-06-01", "2018-08-31")
    text = "Datetime,Close\n" + "".join(f"{t},{100 + i % 7}\n" for i, t in enumerate(bars_of(days)))
    ds = load(write_data(tmp_path, text))
    assert ds.exchange == "XNYS" and ds.clock is None and ds.calendar.hours is not None
    clock = ds.calendar_info["clock"]
    assert clock == (
        "intraday times read as XNYS's local time (America/New_York): the file gives no UTC offsets"
    )
    assert clock in ds.notes and ds.warnings == []


def test_a_few_weeks_of_intraday_bars_are_placed_by_the_trading_hours_they_fill(tmp_path):
    days = sessions("XNYS", "2024-06-03", "2024-08-09")  # one holiday: too few to tell by
    text = "Datetime,Close\n" + "".join(f"{t},{100 + i % 7}\n" for i, t in enumerate(bars_of(days)))
    ds = load(write_data(tmp_path, text))
    assert ds.exchange == "XNYS" and ds.calendar_info["chosen"] == "inferred"
    assert ds.calendar_info["reason"].startswith("the bars fill 100% of its trading hours")


def test_intraday_times_with_offsets_are_placed_by_utc_and_others_are_pointed_out(tmp_path):
    days = sessions("XNYS", "2017-06-01", "2018-08-31")
    stamps = pd.DatetimeIndex(bars_of(days)).tz_localize("America/New_York")
    text = "Datetime,Close\n" + "".join(
        f"{t.isoformat()},{100 + i % 7}\n" for i, t in enumerate(stamps)
    )
    ds = load(write_data(tmp_path, text))
    assert ds.clock == "UTC" and ds.warnings == []
    assert ds.calendar_info["clock"].startswith("intraday times in UTC (from the file's offsets)")
    shifted = "Datetime,Close\n" + "".join(  # New York times written as if Tokyo's
        f"{t + pd.Timedelta(hours=13)},{100 + i % 7}\n" for i, t in enumerate(bars_of(days))
    )
    ds = load(write_data(tmp_path, shifted), LoadOptions(exchange="XNYS"))
    assert any("of the bars fall inside XNYS's trading hours" in w for w in ds.warnings)
