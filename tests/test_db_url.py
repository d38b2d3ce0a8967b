"""Database URLs: telling them from files, hiding passwords, the environment variable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_forecast.db_url import URL_ENV, Database, database_url, is_url, redact
from lstm_forecast.errors import ConfigError


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
