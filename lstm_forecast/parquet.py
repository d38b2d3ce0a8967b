"""Parquet: one file, or a folder of them (hive-partitioned like `ticker=AAPL/part-0.parquet`,
where the partition key becomes a column, or plain), read with pyarrow's dataset API.

Only the columns asked for are read, and a series filter is pushed down to pyarrow: partitions
of other series are never opened, and row groups whose statistics exclude the series are
skipped. Rows stream in batches. Writing goes through a temporary file renamed into place.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstm_forecast.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

BATCH_ROWS = 65_536
# A file's footer may list its series with their row counts: {"AAPL": 5031, ...} as JSON.
SERIES_ROWS = b"lstm_forecast.series_rows"


def is_parquet(path: str | Path) -> bool:
    """A Parquet file (by its magic bytes) or a folder holding any `*.parquet` file."""
    path = Path(path)
    if path.is_dir():
        return any(path.rglob("*.parquet"))
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def column_names(path: str | Path) -> list[str]:
    """The columns of a file or dataset (partition keys included), without reading rows."""
    return list(_dataset(path).schema.names)


def read_batches(
    path: str | Path,
    columns: Sequence[str] | None = None,
    *,
    series_column: str | None = None,
    series: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pd.DataFrame]:
    """Frames of at most `batch_rows`: only `columns` (all when None), and only the rows
    whose `series_column` is one of `series` (all when None)."""
    if series is not None and series_column is None:
        raise ValueError("a series filter needs its column")
    pa = _pyarrow()
    dataset = _dataset(path)
    names = dataset.schema.names
    wanted = [*(columns or []), *([series_column] if series_column else [])]
    if missing := [c for c in wanted if c not in names]:
        raise DataError(
            f"{path}: no column {', '.join(missing)} (the columns are {', '.join(names)})"
        )
    where = None
    if series is not None:
        where = _series_filter(path, dataset.schema, series_column, series)
    pending: list = []  # a filter leaves small batches: convert them together, not one by one
    try:
        for batch in dataset.to_batches(columns=columns, filter=where, batch_size=batch_rows):
            if pending and sum(b.num_rows for b in pending) + batch.num_rows > batch_rows:
                yield pa.Table.from_batches(pending).to_pandas(date_as_object=False)
                pending = []
            if batch.num_rows or not pending:
                pending.append(batch)
        if pending:
            yield pa.Table.from_batches(pending).to_pandas(date_as_object=False)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet data ({_short(exc)})") from None


def series_rows(path: str | Path, column: str) -> dict[str, int]:
    """Rows per series of a file or dataset, read from metadata where it has them: a footer's
    SERIES_ROWS list, else a file's hive partition value of `column` (with the footer's row
    count); only files with neither have their `column` read (alone)."""
    pa = _pyarrow()
    import pyarrow.dataset as ds

    counts: Counter[str] = Counter()
    try:
        for fragment in _dataset(path).get_fragments():
            footer = fragment.metadata
            listed = (footer.metadata or {}).get(SERIES_ROWS)
            key = ds.get_partition_keys(fragment.partition_expression).get(column)
            if listed is not None:
                counts.update(json.loads(listed))
            elif key is not None:
                counts[str(key)] += footer.num_rows
            else:
                values = fragment.to_table(columns=[column]).column(column).to_pandas()
                counts.update(values.astype(str).value_counts().to_dict())
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable Parquet data ({_short(exc)})") from None
    return dict(counts)


def row_groups(path: str | Path) -> Iterator[pd.DataFrame]:
    """The frames of one Parquet file (written by `parquet_writer`), a row group at a time."""
    _pyarrow()
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    for i in range(file.num_row_groups):
        yield file.read_row_group(i).to_pandas()


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    """Write `frame` (without its index) as one Parquet file, atomically."""
    write_parquet_frames(path, [frame])


def write_parquet_frames(path: str | Path, frames: Iterable[pd.DataFrame]) -> int:
    """Write frames of one table (the first frame's schema) as one Parquet file, a row group
    or more per frame as they come, renamed into place at the end; rows written."""
    with parquet_writer(path) as put:
        return sum(put(frame) for frame in frames)


@contextlib.contextmanager
def parquet_writer(path: str | Path) -> Iterator[Callable[[pd.DataFrame], int]]:
    """`put(frame)` appends a frame of one table (the first frame's schema) to one Parquet
    file as a row group or more; the file is renamed into place when the block ends without
    an error. Rows written by each put."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    from lstm_forecast.artifacts import atomic_file

    with atomic_file(path) as sink:
        writers = []

        def put(frame: pd.DataFrame) -> int:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if not writers:
                writers.append(pq.ParquetWriter(sink, table.schema))
            writers[0].write_table(table.cast(writers[0].schema))
            return len(frame)

        try:
            yield put
        finally:
            for writer in writers:
                writer.close()


def _dataset(path: str | Path) -> Any:
    pa = _pyarrow()
    import pyarrow.dataset as ds

    if not Path(path).exists():
        raise DataError(f"{path}: no such file or folder")
    try:
        dataset = ds.dataset(str(path), format="parquet", partitioning="hive")
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a Parquet file or dataset ({_short(exc)})") from None
    if not dataset.files:
        raise DataError(f"{path}: no Parquet files in this folder")
    return dataset


def _series_filter(path: str | Path, schema: Any, column: str | None, series: Sequence[str]):
    """`column IN series`, the values in the column's own type (a partition key of digits
    is read as a number), within their least and greatest value: pyarrow skips the files and
    row groups whose statistics lie outside that range (a long IN list alone makes it read
    every file, which made each group of a universe cost as much as the whole)."""
    pa = _pyarrow()
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    kind = schema.field(column).type
    values: Any = pa.array([str(s) for s in series])
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        try:
            values = pc.cast(values, kind)
        except pa.ArrowException:
            shown = ", ".join(str(s) for s in series)
            raise DataError(
                f"{path}: --series {shown} do not fit column {column} ({kind})"
            ) from None
    field = ds.field(column)
    try:
        bounds = pc.min_max(values)
    except pa.ArrowException:  # values without an order (a dictionary column): the list alone
        return field.isin(values)
    if not bounds["min"].is_valid:
        return field.isin(values)
    return (field >= bounds["min"]) & (field <= bounds["max"]) & field.isin(values)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise DataError(
            "reading or writing Parquet needs pyarrow (pip install 'lstm-forecast[parquet]')"
        ) from None
    return pa
