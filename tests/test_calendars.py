"""Trading calendars: forecast dates on sessions, bars in session hours, gaps, `auto`."""

from __future__ import annotations

import functools
import warnings

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import BOKEH, GOOG, MSFT
from lstm_forecast import calendar_inference, calendars
from lstm_forecast.calendar_inference import CANDIDATES, by_hours, infer
from lstm_forecast.calendars import Calendar, Gap
from lstm_forecast.errors import ConfigError, DataError, ModelFileError

NYSE_2018 = [  # the weekdays NYSE was closed in 2018 (Bush's day of mourning on 5 Dec)
    "2018-01-01", "2018-01-15", "2018-02-19", "2018-03-30", "2018-05-28",
    "2018-07-04", "2018-09-03", "2018-11-22", "2018-12-05", "2018-12-25",
]  # fmt: skip


@functools.cache
def exchange_sessions(
    code: str, start: str = "2000-01-01", end: str = "2026-12-31"
) -> pd.DatetimeIndex:
    """Sessions straight from exchange_calendars: the reference answer."""
    with warnings.catch_warnings():  # its deprecation notices under newer pandas
        warnings.simplefilter("ignore")
        return xcals.get_calendar(code, start=start, end=end).sessions


def nyse_2018(drop: tuple[str, ...] = ()) -> pd.DatetimeIndex:
    """The weekdays of 2018 without NYSE's holidays (and without `drop`)."""
    closed = pd.DatetimeIndex([*NYSE_2018, *drop])
    return pd.bdate_range("2018-01-01", "2018-12-31").difference(closed)


def iso_dates(values) -> list[str]:
    return [str(pd.Timestamp(v).date()) for v in values]


def stamps(values) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m-%d %H:%M") for v in values]


def bars(days: pd.DatetimeIndex, first: str, last: str, every: str) -> pd.DatetimeIndex:
    """Intraday stamps from `first` to `last` (times of day) on each of `days`."""
    return pd.DatetimeIndex(
        [
            t
            for d in days
            for t in pd.date_range(f"{d.date()} {first}", f"{d.date()} {last}", freq=every)
        ]
    )


# ---------------------------------------------------------------------------------------------
# forecast dates


def test_friday_before_labor_day_steps_to_tuesday():
    history = pd.bdate_range("2018-08-20", "2018-08-31")
    out = calendars.future_index(history, "B", 3, "XNYS")
    assert iso_dates(out.index) == ["2018-09-04", "2018-09-05", "2018-09-06"]
    assert out.note is None


@pytest.mark.parametrize(
    ("code", "freq", "expected"),
    [("weekdays", "B", ["2018-09-03", "2018-09-04"]), ("daily", "D", ["2018-09-01", "2018-09-02"])],
)
def test_plain_calendars_need_no_library(code, freq, expected):
    out = calendars.future_index(pd.bdate_range("2018-08-20", "2018-08-31"), freq, 2, code)
    assert iso_dates(out.index) == expected


@pytest.mark.parametrize(
    ("code", "freq"),
    [("none", "B"), ("XNYS", "W-FRI"), ("XNYS", "MS"), ("XNYS", None), ("weekdays", "5min")],
)
def test_the_data_own_arithmetic_applies_where_a_calendar_has_no_say(code, freq):
    assert calendars.future_index(pd.bdate_range("2018-01-01", periods=40), freq, 3, code) is None


def test_aliases_and_case_resolve_to_one_calendar():
    assert calendars.check_code("xnas") == "XNYS"
    assert calendars.check_code(" Weekdays ") == "weekdays"
    assert calendars.check_code("XETR") == "XETR"


def test_an_unknown_code_names_valid_ones():
    with pytest.raises(ConfigError) as err:
        calendars.check_code("XNSY")
    message = str(err.value)
    assert "unknown calendar 'XNSY'" in message
    assert "did you mean" in message and "XNYS" in message
    assert "weekdays" in message and "XLON" in message


# ---------------------------------------------------------------------------------------------
# intraday bars


