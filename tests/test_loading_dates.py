"""Dates: day/month order from the whole column, shapes, time zones, epochs, bad dates."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import (
    MSFT,
    PRICES_CSV,
    broken_file_test,
    days_of,
    load_fails,
    read_data,
    stamps_of,
    write_data,
)
from lstm_forecast.loading import LoadOptions, load

BROKEN = {
    "missing date": (PRICES_CSV.replace("2020-01-04", ""), ["line 5", "missing date"]),
    "bad date": (PRICES_CSV.replace("2020-01-04", "2020-13-45"), ["line 5", "2020-13-45", "date"]),
    "placeholder date": (
        PRICES_CSV.replace("2020-01-04", "9999-12-31"),
        ["line 5", "9999-12-31", "1677"],
    ),
    "epoch far out": (
        b"timestamp,price\n1577836800,1\n9577837640,2\n1577837000,3\n",
        ["line 3", "9577837640", "2262"],
    ),
    "footer": (
        PRICES_CSV + "Data provided by Example Inc.,,,\n",
        ["line 12", "Data provided", "date"],
    ),
    "ambiguous dates": (b"Date,Close\n01/02/2020,1\n01/03/2020,2\n", ["--dayfirst"]),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"date_format": "%d/%m/%Y"}, ["line 2", "2020-01-01", "--date-format"]),
        ({"date_format": "%Q"}, ["--date-format %Q", "bad directive"]),
    ],
)
def test_wrong_date_format(tmp_path, options, words):
    load_fails(write_data(tmp_path, PRICES_CSV), *words, **options)


def test_msft_with_two_digit_day_first_dates(tmp_path):
    frame = pd.read_csv(MSFT, dtype=str)
    frame["Date"] = pd.to_datetime(frame["Date"]).dt.strftime("%d-%m-%y")
    path = tmp_path / "msft_dmy.csv"
    frame.to_csv(path, index=False)
    ds = load(path)
    assert ds.details["date_format"] == "%d-%m-%y"
    assert days_of(ds)[0] == "1986-03-13" and days_of(ds)[-1] == "2017-11-10"
    assert len(ds.series[0]) == 7983 and ds.target == "Close"
    assert ds.frequency == "B"


def _dates(values: list[str], close: str = "1") -> str:
    return "Date,Close\n" + "".join(f"{v},{close}\n" for v in values)


def test_day_first_decided_from_the_whole_column(tmp_path):
    values = [f"{d:02d}/02/2020" for d in range(1, 16)]  # 01/02 .. 12/02 read both ways
    ds = read_data(tmp_path, _dates(values))
    assert days_of(ds)[0] == "2020-02-01" and ds.details["date_format"] == "%d/%m/%Y"


def test_month_first_decided_from_the_whole_column(tmp_path):
    values = [f"02/{d:02d}/2020" for d in range(1, 16)]
    ds = read_data(tmp_path, _dates(values))
    assert days_of(ds)[0] == "2020-02-01" and ds.details["date_format"] == "%m/%d/%Y"


def test_order_decides_when_both_readings_are_valid(tmp_path):
    values = [f"01/{m:02d}/2020" for m in range(1, 13)] + ["02/01/2020"]
    ds = read_data(tmp_path, _dates(values))  # only month/day runs in order
    assert days_of(ds)[:2] == ["2020-01-01", "2020-01-02"] and days_of(ds)[-1] == "2020-02-01"


def test_ambiguous_dates_are_an_error_not_a_guess(tmp_path):
    path = write_data(tmp_path, _dates(["01/02/2020", "01/03/2020", "01/04/2020"]))
    load_fails(path, "--dayfirst", "--monthfirst", "'Date'")
    assert days_of(load(path, LoadOptions(dayfirst=True)))[0] == "2020-02-01"
    assert days_of(load(path, LoadOptions(dayfirst=False)))[0] == "2020-01-02"
    assert days_of(load(path, LoadOptions(date_format="%m/%d/%Y")))[0] == "2020-01-02"


@pytest.mark.parametrize(
    ("values", "first"),
    [
        (["Jan 2 2020", "Jan 3 2020", "Feb 13 2020"], "2020-01-02"),
        (["19-Sep-03", "22-Sep-03", "23-Sep-03"], "2003-09-19"),
        (['"September 19, 2003"', '"September 22, 2003"', '"Oct 1, 2003"'], "2003-09-19"),
        (["03-01-00", "04-01-00", "05-01-00", "13-01-00"], "2000-01-03"),
        (["20200102", "20200103", "20200106"], "2020-01-02"),
        (["2020-01", "2020-02", "2020-03"], "2020-01-01"),
        (["2020/01/02", "2020/01/03", "2020/01/06"], "2020-01-02"),
        (["2.1.2020", "3.1.2020", "13.1.2020"], "2020-01-02"),
    ],
)
def test_date_shapes(tmp_path, values, first):
    assert days_of(read_data(tmp_path, _dates(values)))[0] == first


def test_foreign_month_names_fail_clearly(tmp_path):
    path = write_data(tmp_path, _dates(["01.Mär.2020", "02.Mär.2020"]))
    load_fails(path, "line 2", "01.Mär.2020", "date", "'Date'")


def test_intraday_offsets_are_converted_to_utc(tmp_path):
    values = ["2020-03-06T09:30:00-05:00", "2020-03-06T09:35:00-05:00", "2020-03-06T09:40:00-05:00"]
    ds = read_data(tmp_path, _dates(values))
    assert stamps_of(ds)[0] == "2020-03-06T14:30:00" and ds.frequency == "5min"
    assert any("UTC" in n for n in ds.notes)


def test_daily_offsets_keep_local_calendar_dates(tmp_path):
    values = [f"2020-03-{d:02d}T00:00:00+09:00" for d in range(2, 7)]
    ds = read_data(tmp_path, _dates(values))
    assert days_of(ds) == ["2020-03-02", "2020-03-03", "2020-03-04", "2020-03-05", "2020-03-06"]
    assert ds.frequency == "B"


def test_epoch_seconds_and_milliseconds_in_time_columns(tmp_path):
    start = 1577836800  # 2020-01-01 00:00:00 UTC
    text = "timestamp,price\n" + "".join(f"{start + 60 * i},{i + 1}\n" for i in range(5))
    ds = read_data(tmp_path, text)
    assert stamps_of(ds)[1] == "2020-01-01T00:01:00" and ds.frequency == "1min"
    text = "time,price\n" + "".join(f"{(start + 3600 * i) * 1000},{i + 1}\n" for i in range(5))
    assert stamps_of(read_data(tmp_path, text))[1] == "2020-01-01T01:00:00"


def _minute_bars(days: pd.DatetimeIndex, stamp) -> str:
    """9:30-15:59 one-minute bars on each day, stamped by `stamp`."""
    bars = [d + pd.Timedelta(minutes=570 + k) for d in days for k in range(390)]
    return "Date,Close\n" + "".join(f"{stamp(t)},{100 + i / 100:.2f}\n" for i, t in enumerate(bars))


def test_ambiguous_intraday_dates_read_the_way_that_keeps_them_regular(tmp_path):
    """Four November sessions, M/D/YYYY H:MM: day-first would be 11 Feb, 11 Mar, ... 2020."""
    text = _minute_bars(
        pd.bdate_range("2020-11-02", periods=4), lambda t: f"{t:%-m/%-d/%Y} {t.hour}:{t:%M}"
    )
    ds = read_data(tmp_path, text)
    assert ds.details["date_format"] == "%m/%d/%Y %H:%M" and ds.frequency == "1min"
    assert stamps_of(ds)[0] == "2020-11-02T09:30:00" and stamps_of(ds)[-1] == "2020-11-05T15:59:00"
    assert (
        "dates in column 'Date' read as %m/%d/%Y %H:%M (every day number is 12 or less; as "
        "%d/%m/%Y %H:%M, rows 1 minute apart would jump by 30 days)"
    ) in ds.notes
    day_first = read_data(tmp_path, text, dayfirst=True)  # the options still win
    assert stamps_of(day_first)[0] == "2020-02-11T09:30:00"


def test_ambiguous_intraday_dates_that_would_fall_on_weekends(tmp_path):
    """One session: both readings are single days, but day-first puts it on a Sunday."""
    text = _minute_bars(pd.DatetimeIndex(["2020-10-05"]), lambda t: f"{t:%m/%d/%Y %H:%M}")
    ds = read_data(tmp_path, text)
    assert stamps_of(ds)[0] == "2020-10-05T09:30:00"
    assert any("as %d/%m/%Y %H:%M, 100% of the rows would fall on weekends" in n for n in ds.notes)


def test_dates_regular_both_ways_are_still_asked_about(tmp_path):
    """Daily Jan 2, 3, 6 ... or the 1st of Feb, Mar, Jun ...: both plausible."""
    values = [f"01/{d:02d}/2020" for d in (2, 3, 6, 7, 8, 9, 10)]
    load_fails(write_data(tmp_path, _dates(values)), "--dayfirst", "--monthfirst")
