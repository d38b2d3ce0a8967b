"""Database URLs: telling them from file names, hiding their passwords, the database they name.

Nothing here imports a database driver, so the run log, model metadata and messages can redact
command lines cheaply. A password shows as *** wherever a URL is shown.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lstm_forecast.errors import ConfigError

if TYPE_CHECKING:
    import sqlalchemy as sa

URL_ENV = "LSTM_FORECAST_DATABASE_URL"
DEFAULT_CONNECT_TIMEOUT = 10.0
KINDS = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+psycopg": "postgresql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)(\S+)")
_PASSWORD_KEY = re.compile(r"(?i)\b(password|passwd)=([^&\s'\"]+)")


def is_url(text: str) -> bool:
    """Whether a DATA or --output argument is a URL (`scheme://...`) rather than a file name."""
    return bool(_SCHEME.match(text))


def redact(text: str) -> str:
    """`text` with the password of every URL in it, and any `password=...`, shown as ***."""

    def hide(match: re.Match) -> str:
        scheme, rest = match.groups()
        at = rest.rfind("@")
        if at > 0 and ":" in rest[:at]:
            rest = rest[:at].split(":", 1)[0] + ":***" + rest[at:]
        return scheme + rest

    return _PASSWORD_KEY.sub(r"\1=***", _URL.sub(hide, text))


def database_url(value: str | None) -> str:
    """The URL given, else LSTM_FORECAST_DATABASE_URL's (which keeps a password out of argv)."""
    if value:
        return value
    found = os.environ.get(URL_ENV, "").strip()
    if not found:
        raise ConfigError(f"no database URL: give one, or set {URL_ENV}")
    return found


@dataclass(frozen=True, repr=False)
class Database:
    """A database named by its URL. `shown` is the URL with its password hidden; `wait` is how
    long to wait for another writer's lock on a SQLite or DuckDB file."""

    url: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    wait: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS.values():
            raise ConfigError(
                f"{self.shown}: unsupported database (use postgresql://, sqlite:/// or duckdb:///)"
            )

    def __repr__(self) -> str:
        return f"Database({self.shown!r})"

    def __str__(self) -> str:
        return self.shown

    @property
    def kind(self) -> str:
        """postgresql, sqlite or duckdb."""
        scheme = self.url.split("://", 1)[0].lower()
        return KINDS.get(scheme, scheme)

    @functools.cached_property
    def parsed(self) -> sa.URL:
        sa = optional_module("sqlalchemy")
        try:
            return sa.make_url(self.url)
        except sa.exc.ArgumentError:
            raise ConfigError(f"{redact(self.url)}: not a valid database URL") from None

    @functools.cached_property
    def shown(self) -> str:
        if not is_url(self.url):
            return redact(self.url)
        return redact(self.parsed.render_as_string(hide_password=True))

    @property
    def path(self) -> str:
        """The file of a SQLite or DuckDB database ('' or ':memory:' for one in memory)."""
        return self.parsed.database or ""

    def hide(self, text: str) -> str:
        """Driver text made safe to show: URLs redacted and the password itself removed."""
        text = redact(text)
        password = self.parsed.password
        if password and len(str(password)) >= 4:
            text = text.replace(str(password), "***")
        return text


def optional_module(name: str, extra: str = "sql", what: str = "databases need") -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(
            f"{what} the optional {name} (pip install 'lstm-forecast[{extra}]')"
        ) from None
