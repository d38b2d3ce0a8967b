"""Connections and what their failures mean (exit 1 or 75), with passwords never shown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from helpers import ROOT, hold_duckdb, run_sql
from lstm_forecast.db_url import Database
from lstm_forecast.errors import BusyError, ConfigError, DataError, Unavailable
from lstm_forecast.sql_source import Source, read_frames
from postgres import PASSWORD, free_port


def read(url: str, **kwargs) -> list:
    return list(read_frames(Source(Database(url, **kwargs), query="SELECT 1 AS one")))


def test_wrong_password_is_exit_1_naming_the_database_not_the_password(postgres_server):
    url = postgres_server.url(password="Wr0ng-secret")
    with pytest.raises(ConfigError) as caught:
        read(url)
    message = str(caught.value)
    assert caught.value.exit_code == 1
    assert message.startswith(f"postgresql://postgres:***@127.0.0.1:{postgres_server.port}/")
    assert "password authentication failed" in message
    assert "Wr0ng-secret" not in message and "Wr0ng-secret" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_password_says_where_to_put_one(postgres_server, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(ConfigError, match="PGPASSWORD"):
        read(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres")


def test_pgpassword_pgpass_and_service_files_work(postgres_server, monkeypatch, tmp_path):
    port = postgres_server.port
    bare = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert len(read(bare)) == 1
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:postgres:{PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert len(read(bare)) == 1
    services = tmp_path / "services.conf"
    services.write_text(f"[prices]\nhost=127.0.0.1\nport={port}\nuser=postgres\ndbname=postgres\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("PGSERVICE", "prices")
    assert len(read("postgresql://")) == 1


def test_unreachable_server_is_exit_75_at_once():
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        read(f"postgresql://ann:pw0rd@127.0.0.1:{free_port()}/prices")
    assert caught.value.exit_code == 75
    assert time.monotonic() - started < 5
    assert "postgresql://ann:***@127.0.0.1" in str(caught.value)
    assert "pw0rd" not in str(caught.value)


def test_silent_server_times_out_with_exit_75():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(Unavailable):
            read(f"postgresql://ann:pw0rd@127.0.0.1:{port}/prices", connect_timeout=2)
        assert 1.5 < time.monotonic() - started < 10


def test_no_permission_is_exit_1(postgres_server):
    postgres_server.sql(
        "CREATE TABLE IF NOT EXISTS secret_prices (v int)",
        "DROP ROLE IF EXISTS reader",
        "CREATE ROLE reader LOGIN PASSWORD 'reader-pass'",
    )
    url = postgres_server.url(user="reader", password="reader-pass")
    with pytest.raises(DataError, match="permission denied") as caught:
        list(read_frames(Source(Database(url), table="secret_prices")))
    assert "reader:***@" in str(caught.value) and "reader-pass" not in str(caught.value)


def test_unknown_database_is_exit_1(postgres_server):
    with pytest.raises(ConfigError, match="nosuchdb"):
        read(postgres_server.url("nosuchdb"))


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
def test_reading_a_missing_file_creates_none(tmp_path, scheme):
    path = tmp_path / "absent.db"
    with pytest.raises(DataError, match="no such database file"):
        read(f"{scheme}:///{path}")
    assert not path.exists()


def test_a_file_that_is_not_duckdb(tmp_path):
    path = tmp_path / "prices.duckdb"
    path.write_text("ticker,close\nA,1\n")
    with pytest.raises(DataError, match="not a DuckDB database file"):
        read(f"duckdb:///{path}")


def test_duckdb_file_held_by_another_process(tmp_path):
    path = tmp_path / "prices.duckdb"
    run_sql(f"duckdb:///{path}", "CREATE TABLE t (v INTEGER)")
    child = hold_duckdb(path, 2)
    try:
        with pytest.raises(BusyError) as caught:
            read(f"duckdb:///{path}")
        assert caught.value.exit_code == 75 and "--wait" in str(caught.value)
        assert len(read(f"duckdb:///{path}", wait=30)) == 1  # waits for the other to finish
    finally:
        child.kill()
        child.wait()


def test_modules_import_no_driver_until_used():
    code = (
        "import sys, lstm_forecast.database, lstm_forecast.sql_source, lstm_forecast.sql_sink\n"
        "import lstm_forecast.parquet\n"
        "heavy = {'sqlalchemy', 'psycopg', 'duckdb', 'pyarrow', 'pandas'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "[]", out.stderr