def test_intraday_bars_stop_at_an_early_close_and_resume_at_the_next_open():
    history = bars(pd.bdate_range("2018-11-19", "2018-11-21"), "09:30", "15:55", "5min")
    out = calendars.future_index(history, "5min", 44, "XNYS")
    got = stamps(out.index)
    assert got[:2] == ["2018-11-23 09:30", "2018-11-23 09:35"]
    assert got[41] == "2018-11-23 12:55"  # Black Friday closes at 13:00
    assert got[42:] == ["2018-11-26 09:30", "2018-11-26 09:35"]
    assert "America/New_York" in out.note and "XNYS" in out.note


def test_bars_keep_the_exchange_local_clock_across_a_daylight_saving_change():
    history = bars(pd.bdate_range("2018-03-07", "2018-03-09"), "09:30", "15:30", "1h")
    got = stamps(calendars.future_index(history, "h", 8, "XNYS").index)
    assert got[0] == "2018-03-12 09:30" and got[6:] == ["2018-03-12 15:30", "2018-03-13 09:30"]


def test_bars_stamped_at_their_end_keep_the_close_and_skip_the_open():
    history = bars(pd.bdate_range("2018-11-19", "2018-11-20"), "10:00", "16:00", "30min")
    got = stamps(calendars.future_index(history, "30min", 14, "XNYS").index)
    assert got[0] == "2018-11-21 10:00"
    assert got[12] == "2018-11-21 16:00"
    assert got[13] == "2018-11-23 10:00"


def test_bars_skip_a_lunch_break():
    history = bars(pd.DatetimeIndex(["2019-01-04"]), "09:00", "11:00", "30min")
    history = history.append(bars(pd.DatetimeIndex(["2019-01-07"]), "09:00", "10:30", "30min"))
    got = stamps(calendars.future_index(history, "30min", 3, "XTKS").index)
    assert got == ["2019-01-07 11:00", "2019-01-07 12:30", "2019-01-07 13:00"]


def test_utc_stamps_are_placed_in_the_exchange_sessions_and_stay_utc():
    history = bars(pd.bdate_range("2018-11-19", "2018-11-21"), "14:30", "20:55", "5min")
    out = calendars.future_index(history, "5min", 43, "XNYS", tz="UTC")
    got = stamps(out.index)
    assert got[0] == "2018-11-23 14:30"
    assert got[41:] == ["2018-11-23 17:55", "2018-11-26 14:30"]  # 13:00 New York is 18:00 UTC
    assert "converted from UTC" in out.note


def test_tz_aware_stamps_come_back_on_their_own_clock():
    history = bars(pd.bdate_range("2018-11-19", "2018-11-21"), "15:30", "21:55", "5min")
    out = calendars.future_index(history.tz_localize("Europe/Paris"), "5min", 2, "XNYS")
    assert stamps(out.index) == ["2018-11-23 15:30", "2018-11-23 15:35"]
    assert "converted from Europe/Paris" in out.note


def test_stamps_outside_the_sessions_are_pointed_out():
    history = bars(pd.bdate_range("2018-11-19", "2018-11-21"), "14:30", "20:55", "5min")
    note = calendars.future_index(history, "5min", 3, "XNYS").note
    assert "inside those sessions" in note and "another zone" in note


# ---------------------------------------------------------------------------------------------
# inference (calendar_inference)


def test_a_file_skipping_thanksgiving_and_good_friday_is_nyse_also_known_as_nasdaq():
    found = infer(nyse_2018())
    assert found.code == "XNYS"
    assert "XNAS" in found.same_as
    assert found.skipped == len(NYSE_2018) - 1  # the data starts after New Year's Day
    assert "Thanksgiving" in found.reason or "Good Friday" in found.reason
    assert found.missing_sessions == () and found.holidays_with_rows == ()


def test_a_missing_tuesday_session_is_told_apart_from_holidays():
    found = infer(nyse_2018(drop=("2018-03-13",)))
    assert found.code == "XNYS"
    assert found.missing_sessions == ("2018-03-13",)
    assert "1 sessions have no row" in found.reason
    evidence = found.evidence()
    assert evidence["missing_sessions"] == {"count": 1, "dates": ["2018-03-13"]}
    assert evidence["holidays_skipped"] == len(NYSE_2018) - 1


