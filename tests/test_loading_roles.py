"""Roles: the date, time, series, target and feature columns, by name, content or option."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import (
    BOKEH,
    GOOG,
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
    "only dates": (b"Date\n2020-01-01\n2020-01-02\n", ["no numeric column"]),
    "text close": (
        b"Date,Open,Close\n2020-01-01,1,abc\n2020-01-02,2,def\n",
        ["'Close' is not numeric", "'abc'"],
    ),
    "long file, no close": (
        b"Ticker,Date,A,B\nX,2020-01-01,1,2\nX,2020-01-02,1,2\n",
        ["--target", "A, B"],
    ),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"target": "Adj Close"}, ["no numeric target column 'Adj Close'", "Open, Close"]),
        ({"target": "Open,Nope"}, ["'Nope'"]),
        ({"date_col": "When"}, ["no date column 'When'"]),
        ({"series_col": "Ticker"}, ["no series column 'Ticker'"]),
        ({"features": ["Nope"]}, ["feature", "'Nope'"]),
    ],
)
def test_wrong_options(tmp_path, options, words):
    load_fails(write_data(tmp_path, PRICES_CSV), *words, **options)


def test_goog_yahoo_picks_adjusted_close():
    ds = load(GOOG)
    assert ds.target == "Adj Close" and ds.date_column == "Date" and ds.frequency == "B"
    assert [s.name for s in ds.series] == ["Adj Close"]
    assert len(ds.series[0]) == 3379
    assert days_of(ds)[0] == "2004-08-19" and days_of(ds)[-1] == "2018-01-19"
    assert any("Adj Close" in n for n in ds.notes)
    assert not ds.warnings


def test_bokeh_long_file():
    ds = load(BOKEH)
    rows = {s.name: len(s) for s in ds.series}
    assert rows == {"AAPL": 3270, "IBM": 3270, "MSFT": 3270, "GOOG": 2148, "FB": 196}
    aapl = ds.select(["AAPL"]).series[0]
    assert aapl.values[0] == 4.186662803811
    assert str(aapl.index[0])[:10] == "2000-03-01" and str(aapl.index[-1])[:10] == "2013-03-01"
    goog = ds.select(["GOOG"]).series[0]
    assert str(goog.index[0])[:10] == "2004-08-19"
    assert ds.target == "Adj Close" and ds.details["series_column"] == "Ticker"
    assert not any("split" in w for w in ds.warnings)  # the adjusted close is smooth


def test_sine_sequence_without_dates(tmp_path):
    values = np.sin(np.arange(500) * 0.1)
    ds = read_data(tmp_path, "sinewave\n" + "".join(f"{float(v)!r}\n" for v in values))
    assert ds.date_column is None and ds.frequency is None and not ds.dated
    assert ds.series[0].name == "sinewave" and ds.target == "sinewave"
    np.testing.assert_array_equal(ds.series[0].values, values)
    np.testing.assert_array_equal(ds.series[0].index, np.arange(500))


@pytest.mark.parametrize("name", ["Date", "Datetime", "Timestamp", "Datum", "Fecha", "Data", "day"])
def test_date_column_by_name(tmp_path, name):
    ds = read_data(tmp_path, PRICES_CSV.replace("Date", name))
    assert ds.date_column == name and days_of(ds)[0] == "2020-01-01"


def test_date_column_by_content_and_option(tmp_path):
    ds = read_data(tmp_path, PRICES_CSV.replace("Date", "When"))
    assert ds.date_column == "When"
    ds = read_data(tmp_path, PRICES_CSV.replace("Date", "When"), date_col="when")
    assert ds.date_column == "When"


def test_date_and_time_columns_are_combined(tmp_path):
    rows = "".join(f"01/02/2020,{9 + h}:00,{100 + h}\n" for h in range(6))
    ds = read_data(tmp_path, "Date,Time,Close\n" + rows, dayfirst=False)
    assert ds.date_column == "Date + Time" and ds.frequency == "h"
    assert stamps_of(ds)[:2] == ["2020-01-02T09:00:00", "2020-01-02T10:00:00"]


def test_epoch_like_numbers_elsewhere_are_just_numbers(tmp_path):
    text = "x,value\n" + "".join(f"{1577836800 + i},{i}\n" for i in range(5))
    ds = read_data(tmp_path, text)
    assert ds.date_column is None and ds.target == "value"


def test_step_column_makes_a_plain_sequence(tmp_path):
    ds = read_data(tmp_path, "step,value\n" + "".join(f"{i},{i * 2}\n" for i in range(5)))
    assert ds.date_column is None and ds.target == "value"
    ds = read_data(tmp_path, "day,value\n" + "".join(f"{i},{i * 2}\n" for i in range(1, 6)))
    assert ds.date_column is None and any("numbers the rows" in n for n in ds.notes)


@pytest.mark.parametrize("given", ["close", " CLOSE ", "Close"])
def test_target_ignores_case_and_spaces(tmp_path, given):
    assert read_data(tmp_path, PRICES_CSV, target=given).target == "Close"
    text = PRICES_CSV.replace("Close", "Adj Close")
    assert read_data(tmp_path, text, target="adjclose").target == "Adj Close"


def test_default_target_order(tmp_path):
    text = "Date,Open,Price\n2020-01-01,1,2\n2020-01-02,1,3\n"
    assert read_data(tmp_path, text).target == "Price"
    assert read_data(tmp_path, "Date,Volume\n2020-01-01,1\n2020-01-02,1\n").target == "Volume"


def test_wide_layout(tmp_path):
    text = "Date,AAPL,MSFT,GOOG\n2020-01-01,1,10,\n2020-01-02,2,11,100\n2020-01-03,3,12,101\n"
    ds = read_data(tmp_path, text)
    assert [s.name for s in ds.series] == ["AAPL", "MSFT", "GOOG"]
    assert ds.details["layout"] == "wide"
    assert days_of(ds, 2) == ["2020-01-02", "2020-01-03"]  # each series keeps its own dates
    ds = read_data(tmp_path, text, target="aapl,msft")
    assert [s.name for s in ds.series] == ["AAPL", "MSFT"] and ds.target == "AAPL,MSFT"
    everything = read_data(tmp_path, PRICES_CSV, target="all")
    assert [s.name for s in everything.series] == ["Open", "Close", "Volume"]
    assert [s.name for s in read_data(tmp_path, text, series=["GOOG"]).series] == ["GOOG"]


def test_long_layout_found_by_series_column(tmp_path):
    rows = [f"2020-01-0{d},{t},{i * 10 + d}" for i, t in enumerate("AB") for d in (1, 2, 3)]
    ds = read_data(tmp_path, "Date,Symbol,Close\n" + "\n".join(rows))
    assert [s.name for s in ds.series] == ["A", "B"]
    assert ds.series[1].values.tolist() == [11, 12, 13]
    ds = read_data(tmp_path, "Date,Group,Close\n" + "\n".join(rows), series_col="group")
    assert [s.name for s in ds.series] == ["A", "B"]


def test_features_are_read_beside_the_target(tmp_path):
    ds = read_data(tmp_path, PRICES_CSV, features=["volume"])
    assert ds.feature_names == ["Volume"]
    assert ds.series[0].features[:, 0].tolist()[:2] == [1000, 2000]


def test_text_column_as_target(tmp_path):
    path = write_data(tmp_path, "Date,Name,Close\n2020-01-01,x,1\n2020-01-02,y,2\n")
    load_fails(path, "target column 'Name' is not numeric", "'x'", target="name")


def test_ticker_given_as_target(tmp_path):
    path = write_data(tmp_path, "Ticker,Date,Close\nAAPL,2020-01-01,1\nAAPL,2020-01-02,2\n")
    load_fails(path, "'AAPL' is a series", "--series", target="AAPL")


@pytest.mark.parametrize(
    "label",
    [
        "Adj Close",
        "Adj. Close*",
        "adj_close",
        "Adjusted Close",
        "AdjClose",
        "Adj_Close",
        "Adj Close**",
    ],
)
def test_adjusted_close_in_the_spellings_exports_use_is_the_default_target(tmp_path, label):
    text = f"Date,{label},Close*,Volume\n" + PRICES_CSV.split("\n", 1)[1]  # Yahoo-like header
    ds = read_data(tmp_path, text)
    assert ds.target == label and ds.series[0].values[0] == 101.0
    assert f"target column: {label} (the adjusted close; --target picks another)" in ds.notes


def test_inspect_says_which_column_is_the_target(tmp_path, capsys, monkeypatch):
    from lstm_forecast import cli

    path = write_data(tmp_path, PRICES_CSV.replace("Open", "Adj. Close*"))
    monkeypatch.setattr("sys.argv", ["lstm-forecast", "inspect", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "target        Adj. Close*\n" in out
    assert "note: target column: Adj. Close* (the adjusted close; --target picks another)" in out


@pytest.mark.parametrize(
    ("column", "values", "line", "bad"),
    [
        ("Date", ["Q1 2020", "Q2 2020", "Q3 2020"], 2, "Q1 2020"),
        ("Date", ["2020-01-02", "2020-01-03", "soon", "later", "never"], 4, "soon"),
        ("month", ["Jan", "Feb", "Mar"], 2, "Jan"),
        ("Time", ["09:30", "09:31", "09:32"], 2, "09:30"),
    ],
)
def test_a_date_column_without_dates_is_an_error_not_a_sequence(
    tmp_path, column, values, line, bad
):
    rows = "".join(f"{v},{i + 1}\n" for i, v in enumerate(values))
    message = load_fails(write_data(tmp_path, f"{column},Close\n{rows}"), f"line {line}")
    assert message.endswith(
        f": line {line}: column '{column}' is named like a date, but '{bad}' is not a date; "
        f"give its format with --date-format, or the date column with --date-col"
    )


def test_a_date_column_read_with_the_format_given(tmp_path):
    rows = "".join(f"2020 01 {d:02d},{d}\n" for d in (2, 3, 6))
    path = write_data(tmp_path, "Date,Close\n" + rows)
    load_fails(path, "line 2", "'Date'", "'2020 01 02' is not a date")
    ds = load(path, LoadOptions(date_format="%Y %m %d"))
    assert ds.date_column == "Date" and days_of(ds) == ["2020-01-02", "2020-01-03", "2020-01-06"]


def test_numbers_in_a_column_named_like_a_date_are_said_to_be_a_sequence(tmp_path):
    ds = read_data(tmp_path, "time,value\n0.5,1\n1.5,2\n2.5,3\n")
    assert ds.date_column is None and ds.target == "value"
    assert "column 'time' is named like a date but holds numbers; read as a plain sequence" in (
        ds.notes
    )
    ds = read_data(tmp_path, "data\n1.5\n2.25\n3\n")  # English "data", Portuguese "date"
    assert ds.target == "data" and ds.series[0].values.tolist() == [1.5, 2.25, 3.0]
