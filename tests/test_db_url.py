"""Database URLs: telling them from files, hiding passwords, the environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import long_prices, run_cli, store_prices
from lstm_forecast.db_url import URL_ENV, Database, database_url, is_url, redact
from lstm_forecast.errors import ConfigError
from postgres import PASSWORD, free_port

FOLDS = ["--folds", "2", "--step", "4"]
TINY = "--lookback 10 --horizon 3 --hidden 8 --layers 1 --epochs 1 --seed 0".split()


def test_is_url():
    assert is_url("postgresql://u@h/db") and is_url("sqlite:///p.db") and is_url("duckdb:///x")
    assert not is_url("prices.csv") and not is_url("-") and not is_url("C:\\data\\p.csv")


def test_redact_hides_passwords_in_urls_and_keywords():
    text = "predict postgresql://ann:pw0rd@db.example:5432/prices --output sqlite:///f.db"
    assert redact(text) == (
        "predict postgresql://ann:***@db.example:5432/prices --output sqlite:///f.db"
    )
    assert redact("host=h password=pw0rd dbname=x") == "host=h password=*** dbname=x"
    assert redact("postgresql://h/db?user=a&password=pw0rd") == (
        "postgresql://h/db?user=a&password=***"
    )
    assert redact("postgresql://ann@h/db") == "postgresql://ann@h/db"


@given(
    user=st.text("abcdefgh_", min_size=1, max_size=8),
    password=st.text(
        st.characters(blacklist_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]), min_size=4
    ),
)
def test_redact_never_lets_a_password_through(user, password):
    url = f"postgresql://{user}:{password}@host:5432/db"
    assert (
        redact(f"argv: {url} --table t") == f"argv: postgresql://{user}:***@host:5432/db --table t"
    )


def test_database_shows_its_url_without_the_password():
    db = Database("postgresql://ann:pw0rd@h:5432/prices")
    assert db.shown == "postgresql://ann:***@h:5432/prices"
    assert "pw0rd" not in repr(db) and "pw0rd" not in str(db) and "pw0rd" not in f"{db!r}"
    assert Database("sqlite:///p.db").kind == "sqlite"
    assert Database("postgres://h/db").kind == "postgresql"
    with pytest.raises(ConfigError, match=r"http://u:\*\*\*@h/x: unsupported database"):
        Database("http://u:pw0rd@h/x")


def test_database_url_from_the_environment(monkeypatch):
    monkeypatch.setenv(URL_ENV, "postgresql://ann:pw0rd@h/db")
    assert database_url(None) == "postgresql://ann:pw0rd@h/db"
    assert database_url("sqlite:///a.db") == "sqlite:///a.db"
    monkeypatch.delenv(URL_ENV)
    with pytest.raises(ConfigError, match=URL_ENV):
        database_url(None)


@pytest.mark.slow
def test_a_password_is_printed_and_stored_nowhere(postgres_server, tmp_path):
    """Every command with the password in its command line or in LSTM_FORECAST_DATABASE_URL;
    then every byte they printed or wrote is searched for it."""
    postgres_server.sql("CREATE DATABASE secrets")
    url = postgres_server.url("secrets")
    store_prices(url, long_prices(days=120))
    model, log, folder = tmp_path / "m.lstm", tmp_path / "runs.jsonl", tmp_path / "report"
    source = [url, "--table", "prices"]
    stopped = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/secrets"
    runs = {
        "train": (["train", *source, "--model", model, *TINY], 0),
        "predict": (["predict", *source, "--model", model, "--output", url], 0),
        "from env": (["predict", "--table", "prices", "--model", model], 0),
        "info": (["info", model, "--json"], 0),
        "inspect": (["inspect", url, "--query", "SELECT * FROM prices", "--json"], 0),
        "backtest": (
            ["backtest", *source, "--report", folder, "--output", url, *TINY, *FOLDS],
            0,
        ),
        "config": (["train", *source, "--model", model, "--print-config"], 0),
        "wrong password": (
            ["predict", url.replace(PASSWORD, "Wr0ng-Pa55"), "--table", "prices", "-m", model],
            1,
        ),
        "stopped server": (
            ["predict", stopped, "--table", "prices", "-m", model],
            75,
        ),
    }
    written: list[bytes] = []
    for what, (args, code) in runs.items():
        proc = run_cli(*args, "--log-file", log, env={URL_ENV: url})
        assert proc.returncode == code, (what, proc.stderr)
        written += [proc.stdout.encode(), proc.stderr.encode()]
        if code:
            assert proc.stderr.count("\n") == 1 and "127.0.0.1" in proc.stderr, proc.stderr
            assert ("login refused" if code == 1 else "cannot reach") in proc.stderr
    files = [model, log, *folder.iterdir()]
    assert {"report.html", "metrics.json", "forecasts.parquet"} <= {p.name for p in files}
    written += [Path(p).read_bytes() for p in files]
    for blob in written:
        assert PASSWORD.encode() not in blob and b"Wr0ng-Pa55" not in blob
    assert b"postgres:***@127.0.0.1" in Path(log).read_bytes()