def test_a_file_skipping_christmas_eve_boxing_day_and_may_day_is_xetra():
    weekdays = pd.bdate_range("2017-01-02", "2019-12-31")
    holidays = weekdays.difference(exchange_sessions("XETR"))
    assert {"2018-05-01", "2018-12-24", "2018-12-26"} <= set(iso_dates(holidays))
    found = infer(weekdays.difference(holidays))
    assert found.code == "XETR"
    assert found.skipped == len(holidays) - 1  # 31 Dec 2019 falls after the last row


@pytest.mark.parametrize("code", ["XLON", "XPAR", "XWAR", "XTKS", "XHKG", "XASX", "XTSE", "XSWX"])
def test_each_exchange_own_sessions_infer_it(code):
    found = infer(exchange_sessions(code, "2016-01-01", "2019-12-31"))
    assert code in (found.code, *found.same_as)
    assert found.missing_sessions == ()


@pytest.mark.parametrize("path", [GOOG, MSFT], ids=["goog", "msft"])
def test_us_stock_files_are_nyse(path):
    found = infer(pd.to_datetime(pd.read_csv(path, usecols=["Date"])["Date"]))
    assert found.code == "XNYS"
    assert found.holidays_with_rows == ()


def test_the_bundled_sample_misses_two_sessions():
    found = infer(pd.to_datetime(pd.read_csv(MSFT, usecols=["Date"])["Date"]))
    assert found.missing_sessions == ("1998-10-29", "1999-11-16")


def test_each_ticker_of_a_long_file_is_nyse():
    frame = pd.read_csv(BOKEH, usecols=["Ticker", "Date"], parse_dates=["Date"])
    for ticker in ("AAPL", "GOOG"):
        assert infer(frame.loc[frame.Ticker == ticker, "Date"]).code == "XNYS"


def test_weekend_rows_mean_daily():
    found = infer(pd.date_range("2018-01-01", "2018-06-30"))
    assert found.code == "daily"
    assert "weekend" in found.reason


def test_a_short_file_stays_on_weekdays_with_a_note():
    found = infer(pd.bdate_range("2018-01-02", "2018-01-19"))
    assert found.code == "weekdays"
    assert "too short" in found.reason


def test_weekdays_missing_at_random_fit_no_exchange():
    days = pd.bdate_range("2016-01-01", "2017-12-31")
    rng = np.random.default_rng(0)
    found = infer(days.delete(rng.choice(len(days), 25, replace=False)))
    assert found.code == "weekdays"
    assert "no exchange" in found.reason


def test_every_weekday_present_is_weekdays():
    found = infer(pd.bdate_range("2015-01-01", "2018-12-31"))
    assert found.code == "weekdays"


FIVE_MINUTES = int(pd.Timedelta("5min").value)


@pytest.mark.parametrize(
    ("code", "first", "last", "lunch"),
    [
        ("XNYS", "09:30", "15:55", None),  # also Toronto's hours: New York comes first
        ("XETR", "09:00", "17:25", None),  # also Paris's: Frankfurt comes first
        ("XLON", "08:00", "16:25", None),
        ("XHKG", "09:30", "15:55", ("12:00", "13:00")),
    ],
)
def test_a_few_weeks_of_bars_tell_the_exchange_by_its_trading_hours(code, first, last, lunch):
    data = bars(exchange_sessions(code, "2024-06-03", "2024-07-26"), first, last, "5min")
    if lunch:
        data = data[~((data.strftime("%H:%M") >= lunch[0]) & (data.strftime("%H:%M") < lunch[1]))]
    assert infer(data).code == "weekdays"  # too few holidays to tell by them
    found = by_hours(data, FIVE_MINUTES)
    assert found.code == code and "fill 100% of its trading hours" in found.reason


def test_bars_labelled_by_their_end_or_in_utc_or_thinly_traded_are_placed_alike():
    days = exchange_sessions("XNYS", "2024-06-03", "2024-07-26")
    sparse = bars(days, "09:30", "15:55", "5min")
    sparse = sparse[np.random.default_rng(0).random(len(sparse)) > 0.1]  # a tenth without trades
    assert by_hours(sparse, FIVE_MINUTES).code == "XNYS"
    assert by_hours(bars(days, "09:35", "16:00", "5min"), FIVE_MINUTES).code == "XNYS"
    utc = bars(days, "09:30", "15:55", "5min").tz_localize("America/New_York").tz_convert("UTC")
    assert by_hours(utc.tz_localize(None), FIVE_MINUTES, "UTC").code == "XNYS"


