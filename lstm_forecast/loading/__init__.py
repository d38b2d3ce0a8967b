"""Read the price files people really have into clean per-series arrays, or say exactly why not.

One loader serves every command, in stages, one module each:

    source    bytes: a file or stdin (at most 256 MiB, also once decompressed); gzip, bz2, xz
              or zip found by their magic bytes; Parquet (typed columns, needs pyarrow)
    text      UTF-8 (BOM, UTF-16, cp1252/latin-1 fallback), delimiter sniffed, comment, title
              and header lines found, cells as strings
    table     the Table every source produces (the one interface between sources and the rest)
    numbers   thousands separators, currency, %, K/M/B, decimal commas, missing markers
    dates     day/month order from the whole column, 2-digit years, month names, time zones,
              epochs
    roles     which column is the date (+ time of day), the series, the target, a feature
    stores    typed sources read in chunks: a Parquet file or dataset folder, a database
              table or query; only the columns the roles can use, --series pushed down
    checks    values that must not pass (inf, beyond float32, non-positive under log returns,
              a few stray zero or negative values in a positive series) and moves that look
              wrong (one-row spikes that revert, unadjusted splits)
    cleaning  per series: order, duplicates, leading/trailing gaps, fills up to --max-gap
    frequency the offset alias of the typical step, and unusual gaps
    sessions  the trading calendar (--exchange, or the exchange whose holidays the data
              skips), and the sessions without a row
    build     Table -> Dataset, composing roles, dates, cleaning, checks, frequency and sessions

with `messages` (wording shared by all) and `dataset` (Series, Dataset, LoadOptions). A module
imports only from those before it in this order: messages, dataset, table, source, text,
numbers, dates, roles, stores, checks, cleaning, frequency, sessions, build. Numbers and dates
are parsers of whole columns that know nothing of roles; roles tries them to decide which column
is which.

Adding a source (a Parquet dataset, a SQL query): write a function that returns a `Table`
(`lstm_forecast.loading.table`): the rows as a pandas DataFrame, the source's display name, and
optionally a number per row for messages, `details` for inspect (`format` first) and `notes`.
Columns of numbers or timestamps (tz-aware or not) are used as they are; anything else is read
as text by the same parsers as CSV cells. Then `from_table(table, options)` gives the Dataset;
for a source picked from a path, add it to `read_table`, the one place `load` picks a source
(`stores` holds the typed ones: Parquet datasets and database tables or queries).

Every failure is a DataError with a one-line message naming the source, the problem and, where it
applies, the line (counted in the file, header included) and the column.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.loading.build import build
from lstm_forecast.loading.dataset import Dataset, LoadOptions, Series
from lstm_forecast.loading.source import (
    PARQUET_MAGIC,
    STDIN,
    decompress,
    read_bytes,
    read_parquet,
)
from lstm_forecast.loading.table import Table
from lstm_forecast.loading.text import read_text

if TYPE_CHECKING:
    from lstm_forecast.sql_source import Source

__all__ = ["Dataset", "LoadOptions", "Series", "Table", "from_table", "load", "read_table"]


def load(data: str | Path | Source, options: LoadOptions | None = None) -> Dataset:
    """Read a path ("-" for stdin) or a database table or query (`sql_source.Source`) into a
    Dataset, raising DataError with a precise reason."""
    opts = options or LoadOptions()
    with _one_line():
        return build(read_table(data, opts), opts)


def from_table(table: Table, options: LoadOptions | None = None) -> Dataset:
    """The Dataset for a table any source produced, read exactly as a file's would be."""
    with _one_line():
        return build(table, options or LoadOptions())


def read_table(data: str | Path | Source, options: LoadOptions | None = None) -> Table:
    """The Table for a source: a database table or query; a Parquet file or dataset folder;
    else a file or stdin ('-') of delimited text (or Parquet) in any container."""
    opts = options or LoadOptions()
    if not isinstance(data, str | Path):
        from lstm_forecast.loading.stores import sql_table

        return sql_table(data, opts)
    path = str(data)
    if "://" in path:
        _refuse_url(path)
    if path != "-" and _is_parquet_file_or_folder(path):
        from lstm_forecast.loading.stores import parquet_table

        return parquet_table(path, opts)
    name = STDIN if path == "-" else path
    raw, compression = decompress(read_bytes(path, name), name)
    if raw.startswith(PARQUET_MAGIC):
        from lstm_forecast.loading.stores import naive_zones

        table = read_parquet(raw, name)
        naive_zones(table)
    else:
        table = read_text(raw, name)
    table.details = {"compression": compression, **table.details}
    return table


def _refuse_url(path: str) -> None:
    """A database URL is no file name (and its password is never shown)."""
    from lstm_forecast.db_url import is_url, redact

    if is_url(path):
        raise ConfigError(
            f"{redact(path)}: a database URL; read it with a table or a query (--table, --query)"
        )


def _is_parquet_file_or_folder(path: str) -> bool:
    """A regular file starting with Parquet's magic bytes, or a folder of Parquet files (never
    read from a pipe: its bytes would be gone)."""
    p = Path(path)
    if p.is_dir():
        from lstm_forecast.parquet import is_parquet

        return is_parquet(p)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Names and values quoted from the file stay on one line of the message."""
    try:
        yield
    except DataError as exc:
        raise DataError(re.sub(r"[\x00-\x1f\x7f]+", " ", str(exc))) from None
