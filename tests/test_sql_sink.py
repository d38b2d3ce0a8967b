"""Writing result tables: typed creation, upsert on the job's key, one transaction, refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import ROOT, forecast_rows, hold_duckdb, run_sql
from lstm_forecast.db_url import Database
from lstm_forecast.errors import BusyError, ConfigError
from lstm_forecast.sql_sink import BATCH_ROWS, FORECAST_KEY, table_spec, write_table

TESTS = Path(__file__).resolve().parent
# A child process writing forecasts; with a flag file it stops for good after the first batch
# has gone into the open transaction (to be killed there).
WRITER = """
import sys, time, pathlib
from helpers import forecast_rows
from lstm_forecast import database, db_url, sql_sink
url, table, series, origins, value, go, flag = sys.argv[1:]
if flag != "-":
    for cls in (database.SqlConnection, database.DuckConnection):
        def stuck(self, *args, _upsert=cls.upsert, **kwargs):
            _upsert(self, *args, **kwargs)
            pathlib.Path(flag).touch()
            time.sleep(600)
        cls.upsert = stuck
while go != "-" and not pathlib.Path(go).exists():
    time.sleep(0.01)
frame = forecast_rows(series.split(","), int(origins), value=float(value))
spec = sql_sink.table_spec(table, frame, sql_sink.FORECAST_KEY)
sql_sink.write_table(db_url.Database(url, wait=120), spec, frame)
"""


def writer(url, table, series, origins, value=0.0, go="-", flag="-") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    args = [url, table, ",".join(series), str(origins), str(value), str(go), str(flag)]
    return subprocess.Popen([sys.executable, "-c", WRITER, *args], env=env, stderr=subprocess.PIPE)


def write(url: str, frame: pd.DataFrame, table: str = "forecasts", **db) -> int:
    return write_table(Database(url, **db), table_spec(table, frame, FORECAST_KEY), frame)


def count(url: str, table: str = "forecasts") -> int:
    return run_sql(url, f"SELECT count(*) FROM {table}")[0][0]


def test_rerun_replaces_the_jobs_rows(database_url):
    first = forecast_rows(["AAPL", "MSFT"], origins=3)
    assert write(database_url, first) == 30
    assert write(database_url, first) == 30
    assert count(database_url) == 30
    again = forecast_rows(["AAPL"], origins=3, value=100.0)  # same job, new numbers
    write(database_url, again)
    assert count(database_url) == 30
    rows = run_sql(database_url, "SELECT series, min(forecast) FROM forecasts GROUP BY series")
    assert sorted(rows) == [("AAPL", 100.0), ("MSFT", 0.0)]
    write(database_url, forecast_rows(["AAPL"], origins=3, model="m2"))  # another model
    assert count(database_url) == 45


def test_created_table_is_typed_with_a_unique_key(postgres_server):
    postgres_server.sql("CREATE DATABASE typed_sink")
    url = postgres_server.url("typed_sink")
    write(url, forecast_rows(["AAPL"], origins=2))
    types = run_sql(
        url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'forecasts' ORDER BY ordinal_position",
    )
    assert types == [
        ("model", "text"),
        ("series", "text"),
        ("origin", "timestamp without time zone"),
        ("date", "timestamp without time zone"),
        ("horizon", "bigint"),
        ("forecast", "double precision"),
        ("q10", "double precision"),
        ("q90", "double precision"),
        ("created_at", "timestamp with time zone"),
    ]
    unique = run_sql(
        url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'forecasts' AND indexdef ~ 'UNIQUE'"
    )
    assert len(unique) == 1 and "(model, series, origin, horizon)" in unique[0][0]
    dates = run_sql(url, "SELECT DISTINCT origin::text FROM forecasts ORDER BY 1")
    assert dates == [("2024-01-02 00:00:00",), ("2024-01-03 00:00:00",)]


def test_plain_sequence_positions_are_integers(database_url):
    frame = forecast_rows(["value"], origins=2)
    frame["origin"] = frame["origin"].rank(method="dense").astype("int64") + 99
    frame["date"] = frame["origin"] + frame["horizon"]
    assert table_spec("seq", frame, FORECAST_KEY).columns["origin"] == "integer"
    write(database_url, frame, table="seq")
    assert run_sql(database_url, "SELECT max(date) FROM seq") == [(106,)]


def test_a_table_with_other_quantiles_is_refused_and_left_alone(database_url):
    wide = forecast_rows(["AAPL"], origins=2).rename(columns={"q10": "q5", "q90": "q95"})
    write(database_url, wide)
    with pytest.raises(ConfigError) as caught:
        write(database_url, forecast_rows(["MSFT"], origins=2))
    message = str(caught.value)
    assert "missing columns q10, q90" in message and "other columns q5, q95" in message
    assert caught.value.exit_code == 1
    assert count(database_url) == 10


def test_a_table_without_the_unique_key_is_refused(database_url):
    run_sql(
        database_url,
        "CREATE TABLE forecasts (model TEXT, series TEXT, origin TIMESTAMP, date TIMESTAMP, "
        "horizon BIGINT, forecast DOUBLE PRECISION, q10 DOUBLE PRECISION, "
        "q90 DOUBLE PRECISION, created_at TIMESTAMP WITH TIME ZONE)",
    )
    with pytest.raises(ConfigError, match=r"no unique index on \(model, series, origin, horizon\)"):
        write(database_url, forecast_rows(["AAPL"], origins=2))
    assert count(database_url) == 0


def test_two_concurrent_writers_lose_and_repeat_nothing(database_url, tmp_path):
    go = tmp_path / "go"
    origins = 400  # 2000 rows per series, several batches each
    writers = [
        writer(database_url, "forecasts", [own, "SHARED"], origins, value=i, go=go)
        for i, own in enumerate(["AAPL", "MSFT"], start=1)
    ]
    time.sleep(0.5)
    go.touch()  # both start at once, into a table that does not exist yet
    for child in writers:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err.decode()
    assert count(database_url) == 3 * origins * 5
    rows = run_sql(
        database_url,
        "SELECT series, count(DISTINCT forecast - horizon), count(*) FROM forecasts "
        "GROUP BY series ORDER BY series",
    )
    # Each series' rows all come from one writer (one transaction each): one value per series.
    assert rows == [("AAPL", 1, 2000), ("MSFT", 1, 2000), ("SHARED", 1, 2000)]


def test_kill_during_a_write_leaves_no_partial_rows(database_url, tmp_path):
    write(database_url, forecast_rows(["KEEP"], origins=2))
    flag = tmp_path / "first-batch-written"
    origins = (3 * BATCH_ROWS) // 5
    child = writer(database_url, "forecasts", ["AAPL"], origins, flag=flag)
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert count(database_url) == 10
    write(database_url, forecast_rows(["AAPL"], origins=2))  # the database is fine afterwards
    assert count(database_url) == 20


def test_duckdb_second_writer_exits_75_or_waits(tmp_path):
    path = tmp_path / "out.duckdb"
    url = f"duckdb:///{path}"
    write(url, forecast_rows(["AAPL"], origins=1))
    child = hold_duckdb(path, 2)
    try:
        with pytest.raises(BusyError) as caught:
            write(url, forecast_rows(["MSFT"], origins=1))
        assert caught.value.exit_code == 75
        write(url, forecast_rows(["MSFT"], origins=1), wait=30)
    finally:
        child.kill()
        child.wait()
    assert count(url) == 10


def test_frames_that_cannot_make_a_table_are_programming_errors():
    frame = forecast_rows(["AAPL"], origins=1)
    with pytest.raises(ValueError, match="key"):
        table_spec("t", frame, ("model", "nope"))
    zoned = frame.assign(origin=frame["origin"].dt.tz_localize("UTC"))
    with pytest.raises(ValueError, match="origin"):
        table_spec("t", zoned, FORECAST_KEY)
    spec = table_spec("t", frame, FORECAST_KEY)
    with pytest.raises(ValueError, match="repeated key"):
        write_table(Database("sqlite://"), spec, pd.concat([frame, frame]))