def test_bars_round_the_clock_or_in_extended_hours_fit_no_exchange():
    days = exchange_sessions("XNYS", "2024-06-03", "2024-07-26")
    assert by_hours(bars(days, "04:00", "19:55", "5min"), FIVE_MINUTES) is None
    weekdays = pd.bdate_range("2024-06-03", "2024-07-26")
    assert by_hours(bars(weekdays, "00:00", "23:55", "5min"), FIVE_MINUTES) is None
    assert by_hours(bars(weekdays, "09:30", "15:55", "5min"), FIVE_MINUTES) is None  # 4 July


@pytest.mark.parametrize("code", CANDIDATES)
def test_holiday_rules_read_fast_agree_with_the_library(code):
    span = np.arange(np.datetime64("2008-01-01"), np.datetime64("2020-01-01"))
    closed, _ = calendar_inference._closed_days(code, span)
    sessions = exchange_sessions(code, "2008-01-01", "2019-12-31").values.astype("datetime64[D]")
    assert np.array_equal(span[~closed], sessions)


# ---------------------------------------------------------------------------------------------
# gaps and ranges


def test_missing_sessions_are_gaps_and_holidays_are_not():
    cal = calendars.resolve("XNYS", "2018-01-01", "2018-12-31")
    data = nyse_2018(drop=("2018-03-13", "2018-07-02", "2018-07-03", "2018-07-05"))
    assert iso_dates(cal.missing_sessions(data)) == [
        "2018-03-13",
        "2018-07-02",
        "2018-07-03",
        "2018-07-05",
    ]
    assert cal.gaps(data) == [
        Gap(pd.Timestamp("2018-03-13"), pd.Timestamp("2018-03-13"), 1),
        Gap(pd.Timestamp("2018-07-02"), pd.Timestamp("2018-07-05"), 3),  # 4 July is a holiday
    ]
    weekdays = calendars.resolve("weekdays", "2018-01-01", "2018-12-31")
    assert weekdays.gaps(nyse_2018())[0] == Gap(
        pd.Timestamp("2018-01-15"), pd.Timestamp("2018-01-15"), 1
    )


def test_intraday_gaps_count_whole_sessions():
    days = pd.bdate_range("2018-11-19", "2018-11-27").difference(
        pd.DatetimeIndex(["2018-11-22", "2018-11-26"])
    )
    cal = calendars.resolve("XNYS", "2018-11-01", "2018-11-30")
    assert iso_dates(cal.missing_sessions(bars(days, "09:30", "15:55", "30min"))) == ["2018-11-26"]


def test_a_thirty_year_file_is_not_cut():
    sessions = exchange_sessions("XNYS", "1988-01-04", "2018-08-31")
    assert sessions[0] == pd.Timestamp("1988-01-04")
    data = sessions.delete(sessions.get_loc(pd.Timestamp("1989-06-13")))
    cal = calendars.resolve("XNYS", data[0], data[-1])
    assert cal.start == np.datetime64("1988-01-04")
    assert cal.end >= np.datetime64("2023-08-31")
    assert iso_dates(cal.missing_sessions(data)) == ["1989-06-13"]
    assert infer(data).missing_sessions == ("1989-06-13",)


def test_the_stored_calendar_is_used_while_current(monkeypatch):
    stored = Calendar.from_arrays(
        *calendars.resolve("XNYS", "2015-01-01", "2018-12-31").to_arrays(hours=False)
    )
    monkeypatch.setattr(calendars, "resolve", lambda *a: pytest.fail("library used"))
    out = calendars.future_index(pd.bdate_range("2018-08-20", "2018-08-31"), "B", 2, "XNYS", stored)
    assert iso_dates(out.index) == ["2018-09-04", "2018-09-05"]


