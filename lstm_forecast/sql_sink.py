"""Result frames (forecasts, backtest metrics) written into database tables dashboards read.

A write is one transaction: all of its rows or none, whatever kills the process. A missing
table is created with typed columns, a unique key and `created_at`, safely against another
writer creating it at the same moment. An existing table must have exactly these columns and
that unique key; otherwise the write is refused naming the difference, and the table is never
altered. Rows whose key is already there are replaced, so rerunning a job leaves its rows once.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lstm_forecast.database import Shape, connect
from lstm_forecast.db_url import Database
from lstm_forecast.errors import ConfigError
from lstm_forecast.sql_source import split_table

if TYPE_CHECKING:
    import pandas as pd

FORECAST_KEY = ("model", "series", "origin", "horizon")
CREATED_AT = "created_at"
BATCH_ROWS = 5000
_KINDS = {
    "string": "text",
    "empty": "text",
    "integer": "integer",
    "floating": "double",
    "mixed-integer-float": "double",
    "datetime64": "timestamp",
    "datetime": "timestamp",
}


@dataclass(frozen=True)
class TableSpec:
    """A result table: its name (`name` or `schema.name`), each column's kind (text,
    integer, double or timestamp; `created_at` is added) and the columns of its unique key."""

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]


def table_spec(name: str, frame: pd.DataFrame, key: Sequence[str]) -> TableSpec:
    """The spec of a table for `frame`, column kinds read from its dtypes."""
    import pandas as pd

    columns = {}
    for column in frame.columns:
        values = frame[column]
        kind = _KINDS.get(pd.api.types.infer_dtype(values, skipna=True))
        if kind is None or isinstance(values.dtype, pd.DatetimeTZDtype):
            raise ValueError(f"column {column} ({values.dtype}) has no table column kind")
        columns[str(column)] = kind
    if CREATED_AT in columns or not set(key) <= set(columns):
        raise ValueError(f"key {list(key)} must be frame columns, and {CREATED_AT} must not")
    return TableSpec(name, columns, tuple(key))


def write_table(db: Database, spec: TableSpec, frame: pd.DataFrame) -> int:
    """Upsert the rows of `frame` into the table of `spec` in one transaction; rows written."""
    with transaction(db) as put:
        return put(spec, frame)


def write_frames(
    db: Database, name: str, key: Sequence[str], frames: Iterable[pd.DataFrame]
) -> int:
    """Upsert frames of one table as they come, all in one transaction (the table's spec is
    the first frame's); rows written."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return 0
    spec = table_spec(name, first, key)
    with transaction(db) as put:
        return sum(put(spec, frame) for frame in itertools.chain([first], frames))


@contextlib.contextmanager
def transaction(db: Database) -> Iterator[Callable[[TableSpec, pd.DataFrame], int]]:
    """`put(spec, frame)` upserts a frame into its table (created if missing), every put of the
    block in one transaction, committed when the block ends without an error; rows written.
    The transaction opens at the first put, so nothing is locked before there is a row to
    write; it is held until the block ends."""
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC")
    tables: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        conn = None

        def put(spec: TableSpec, frame: pd.DataFrame) -> int:
            nonlocal conn
            rows = _rows(spec, frame, now)
            if conn is None:
                conn = stack.enter_context(connect(db, write=True))
            if spec.name not in tables:
                tables[spec.name] = _table(spec)
                _ensure_table(conn, db, spec, tables[spec.name])
            return _upsert(conn, spec, tables[spec.name], rows)

        yield put


def _upsert(conn: Any, spec: TableSpec, table: Any, rows: pd.DataFrame) -> int:
    """Upsert prepared rows (`_rows`) in batches on the spec's key; rows written."""
    for start in range(0, len(rows), BATCH_ROWS):
        conn.upsert(table, rows.iloc[start : start + BATCH_ROWS], spec.key)
    return len(rows)


def _rows(spec: TableSpec, frame: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """The frame's rows in the spec's column order, sorted by key, stamped `created_at`."""
    key = list(spec.key)
    if set(frame.columns) != set(spec.columns):
        raise ValueError(f"frame columns {list(frame.columns)} are not {list(spec.columns)}")
    if frame[key].isna().any().any() or frame.duplicated(key).any():
        raise ValueError(f"rows with a missing or repeated key {key}")
    # Sorted by key: concurrent writers of overlapping rows lock them in one order (no deadlock).
    rows = frame[list(spec.columns)].sort_values(key).reset_index(drop=True)
    rows[CREATED_AT] = now
    return rows


def _table(spec: TableSpec) -> Any:
    import sqlalchemy as sa

    types = {
        "text": sa.Text,
        "integer": sa.BigInteger,
        "double": sa.Double,
        "timestamp": sa.DateTime,
    }
    schema, name = split_table(spec.name)
    columns = [
        sa.Column(c, types[kind](), nullable=c not in spec.key) for c, kind in spec.columns.items()
    ]
    created = sa.Column(CREATED_AT, sa.DateTime(timezone=True), nullable=False)
    unique = sa.UniqueConstraint(*spec.key)
    return sa.Table(name, sa.MetaData(), *columns, created, unique, schema=schema)


def _ensure_table(conn: Any, db: Database, spec: TableSpec, table: Any) -> None:
    """Create the table when missing (under a lock, checking again once it is held), else
    check that it is the table this spec describes."""
    from sqlalchemy.schema import CreateTable

    shape = conn.describe(table)
    if shape is None:
        conn.lock(spec.name)
        shape = conn.describe(table)
    if shape is None:
        conn.execute(CreateTable(table, if_not_exists=True))
        return
    problems = _differences(spec, shape, conn.has_timezones)
    if problems:
        raise ConfigError(
            f"{db.shown}: table {spec.name} does not fit these rows ({'; '.join(problems)}); "
            f"write to another table or fix it (it is never altered)"
        )


def _differences(spec: TableSpec, shape: Shape, has_timezones: bool) -> list[str]:
    """What an existing table lacks or has more than the spec, each as a phrase."""
    expected = {**spec.columns, CREATED_AT: "timestamptz"}

    def same(want: str, found: str) -> bool:
        stamps = {"timestamp", "timestamptz"}
        return want == found or (not has_timezones and {want, found} <= stamps)

    found = shape.columns
    problems = []
    if missing := [c for c in expected if c not in found]:
        problems.append(f"missing columns {', '.join(missing)}")
    if extra := [c for c in found if c not in expected]:
        problems.append(f"other columns {', '.join(extra)}")
    problems += [
        f"column {c} is {found[c]}, expected {kind}"
        for c, kind in expected.items()
        if c in found and not same(kind, found[c])
    ]
    if frozenset(spec.key) not in shape.unique:
        problems.append(f"no unique index on ({', '.join(spec.key)})")
    return problems
