"""How numbers and timestamps are written for people: exact strings."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_forecast.formats import MODEL_LABELS, number, timestamp


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 4, "-"),
        (float("nan"), 4, "-"),
        (float("-inf"), 4, "-"),
        (np.float64("nan"), 3, "-"),
        (True, 4, "yes"),
        (np.bool_(False), 4, "no"),
        (123456, 4, "123456"),
        (np.int64(-7), 4, "-7"),
        (3.14159265, 4, "3.142"),
        (3.14159265, 3, "3.14"),
        (1234567.0, 4, "1.235e+06"),
        (0.000123456, 4, "0.0001235"),
        (np.float32(0.5), 4, "0.5"),
        (12.5, 8, "12.5"),
        ("B", 4, "B"),
    ],
)
def test_number(value, digits, text):
    assert number(value, digits) == text


def test_wall_clock_seconds_are_written_in_utc_to_the_second():
    assert timestamp(0) == "1970-01-01T00:00:00+00:00"
    assert timestamp(1714555800.75) == "2024-05-01T09:30:00+00:00"
    assert timestamp(1714555800, date_only=True) == "2024-05-01"


def test_datetimes_are_written_as_they_are():
    assert timestamp(dt.datetime(2024, 5, 1, 9, 30)) == "2024-05-01T09:30:00"
    assert timestamp(dt.datetime(2024, 5, 1, 9, 30), date_only=True) == "2024-05-01"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert timestamp(dt.datetime(2024, 5, 1, 9, 30, tzinfo=plus_two)) == "2024-05-01T09:30:00+02:00"
    assert timestamp(pd.Timestamp("2024-05-01 09:30:00.123456789")) == "2024-05-01T09:30:00"


def test_numpy_timestamps_keep_their_shape():
    assert timestamp(np.datetime64("2024-05-01T09:30:00.5")) == "2024-05-01T09:30:00"
    assert timestamp(np.datetime64("1969-12-31T23:59:59.5")) == "1969-12-31T23:59:59"
    days = np.array(["2024-05-01", "2024-05-02"], dtype="datetime64[ns]")
    assert timestamp(days, date_only=True).tolist() == ["2024-05-01", "2024-05-02"]
    hours = np.array([["2024-05-01T10:00"], ["2024-05-01T11:00"]], dtype="datetime64[ns]")
    out = timestamp(hours)
    assert out.shape == (2, 1) and out.ravel().tolist() == [
        "2024-05-01T10:00:00",
        "2024-05-01T11:00:00",
    ]


moments = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 12, 31))


@given(moments, st.booleans())
def test_numpy_and_datetime_values_are_written_alike(moment, date_only):
    assert timestamp(np.datetime64(moment, "ns"), date_only=date_only) == timestamp(
        moment, date_only=date_only
    )
    assert dt.datetime.fromisoformat(timestamp(moment)) == moment.replace(microsecond=0)


@given(st.floats(min_value=0, max_value=4e9))
def test_wall_clock_text_reads_back_to_the_same_second(seconds):
    back = dt.datetime.fromisoformat(timestamp(seconds))
    assert back.tzinfo == dt.UTC and back.timestamp() == int(seconds)


def test_model_labels_name_the_lstm_and_every_baseline():
    assert MODEL_LABELS["lstm"] == "LSTM" and MODEL_LABELS["naive"] == "naive (random walk)"
    baselines = {"naive", "drift", "seasonal_naive", "mean", "garch", "ewma"}
    assert set(MODEL_LABELS) == {"lstm", *baselines}


def test_importing_it_costs_nothing():
    code = "import sys, lstm_forecast.formats; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