def stored_xnys(version: str | None = None) -> Calendar:
    """XNYS as a model trained on 2010-2012 stores it, except that it lacks 2 January 2013."""
    meta, arrays = calendars.resolve("XNYS", "2010-01-01", "2012-12-31").to_arrays(hours=False)
    sessions = arrays["sessions"].astype("datetime64[D]")
    arrays["sessions"] = sessions[sessions != np.datetime64("2013-01-02")].astype("int64")
    return Calendar.from_arrays({**meta, "version": version or meta["version"]}, arrays)


def test_a_stored_calendar_from_another_library_version_is_recomputed():
    history = pd.bdate_range("2012-12-03", "2012-12-31").difference(
        pd.DatetimeIndex(["2012-12-25"])
    )
    current = calendars.future_index(history, "B", 2, "XNYS", stored_xnys())
    assert iso_dates(current.index) == ["2013-01-03", "2013-01-04"]  # what the model stored
    upgraded = calendars.future_index(history, "B", 2, "XNYS", stored_xnys(version="0.1"))
    assert iso_dates(upgraded.index) == ["2013-01-02", "2013-01-03"]


def test_the_library_version_is_read_without_importing_it():
    from importlib.metadata import version

    assert calendars.library_version() == version("exchange_calendars") == xcals.__version__


def test_a_model_used_past_its_stored_span_dates_from_the_library():
    assert stored_xnys().end < np.datetime64("2018-06-01")
    history = exchange_sessions("XNYS")[exchange_sessions("XNYS") <= "2018-08-31"][-30:]
    out = calendars.future_index(history, "B", 3, "XNYS", stored_xnys())
    assert iso_dates(out.index) == ["2018-09-04", "2018-09-05", "2018-09-06"]


def test_dates_past_the_library_range_are_an_error_naming_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bound = xcals.get_calendar("XSHG").bound_max()
    if bound is None:
        pytest.skip("this exchange_calendars knows XSHG without an end")
    history = exchange_sessions("XSHG", "2026-01-01", str(bound.date()))[-20:]
    with pytest.raises(DataError) as err:
        calendars.future_index(history, "B", 30, "XSHG")
    assert "XSHG" in str(err.value) and str(bound.date()) in str(err.value)
    assert "weekdays" in str(err.value)


def test_stored_calendars_round_trip_and_damage_is_reported():
    cal = calendars.resolve("XTKS", "2019-01-01", "2019-12-31")
    meta, arrays = cal.to_arrays(hours=True)
    back = Calendar.from_arrays(meta, arrays)
    assert np.array_equal(back.sessions, cal.sessions) and np.array_equal(back.hours, cal.hours)
    assert (back.tz, back.version, back.start, back.end) == (
        cal.tz,
        cal.version,
        cal.start,
        cal.end,
    )
    assert "hours" not in cal.to_arrays(hours=False)[1]
    with pytest.raises(ModelFileError, match="stored calendar is damaged"):
        Calendar.from_arrays(meta, {**arrays, "hours": arrays["hours"][:-1]})
    with pytest.raises(ModelFileError, match="stored calendar is damaged"):
        Calendar.from_arrays({k: v for k, v in meta.items() if k != "version"}, arrays)


# ---------------------------------------------------------------------------------------------
# property: forecast dates are the calendar's next sessions

SAMPLED = ("XNYS", "XLON", "XETR", "XTKS", "XHKG", "XASX", "XBOM")


@functools.cache
def stored_calendar(code: str) -> Calendar:
    return Calendar.from_arrays(
        *calendars.resolve(code, "2005-01-01", "2015-12-31").to_arrays(hours=False)
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.sampled_from(SAMPLED),
    day=st.dates(
        min_value=pd.Timestamp("2006-01-01").date(), max_value=pd.Timestamp("2019-12-31").date()
    ),
    steps=st.integers(1, 40),
)
def test_forecast_dates_are_the_calendar_next_sessions(code, day, steps):
    sessions = exchange_sessions(code)
    history = sessions[sessions <= pd.Timestamp(day)][-20:]
    out = calendars.future_index(history, "B", steps, code, stored_calendar(code))
    assert iso_dates(out.index) == iso_dates(sessions[sessions > history[-1]][:steps])
