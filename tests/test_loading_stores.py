"""Typed sources: database tables and queries, Parquet files and hive-partitioned datasets read
exactly as the same rows in a CSV; only the columns needed, --series pushed down."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import long_prices, run_cli, run_sql, store_lake, store_prices
from lstm_forecast import api, artifacts
from lstm_forecast.db_url import Database
from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.loading.stores import needed_columns
from lstm_forecast.settings import TrainConfig
from lstm_forecast.sql_source import Source
from lstm_forecast.training import data_hash
from postgres import PASSWORD

TINY = dict(lookback=10, horizon=3, hidden=8, layers=1, epochs=2, patience=5, seed=0)
TINY_CLI = [a for k, v in TINY.items() for a in (f"--{k}", str(v))]
COLUMNS = ["Date", "Ticker", "Open", "High", "Low", "Close", "Volume", "Adj Close", "Notes"]


@pytest.fixture(scope="module")
def rows():
    return long_prices()


@pytest.fixture(scope="module")
def csv_file(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "prices.csv"
    rows.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def csv_model(csv_file, tmp_path_factory):
    """The model of the CSV and its forecast through the command line."""
    model = tmp_path_factory.mktemp("csvmodel") / "csv.lstm"
    api.train(csv_file, model, TrainConfig(**TINY), threads=1)
    proc = run_cli("predict", csv_file, "--model", model)
    assert proc.returncode == 0, proc.stderr
    return model, proc.stdout


def same_data(a, b) -> None:
    assert [s.name for s in a.series] == [s.name for s in b.series] == ["AAPL", "MSFT"]
    for x, y in zip(a.series, b.series, strict=True):
        assert np.array_equal(x.index, y.index) and x.index.dtype == y.index.dtype
        assert np.array_equal(x.values, y.values) and np.array_equal(x.features, y.features)
    assert a.frequency == b.frequency and a.feature_names == b.feature_names
    assert data_hash(a) == data_hash(b)


def test_needed_columns_found_by_name():
    opts = LoadOptions()
    picked, series = needed_columns(COLUMNS, opts)
    assert picked == ["Date", "Ticker", "Close", "Volume", "Adj Close"] and series == "Ticker"
    picked, _ = needed_columns(COLUMNS, LoadOptions(target="open", features=["High"]))
    assert picked == ["Date", "Ticker", "Open", "High", "Volume", "Adj Close"]
    picked, series = needed_columns(["day", "sym", "px"], LoadOptions(series_col="SYM"))
    assert picked is None and series == "sym"  # no target by name: every column, as a CSV
    for opts in (LoadOptions(target="all"), LoadOptions(target="nope"), LoadOptions(date_col="x")):
        assert needed_columns(COLUMNS, opts)[0] is None
    assert needed_columns(["Date", "Close", "Ticker", "Name"], opts)[1] is None  # two tickers?


def test_each_database_reads_like_the_csv(database_url, rows, csv_file):
    store_prices(database_url, rows)
    run_sql(database_url, "CREATE TABLE other (x TEXT)", "INSERT INTO other VALUES ('a')")
    source = Source(Database(database_url), table="prices")
    got = load(source)
    same_data(got, load(csv_file))
    assert got.details["columns"] == ["date", "ticker", "close", "volume"]
    assert got.details["rows"] == len(rows) and got.details["format"] == Database(database_url).kind
    query = Source(Database(database_url), query="SELECT * FROM prices WHERE close > 0")
    same_data(load(query), got)


def test_hive_dataset_reads_like_the_csv(rows, csv_file, tmp_path):
    lake = store_lake(tmp_path / "lake", rows)
    got = load(lake)
    same_data(got, load(csv_file))
    assert got.details["format"] == "parquet" and got.details["rows"] == len(rows)
    assert sorted(got.details["columns"]) == ["Close", "Date", "Ticker", "Volume"]


def test_series_are_read_from_their_own_partitions_only(rows, tmp_path):
    lake = store_lake(tmp_path / "lake", rows)
    for part in (lake / "Ticker=MSFT").iterdir():
        part.write_bytes(b"PAR1 not really parquet PAR1")  # would fail if it were opened
    got = load(lake, LoadOptions(series=["AAPL"]))
    assert [s.name for s in got.series] == ["AAPL"] and got.details["rows"] == len(rows) // 2
    with pytest.raises(DataError, match="unreadable Parquet"):
        load(lake)


def test_series_filter_and_columns_go_to_the_database(database_url, rows):
    store_prices(database_url, rows)
    run_sql(database_url, "ALTER TABLE prices ADD COLUMN notes TEXT", "UPDATE prices SET notes='x'")
    got = load(Source(Database(database_url), table="prices"), LoadOptions(series=["MSFT"]))
    assert got.details["rows"] == len(rows) // 2 and "notes" not in got.details["columns"]
    assert [s.name for s in got.series] == ["MSFT"]
    with pytest.raises(DataError, match=r"\(table prices\): no rows with ticker NONE"):
        load(Source(Database(database_url), table="prices"), LoadOptions(series=["NONE"]))


def test_failures_are_one_line_naming_the_database_without_its_password(postgres_server, rows):
    postgres_server.sql("CREATE DATABASE failures")
    url = postgres_server.url("failures")
    store_prices(url, rows)
    shown = url.replace(PASSWORD, "***")
    cases = [
        (Source(Database(url), table="missing"), LoadOptions(), "missing"),
        (Source(Database(url), table="prices"), LoadOptions(target="nope"), "nope"),
        (Source(Database(url), query="SELECT 1 AS x WHERE false"), LoadOptions(), "no rows"),
    ]
    for source, opts, word in cases:
        with pytest.raises(DataError) as caught:
            load(source, opts)
        message = str(caught.value)
        assert message.startswith(shown) and word in message and "\n" not in message
        assert PASSWORD not in message


@pytest.mark.parametrize("stored", ["local midnight", "UTC midnight"])
def test_dates_with_time_zones_keep_their_days(postgres_server, stored):
    name = f"zoned_{stored.split()[0].lower()}"
    postgres_server.sql(
        f"CREATE DATABASE {name}", f"ALTER DATABASE {name} SET timezone = 'US/Pacific'"
    )
    url = postgres_server.url(name)
    offset = "" if stored == "local midnight" else "+00"
    days = [f"2024-03-{d:02d}" for d in range(4, 16) if d not in (9, 10)]  # across DST
    values = ", ".join(f"('{d} 00:00:00{offset}', {100 + i})" for i, d in enumerate(days))
    run_sql(url, "CREATE TABLE p (day timestamptz, close float8)", f"INSERT INTO p VALUES {values}")
    got = load(Source(Database(url), table="p"))
    assert [str(d)[:10] for d in got.series[0].index] == days
    expected = "local calendar dates" if stored == "local midnight" else "at UTC midnight"
    assert expected in got.details["timezone"] and got.details["timezone"] in got.notes


def test_inspect_says_what_it_read(postgres_server, rows):
    postgres_server.sql("CREATE DATABASE inspected")
    url = postgres_server.url("inspected")
    store_prices(url, rows)
    found = api.inspect(Source(Database(url), table="prices"), LoadOptions(series=["AAPL"]))
    shown = url.replace(PASSWORD, "***")
    assert found["source"] == f"{shown} (table prices)" and found["database"] == shown
    assert found["table"] == "prices" and found["rows"] == len(rows) // 2
    assert found["columns"] == ["date", "ticker", "close", "volume"]
    assert [s["name"] for s in found["series"]] == ["AAPL"]
    proc = run_cli("inspect", url, "--query", "SELECT * FROM prices", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"query": "SELECT * FROM prices"' in proc.stdout and PASSWORD not in proc.stdout


def source_for(kind: str, rows, tmp_path, request) -> tuple[list[str], object]:
    """(DATA and its options on the command line, the api's data) for one kind of source."""
    if kind == "parquet":
        lake = store_lake(tmp_path / "lake", rows)
        return [str(lake)], lake
    if kind == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.sql(f"CREATE DATABASE same_{tmp_path.name[-8:].lower().replace('-', '_')}")
        url = server.url(f"same_{tmp_path.name[-8:].lower().replace('-', '_')}")
    else:
        url = f"{kind}:///{tmp_path / ('p.' + kind)}"
    store_prices(url, rows)
    return [url, "--table", "prices"], Source(Database(url), table="prices")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgresql", "sqlite", "duckdb", "parquet"])
def test_every_source_trains_the_csv_model_and_predicts_its_forecasts(
    kind, rows, csv_model, tmp_path, request
):
    args, data = source_for(kind, rows, tmp_path, request)
    model = tmp_path / "m.lstm"
    api.train(data, model, TrainConfig(**TINY), threads=1)
    _, want = artifacts.load_model(csv_model[0])
    card, got = artifacts.load_model(model)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in got)
    assert PASSWORD not in str(card.source)
    proc = run_cli("predict", *args, "--model", model)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == csv_model[1]
    assert proc.stdout.splitlines()[1].startswith("AAPL,")  # series in name order
