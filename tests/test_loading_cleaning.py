"""Cleaning: order, duplicates, leading and trailing gaps, fills up to --max-gap, short series."""

from __future__ import annotations

import pytest

from helpers import BOKEH, PRICES_CSV, broken_file_test, days_of, load_fails, read_data, write_data
from lstm_forecast.loading import LoadOptions, load

BROKEN = {
    "one row": (b"Date,Close\n2020-01-01,1\n", ["1 usable row,", "2 needed"]),
    "all missing": (b"Date,Close\n2020-01-01,\n2020-01-02,NaN\n", ["no values in 'Close'"]),
    "empty ticker": (b"Ticker,Date,Close\nA,2020-01-01,1\n,2020-01-02,2\n", ["line 3", "Ticker"]),
    "long gap": (
        "Date,Close\n"
        + "".join(f"2020-01-{d:02d},{d if d < 3 or d > 9 else ''}\n" for d in range(1, 11)),
        ["7 missing", "line 4", "2020-01-03", "2020-01-09", "--max-gap"],
    ),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"series": ["AAPL"]}, ["no series AAPL", "Close"]),
        ({"min_rows": 50}, ["10 usable rows", "50 needed"]),
    ],
)
def test_wrong_options(tmp_path, options, words):
    load_fails(write_data(tmp_path, PRICES_CSV), *words, **options)


def test_bokeh_series_selection_and_short_series():
    ds = load(BOKEH, LoadOptions(series=["MSFT", "FB"]))
    assert [s.name for s in ds.series] == ["MSFT", "FB"]
    ds = load(BOKEH, LoadOptions(min_rows=500))
    assert "FB" not in [s.name for s in ds.series]
    assert any("FB" in w and "skipped" in w for w in ds.warnings)
    load_fails(BOKEH, "no series", "FB", series=["FB"], min_rows=500)
    load_fails(BOKEH, "no series", "TSLA", "AAPL", series=["TSLA"])


def test_newest_first_is_sorted(tmp_path):
    lines = PRICES_CSV.splitlines()
    ds = read_data(tmp_path, "\n".join([lines[0], *reversed(lines[1:])]))
    assert days_of(ds)[0] == "2020-01-01" and ds.series[0].values[0] == 102
    assert any("newest-first" in n for n in ds.notes)


def test_exact_duplicates_are_dropped_and_conflicts_fail(tmp_path):
    lines = PRICES_CSV.splitlines()
    ds = read_data(tmp_path, "\n".join([*lines, lines[3]]))
    assert len(ds.series[0]) == 10 and any("duplicate" in n for n in ds.notes)
    path = write_data(tmp_path, "\n".join([*lines, "2020-01-03,1,2,3"]))
    load_fails(path, "2020-01-03", "lines 4, 12", "disagree")


def test_gap_longer_than_max_gap_fails_naming_the_span(tmp_path):
    rows = [f"2020-01-{d:02d},{'' if 3 <= d <= 5 else d}" for d in range(1, 11)]
    path = write_data(tmp_path, "Date,Close\n" + "\n".join(rows))
    load_fails(path, "3 missing", "2020-01-03", "2020-01-05", "--max-gap 2", max_gap=2)
    ds = load(path, LoadOptions(max_gap=3))
    assert ds.details["per_series"]["Close"]["filled"] == 3


def test_leading_and_trailing_missing_rows_are_dropped(tmp_path):
    rows = [f"2020-01-{d:02d},{d if 3 <= d <= 8 else ''}" for d in range(1, 11)]
    ds = read_data(tmp_path, "Date,Close\n" + "\n".join(rows))
    assert days_of(ds)[0] == "2020-01-03" and days_of(ds)[-1] == "2020-01-08"
    assert any("2 leading" in n for n in ds.notes)
    assert any("2 trailing" in w for w in ds.warnings)
