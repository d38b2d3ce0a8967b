"""A corpus of broken files: each fails with one line naming the file, the problem and the place."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import pytest

from lstm_forecast import loading
from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, load

GOOD = "Date,Open,Close,Volume\n" + "".join(
    f"2020-01-{d:02d},{100 + d},{101 + d},{1000 * d}\n" for d in range(1, 11)
)


def write(tmp_path: Path, data: str | bytes, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def fails(path: Path | str, *words: str, **options) -> str:
    """Loading raises exactly DataError, one line naming the file and every word given."""
    with pytest.raises(DataError) as info:
        load(path, LoadOptions(**options))
    assert type(info.value) is DataError
    message = str(info.value)
    assert "\n" not in message and len(message) < 400 + len(str(path))
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


CORPUS = {
    "empty": (b"", ["empty"]),
    "blank lines": (b"\n\n  \n", ["empty"]),
    "only comments": (b"# nothing here\n# at all\n", ["comment"]),
    "header only": (b"Date,Close\n", ["header only"]),
    "header and blank lines": (b"Date,Close\n\n\n", ["header only"]),
    "binary": (bytes(range(256)) * 4, ["binary"]),
    "control bytes": (b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 100, ["binary"]),
    "NUL in a line": (GOOD.encode().replace(b"2020-01-05", b"2020-01\x0005"), ["line 6", "NUL"]),
    "utf-16 without BOM": ("Date,Close\n2020-01-01,1\n".encode("utf-16-le"), ["UTF-16"]),
    "html page": (b"<!DOCTYPE html>\n<html><body>Rate limited</body></html>\n", ["HTML"]),
    "indented html": (b"\n   <html>\n<head></head></html>", ["HTML", "line 2"]),
    "xml": (b'<?xml version="1.0"?>\n<rows/>\n', ["HTML/XML"]),
    "json object": (b'{"Date": ["2020-01-01"], "Close": [1]}\n', ["JSON"]),
    "json array": (b'[{"Date": "2020-01-01", "Close": 1}]', ["JSON"]),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ["Excel"]),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ["PDF"]),
    "xlsx": (_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), ["Excel"]),
    "zip of two": (_zip({"a.csv": GOOD.encode(), "b.csv": GOOD.encode()}), ["2 files"]),
    "damaged gzip": (gzip.compress(GOOD.encode())[:40], ["damaged gzip"]),
    "too many fields": (GOOD.replace("2020-01-04,104", "2020-01-04,104,7"), ["line 5", "5 fields"]),
    "unclosed quote": (GOOD.replace("2020-01-04,", '2020-01-04,"'), ["line 5", "quote"]),
    "one row": (b"Date,Close\n2020-01-01,1\n", ["1 usable row,", "2 needed"]),
    "text target": (GOOD.replace(",107,", ",n/a?,"), ["line 7", "n/a?", "'Close'", "number"]),
    "all missing": (b"Date,Close\n2020-01-01,\n2020-01-02,NaN\n", ["no values in 'Close'"]),
    "only dates": (b"Date\n2020-01-01\n2020-01-02\n", ["no numeric column"]),
    "text close": (
        b"Date,Open,Close\n2020-01-01,1,abc\n2020-01-02,2,def\n",
        ["'Close' is not numeric", "'abc'"],
    ),
    "inf": (GOOD.replace(",105,", ",inf,"), ["line 5", "2020-01-04", "inf", "finite"]),
    "beyond float32": (GOOD.replace(",105,", ",1e39,"), ["line 5", "too large", "float32"]),
    "missing date": (GOOD.replace("2020-01-04", ""), ["line 5", "missing date"]),
    "bad date": (GOOD.replace("2020-01-04", "2020-13-45"), ["line 5", "2020-13-45", "date"]),
    "placeholder date": (
        GOOD.replace("2020-01-04", "9999-12-31"),
        ["line 5", "9999-12-31", "1677"],
    ),
    "epoch far out": (
        b"timestamp,price\n1577836800,1\n9577837640,2\n1577837000,3\n",
        ["line 3", "9577837640", "2262"],
    ),
    "footer": (GOOD + "Data provided by Example Inc.,,,\n", ["line 12", "Data provided", "date"]),
    "empty ticker": (b"Ticker,Date,Close\nA,2020-01-01,1\n,2020-01-02,2\n", ["line 3", "Ticker"]),
    "long gap": (
        "Date,Close\n"
        + "".join(f"2020-01-{d:02d},{d if d < 3 or d > 9 else ''}\n" for d in range(1, 11)),
        ["7 missing", "line 4", "2020-01-03", "2020-01-09", "--max-gap"],
    ),
    "ambiguous dates": (b"Date,Close\n01/02/2020,1\n01/03/2020,2\n", ["--dayfirst"]),
    "long file, no close": (
        b"Ticker,Date,A,B\nX,2020-01-01,1,2\nX,2020-01-02,1,2\n",
        ["--target", "A, B"],
    ),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_broken_file(tmp_path, case):
    data, words = CORPUS[case]
    fails(write(tmp_path, data), *words)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"target": "Adj Close"}, ["no numeric target column 'Adj Close'", "Open, Close"]),
        ({"target": "Open,Nope"}, ["'Nope'"]),
        ({"date_col": "When"}, ["no date column 'When'"]),
        ({"series_col": "Ticker"}, ["no series column 'Ticker'"]),
        ({"series": ["AAPL"]}, ["no series AAPL", "Close"]),
        ({"features": ["Nope"]}, ["feature", "'Nope'"]),
        ({"date_format": "%d/%m/%Y"}, ["line 2", "2020-01-01", "--date-format"]),
        ({"date_format": "%Q"}, ["--date-format %Q", "bad directive"]),
        ({"min_rows": 50}, ["10 usable rows", "50 needed"]),
        ({"positive": True, "max_gap": 5}, []),
    ],
)
def test_wrong_options(tmp_path, options, words):
    path = write(tmp_path, GOOD)
    if not words:
        assert len(load(path, LoadOptions(**options)).series[0]) == 10
        return
    fails(path, *words, **options)


def test_text_column_as_target(tmp_path):
    path = write(tmp_path, "Date,Name,Close\n2020-01-01,x,1\n2020-01-02,y,2\n")
    fails(path, "target column 'Name' is not numeric", "'x'", target="name")


def test_ticker_given_as_target(tmp_path):
    path = write(tmp_path, "Ticker,Date,Close\nAAPL,2020-01-01,1\nAAPL,2020-01-02,2\n")
    fails(path, "'AAPL' is a series", "--series", target="AAPL")


@pytest.mark.parametrize(("value", "line"), [("0", 6), ("-3.5", 6)])
def test_non_positive_prices_when_positive_is_needed(tmp_path, value, line):
    path = write(tmp_path, GOOD.replace(",106,", f",{value},"))
    fails(path, f"line {line}", "2020-01-05", "not positive", "--transform", positive=True)
    assert len(load(path).series[0]) == 10


def test_missing_path_directory_and_device(tmp_path):
    fails(tmp_path / "nope.csv", "no such file")
    fails(tmp_path, "directory")
    if os.path.exists("/dev/zero"):
        fails("/dev/zero", "device")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, GOOD)
    path.chmod(0)
    try:
        fails(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.truncate(loading.MAX_BYTES + 1)  # sparse: takes no disk space
    fails(path, "limit")


def test_decompression_is_bounded(tmp_path, monkeypatch):
    path = write(tmp_path, gzip.compress(GOOD.encode() * 100), "bomb.csv.gz")
    monkeypatch.setattr(loading, "MAX_BYTES", 10_000)
    fails(path, "limit", "decompressed")


def test_huge_field_gives_a_short_message(tmp_path):
    path = write(tmp_path, GOOD.replace(",105,", f",{'9x' * 50_000},"))
    fails(path, "line 5", "'Close'", "number")
    path = write(tmp_path, "Date," + "C" * 100_000 + "\n2020-01-01,1\n")
    fails(path, "line 1", "header", "200 characters")
    fails(write(tmp_path, "Date," + "C" * 300), "line 1", "header", "200 characters")


def test_truncated_last_line(tmp_path):
    ds = load(write(tmp_path, GOOD.rstrip("\n")))  # just no final newline: all rows
    assert len(ds.series[0]) == 10 and not ds.warnings
    ds = load(write(tmp_path, GOOD + "2020-01-11,11"))  # a cut-off row: the good rows load
    assert len(ds.series[0]) == 10
    assert any("line 12" in w and "cut short" in w for w in ds.warnings)
    ds = load(write(tmp_path, GOOD + "2020-01-1"))
    assert len(ds.series[0]) == 10 and any("line 12" in w for w in ds.warnings)
    fails(write(tmp_path, GOOD + "2020-0,1,2,3"), "line 12", "'2020-0'", "date")


def test_short_rows_inside_the_file_are_reported(tmp_path):
    ds = load(write(tmp_path, GOOD.replace("2020-01-04,104,105,4000", "2020-01-04,104,105")))
    assert any("line 5" in w and "fewer fields" in w for w in ds.warnings)


def test_every_failure_is_one_line_for_the_cli(tmp_path, capsys, monkeypatch):
    from lstm_forecast import cli

    path = write(tmp_path, b"<html>oops</html>")
    monkeypatch.setattr("sys.argv", ["lstm-forecast", "inspect", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_messages_stay_on_one_line_and_short(tmp_path):
    names = ",".join(f"c{i}" for i in range(500))
    path = write(tmp_path, f"Date,{names}\n2020-01-01{',1' * 500}\n")
    assert len(fails(path, "(490 more)", target="nope")) < 400
    path = write(tmp_path, 'Date,"Clo\nse"\n2020-01-01,1\n2020-01-02,x\n')
    fails(path, "Clo se")
