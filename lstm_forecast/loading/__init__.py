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
numbers, dates, roles, checks, cleaning, frequency, sessions, build. Numbers and dates are
parsers of whole columns that know nothing of roles; roles tries them to decide which column
is which.

Adding a source (a Parquet dataset, a SQL query): write a function that returns a `Table`
(`lstm_forecast.loading.table`): the rows as a pandas DataFrame, the source's display name, and
optionally a number per row for messages, `details` for inspect (`format` first) and `notes`.
Columns of numbers or timestamps (tz-aware or not) are used as they are; anything else is read
as text by the same parsers as CSV cells. Then `from_table(table, options)` gives the Dataset;
for a source picked from a path, add it to `read_table`, the one place `load` picks a source.

Every failure is a DataError with a one-line message naming the source, the problem and, where it
applies, the line (counted in the file, header included) and the column.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from lstm_forecast.errors import DataError
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

__all__ = ["Dataset", "LoadOptions", "Series", "Table", "from_table", "load", "read_table"]


def load(path: str | Path, options: LoadOptions | None = None) -> Dataset:
    """Read `path` ("-" for stdin) into a Dataset, raising DataError with a precise reason."""
    name = STDIN if str(path) == "-" else str(path)
    with _one_line():
        return build(read_table(str(path), name), options or LoadOptions())


def from_table(table: Table, options: LoadOptions | None = None) -> Dataset:
    """The Dataset for a table any source produced, read exactly as a file's would be."""
    with _one_line():
        return build(table, options or LoadOptions())


def read_table(path: str, name: str) -> Table:
    """The Table for a path ('-' for stdin): Parquet, or delimited text, in any container."""
    raw, compression = decompress(read_bytes(path, name), name)
    table = read_parquet(raw, name) if raw.startswith(PARQUET_MAGIC) else read_text(raw, name)
    table.details = {"compression": compression, **table.details}
    return table


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Names and values quoted from the file stay on one line of the message."""
    try:
        yield
    except DataError as exc:
        raise DataError(re.sub(r"[\x00-\x1f\x7f]+", " ", str(exc))) from None
