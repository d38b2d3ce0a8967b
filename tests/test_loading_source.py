"""Bytes: files, stdin, containers found by magic bytes, the size bound, Parquet's typed columns."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import (
    PRICES_CSV,
    broken_file_test,
    days_of,
    load_fails,
    read_data,
    stamps_of,
    write_data,
    zipped,
)
from lstm_forecast.loading import load, source

BROKEN = {
    "xlsx": (zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), ["Excel"]),
    "zip of two": (
        zipped({"a.csv": PRICES_CSV.encode(), "b.csv": PRICES_CSV.encode()}),
        ["2 files"],
    ),
    "damaged gzip": (gzip.compress(PRICES_CSV.encode())[:40], ["damaged gzip"]),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize(
    ("kind", "pack"),
    [
        ("gzip", gzip.compress),
        ("bz2", bz2.compress),
        ("xz", lzma.compress),
        ("zip", lambda data: zipped({"prices.csv": data})),
    ],
)
def test_compression_by_magic_bytes(tmp_path, kind, pack):
    ds = read_data(tmp_path, pack(PRICES_CSV.encode()), name="prices.dat")
    assert ds.details["compression"] == kind and len(ds.series[0]) == 10


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PRICES_CSV.encode())))
    ds = load("-")
    assert ds.source == "<stdin>" and len(ds.series[0]) == 10


def test_missing_path_directory_and_device(tmp_path):
    load_fails(tmp_path / "nope.csv", "no such file")
    load_fails(tmp_path, "directory")
    if os.path.exists("/dev/zero"):
        load_fails("/dev/zero", "device")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = write_data(tmp_path, PRICES_CSV)
    path.chmod(0)
    try:
        load_fails(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.truncate(source.MAX_BYTES + 1)  # sparse: takes no disk space
    load_fails(path, "limit")


def test_decompression_is_bounded(tmp_path, monkeypatch):
    path = write_data(tmp_path, gzip.compress(PRICES_CSV.encode() * 100), "bomb.csv.gz")
    monkeypatch.setattr(source, "MAX_BYTES", 10_000)
    load_fails(path, "limit", "decompressed")


def test_parquet_needs_the_extra_when_pyarrow_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = write_data(tmp_path, b"PAR1\x15\x04\x15\x10" + bytes(64) + b"PAR1", "prices.parquet")
    load_fails(path, "parquet", "extra")


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
    assert days_of(ds)[0] == "2020-01-01"


def test_parquet_columns_keep_their_types(tmp_path):
    """Timestamps (here tz-aware, intraday) and numbers are used as stored, not as text."""
    pytest.importorskip("pyarrow")
    stamps = pd.date_range("2020-03-06 09:30", periods=6, freq="5min", tz="America/New_York")
    closes = pd.array([1.5, 2.5, None, 4.5, 5.5, 6.5], dtype="Float64")
    frame = pd.DataFrame({"Close": closes, "Ticker": "X"}, index=stamps.rename("Date"))
    frame.to_parquet(tmp_path / "p.parquet")  # the index is stored and read back as a column
    ds = load(tmp_path / "p.parquet")
    assert ds.date_column == "Date" and ds.details["date_format"] == "typed timestamps"
    assert stamps_of(ds)[0] == "2020-03-06T14:30:00" and ds.frequency == "5min"
    assert ds.details["timezone"] == "timestamps with time-zone offsets converted to UTC"
    assert ds.series[0].name == "X"
    assert ds.series[0].values.tolist() == [1.5, 2.5, 2.5, 4.5, 5.5, 6.5]
    assert any("forward-filled 1 missing 'Close' value (first at line 4 " in w for w in ds.warnings)
