"""Text: encodings, dialects, comment, title and header lines, ragged and cut-off rows."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import (
    PRICES_CSV,
    broken_file_test,
    days_of,
    load_fails,
    loader_settings,
    read_data,
    write_data,
    zipped,
)
from lstm_forecast.loading import LoadOptions, load

BROKEN = {
    "empty": (b"", ["empty"]),
    "blank lines": (b"\n\n  \n", ["empty"]),
    "only comments": (b"# nothing here\n# at all\n", ["comment"]),
    "header only": (b"Date,Close\n", ["header only"]),
    "header and blank lines": (b"Date,Close\n\n\n", ["header only"]),
    "binary": (bytes(range(256)) * 4, ["binary"]),
    "control bytes": (b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 100, ["binary"]),
    "NUL in a line": (
        PRICES_CSV.encode().replace(b"2020-01-05", b"2020-01\x0005"),
        ["line 6", "NUL"],
    ),
    "utf-16 without BOM": ("Date,Close\n2020-01-01,1\n".encode("utf-16-le"), ["UTF-16"]),
    "html page": (b"<!DOCTYPE html>\n<html><body>Rate limited</body></html>\n", ["HTML"]),
    "indented html": (b"\n   <html>\n<head></head></html>", ["HTML", "line 2"]),
    "xml": (b'<?xml version="1.0"?>\n<rows/>\n', ["HTML/XML"]),
    "json object": (b'{"Date": ["2020-01-01"], "Close": [1]}\n', ["JSON"]),
    "json array": (b'[{"Date": "2020-01-01", "Close": 1}]', ["JSON"]),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ["Excel"]),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ["PDF"]),
    "too many fields": (
        PRICES_CSV.replace("2020-01-04,104", "2020-01-04,104,7"),
        ["line 5", "5 fields"],
    ),
    "unclosed quote": (PRICES_CSV.replace("2020-01-04,", '2020-01-04,"'), ["line 5", "quote"]),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("ext", ["csv", "txt", "tsv"])
def test_delimiters_and_extensions(tmp_path, delimiter, ext):
    ds = read_data(tmp_path, PRICES_CSV.replace(",", delimiter), name=f"p.{ext}")
    assert ds.details["delimiter"] == delimiter and ds.target == "Close"
    assert ds.series[0].values.tolist() == [float(101 + d) for d in range(1, 11)]


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
    text = PRICES_CSV.replace("Close", "Schlusskurs (€)")
    ds = read_data(tmp_path, prefix + text.encode(encoding), target="schlusskurs (€)")
    assert ds.target == "Schlusskurs (€)" and len(ds.series[0]) == 10


def test_latin1_and_cp1252_fallback(tmp_path):
    text = "Datum;Kurs ä;Volumen\n13.01.2020;€1.234,50;10\n14.01.2020;€1.240,00;12\n"
    ds = read_data(tmp_path, text.encode("cp1252"), target="kurs ä")
    assert ds.details["encoding"] == "cp1252"
    assert ds.series[0].values.tolist() == [1234.5, 1240.0]
    ds = read_data(tmp_path, text.replace("€", "").encode("latin-1"), target="Kurs ä")
    assert ds.details["encoding"] in ("cp1252", "latin-1") and len(ds.series[0]) == 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("final", [True, False])
def test_line_endings_and_missing_final_newline(tmp_path, newline, final):
    text = PRICES_CSV if final else PRICES_CSV.rstrip("\n")
    ds = read_data(tmp_path, text.replace("\n", newline))
    assert len(ds.series[0]) == 10 and days_of(ds)[-1] == "2020-01-10"
    assert not ds.warnings


def test_comment_lines_and_excel_sep_hint(tmp_path):
    text = "# exported 2020-02-01\n% source: somewhere\n\n" + PRICES_CSV
    assert len(read_data(tmp_path, text).series[0]) == 10
    ds = read_data(tmp_path, "sep=;\n" + PRICES_CSV.replace(",", ";"))
    assert ds.details["delimiter"] == ";" and len(ds.series[0]) == 10


def test_headerless_file(tmp_path):
    ds = read_data(tmp_path, "2020-01-01,1.5\n2020-01-02,1.6\n2020-01-03,1.7\n")
    assert ds.date_column == "column 1" and ds.series[0].values.tolist() == [1.5, 1.6, 1.7]
    assert any("no header" in n for n in ds.notes)


def test_saved_row_index_and_trailing_delimiters_are_dropped(tmp_path):
    ds = read_data(tmp_path, ",Date,Close,\n0,2020-01-01,1,\n1,2020-01-02,2,\n2,2020-01-03,3,\n")
    assert ds.target == "Close" and ds.series[0].values.tolist() == [1, 2, 3]


def test_repeated_header_lines_are_dropped(tmp_path):
    ds = read_data(tmp_path, PRICES_CSV + PRICES_CSV.splitlines()[0] + "\n2020-01-11,1,2,3\n")
    assert len(ds.series[0]) == 11 and any("repeated header" in n for n in ds.notes)


def test_title_lines_above_the_header_are_skipped(tmp_path):
    ds = read_data(tmp_path, "AAPL Historical Prices\nExported: today\n\n" + PRICES_CSV)
    assert ds.target == "Close" and len(ds.series[0]) == 10
    assert any("2 title lines" in n and "line 4" in n for n in ds.notes)
    ds = read_data(tmp_path, "Wert\n1,5\n2,25\n3\n")  # one column with decimal commas: no title
    assert ds.series[0].values.tolist() == [1.5, 2.25, 3.0]


def test_decimal_commas_do_not_turn_the_header_into_a_title_line(tmp_path):
    """Found by the round-trip property: ';' with decimal commas, three columns."""
    path = tmp_path / "dc.csv"
    path.write_text("Date;Close;Open\n1990-01-02;1,0;1,5\n1990-01-03;2,0;2,5\n1990-01-04;3,0;3,5")
    ds = load(path)
    assert ds.details["delimiter"] == ";" and ds.target == "Close"
    assert ds.series[0].values.tolist() == [1.0, 2.0, 3.0]


def test_huge_field_gives_a_short_message(tmp_path):
    path = write_data(tmp_path, PRICES_CSV.replace(",105,", f",{'9x' * 50_000},"))
    load_fails(path, "line 5", "'Close'", "number")
    path = write_data(tmp_path, "Date," + "C" * 100_000 + "\n2020-01-01,1\n")
    load_fails(path, "line 1", "header", "200 characters")
    load_fails(write_data(tmp_path, "Date," + "C" * 300), "line 1", "header", "200 characters")


def test_truncated_last_line(tmp_path):
    ds = load(write_data(tmp_path, PRICES_CSV.rstrip("\n")))  # just no final newline: all rows
    assert len(ds.series[0]) == 10 and not ds.warnings
    ds = load(write_data(tmp_path, PRICES_CSV + "2020-01-11,11"))  # cut off: the good rows load
    assert len(ds.series[0]) == 10
    assert any("line 12" in w and "cut short" in w for w in ds.warnings)
    ds = load(write_data(tmp_path, PRICES_CSV + "2020-01-1"))
    assert len(ds.series[0]) == 10 and any("line 12" in w for w in ds.warnings)
    load_fails(write_data(tmp_path, PRICES_CSV + "2020-0,1,2,3"), "line 12", "'2020-0'", "date")


def test_short_rows_inside_the_file_are_reported(tmp_path):
    text = PRICES_CSV.replace("2020-01-04,104,105,4000", "2020-01-04,104,105")
    ds = load(write_data(tmp_path, text))
    assert any("line 5" in w and "fewer fields" in w for w in ds.warnings)


# ---------------------------------------------------------------------------------------------
# property: any frame written in any supported dialect reads back identical

COMPRESS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zip": lambda b: zipped({"data.csv": b}),
}
# (strftime format, LoadOptions.dayfirst needed to read it when every day number is <= 12)
DATE_STYLES = [("%Y-%m-%d", None), ("%d.%m.%Y", True), ("%m/%d/%Y", False), ("%d-%m-%y", True)]

prices = st.floats(min_value=0.01, max_value=999_999, allow_nan=False).map(lambda x: round(x, 4))


@st.composite
def frames(draw) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One or more series of dated rows with a Close and a few other float columns."""
    tickers = draw(st.sampled_from([[""], ["AAA"], ["AAA", "BB"], ["X", "Y", "Z"]]))
    extra = draw(st.lists(st.sampled_from(["Open", "High", "Volume"]), unique=True, max_size=2))
    out = {}
    for t in tickers:
        n = draw(st.integers(3, 30))
        steps = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
        start = pd.Timestamp("1990-01-01") + pd.Timedelta(days=draw(st.integers(0, 12_000)))
        dates = start + pd.to_timedelta(np.cumsum(steps), unit="D")
        cols = {c: draw(st.lists(prices, min_size=n, max_size=n)) for c in ["Close", *extra]}
        out[t] = pd.DataFrame(cols, index=dates)
    return out, extra


