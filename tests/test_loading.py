"""The loader on real layouts and on the formats, dates, numbers and layouts people really have."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_forecast import api
from lstm_forecast.errors import DataError
from lstm_forecast.loading import Dataset, LoadOptions, load

ROOT = Path(__file__).resolve().parents[1]
BOKEH = ROOT / "tests" / "data" / "bokeh_stocks.csv.gz"
GOOG = ROOT / "tests" / "data" / "goog_yahoo.csv"
MSFT = ROOT / "data" / "msft.csv"


def write(tmp_path: Path, text: str | bytes, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read(tmp_path: Path, text: str | bytes, name: str = "prices.csv", **options) -> Dataset:
    return load(write(tmp_path, text, name), LoadOptions(**options))


def fails(path: Path, *words: str, **options) -> str:
    """Loading raises exactly DataError, one line naming the file and every word given."""
    with pytest.raises(DataError) as info:
        load(path, LoadOptions(**options))
    assert type(info.value) is DataError
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def days(ds: Dataset, i: int = 0) -> list[str]:
    return [str(d)[:10] for d in ds.series[i].index.astype("datetime64[D]")]


def stamps(ds: Dataset, i: int = 0) -> list[str]:
    return [str(d) for d in ds.series[i].index.astype("datetime64[s]")]


PRICES = "Date,Open,Close,Volume\n" + "".join(
    f"2020-01-{d:02d},{100 + d},{101 + d},{1000 * d}\n" for d in range(1, 11)
)


# ---------------------------------------------------------------------------------------------
# real layouts


def test_goog_yahoo_picks_adjusted_close():
    ds = load(GOOG)
    assert ds.target == "Adj Close" and ds.date_column == "Date" and ds.frequency == "B"
    assert [s.name for s in ds.series] == ["Adj Close"]
    assert len(ds.series[0]) == 3379
    assert days(ds)[0] == "2004-08-19" and days(ds)[-1] == "2018-01-19"
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


def test_bokeh_unadjusted_close_warns_about_splits():
    ds = load(BOKEH, LoadOptions(target="close"))
    splits = [w for w in ds.warnings if "split" in w]
    assert any("AAPL" in w and "2000-06-21" in w and "2005-02-28" in w for w in splits)
    assert any("MSFT" in w and "2003-02-18" in w for w in splits)
    assert not any("2000-09-29" in w for w in splits)  # a real crash, not a split


def test_bokeh_series_selection_and_short_series():
    ds = load(BOKEH, LoadOptions(series=["MSFT", "FB"]))
    assert [s.name for s in ds.series] == ["MSFT", "FB"]
    ds = load(BOKEH, LoadOptions(min_rows=500))
    assert "FB" not in [s.name for s in ds.series]
    assert any("FB" in w and "skipped" in w for w in ds.warnings)
    fails(BOKEH, "no series", "FB", series=["FB"], min_rows=500)
    fails(BOKEH, "no series", "TSLA", "AAPL", series=["TSLA"])


def test_msft_with_two_digit_day_first_dates(tmp_path):
    frame = pd.read_csv(MSFT, dtype=str)
    frame["Date"] = pd.to_datetime(frame["Date"]).dt.strftime("%d-%m-%y")
    path = tmp_path / "msft_dmy.csv"
    frame.to_csv(path, index=False)
    ds = load(path)
    assert ds.details["date_format"] == "%d-%m-%y"
    assert days(ds)[0] == "1986-03-13" and days(ds)[-1] == "2017-11-10"
    assert len(ds.series[0]) == 7983 and ds.target == "Close"
    assert ds.frequency == "B"


def test_msft_volume_does_not_flag_the_1987_crash():
    ds = load(MSFT)
    assert not any("split" in w for w in ds.warnings)
    assert any("2001-09-10" in w for w in ds.warnings)  # markets closed after 9/11


def test_sine_sequence_without_dates(tmp_path):
    values = np.sin(np.arange(500) * 0.1)
    ds = read(tmp_path, "sinewave\n" + "".join(f"{float(v)!r}\n" for v in values))
    assert ds.date_column is None and ds.frequency is None and not ds.dated
    assert ds.series[0].name == "sinewave" and ds.target == "sinewave"
    np.testing.assert_array_equal(ds.series[0].values, values)
    np.testing.assert_array_equal(ds.series[0].index, np.arange(500))


# ---------------------------------------------------------------------------------------------
# containers, encodings, dialects


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("ext", ["csv", "txt", "tsv"])
def test_delimiters_and_extensions(tmp_path, delimiter, ext):
    ds = read(tmp_path, PRICES.replace(",", delimiter), name=f"p.{ext}")
    assert ds.details["delimiter"] == delimiter and ds.target == "Close"
    assert ds.series[0].values.tolist() == [float(101 + d) for d in range(1, 11)]


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("prices.csv", data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("kind", "pack"),
    [("gzip", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress), ("zip", _zip)],
)
def test_compression_by_magic_bytes(tmp_path, kind, pack):
    ds = read(tmp_path, pack(PRICES.encode()), name="prices.dat")
    assert ds.details["compression"] == kind and len(ds.series[0]) == 10


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_encodings(tmp_path, encoding, prefix):
    text = PRICES.replace("Close", "Schlusskurs (€)")
    ds = read(tmp_path, prefix + text.encode(encoding), target="schlusskurs (€)")
    assert ds.target == "Schlusskurs (€)" and len(ds.series[0]) == 10


def test_latin1_and_cp1252_fallback(tmp_path):
    text = "Datum;Kurs ä;Volumen\n13.01.2020;€1.234,50;10\n14.01.2020;€1.240,00;12\n"
    ds = read(tmp_path, text.encode("cp1252"), target="kurs ä")
    assert ds.details["encoding"] == "cp1252"
    assert ds.series[0].values.tolist() == [1234.5, 1240.0]
    ds = read(tmp_path, text.replace("€", "").encode("latin-1"), target="Kurs ä")
    assert ds.details["encoding"] in ("cp1252", "latin-1") and len(ds.series[0]) == 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("final", [True, False])
def test_line_endings_and_missing_final_newline(tmp_path, newline, final):
    text = PRICES if final else PRICES.rstrip("\n")
    ds = read(tmp_path, text.replace("\n", newline))
    assert len(ds.series[0]) == 10 and days(ds)[-1] == "2020-01-10"
    assert not ds.warnings


def test_comment_lines_and_excel_sep_hint(tmp_path):
    text = "# exported 2020-02-01\n% source: somewhere\n\n" + PRICES
    assert len(read(tmp_path, text).series[0]) == 10
    ds = read(tmp_path, "sep=;\n" + PRICES.replace(",", ";"))
    assert ds.details["delimiter"] == ";" and len(ds.series[0]) == 10


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PRICES.encode())))
    ds = load("-")
    assert ds.source == "<stdin>" and len(ds.series[0]) == 10


def test_parquet_needs_the_extra_when_pyarrow_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = write(tmp_path, b"PAR1\x15\x04\x15\x10" + bytes(64) + b"PAR1", "prices.parquet")
    fails(path, "parquet", "extra")


def test_parquet_when_pyarrow_is_installed(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"Date": pd.date_range("2020-01-01", periods=10), "Close": np.arange(10.0) + 1}
    )
    frame.to_parquet(tmp_path / "p.parquet")
    ds = load(tmp_path / "p.parquet")
    assert ds.details["format"] == "parquet" and ds.series[0].values.tolist() == list(
        np.arange(10.0) + 1
    )
    assert days(ds)[0] == "2020-01-01"


def test_headerless_file(tmp_path):
    ds = read(tmp_path, "2020-01-01,1.5\n2020-01-02,1.6\n2020-01-03,1.7\n")
    assert ds.date_column == "column 1" and ds.series[0].values.tolist() == [1.5, 1.6, 1.7]
    assert any("no header" in n for n in ds.notes)


def test_saved_row_index_and_trailing_delimiters_are_dropped(tmp_path):
    ds = read(tmp_path, ",Date,Close,\n0,2020-01-01,1,\n1,2020-01-02,2,\n2,2020-01-03,3,\n")
    assert ds.target == "Close" and ds.series[0].values.tolist() == [1, 2, 3]


def test_repeated_header_lines_are_dropped(tmp_path):
    ds = read(tmp_path, PRICES + PRICES.splitlines()[0] + "\n2020-01-11,1,2,3\n")
    assert len(ds.series[0]) == 11 and any("repeated header" in n for n in ds.notes)


# ---------------------------------------------------------------------------------------------
# dates


@pytest.mark.parametrize("name", ["Date", "Datetime", "Timestamp", "Datum", "Fecha", "Data", "day"])
def test_date_column_by_name(tmp_path, name):
    ds = read(tmp_path, PRICES.replace("Date", name))
    assert ds.date_column == name and days(ds)[0] == "2020-01-01"


def test_date_column_by_content_and_option(tmp_path):
    ds = read(tmp_path, PRICES.replace("Date", "When"))
    assert ds.date_column == "When"
    ds = read(tmp_path, PRICES.replace("Date", "When"), date_col="when")
    assert ds.date_column == "When"


def test_date_and_time_columns_are_combined(tmp_path):
    rows = "".join(f"01/02/2020,{9 + h}:00,{100 + h}\n" for h in range(6))
    ds = read(tmp_path, "Date,Time,Close\n" + rows, dayfirst=False)
    assert ds.date_column == "Date + Time" and ds.frequency == "h"
    assert stamps(ds)[:2] == ["2020-01-02T09:00:00", "2020-01-02T10:00:00"]


def _dates(values: list[str], close: str = "1") -> str:
    return "Date,Close\n" + "".join(f"{v},{close}\n" for v in values)


def test_day_first_decided_from_the_whole_column(tmp_path):
    values = [f"{d:02d}/02/2020" for d in range(1, 16)]  # 01/02 .. 12/02 read both ways
    ds = read(tmp_path, _dates(values))
    assert days(ds)[0] == "2020-02-01" and ds.details["date_format"] == "%d/%m/%Y"


def test_month_first_decided_from_the_whole_column(tmp_path):
    values = [f"02/{d:02d}/2020" for d in range(1, 16)]
    ds = read(tmp_path, _dates(values))
    assert days(ds)[0] == "2020-02-01" and ds.details["date_format"] == "%m/%d/%Y"


def test_order_decides_when_both_readings_are_valid(tmp_path):
    values = [f"01/{m:02d}/2020" for m in range(1, 13)] + ["02/01/2020"]
    ds = read(tmp_path, _dates(values))  # only month/day runs in order
    assert days(ds)[:2] == ["2020-01-01", "2020-01-02"] and days(ds)[-1] == "2020-02-01"


def test_ambiguous_dates_are_an_error_not_a_guess(tmp_path):
    path = write(tmp_path, _dates(["01/02/2020", "01/03/2020", "01/04/2020"]))
    fails(path, "--dayfirst", "--monthfirst", "'Date'")
    assert days(load(path, LoadOptions(dayfirst=True)))[0] == "2020-02-01"
    assert days(load(path, LoadOptions(dayfirst=False)))[0] == "2020-01-02"
    assert days(load(path, LoadOptions(date_format="%m/%d/%Y")))[0] == "2020-01-02"


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
    assert days(read(tmp_path, _dates(values)))[0] == first


def test_foreign_month_names_fail_clearly(tmp_path):
    path = write(tmp_path, _dates(["01.Mär.2020", "02.Mär.2020"]))
    fails(path, "line 2", "01.Mär.2020", "date", "'Date'")


def test_intraday_offsets_are_converted_to_utc(tmp_path):
    values = ["2020-03-06T09:30:00-05:00", "2020-03-06T09:35:00-05:00", "2020-03-06T09:40:00-05:00"]
    ds = read(tmp_path, _dates(values))
    assert stamps(ds)[0] == "2020-03-06T14:30:00" and ds.frequency == "5min"
    assert any("UTC" in n for n in ds.notes)


def test_daily_offsets_keep_local_calendar_dates(tmp_path):
    values = [f"2020-03-{d:02d}T00:00:00+09:00" for d in range(2, 7)]
    ds = read(tmp_path, _dates(values))
    assert days(ds) == ["2020-03-02", "2020-03-03", "2020-03-04", "2020-03-05", "2020-03-06"]
    assert ds.frequency == "B"


def test_epoch_seconds_and_milliseconds_in_time_columns(tmp_path):
    start = 1577836800  # 2020-01-01 00:00:00 UTC
    text = "timestamp,price\n" + "".join(f"{start + 60 * i},{i + 1}\n" for i in range(5))
    ds = read(tmp_path, text)
    assert stamps(ds)[1] == "2020-01-01T00:01:00" and ds.frequency == "1min"
    text = "time,price\n" + "".join(f"{(start + 3600 * i) * 1000},{i + 1}\n" for i in range(5))
    assert stamps(read(tmp_path, text))[1] == "2020-01-01T01:00:00"


def test_epoch_like_numbers_elsewhere_are_just_numbers(tmp_path):
    text = "x,value\n" + "".join(f"{1577836800 + i},{i}\n" for i in range(5))
    ds = read(tmp_path, text)
    assert ds.date_column is None and ds.target == "value"


def test_step_column_makes_a_plain_sequence(tmp_path):
    ds = read(tmp_path, "step,value\n" + "".join(f"{i},{i * 2}\n" for i in range(5)))
    assert ds.date_column is None and ds.target == "value"
    ds = read(tmp_path, "day,value\n" + "".join(f"{i},{i * 2}\n" for i in range(1, 6)))
    assert ds.date_column is None and any("numbers the rows" in n for n in ds.notes)


# ---------------------------------------------------------------------------------------------
# numbers


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (['"1,234.50"', '"12,000"'], [1234.5, 12000.0]),
        (["$1234.50", "$ 12"], [1234.5, 12.0]),
        (["5%", "-2.5%"], [5.0, -2.5]),
        (["70.89M", "1.2B"], [70.89e6, 1.2e9]),
        (["3.5K", "(2)"], [3500.0, -2.0]),
        (["  12.5  ", " 13 "], [12.5, 13.0]),
    ],
)
def test_number_styles(tmp_path, cells, expected):
    text = "Date , Close \n" + "".join(f"2020-01-0{i + 1},{c}\n" for i, c in enumerate(cells))
    assert read(tmp_path, text).series[0].values.tolist() == expected


def test_decimal_commas(tmp_path):
    text = "Date;Close;Volume\n2020-01-02;1.234,56;1.000.000\n2020-01-03;1.240,5;2.000.000\n"
    ds = read(tmp_path, text)
    assert ds.series[0].values.tolist() == [1234.56, 1240.5] and ds.details["decimal"] == ","
    text = "Date\tClose\n2020-01-02\t1.234,56\n2020-01-03\t1.240,50\n"
    assert read(tmp_path, text).series[0].values.tolist() == [1234.56, 1240.5]
    text = 'Date,Close\n2020-01-02,"12,5"\n2020-01-03,"13,25"\n'
    assert read(tmp_path, text).series[0].values.tolist() == [12.5, 13.25]


@pytest.mark.parametrize("marker", ["", ".", "null", "NaN", "N/A", "#N/A", "-"])
def test_missing_markers_are_forward_filled_with_a_warning(tmp_path, marker):
    text = "Date,Close\n2020-01-01,1\n2020-01-02,{m}\n2020-01-03,{m}\n2020-01-06,4\n"
    ds = read(tmp_path, text.format(m=marker))
    assert ds.series[0].values.tolist() == [1, 1, 1, 4]
    assert any("forward-filled 2 missing" in w for w in ds.warnings)


def test_nasdaq_export(tmp_path):
    rows = [f"01/{d}/2020,${300 + d}.35,{1000 + d},${299 + d},$301,$298" for d in (14, 13, 10)]
    text = "Date,Close/Last,Volume,Open,High,Low\n" + "\n".join(rows) + "\n"
    ds = read(tmp_path, text)
    assert ds.target == "Close/Last" and days(ds) == ["2020-01-10", "2020-01-13", "2020-01-14"]
    assert ds.series[0].values.tolist() == [310.35, 313.35, 314.35]
    assert any("newest-first" in n for n in ds.notes)


# ---------------------------------------------------------------------------------------------
# targets and layouts


@pytest.mark.parametrize("given", ["close", " CLOSE ", "Close"])
def test_target_ignores_case_and_spaces(tmp_path, given):
    assert read(tmp_path, PRICES, target=given).target == "Close"
    assert read(tmp_path, PRICES.replace("Close", "Adj Close"), target="adjclose").target == (
        "Adj Close"
    )


def test_default_target_order(tmp_path):
    assert read(tmp_path, "Date,Open,Price\n2020-01-01,1,2\n2020-01-02,1,3\n").target == "Price"
    assert read(tmp_path, "Date,Volume\n2020-01-01,1\n2020-01-02,1\n").target == "Volume"


def test_wide_layout(tmp_path):
    text = "Date,AAPL,MSFT,GOOG\n2020-01-01,1,10,\n2020-01-02,2,11,100\n2020-01-03,3,12,101\n"
    ds = read(tmp_path, text)
    assert [s.name for s in ds.series] == ["AAPL", "MSFT", "GOOG"]
    assert ds.details["layout"] == "wide"
    assert days(ds, 2) == ["2020-01-02", "2020-01-03"]  # each series keeps its own dates
    ds = read(tmp_path, text, target="aapl,msft")
    assert [s.name for s in ds.series] == ["AAPL", "MSFT"] and ds.target == "AAPL,MSFT"
    assert [s.name for s in read(tmp_path, PRICES, target="all").series] == [
        "Open",
        "Close",
        "Volume",
    ]
    assert [s.name for s in read(tmp_path, text, series=["GOOG"]).series] == ["GOOG"]


def test_long_layout_found_by_series_column(tmp_path):
    rows = [f"2020-01-0{d},{t},{i * 10 + d}" for i, t in enumerate("AB") for d in (1, 2, 3)]
    ds = read(tmp_path, "Date,Symbol,Close\n" + "\n".join(rows))
    assert [s.name for s in ds.series] == ["A", "B"] and ds.series[1].values.tolist() == [
        11,
        12,
        13,
    ]
    ds = read(tmp_path, "Date,Group,Close\n" + "\n".join(rows), series_col="group")
    assert [s.name for s in ds.series] == ["A", "B"]


def test_features_are_read_beside_the_target(tmp_path):
    ds = read(tmp_path, PRICES, features=["volume"])
    assert ds.feature_names == ["Volume"] and ds.series[0].features[:, 0].tolist()[:2] == [
        1000,
        2000,
    ]


def test_inspect_json_schema(tmp_path):
    found = api.inspect(write(tmp_path, PRICES))
    assert found["target"] == "Close" and found["date_column"] == "Date"
    assert found["frequency"] == "B" or found["frequency"] == "D"
    (series,) = found["series"]
    assert series["name"] == "Close" and series["rows"] == 10
    assert series["start"] == "2020-01-01" and series["end"] == "2020-01-10"
    assert series["first"] == 102.0 and series["last"] == 111.0
    found = api.inspect(write(tmp_path, "v\n1\n2\n3\n"))
    assert found["date_column"] is None and found["series"][0]["start"] == 0


# ---------------------------------------------------------------------------------------------
# cleaning


def test_newest_first_is_sorted(tmp_path):
    lines = PRICES.splitlines()
    ds = read(tmp_path, "\n".join([lines[0], *reversed(lines[1:])]))
    assert days(ds)[0] == "2020-01-01" and ds.series[0].values[0] == 102
    assert any("newest-first" in n for n in ds.notes)


def test_exact_duplicates_are_dropped_and_conflicts_fail(tmp_path):
    lines = PRICES.splitlines()
    ds = read(tmp_path, "\n".join([*lines, lines[3]]))
    assert len(ds.series[0]) == 10 and any("duplicate" in n for n in ds.notes)
    path = write(tmp_path, "\n".join([*lines, "2020-01-03,1,2,3"]))
    fails(path, "2020-01-03", "lines 4, 12", "disagree")


def test_gap_longer_than_max_gap_fails_naming_the_span(tmp_path):
    rows = [f"2020-01-{d:02d},{'' if 3 <= d <= 5 else d}" for d in range(1, 11)]
    path = write(tmp_path, "Date,Close\n" + "\n".join(rows))
    fails(path, "3 missing", "2020-01-03", "2020-01-05", "--max-gap 2", max_gap=2)
    ds = load(path, LoadOptions(max_gap=3))
    assert ds.details["per_series"]["Close"]["filled"] == 3


def test_leading_and_trailing_missing_rows_are_dropped(tmp_path):
    rows = [f"2020-01-{d:02d},{d if 3 <= d <= 8 else ''}" for d in range(1, 11)]
    ds = read(tmp_path, "Date,Close\n" + "\n".join(rows))
    assert days(ds)[0] == "2020-01-03" and days(ds)[-1] == "2020-01-08"
    assert any("2 leading" in n for n in ds.notes)
    assert any("2 trailing" in w for w in ds.warnings)


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
    assert read(tmp_path, text).frequency == expected


def test_long_gaps_are_reported(tmp_path):
    dates = pd.bdate_range("2020-01-01", periods=40).delete(range(10, 15))
    text = "Date,Close\n" + "".join(f"{d.date()},{i + 1}\n" for i, d in enumerate(dates))
    ds = read(tmp_path, text)
    assert ds.frequency == "B" and any("1 gap" in w and "2020-01-14" in w for w in ds.warnings)


def test_inspect_prints_whole_dates_and_repairs(tmp_path, capsys, monkeypatch):
    from lstm_forecast import cli

    rows = "".join(f"2020-01-{d:02d},{'' if d == 7 else d}\n" for d in range(1, 11))
    monkeypatch.setattr(
        sys, "argv", ["lstm-forecast", "inspect", str(write(tmp_path, "Date,Close\n" + rows))]
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "2020-01-01" in out and "2020-01-10" in out and "…" not in out
    assert "date_format" in out and "frequency" in out
    assert "warning:" in out and "forward-filled 1 missing 'Close' value " in out


def test_title_lines_above_the_header_are_skipped(tmp_path):
    ds = read(tmp_path, "AAPL Historical Prices\nExported: today\n\n" + PRICES)
    assert ds.target == "Close" and len(ds.series[0]) == 10
    assert any("2 title lines" in n and "line 4" in n for n in ds.notes)
    ds = read(tmp_path, "Wert\n1,5\n2,25\n3\n")  # one column with decimal commas: no title
    assert ds.series[0].values.tolist() == [1.5, 2.25, 3.0]


def test_decimal_commas_do_not_turn_the_header_into_a_title_line(tmp_path):
    """Found by the round-trip property: ';' with decimal commas, three columns."""
    path = tmp_path / "dc.csv"
    path.write_text("Date;Close;Open\n1990-01-02;1,0;1,5\n1990-01-03;2,0;2,5\n1990-01-04;3,0;3,5")
    ds = load(path)
    assert ds.details["delimiter"] == ";" and ds.target == "Close"
    assert ds.series[0].values.tolist() == [1.0, 2.0, 3.0]
