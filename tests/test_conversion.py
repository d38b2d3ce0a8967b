"""convert: a big text file into a Parquet dataset by series, in chunks, cleaned as load cleans."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_forecast import conversion
from lstm_forecast.conversion import convert
from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.parquet import SERIES_ROWS, series_rows

DATA = Path(__file__).parent / "data"
SMALL = {"chunk_bytes": 40_000, "bucket_bytes": 30_000}  # several chunks and buckets


def same_series(a, b) -> None:
    assert [s.name for s in a.series] == [s.name for s in b.series]
    for x, y in zip(a.series, b.series, strict=True):
        np.testing.assert_array_equal(x.index, y.index, err_msg=x.name)
        np.testing.assert_array_equal(x.values, y.values, err_msg=x.name)
        np.testing.assert_array_equal(x.features, y.features, err_msg=x.name)


def long_csv(path: Path, tickers: int = 6, days: int = 400, **kw) -> Path:
    """A long file, rows interleaved by date as exports often are: `sep`, `decimal`, day-first
    dates and a title line as asked."""
    sep, decimal = kw.get("sep", ","), kw.get("decimal", ".")
    dates = np.busday_offset(np.datetime64("2015-01-02"), np.arange(days), roll="forward")
    rng = np.random.default_rng(0)
    lines = [kw["title"]] if "title" in kw else []
    lines.append(sep.join(["Date", "Symbol", "Close", "Volume"]))
    prices = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (days, tickers)), axis=0))
    for d, day in enumerate(dates):
        shown = day.astype(object).strftime("%d/%m/%Y" if kw.get("dayfirst") else "%Y-%m-%d")
        for t in range(tickers):
            price = f"{prices[d, t]:.4f}".replace(".", decimal)
            lines.append(sep.join([shown, f"T{t:02d}", price, str(1000 + d)]))
    text = "\n".join(lines) + "\n"
    encoded = text.encode(kw.get("encoding", "utf-8"))
    path.write_bytes(gzip.compress(encoded) if path.suffix == ".gz" else encoded)
    return path


def test_bokeh_file_round_trip_matches_load(tmp_path):
    source = DATA / "bokeh_stocks.csv.gz"
    out = tmp_path / "universe"
    result = convert(source, out, **SMALL)
    direct, converted = load(source), load(out)
    same_series(direct, converted)
    assert (result.series, result.rows, result.source_rows) == (5, 12154, 12154)
    assert result.files == len(list(out.glob("part-*.parquet"))) > 1
    assert result.notes == direct.notes and result.warnings == direct.warnings == []
    assert converted.exchange == direct.exchange == "XNYS"
    assert converted.frequency == "B" and converted.target == "Adj Close"
    assert series_rows(out, "Ticker") == {s.name: len(s) for s in direct.series}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work left behind


def test_each_file_lists_its_series_rows_and_is_sorted(tmp_path):
    out = tmp_path / "u"
    convert(long_csv(tmp_path / "p.csv", tickers=8), out, **SMALL)
    seen = {}
    for part in sorted(out.glob("part-*.parquet")):
        listed = json.loads(pq.read_metadata(part).metadata[SERIES_ROWS])
        frame = pq.read_table(part).to_pandas()
        assert frame["Symbol"].is_monotonic_increasing
        assert frame.groupby("Symbol").size().to_dict() == listed
        for name, group in frame.groupby("Symbol"):
            assert group["Date"].is_monotonic_increasing, name
        seen.update(listed)
    assert seen == {f"T{t:02d}": 400 for t in range(8)}


@pytest.mark.parametrize(
    "kw",
    [
        {"sep": ";", "decimal": ",", "dayfirst": True, "title": "Export 2024"},
        {"encoding": "utf-16"},
        {"encoding": "utf-8-sig", "sep": "\t"},
    ],
)
def test_messy_text_reads_as_load_reads_it(tmp_path, kw):
    source = long_csv(tmp_path / "p.csv.gz", **kw)
    out = tmp_path / "u"
    result = convert(source, out, **SMALL)
    direct = load(source)
    same_series(direct, load(out))
    assert result.notes == direct.notes


def test_repairs_across_chunks_match_load(tmp_path):
    """Duplicates, a gap to fill and rows out of order spread over chunks."""
    source = long_csv(tmp_path / "p.csv")
    lines = source.read_text().splitlines()
    lines[2000], lines[30] = lines[30], lines[2000]  # out of order, far apart
    lines.append(lines[500])  # an exact duplicate in the last chunk
    del lines[1200]  # one missing row: filled
    source.write_text("\n".join(lines) + "\n")
    result = convert(source, tmp_path / "u", **SMALL)
    direct = load(source)
    same_series(direct, load(tmp_path / "u"))
    assert result.notes == direct.notes and result.warnings == direct.warnings
    assert any("duplicate" in n for n in result.notes)


def test_a_bad_value_late_in_the_file_is_named_by_its_line(tmp_path):
    source = long_csv(tmp_path / "p.csv")
    lines = source.read_text().splitlines()
    lines[2301] = lines[2301].replace(lines[2301].split(",")[2], "12..5")
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as direct:
        load(source)
    with pytest.raises(DataError) as converted:
        convert(source, tmp_path / "u", **SMALL)
    assert str(converted.value) == str(direct.value)
    assert "line 2302" in str(converted.value)
    assert list(tmp_path.iterdir()) == [source]  # neither the dataset nor its work folder


def test_a_crash_midway_leaves_no_dataset(tmp_path, monkeypatch):
    source = long_csv(tmp_path / "p.csv")
    written = []

    def fail_second(*args):
        if written:
            raise KeyboardInterrupt
        written.append(args)
        return real(*args)

    real = conversion._write
    monkeypatch.setattr(conversion, "_write", fail_second)
    with pytest.raises(KeyboardInterrupt):
        convert(source, tmp_path / "u", **SMALL)
    assert list(tmp_path.iterdir()) == [source]


def test_existing_folder_needs_replace_and_must_be_a_converted_dataset(tmp_path):
    source = long_csv(tmp_path / "p.csv", tickers=3)
    out = tmp_path / "u"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists; remove it or pass --replace"):
        convert(source, out)
    with pytest.raises(ConfigError, match=r"holds other files than a converted dataset \(notes"):
        convert(source, out, replace_existing=True)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    convert(source, out, replace_existing=True)
    convert(source, out, replace_existing=True)
    assert [p.name for p in out.iterdir()] == ["part-0.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "u"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"Date,Close\n2024-01-02,1\n2024-01-03,2\n", "no series (ticker) column"),
        (b"", "empty file"),
        (b"PAR1....", "Parquet already"),
    ],
)
def test_what_convert_refuses(tmp_path, text, message):
    source = tmp_path / "in.csv"
    source.write_bytes(text)
    with pytest.raises(DataError, match=re.escape(message)):
        convert(source, tmp_path / "u")
    with pytest.raises(ConfigError, match="every series"):
        convert(source, tmp_path / "u", LoadOptions(series=["A"]))


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    end=st.booleans(),
    size=st.integers(1, 64),
)
def test_chunks_cut_at_line_breaks_and_lose_nothing(lines, end, size):
    data = b"\n".join(lines) + (b"\n" if end and lines else b"")
    pieces = list(conversion._chunks(io.BufferedReader(io.BytesIO(data)), size, "text", "x"))
    assert b"".join(pieces) == data
    assert all(p.endswith(b"\n") for p in pieces[:-1])
    assert all(p.count(b'"') % 2 == 0 for p in pieces[:-1])  # never inside a quoted field
    if b'"' not in data:
        assert all(0 < len(p) < 2 * size + 32 for p in pieces)  # a line is at most 31 bytes


def test_utf16_chunks_become_utf8():
    text = "Date,Ticker,Close\n" + "2024-01-02,ÄBC,1.5\n" * 50
    raw = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    pieces = list(conversion._chunks(io.BufferedReader(io.BytesIO(raw)), 64, "text", "x"))
    assert b"".join(pieces).decode("utf-8") == text and len(pieces) > 1


def test_cli_convert_then_inspect(tmp_path, cli):
    source = long_csv(tmp_path / "p.csv", tickers=4)
    done = cli("convert", source, "--to", tmp_path / "u")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"wrote 4 series, 1,600 rows (from 1,600) in 1 file to {tmp_path / 'u'}" in done.stderr
    again = cli("convert", source, "--to", tmp_path / "u")
    assert again.returncode == 1 and "exists; remove it or pass --replace" in again.stderr
    shown = json.loads(cli("inspect", tmp_path / "u", "--json").stdout)
    assert [s["rows"] for s in shown["series"]] == [400] * 4


def test_what_a_killed_conversion_left_is_cleared_and_a_moved_dataset_put_back(tmp_path):
    source = long_csv(tmp_path / "p.csv", tickers=3)
    convert(source, tmp_path / "u")
    before = (tmp_path / "u" / "part-0.parquet").read_bytes()
    # killed between its two renames: the old dataset aside, the new one unfinished
    (tmp_path / "u").rename(tmp_path / ".u.partial-k1ll3d.old")
    (tmp_path / ".u.partial-k1ll3d" / "spill").mkdir(parents=True)
    (tmp_path / ".u.partial-k1ll3d.lock").write_bytes(b"")  # no process holds it
    with pytest.raises(ConfigError, match="exists; remove it"):  # the old one came back first
        convert(source, tmp_path / "u")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "u"]
    assert (tmp_path / "u" / "part-0.parquet").read_bytes() == before
    with pytest.raises(ConfigError, match=r"folder .* does not exist"):
        convert(source, tmp_path / "no" / "u")


def test_a_running_conversions_work_folder_is_left_alone(tmp_path):
    import fcntl

    source = long_csv(tmp_path / "p.csv", tickers=3)
    (tmp_path / ".u.partial-live").mkdir()
    lock = tmp_path / ".u.partial-live.lock"
    lock.write_bytes(b"")
    with open(lock, "rb+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        convert(source, tmp_path / "u")
    assert (tmp_path / ".u.partial-live").is_dir() and lock.exists()


def test_text_problems_in_later_pieces_name_the_files_lines(tmp_path):
    source = long_csv(tmp_path / "p.csv")
    lines = source.read_text().splitlines()
    lines[1500] = ",".join(lines[1500].split(",")[:3])  # file line 1501: a field short
    source.write_text("\n".join(lines) + "\n")
    result = convert(source, tmp_path / "u", **SMALL)
    assert result.warnings == load(source).warnings
    assert any("line 1501" in w for w in result.warnings)
    lines[1500] += ",9,9"  # now too many fields
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as whole:
        load(source)
    with pytest.raises(DataError) as pieces:
        convert(source, tmp_path / "v", **SMALL)
    assert str(pieces.value) == str(whole.value) and "line 1501" in str(whole.value)


def test_a_quoted_line_break_is_never_cut(tmp_path):
    source = long_csv(tmp_path / "p.csv")
    text = source.read_text().replace(",T01,", ',"T\n01",')  # in every row of one series
    source.write_text(text)
    result = convert(source, tmp_path / "u", chunk_bytes=3_000, bucket_bytes=30_000)
    direct = load(source)
    same_series(direct, load(tmp_path / "u"))
    assert "T\n01" in {s.name for s in direct.series} and result.series == 6


def test_a_headerless_file_reads_as_load_reads_it(tmp_path):
    """Numbers only (so the first line reads as data), and pieces that start with an empty
    cell, which alone would look like a header."""
    source = long_csv(tmp_path / "p.csv")
    lines = [line.replace(",T0", ",10") for line in source.read_text().splitlines()[1:]]
    lines[900:] = [line.rsplit(",", 1)[0] + "," for line in lines[900:]]  # no volume from here
    source.write_text("\n".join(lines) + "\n")
    options = LoadOptions(series_col="column 2", target="column 3")
    result = convert(source, tmp_path / "u", options, **SMALL)
    direct = load(source, options)
    assert result.files > 1 and any(n.startswith("no header line") for n in direct.notes)
    same_series(direct, load(tmp_path / "u", LoadOptions(series_col="column 2")))
    assert result.notes == direct.notes


def test_short_series_are_skipped_as_load_skips_them_whatever_bucket_they_share(tmp_path):
    """Many one-row series (listed and gone at once): a bucket holding only those would be
    refused on its own; they are built with others and skipped with load's warnings."""
    source = long_csv(tmp_path / "p.csv", tickers=4)
    extra = [f"2016-01-0{4 + i % 4},Z{i:03d},10.0,5" for i in range(60)]
    source.write_text(source.read_text() + "\n".join(extra) + "\n")
    assert conversion._groups([{"A": 1}, {"B": 1}, {"C": 400, "D": 400}, {"E": 1}], 2) == [
        [0, 1, 2, 3]
    ]
    result = convert(source, tmp_path / "u", **SMALL)
    direct = load(source)
    same_series(direct, load(tmp_path / "u"))
    assert sorted(result.warnings) == sorted(direct.warnings) and len(result.warnings) == 60
