"""Parquet files and hive-partitioned datasets: columns, pushed-down series filter, writing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lstm_forecast.errors import DataError
from lstm_forecast.parquet import (
    SERIES_ROWS,
    column_names,
    is_parquet,
    read_batches,
    series_rows,
    write_parquet,
)


def prices(tickers=("AAPL", "MSFT", "NVDA"), days: int = 30) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-02", periods=days)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "ticker": t,
                    "Date": dates,
                    "Close": 100.0 * (i + 1) + np.arange(days),
                    "Volume": np.arange(days, dtype="int64") * 10,
                }
            )
            for i, t in enumerate(tickers)
        ],
        ignore_index=True,
    )


def read_all(path, *args, **kwargs) -> pd.DataFrame:
    return pd.concat(list(read_batches(path, *args, **kwargs)), ignore_index=True)


@pytest.fixture
def lake(tmp_path):
    """A hive-partitioned dataset written by pyarrow: lake/ticker=AAPL/<file>.parquet, ..."""
    root = tmp_path / "lake"
    pq.write_to_dataset(pa.Table.from_pandas(prices(), preserve_index=False), root, ["ticker"])
    return root


def test_write_and_read_one_file(tmp_path):
    path = tmp_path / "prices.parquet"
    frame = prices()
    write_parquet(path, frame)
    assert is_parquet(path) and [p.name for p in tmp_path.iterdir()] == ["prices.parquet"]
    assert column_names(path) == ["ticker", "Date", "Close", "Volume"]
    got = read_all(path)
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    assert pd.api.types.is_datetime64_dtype(got["Date"]) and got["Volume"].dtype == "int64"


def test_partition_key_becomes_a_column(lake):
    assert is_parquet(lake)
    assert set(column_names(lake)) == {"ticker", "Date", "Close", "Volume"}
    got = read_all(lake).sort_values(["ticker", "Date"], ignore_index=True)
    assert got["ticker"].value_counts().to_dict() == {"AAPL": 30, "MSFT": 30, "NVDA": 30}
    assert got.loc[got["ticker"] == "MSFT", "Close"].iloc[0] == 200.0


def test_series_filter_reads_only_that_partition(lake):
    (next((lake / "ticker=MSFT").iterdir())).write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(DataError, match="unreadable Parquet data"):
        read_all(lake)  # the damaged partition is read when nothing filters it out
    got = read_all(lake, ["Date", "Close", "ticker"], series_column="ticker", series=["AAPL"])
    assert got["ticker"].unique().tolist() == ["AAPL"] and len(got) == 30


def test_only_the_columns_asked_for(lake):
    got = read_all(lake, ["Date", "Close"])
    assert list(got.columns) == ["Date", "Close"] and len(got) == 90


def test_series_filter_inside_one_file_and_batches_stream(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pandas(prices(days=400)), path, row_group_size=100)
    batches = list(read_batches(path, series_column="ticker", series=["NVDA"], batch_rows=50))
    assert len(batches) > 1 and all(len(b) <= 50 for b in batches)
    assert pd.concat(batches)["ticker"].unique().tolist() == ["NVDA"]


def test_plain_folder_of_files(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for i, t in enumerate(["AAPL", "MSFT"]):
        write_parquet(folder / f"part-{i}.parquet", prices([t]))
    assert len(read_all(folder, series_column="ticker", series=["MSFT"])) == 30
    assert len(read_all(folder)) == 60


def test_integer_partition_key_filter(tmp_path):
    root = tmp_path / "ids"
    frame = prices().assign(ticker=lambda f: f["ticker"].map({"AAPL": 1, "MSFT": 2, "NVDA": 3}))
    pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), root, ["ticker"])
    assert read_all(root, series_column="ticker", series=["2"])["Close"].iloc[0] == 200.0
    with pytest.raises(DataError, match="do not fit column ticker"):
        read_all(root, series_column="ticker", series=["MSFT"])


def test_missing_column_missing_path_and_not_parquet(tmp_path, lake):
    with pytest.raises(DataError, match=r"no column Adj Close \(the columns are"):
        read_all(lake, ["Date", "Adj Close"])
    with pytest.raises(DataError, match="no such file or folder"):
        read_all(tmp_path / "nowhere.parquet")
    text = tmp_path / "p.parquet"
    text.write_text("Date,Close\n2024-01-02,1\n")
    assert not is_parquet(text)
    with pytest.raises(DataError, match="not a Parquet file"):
        read_all(text)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet files"):
        read_all(tmp_path / "empty")


def test_series_rows_from_partitions_footers_or_the_column_alone(tmp_path, lake):
    assert series_rows(lake, "ticker") == {"AAPL": 30, "MSFT": 30, "NVDA": 30}
    frame = prices(days=12).iloc[:-5]  # NVDA: 7 rows
    table = pa.Table.from_pandas(frame, preserve_index=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    pq.write_table(table, plain / "a.parquet")
    assert series_rows(plain, "ticker") == {"AAPL": 12, "MSFT": 12, "NVDA": 7}
    listed = tmp_path / "listed"
    listed.mkdir()
    footer = {SERIES_ROWS: b'{"AAPL": 1, "ZZZ": 2}'}  # believed as written: no row is read
    pq.write_table(table.replace_schema_metadata(footer), listed / "a.parquet")
    assert series_rows(listed, "ticker") == {"AAPL": 1, "ZZZ": 2}
