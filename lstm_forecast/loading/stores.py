"""Typed sources: a Parquet file or dataset folder, or a database table or query, as a Table.

Their columns have names and types before any row is read, so only the columns the roles can
use are read when the names say which those are (all of them otherwise: then roles decide as
for a CSV), and a --series selection goes to the reader: pyarrow skips other partitions and
row groups, the database filters the rows. Rows arrive in chunks, with no size bound. Typed
columns stay typed; text columns are read by the CSV parsers. Timestamps with a time zone
become naive (`typed_dates`: intraday as UTC, daily on the dates they were written with).
Rows are numbered as in a CSV of the same rows, so messages name the same lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.dataset import LoadOptions
from lstm_forecast.loading.messages import names
from lstm_forecast.loading.roles import (
    CLOSE_KEYS,
    DATE_KEYS,
    SERIES_KEYS,
    TIME_KEYS,
    VOLUME_KEYS,
    is_adjusted_close,
    key,
)
from lstm_forecast.loading.source import need_pyarrow
from lstm_forecast.loading.table import Table

if TYPE_CHECKING:
    from lstm_forecast.sql_source import Source

_PANDAS_INDEX = re.compile(r"__index_level_\d+__")  # an unnamed pandas index saved by to_parquet


def parquet_table(path: str, opts: LoadOptions, series: Sequence[str] | None = None) -> Table:
    """A Parquet file or folder (hive-partitioned, or plain) as a Table.

    `series` (default: opts.series) keeps only those series' rows, read from their own
    partitions and row groups alone, when the series column is known by name.
    """
    need_pyarrow(path)
    from lstm_forecast import parquet

    found = [c for c in parquet.column_names(path) if not _PANDAS_INDEX.fullmatch(c)]
    columns, series_column = needed_columns(found, opts)
    wanted = opts.series if series is None else series
    where = series_column if wanted else None
    batches = parquet.read_batches(
        path, columns or found, series_column=where, series=wanted if where else None
    )
    frames = [_plain_index(b) for b in batches]
    return _table(path, frames, columns or found, {"format": "parquet"}, where, wanted)


def sql_table(source: Source, opts: LoadOptions, series: Sequence[str] | None = None) -> Table:
    """The rows of a database table or query as a Table; `series` as for `parquet_table`."""
    from lstm_forecast import sql_source

    found = sql_source.column_names(source)
    columns, series_column = needed_columns(found, opts)
    wanted = opts.series if series is None else series
    where = series_column if wanted else None
    frames = sql_source.read_frames(
        source, columns, series_column=where, series=wanted if where else None
    )
    details = {"format": source.db.kind, "database": source.db.shown}
    if source.table is not None:
        details["table"] = source.table
    else:
        details["query"] = source.db.hide(" ".join(str(source.query).split()))
    return _table(source.name, list(frames), columns or found, details, where, wanted)


def needed_columns(found: list[str], opts: LoadOptions) -> tuple[list[str] | None, str | None]:
    """The columns the roles can use, in the source's order (None: read them all), and the
    series column a --series filter can be given to (None when not known by name).

    All columns are read unless the date and target columns are known by name (given, or
    named as roles looks for them first); then the time-of-day, ticker, adjusted-close and
    volume columns found by name and the features join them.
    """
    by_key: dict[str, list[str]] = {}
    for c in found:
        by_key.setdefault(key(c), []).append(c)

    def named(keys: Iterable[str]) -> list[str]:
        return [c for k in dict.fromkeys(keys) for c in by_key.get(k, [])]

    series = named([key(opts.series_col)] if opts.series_col else SERIES_KEYS)
    series_column = series[0] if len(series) == 1 else None
    dates = named([key(opts.date_col)] if opts.date_col else DATE_KEYS)
    target = opts.target or ""
    if target.strip().lower() == "all":
        return None, series_column
    adjusted = [k for k in by_key if is_adjusted_close(by_key[k][0])]
    if target:
        wanted = [key(t) for t in target.split(",") if t.strip()]
    else:  # as roles' default target: the adjusted close, else the close
        wanted = [*adjusted, *CLOSE_KEYS, *(k for k in by_key if k.startswith("close"))]
    targets = named(wanted)
    features = [key(f) for f in opts.features or []]
    unknown = [k for k in [*(wanted if target else []), *features] if k not in by_key]
    if not dates or not targets or unknown:
        return None, series_column
    helpers = named([*TIME_KEYS, *adjusted, *VOLUME_KEYS, *features])
    chosen = {*series, *dates, *targets, *helpers}
    return [c for c in found if c in chosen], series_column


def _table(
    name: str,
    frames: list[pd.DataFrame],
    columns: list[str],
    details: dict,
    series_column: str | None,
    series: Sequence[str] | None,
) -> Table:
    """One Table of all the chunks read, with what inspect shows of the reading."""
    if frames:
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    else:
        frame = pd.DataFrame(columns=columns)
    if frame.empty:
        which = f" with {series_column} {names(series)}" if series_column else ""
        raise DataError(f"{name}: no rows{which}")
    table = Table(name, frame, details={**details, "rows": len(frame), "columns": list(columns)})
    naive_zones(table)
    return table


def naive_zones(table: Table) -> None:
    """Columns of timestamps with a time zone made naive, each change noted."""
    from lstm_forecast.typed_dates import naive_timestamps

    frame = table.frame
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            naive, note = naive_timestamps(col)
            frame.isetitem(i, naive)
            if note not in table.notes:  # the wording of the dates stage for text offsets
                table.notes.append(note)
            table.details.setdefault("timezone", note)


def _plain_index(frame: pd.DataFrame) -> pd.DataFrame:
    """A saved pandas index (a DatetimeIndex named Date, say) as a column again."""
    return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
