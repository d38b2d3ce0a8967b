"""Talking to databases: connections, transactions, and what their failures mean.

PostgreSQL (psycopg 3) and SQLite go through SQLAlchemy Core. DuckDB goes through its own Python
API (its SQLAlchemy dialect cannot reflect tables under SQLAlchemy 2.1), running the same
SQLAlchemy Core statements compiled for it. Either way, table and column names are identifiers
quoted by SQLAlchemy and values are bound parameters, never pasted into SQL text.

A read runs in a read-only transaction, a write in one transaction (all rows or none). Driver
errors become ForecastErrors naming the database with its password hidden: exit 1 for what the
user must fix (login refused, missing table or column, no permission), 75 for what may work
later (server unreachable, timed out or starting up; another writer holding a file's lock).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lstm_forecast.db_url import URL_ENV, Database, optional_module
from lstm_forecast.errors import BusyError, ConfigError, DataError, ForecastError, Unavailable

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

# PostgreSQL SQLSTATEs that may clear up by themselves: shutting down or starting up,
# serialization failure, deadlock, lock not available, statement cancelled (timeout).
_PG_TRANSIENT = {"57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014"}
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_DUCK_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_DUCK_KINDS = {
    "VARCHAR": "text",
    "DOUBLE": "double",
    "FLOAT": "double",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    **{t: "integer" for t in _DUCK_INTEGERS},
    **{"U" + t: "integer" for t in _DUCK_INTEGERS},
}


@dataclass(frozen=True)
class Shape:
    """An existing table: each column's kind (text, integer, double, timestamp, timestamptz or
    the database's own type name), and the column sets of its unique keys."""

    columns: dict[str, str]
    unique: list[frozenset[str]]


@contextlib.contextmanager
def connect(db: Database, *, write: bool = False) -> Iterator[SqlConnection | DuckConnection]:
    """One transaction on `db`, read-only unless `write`: committed when the block ends,
    rolled back when it raises. Driver errors inside become ForecastErrors."""
    try:
        if db.kind == "duckdb":
            with _duckdb_transaction(db, write) as conn:
                yield conn
        else:
            with _sqlalchemy_transaction(db, write) as conn:
                yield conn
    except ForecastError:
        raise
    except Exception as exc:
        failure = _failure(db, exc)
        if failure is None:
            raise
        raise failure from None


