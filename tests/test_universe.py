"""bench/universe.py: the synthetic universe reads back as one hive dataset in either layout."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "bench" / "universe.py"


def generate(out, *args: str) -> str:
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), "--series", "300", "--days", "400"]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read(out):
    table = ds.dataset(out, partitioning="hive").to_table(columns=["ticker", "date", "close"])
    return table.sort_by([("ticker", "ascending"), ("date", "ascending")]).to_pandas()


@pytest.fixture(scope="module")
def buckets(tmp_path_factory):
    out = tmp_path_factory.mktemp("u") / "buckets"
    summary = generate(out, "--buckets", "7")
    return out, summary


def test_bucket_layout_holds_every_series_in_sorted_ranges(buckets):
    out, summary = buckets
    assert "300 series x 400 days, 120,000 rows in 7 files" in summary
    assert sorted(p.name for p in out.iterdir()) == [f"bucket={b}" for b in range(7)]
    frame = read(out)
    assert frame["ticker"].nunique() == 300 and len(frame) == 120_000
    assert frame["ticker"].iloc[0] == "AAAA" and frame["ticker"].iloc[-1] == "AALN"  # 299
    first = ds.dataset(out / "bucket=0").to_table().column("ticker")
    assert (pc.min(first).as_py(), pc.max(first).as_py()) == ("AAAA", "AABQ")  # series 0..42


def test_prices_are_positive_on_business_days_with_volatility_clusters(buckets):
    frame = read(buckets[0])
    assert (frame["close"] > 0).all()
    dates = frame["date"].drop_duplicates()
    assert len(dates) == 400 and str(dates.max()) == "2024-12-31"
    assert np.is_busday(dates.to_numpy().astype("datetime64[D]")).all()
    r = np.diff(np.log(frame["close"].to_numpy().reshape(300, 400)), axis=1)
    sq = r**2 - (r**2).mean(1, keepdims=True)
    acf1 = ((sq[:, 1:] * sq[:, :-1]).sum(1) / (sq * sq).sum(1)).mean()
    assert acf1 > 0.03  # squared returns are autocorrelated (an iid walk gives about 0)


def test_ticker_layout_holds_the_same_data_with_the_ticker_from_folders(buckets, tmp_path):
    out = tmp_path / "tickers"
    generate(out, "--layout", "ticker")
    assert len(list(out.iterdir())) == 300 and (out / "ticker=AAAB" / "part-0.parquet").exists()
    assert "ticker" not in ds.dataset(out / "ticker=AAAB").schema.names
    a, b = read(buckets[0]), read(out)
    assert (a["ticker"].to_numpy() == b["ticker"].astype(str).to_numpy()).all()
    assert (a["close"].to_numpy() == b["close"].to_numpy()).all()


def test_ragged_series_start_late_or_end_early(tmp_path):
    out = tmp_path / "ragged"
    generate(out, "--ragged", "--seed", "3")
    lengths = read(out).groupby("ticker").size()
    assert len(lengths) == 300 and lengths.max() == 400
    assert (lengths < 400).mean() > 0.3 and lengths.min() >= 100


def test_refuses_a_folder_with_files_in_it(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    cmd = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--series", "3", "--days", "300"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "not empty" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