def _cell(x: float, decimal: str, thousands: bool) -> str:
    text = f"{x:,}" if thousands else repr(x)
    if decimal == ",":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def _render(series: dict[str, pd.DataFrame], dialect: dict) -> bytes:
    delim, decimal, thousands = dialect["delimiter"], dialect["decimal"], dialect["thousands"]
    fmt = dialect["date_style"][0]
    long = list(series) != [""]
    first = next(iter(series.values()))
    header = (["Ticker"] if long else []) + ["Date", *first.columns]
    rows = []
    for t, frame in series.items():
        for when, values in frame.iterrows():
            cells = [_cell(v, decimal, thousands) for v in values]
            cells = [f'"{c}"' if delim in c else c for c in cells]
            rows.append(([t] if long else []) + [when.strftime(fmt), *cells])
    if dialect["newest_first"]:
        rows.reverse()
    text = dialect["newline"].join(delim.join(r) for r in [header, *rows])
    data = (text + (dialect["newline"] if dialect["final_newline"] else "")).encode("utf-8")
    if dialect["bom"]:
        data = b"\xef\xbb\xbf" + data
    return COMPRESS[dialect["compression"]](data)


@st.composite
def dialects(draw) -> dict:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    return {
        "delimiter": delimiter,
        "decimal": draw(st.sampled_from([".", ","])) if delimiter == ";" else ".",
        "thousands": draw(st.booleans()),
        "date_style": draw(st.sampled_from(DATE_STYLES)),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "final_newline": draw(st.booleans()),
        "bom": draw(st.booleans()),
        "newest_first": draw(st.booleans()),
        "compression": draw(st.sampled_from(list(COMPRESS))),
    }


@loader_settings()
@given(data=frames(), dialect=dialects())
def test_round_trip(tmp_path_factory, data, dialect):
    series, extra = data
    path = Path(tmp_path_factory.mktemp("rt")) / "prices.csv"
    path.write_bytes(_render(series, dialect))
    options = LoadOptions(dayfirst=dialect["date_style"][1], features=extra or None)
    ds = load(path, options)
    assert ds.target == "Close"
    loaded = {s.name: s for s in ds.series}
    assert sorted(loaded) == sorted(series if list(series) != [""] else ["Close"])
    for key, frame in series.items():
        s = loaded[key or "Close"]
        np.testing.assert_array_equal(s.index, frame.index.to_numpy("datetime64[ns]"))
        np.testing.assert_array_equal(s.values, frame["Close"].to_numpy())
        np.testing.assert_array_equal(s.features, frame[extra].to_numpy().reshape(len(frame), -1))
