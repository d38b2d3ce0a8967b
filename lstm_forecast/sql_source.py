"""Prices from a database table or query, read in chunks of typed columns.

Only the columns asked for are selected and a series filter is a bound `IN (...)` condition,
so the database does the selecting. A query is wrapped as a subquery (`SELECT ... FROM (query)
AS q`), which also makes anything but a single SELECT (or VALUES, or WITH ... SELECT) a syntax
error, and it runs in a read-only transaction. Columns keep the types the database gives them:
numbers as numbers, DATE and TIMESTAMP as datetime64, TIMESTAMP WITH TIME ZONE as datetime64
in the session's time zone (the database's own setting), text as text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lstm_forecast.database import connect
from lstm_forecast.db_url import Database
from lstm_forecast.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Source:
    """Rows of one table (`name` or `schema.name`) or of one query, in `db`."""

    db: Database
    table: str | None = None
    query: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ConfigError(f"{self.db.shown}: give a table (--table) or a query (--query)")
        if self.query is not None and not self.query.strip().rstrip(";").strip():
            raise ConfigError(f"{self.db.shown}: the query is empty")
        if self.table is not None and not all(split_table(self.table)[1:]):
            raise ConfigError(f"{self.db.shown}: no table name in '{self.table}'")

    @property
    def name(self) -> str:
        """How messages name this source (the URL's password hidden)."""
        what = f"table {self.table}" if self.table is not None else "query"
        return f"{self.db.shown} ({what})"


def split_table(name: str) -> tuple[str | None, str]:
    """`schema.name` -> (schema, name); a name without one dot is the table's whole name."""
    schema, dot, table = name.partition(".")
    if dot and "." not in table and schema:
        return schema, table
    return None, name


def column_names(source: Source) -> list[str]:
    """The columns a source has, without reading any row."""
    with connect(source.db) as conn:
        return conn.keys(_select(source, None, None, None))


def read_frames(
    source: Source,
    columns: Sequence[str] | None = None,
    *,
    series_column: str | None = None,
    series: Sequence[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """The rows of `source` in frames of at most `chunk_rows`: only `columns` (all when None),
    and only rows whose `series_column` is one of `series` (all when None)."""
    if series is not None and series_column is None:
        raise ValueError("a series filter needs its column")
    with connect(source.db) as conn:
        yield from conn.frames(_select(source, columns, series_column, series), chunk_rows)


def _select(
    source: Source,
    columns: Sequence[str] | None,
    series_column: str | None,
    series: Sequence[str] | None,
) -> Any:
    """SELECT columns FROM table-or-(query) [WHERE series_column IN (...)], names quoted."""
    import sqlalchemy as sa

    if source.table is not None:
        schema, name = split_table(source.table)
        origin: Any = sa.table(name, schema=schema)
    else:
        # Colons escaped: text() would read `:word` as a bind parameter. A newline before the
        # closing parenthesis keeps a trailing `-- comment` from swallowing it.
        text = source.query.strip().rstrip(";").replace(":", r"\:")  # type: ignore[union-attr]
        origin = sa.text(text + "\n").columns().subquery("q")
    picked = [sa.column(c) for c in columns] if columns else [sa.literal_column("*")]
    stmt = sa.select(*picked).select_from(origin)
    if series is not None:
        # Untyped values: the database compares them with the column as its type requires
        # (text, or numbers for an integer ticker id), where a typed text value would not.
        values = sa.bindparam("series", [str(s) for s in series], expanding=True)
        values.type = sa.types.NullType()
        stmt = stmt.where(sa.column(series_column).in_(values))
    return stmt