class SqlConnection:
    """A SQLAlchemy connection (PostgreSQL or SQLite) inside one transaction."""

    def __init__(self, conn: sa.Connection, kind: str) -> None:
        self._conn = conn
        self.kind = kind
        self.has_timezones = kind == "postgresql"

    def execute(self, stmt: sa.Executable) -> None:
        self._conn.execute(stmt)

    def keys(self, stmt: sa.Select) -> list[str]:
        return list(self._conn.execute(stmt.limit(0)).keys())

    def frames(self, stmt: sa.Select, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The rows of `stmt` in frames of up to `chunk_rows` (a server-side cursor where
        the driver has one, so memory stays bounded)."""
        import pandas as pd

        result = self._conn.execution_options(yield_per=chunk_rows).execute(stmt)
        names = list(result.keys())
        for part in result.partitions():
            yield _typed(pd.DataFrame.from_records([tuple(r) for r in part], columns=names))

    def upsert(self, table: sa.Table, frame: pd.DataFrame, key: Sequence[str]) -> None:
        """Insert the rows of `frame`; rows whose `key` is already there are replaced."""
        if self.kind == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._conn.execute(_upsert(insert(table), frame, key), _records(frame))

    def describe(self, table: sa.Table) -> Shape | None:
        """The shape of an existing table, None when there is none."""
        sa = _sqlalchemy()
        found = sa.inspect(self._conn)  # a fresh inspector: nothing cached from before a lock
        name, schema = table.name, table.schema
        if not found.has_table(name, schema=schema):
            return None
        columns = {c["name"]: _kind(c["type"]) for c in found.get_columns(name, schema=schema)}
        unique = [frozenset(u["column_names"]) for u in found.get_unique_constraints(name, schema)]
        unique += [
            frozenset(i["column_names"]) for i in found.get_indexes(name, schema) if i["unique"]
        ]
        primary = found.get_pk_constraint(name, schema).get("constrained_columns")
        return Shape(columns, [*unique, frozenset(primary)] if primary else unique)

    def lock(self, name: str) -> None:
        """Serialise creating table `name` with other writers until this transaction ends.
        SQLite writes already hold the database's lock (BEGIN IMMEDIATE)."""
        if self.kind == "postgresql":
            sa = _sqlalchemy()
            key = sa.func.hashtext(sa.literal(f"lstm-forecast table {name}"))
            self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


class DuckConnection:
    """A DuckDB connection inside one transaction, running compiled SQLAlchemy statements."""

    has_timezones = True
    kind = "duckdb"

    def __init__(self, con: Any) -> None:
        self._con = con

    def _run(self, stmt: sa.Executable) -> Any:
        return self._con.execute(*_duck_compiled(stmt))

    def execute(self, stmt: sa.Executable) -> None:
        self._run(stmt)

    def keys(self, stmt: sa.Select) -> list[str]:
        return [d[0] for d in self._run(stmt.limit(0)).description]

    def frames(self, stmt: sa.Select, chunk_rows: int) -> Iterator[pd.DataFrame]:
        self._run(stmt)
        vectors = max(1, chunk_rows // 2048)  # DuckDB hands rows over in vectors of 2048
        while len(chunk := self._con.fetch_df_chunk(vectors)):
            yield _typed(chunk)

    def upsert(self, table: sa.Table, frame: pd.DataFrame, key: Sequence[str]) -> None:
        from sqlalchemy.dialects.postgresql import insert

        sa = _sqlalchemy()
        view = "lstm_forecast_rows"
        self._con.register(view, frame)
        try:
            source = sa.select(*map(sa.column, frame.columns)).select_from(sa.table(view))
            self._run(_upsert(insert(table).from_select(list(frame.columns), source), frame, key))
        finally:
            self._con.unregister(view)

    def describe(self, table: sa.Table) -> Shape | None:
        sa = _sqlalchemy()
        schema = sa.literal(table.schema) if table.schema else sa.func.current_schema()
        info = sa.table(
            "columns",
            *map(sa.column, ("column_name", "data_type", "table_name", "table_schema")),
            sa.column("ordinal_position"),
            schema="information_schema",
        )
        rows = self._run(
            sa.select(info.c.column_name, info.c.data_type)
            .where(info.c.table_name == table.name, info.c.table_schema == schema)
            .order_by(info.c.ordinal_position)
        ).fetchall()
        if not rows:
            return None
        keys = sa.func.duckdb_constraints().table_valued(
            "constraint_column_names", "constraint_type", "table_name", "schema_name"
        )
        unique = self._run(
            sa.select(keys.c.constraint_column_names).where(
                keys.c.table_name == table.name,
                keys.c.schema_name == schema,
                keys.c.constraint_type.in_(["UNIQUE", "PRIMARY KEY"]),
            )
        ).fetchall()
        return Shape({n: _duck_kind(t) for n, t in rows}, [frozenset(u[0]) for u in unique])

    def lock(self, name: str) -> None:
        """Nothing to do: one process at a time holds a DuckDB file open for writing."""


# ---------------------------------------------------------------------------------------------
# connections


@contextlib.contextmanager
def _sqlalchemy_transaction(db: Database, write: bool) -> Iterator[SqlConnection]:
    sa = _sqlalchemy()
    if db.kind == "sqlite" and not write:
        _check_file(db)
    engine = _engine(db, write)
    try:
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:
            if db.kind != "postgresql":
                raise
            raise _login_failure(db, exc.orig) from None
        with conn, conn.begin():
            if db.kind == "postgresql" and not write:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield SqlConnection(conn, db.kind)
    finally:
        engine.dispose()


def _engine(db: Database, write: bool) -> sa.Engine:
    """A one-connection engine: psycopg 3 for PostgreSQL with a connect timeout; SQLite with
    transactions begun by us (BEGIN IMMEDIATE to write), read-only when reading."""
    sa = _sqlalchemy()
    from sqlalchemy.pool import NullPool

    if db.kind == "postgresql":
        url = db.parsed.set(drivername="postgresql+psycopg")
        timeout = max(2, math.ceil(db.connect_timeout))  # libpq's least
        args: dict = {"connect_timeout": timeout, "application_name": "lstm-forecast"}
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=args)
        sa.event.listen(engine, "connect", _postgres_session)
        return engine
    engine = sa.create_engine(db.parsed, poolclass=NullPool, connect_args={"timeout": db.wait})

    def session(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver's own implicit transactions off
        if not write:
            dbapi_conn.execute("PRAGMA query_only = ON")

    sa.event.listen(engine, "connect", session)
    begin = "BEGIN IMMEDIATE" if write else "BEGIN"
    sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


def _postgres_session(dbapi_conn: Any, _record: Any) -> None:
    """NUMERIC columns arrive as floats, like every other number."""
    from psycopg.types.numeric import FloatLoader

    dbapi_conn.adapters.register_loader("numeric", FloatLoader)


@contextlib.contextmanager
def _duckdb_transaction(db: Database, write: bool) -> Iterator[DuckConnection]:
    con = _duckdb_open(db, write)
    try:
        if write:
            con.begin()
        yield DuckConnection(con)
        if write:
            con.commit()
    finally:
        con.close()  # without a commit, this rolls back


def _duckdb_open(db: Database, write: bool) -> Any:
    """Open the file, waiting up to `db.wait` seconds while another process holds it."""
    duckdb = optional_module("duckdb")
    _check_file(db, write=write)
    deadline = time.monotonic() + db.wait
    while True:
        try:
            return duckdb.connect(db.path, read_only=not write)
        except duckdb.IOException:  # the file is checked above: another process holds it
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"{db.shown}: another process has this DuckDB file open for writing; "
                    f"try again later or pass --wait SECONDS"
                ) from None
            time.sleep(0.1)


def _check_file(db: Database, write: bool = False) -> None:
    """Refuse a missing SQLite or DuckDB file up front (connecting would create one, or fail
    like a lock does), a missing folder to write in, and a file that is not DuckDB's."""
    path = db.path
    if path in ("", ":memory:"):
        return
    if not write and not os.path.isfile(path):
        raise DataError(f"{db.shown}: no such database file")
    folder = os.path.dirname(os.path.abspath(path))
    if write and not os.path.isdir(folder):
        raise ConfigError(f"{db.shown}: folder {folder} does not exist")
    if db.kind == "duckdb" and os.path.isfile(path) and os.path.getsize(path) >= 12:
        with open(path, "rb") as fh:
            if fh.read(12)[8:12] != b"DUCK":
                raise DataError(f"{db.shown}: not a DuckDB database file")


# ---------------------------------------------------------------------------------------------
# failures


def _login_failure(db: Database, orig: Exception) -> ForecastError:
    """A failed connection attempt. libpq gives no SQLSTATE here: whether the server asked for
    or checked a password tells a refused login (exit 1) from a server out of reach (75)."""
    pgconn = getattr(orig, "pgconn", None)
    if pgconn is not None and pgconn.needs_password:
        return ConfigError(
            f"{db.shown}: the server asks for a password: put it in the URL, in {URL_ENV}, "
            f"PGPASSWORD or ~/.pgpass"
        )
    if pgconn is not None and pgconn.used_password:
        return ConfigError(f"{db.shown}: login refused ({_detail(db, orig)})")
    return Unavailable(
        f"{db.shown}: cannot reach the database server ({_detail(db, orig)}); try again later"
    )


def _failure(db: Database, exc: Exception) -> ForecastError | None:
    """The ForecastError for a driver error, None for anything else."""
    orig = getattr(exc, "orig", None) or exc
    kind = _error_class(orig)
    if kind is None:
        return None
    detail = _detail(db, orig)
    if kind is Unavailable:
        return Unavailable(f"{db.shown}: database unavailable ({detail}); try again later")
    if kind is BusyError:
        return BusyError(
            f"{db.shown}: locked by another writer ({detail}); "
            f"try again later or pass --wait SECONDS"
        )
    return kind(f"{db.shown}: {detail}")


def _error_class(orig: BaseException) -> type[ForecastError] | None:
    """By driver error class and SQLSTATE or result code, never by message text."""
    psycopg, sqlite3, duckdb = (sys.modules.get(m) for m in ("psycopg", "sqlite3", "duckdb"))
    if psycopg is not None and isinstance(orig, psycopg.Error):
        state = orig.sqlstate
        if state is None or state[:2] in ("08", "53") or state in _PG_TRANSIENT:
            return Unavailable
        return ConfigError if state[:2] == "28" or state == "3D000" else DataError
    if sqlite3 is not None and isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return BusyError if code is not None and code & 0xFF in _SQLITE_BUSY else DataError
    if duckdb is not None and isinstance(orig, duckdb.Error):
        return BusyError if isinstance(orig, duckdb.TransactionException) else DataError
    return None


def _detail(db: Database, orig: BaseException) -> str:
    """The driver's own first line about the failure, made safe to show."""
    diag = getattr(orig, "diag", None)
    text = (getattr(diag, "message_primary", None) if diag is not None else None) or str(orig)
    lines = [line for line in text.strip().splitlines() if line.strip()] or [type(orig).__name__]
    return db.hide(" ".join(lines[0].split())[:300])


# ---------------------------------------------------------------------------------------------
# statements and values


def _upsert(insert: Any, frame: pd.DataFrame, key: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET every other column of `frame`."""
    update = {c: insert.excluded[c] for c in frame.columns if c not in key}
    return insert.on_conflict_do_update(index_elements=list(key), set_=update)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values (missing ones None), as every driver takes them."""
    plain = frame.astype(object)
    return plain.where(frame.notna(), None).to_dict("records")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """DATE columns (datetime.date objects) as datetime64; other typed columns stay as given."""
    import pandas as pd

    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "date":
            frame.isetitem(i, pd.to_datetime(col))
    return frame


def _kind(sa_type: Any) -> str:
    """A reflected SQLAlchemy type as a column kind."""
    import datetime as dt

    try:
        python = sa_type.python_type
    except NotImplementedError:
        return str(sa_type).lower()
    if python is dt.datetime:
        return "timestamptz" if getattr(sa_type, "timezone", False) else "timestamp"
    return {int: "integer", float: "double", str: "text"}.get(python, str(sa_type).lower())


def _duck_kind(name: str) -> str:
    """A DuckDB type name as a column kind."""
    return _DUCK_KINDS.get(name.upper(), name.lower())


@functools.cache
def _duck_dialect() -> Any:
    """PostgreSQL's SQL (DuckDB speaks it) with $1-style parameters and no driver casts."""
    from sqlalchemy.dialects.postgresql.base import PGDialect

    return PGDialect(paramstyle="numeric_dollar")


def _duck_compiled(stmt: sa.Executable) -> tuple[str, list]:
    compiled = stmt.compile(dialect=_duck_dialect(), compile_kwargs={"render_postcompile": True})
    names = getattr(compiled, "positiontup", None) or []
    return str(compiled), [compiled.params[n] for n in names]


def _sqlalchemy() -> Any:
    return optional_module("sqlalchemy")
