"""Reading prices from PostgreSQL, SQLite and DuckDB tables and queries."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import run_sql
from lstm_forecast.db_url import Database
from lstm_forecast.errors import DataError
from lstm_forecast.sql_source import Source, column_names, read_frames, split_table
from lstm_forecast.typed_dates import naive_timestamps

HOSTILE = 'prices"; DROP TABLE x; --'
ROWS = [
    ("AAPL", "2024-01-02", 185.5, 100),
    ("AAPL", "2024-01-03", 184.0, 110),
    ("MSFT", "2024-01-02", 370.0, 200),
    ("MSFT", "2024-01-03", 368.5, 210),
    ("MSFT", "2024-01-04", 367.0, 220),
]
# A view whose rows of series BAD fail when read: reading it filtered by series proves
# the database did the filtering (the client never saw those rows).
POISONED = {
    "postgresql": [
        "CREATE FUNCTION poison(t text) RETURNS double precision LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'poisoned row %', t; END $$",
        "CREATE VIEW poisoned AS SELECT ticker, CASE WHEN ticker = 'BAD' "
        "THEN poison(ticker) ELSE close END AS close FROM plain",
    ],
    "sqlite": [
        "CREATE VIEW poisoned AS SELECT ticker, CASE WHEN ticker = 'BAD' "
        "THEN CAST(x'ff' AS TEXT) ELSE close END AS close FROM plain"
    ],
    "duckdb": [
        "CREATE VIEW poisoned AS SELECT ticker, CASE WHEN ticker = 'BAD' "
        "THEN error('poisoned row') ELSE close END AS close FROM plain"
    ],
}


def kind(url: str) -> str:
    return Database(url).kind


def load_prices(url: str, table: str = HOSTILE) -> None:
    quoted = '"' + table.replace('"', '""') + '"'
    values = ", ".join(f"('{t}', '{d}', {c}, {v})" for t, d, c, v in ROWS)
    run_sql(
        url,
        "CREATE TABLE x (keep INTEGER)",
        "INSERT INTO x VALUES (1)",
        f"CREATE TABLE {quoted} (ticker TEXT, day DATE, close DOUBLE PRECISION, volume BIGINT)",
        f"INSERT INTO {quoted} VALUES {values}",
    )


def read_all(source: Source, *args, **kwargs) -> pd.DataFrame:
    frames = list(read_frames(source, *args, **kwargs))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def test_table_round_trip_with_a_hostile_name(database_url):
    load_prices(database_url)
    source = Source(Database(database_url), table=HOSTILE)
    assert column_names(source) == ["ticker", "day", "close", "volume"]
    got = read_all(source, ["ticker", "day", "close"], chunk_rows=2)
    assert list(got.columns) == ["ticker", "day", "close"]
    assert got["ticker"].tolist() == [r[0] for r in ROWS]
    assert pd.to_datetime(got["day"]).dt.strftime("%Y-%m-%d").tolist() == [r[1] for r in ROWS]
    assert got["close"].tolist() == [r[2] for r in ROWS]
    assert run_sql(database_url, "SELECT keep FROM x") == [(1,)]  # the name was never SQL


def test_typed_columns_arrive_typed(database_url):
    load_prices(database_url, "prices")
    got = read_all(Source(Database(database_url), table="prices"))
    assert got["close"].dtype == "float64"
    assert got["volume"].dtype == "int64"
    if kind(database_url) != "sqlite":  # SQLite keeps dates as the text it was given
        assert pd.api.types.is_datetime64_dtype(got["day"])


def test_query_round_trip(database_url):
    load_prices(database_url, "prices")
    query = "SELECT ticker, close * 2 AS doubled FROM prices WHERE close > 300 -- big ones\n;"
    got = read_all(Source(Database(database_url), query=query))
    assert got.to_dict("list") == {"ticker": ["MSFT"] * 3, "doubled": [740.0, 737.0, 734.0]}


def test_query_with_colons_and_percent_signs(database_url):
    load_prices(database_url, "prices")
    query = "SELECT ticker, '10:30 100%' AS note FROM prices WHERE ticker LIKE 'AA%'"
    got = read_all(Source(Database(database_url), query=query))
    assert got["note"].tolist() == ["10:30 100%"] * 2


def test_series_filter_is_done_by_the_database(database_url):
    load_prices(database_url, "plain")
    run_sql(database_url, "INSERT INTO plain VALUES ('BAD', '2024-01-02', 1.0, 1)")
    run_sql(database_url, *POISONED[kind(database_url)])
    source = Source(Database(database_url), table="poisoned")
    with pytest.raises(DataError):
        read_all(source)
    got = read_all(source, ["ticker", "close"], series_column="ticker", series=["MSFT", "NONE"])
    assert got["ticker"].tolist() == ["MSFT"] * 3


def test_series_filter_on_an_integer_column(database_url):
    run_sql(database_url, "CREATE TABLE ids (id INTEGER, v DOUBLE PRECISION)")
    run_sql(database_url, "INSERT INTO ids VALUES (1, 1.5), (2, 2.5), (3, 3.5)")
    got = read_all(Source(Database(database_url), table="ids"), series_column="id", series=["2"])
    assert got.to_dict("list") == {"id": [2], "v": [2.5]}


@pytest.mark.parametrize(
    "query", ["DELETE FROM prices", "SELECT 1; DELETE FROM prices", "DROP TABLE prices"]
)
def test_a_query_cannot_write(database_url, query):
    load_prices(database_url, "prices")
    with pytest.raises(DataError) as caught:
        read_all(Source(Database(database_url), query=query))
    assert caught.value.exit_code == 1
    assert run_sql(database_url, "SELECT count(*) FROM prices") == [(5,)]


def test_postgres_query_runs_in_a_read_only_transaction(postgres_server):
    postgres_server.sql("CREATE SEQUENCE IF NOT EXISTS counter")
    with pytest.raises(DataError, match="read-only transaction"):
        read_all(Source(Database(postgres_server.url()), query="SELECT nextval('counter')"))


@pytest.mark.parametrize(
    "what, expected",
    [({"table": "nowhere"}, "nowhere"), ({"query": "SELECT nope FROM prices"}, "nope")],
)
def test_missing_table_or_column_is_named(database_url, what, expected):
    load_prices(database_url, "prices")
    with pytest.raises(DataError, match=expected) as caught:
        read_all(Source(Database(database_url), **what))
    assert str(caught.value).startswith(Database(database_url).shown + ": ")


def test_missing_column_of_a_table_is_named(database_url):
    load_prices(database_url, "prices")
    with pytest.raises(DataError, match="adj_close"):
        read_all(Source(Database(database_url), table="prices"), ["ticker", "adj_close"])


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize("stored", ["local midnight", "UTC midnight"])
def test_timestamptz_keeps_daily_dates(postgres_server, zone, stored):
    name = f"tz_{zone.split('/')[1].lower()}_{stored.split()[0].lower()}"
    postgres_server.sql(f"CREATE DATABASE {name}", f"ALTER DATABASE {name} SET timezone = '{zone}'")
    url = postgres_server.url(name)
    offset = "" if stored == "local midnight" else "+00"
    days = pd.bdate_range("2024-03-04", periods=10).strftime("%Y-%m-%d").tolist()  # spans DST
    values = ", ".join(f"('{d} 00:00:00{offset}', {i})" for i, d in enumerate(days))
    run_sql(url, "CREATE TABLE p (day timestamptz, close float8)", f"INSERT INTO p VALUES {values}")
    got = read_all(Source(Database(url), table="p"))
    assert str(got["day"].dt.tz) == zone
    dates, note = naive_timestamps(got["day"])
    assert dates.dt.strftime("%Y-%m-%d").tolist() == days
    assert note is not None


def test_source_needs_exactly_one_of_table_and_query(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    for bad in ({}, {"table": "a", "query": "SELECT 1"}, {"query": " ; "}, {"table": "s."}):
        with pytest.raises(Exception, match=r"table|query"):
            Source(db, **bad)


def test_split_table():
    assert split_table("public.prices") == ("public", "prices")
    assert split_table("prices") == (None, "prices")
    assert split_table("a.b.c") == (None, "a.b.c")
    assert split_table(HOSTILE) == (None, HOSTILE)


def test_schema_qualified_table(postgres_server):
    postgres_server.sql("CREATE DATABASE schemas")
    url = postgres_server.url("schemas")
    run_sql(
        url,
        "CREATE SCHEMA market",
        "CREATE TABLE market.quotes (ticker text)",
        "INSERT INTO market.quotes VALUES ('in schema market')",
        'CREATE TABLE "market.quotes" (ticker text)',
        """INSERT INTO "market.quotes" VALUES ('a dotted name')""",
    )
    got = read_all(Source(Database(url), table="market.quotes"))
    assert got["ticker"].tolist() == ["in schema market"]
