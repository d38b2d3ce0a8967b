"""Frequency: the offset alias of the typical step, and unusual gaps in the dates."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import read_data


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (pd.bdate_range("2020-01-01", periods=30), "B"),
        (pd.date_range("2020-01-01", periods=30), "D"),
        (pd.date_range("2020-01-03", periods=30, freq="W-FRI"), "W-FRI"),
        (pd.date_range("2020-01-01", periods=30, freq="MS"), "MS"),
        (pd.date_range("2020-01-31", periods=30, freq="ME"), "ME"),
        (pd.date_range("2020-01-01", periods=12, freq="QS"), "QS"),
        (pd.date_range("2020-01-01", periods=48, freq="h"), "h"),
        (pd.date_range("2020-01-01 09:30", periods=40, freq="5min"), "5min"),
    ],
)
def test_frequency(tmp_path, dates, expected):
    text = "Date,Close\n" + "".join(f"{d.isoformat()},{i + 1}\n" for i, d in enumerate(dates))
    assert read_data(tmp_path, text).frequency == expected


def test_long_gaps_are_reported(tmp_path):
    dates = pd.bdate_range("2020-01-01", periods=40).delete(range(10, 15))
    text = "Date,Close\n" + "".join(f"{d.date()},{i + 1}\n" for i, d in enumerate(dates))
    ds = read_data(tmp_path, text)
    assert ds.frequency == "B" and any("1 gap" in w and "2020-01-14" in w for w in ds.warnings)
