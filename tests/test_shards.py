"""Sharding a Parquet dataset's series over training processes: balanced, contiguous, agreed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helpers import long_prices, store_lake
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.shards import balance, groups, shard_options


def test_runs_are_contiguous_in_name_order_and_balanced_by_rows():
    rows = {"d": 10, "a": 10, "c": 10, "b": 10}
    assert balance(rows, 2) == [["a", "b"], ["c", "d"]]
    assert balance({"a": 1, "b": 1, "c": 1, "d": 100}, 2) == [["a", "b", "c"], ["d"]]
    assert balance({"a": 100, "b": 1, "c": 1}, 3) == [["a"], ["b"], ["c"]]


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(1, 10_000), min_size=1))
def test_every_series_lands_in_exactly_one_run(rows):
    for parts in (1, 2, 3, 7):
        runs = balance(rows, parts)
        assert len(runs) == parts
        assert [n for run in runs for n in run] == sorted(rows)
        if len(rows) >= parts:
            assert all(runs)
            heaviest = max(rows.values())
            loads = [sum(rows[n] for n in run) for run in runs]
            assert max(loads) <= sum(rows.values()) / parts + heaviest


def test_each_rank_reads_only_its_series(tmp_path):
    tickers = ("AAPL", "IBM", "MSFT", "NVDA", "ORCL")
    lake = store_lake(tmp_path / "lake", long_prices(tickers, days=60))
    options = LoadOptions(target="Close")
    plans = [shard_options(lake, options, rank, 2) for rank in (0, 1)]
    assert [p[1] for p in plans] == [5, 5]
    assert [p[0].series for p in plans] == [["AAPL", "IBM", "MSFT"], ["NVDA", "ORCL"]]
    assert [s.name for s in load(lake, plans[1][0]).series] == ["NVDA", "ORCL"]
    picked = shard_options(lake, LoadOptions(target="Close", series=["IBM", "ORCL"]), 1, 2)
    assert picked[0].series == ["ORCL"] and picked[1] == 2


def test_other_sources_and_single_runs_are_not_sharded(tmp_path):
    lake = store_lake(tmp_path / "lake", long_prices(("AAPL", "IBM"), days=30))
    assert shard_options(lake, LoadOptions(), 0, 1) is None  # one process
    assert shard_options(lake, LoadOptions(), 0, 3) is None  # fewer series than ranks
    csv = tmp_path / "p.csv"
    long_prices(days=30).to_csv(csv, index=False)
    assert shard_options(csv, LoadOptions(), 0, 2) is None


def test_predict_groups_are_never_empty(tmp_path):
    """Two long series in groups of a third of the rows: three runs, one of them empty, which
    read as no filter would read the whole dataset again."""
    lake = store_lake(tmp_path / "lake", long_prices(("AAPL", "MSFT"), days=150))
    assert balance({"AAPL": 150, "MSFT": 150}, 3) == [["AAPL"], ["MSFT"], []]
    plan = groups(lake, LoadOptions(series_col="Ticker"), 100, {"AAPL", "MSFT"})
    assert plan == [["AAPL"], ["MSFT"]]
