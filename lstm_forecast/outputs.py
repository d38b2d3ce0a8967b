"""Where predict's and backtest's result rows go: stdout, a file, or database tables.

`--output` names a file (CSV or JSON as --format says, Parquet for a `.parquet` name) or a
database URL, whose rows go to `--output-table` (without --output: to the database of
LSTM_FORECAST_DATABASE_URL). Database rows are typed and written in one transaction, and the
rows of a rerun job replace its earlier ones (`sql_sink`). In Parquet and in databases, dates
and origins are timestamps (integers for a plain sequence). A forecast row in a database says
which model made it (`model`, a hash of the model file) and from which origin; a backtest's
rows say which run (`run`, a hash of its data and settings) and which model or baseline.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lstm_forecast.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from lstm_forecast.backtest import BacktestResult
    from lstm_forecast.db_url import Database
    from lstm_forecast.sql_sink import TableSpec

PARQUET_SUFFIX = ".parquet"
METRICS_SUFFIX = "_metrics"
BACKTEST_KEY = ("run", "model", "series", "origin", "horizon")
METRICS_KEY = ("run", "model", "series", "horizon")
POOLED = "(all)"  # the series of metrics pooled over every series; their steps are horizon 0


@dataclass(frozen=True)
class Output:
    """Where rows go: a file (`path`), a database table (`db`, `table`), or stdout."""

    path: Path | None = None
    db: Database | None = None
    table: str | None = None

    def __str__(self) -> str:
        if self.db is not None:
            return f"{self.db.shown} table {self.table}"
        return str(self.path) if self.path is not None else "stdout"


def output_for(
    output: str | None,
    table: str | None,
    default_table: str,
    *,
    files: bool = True,
    connect_timeout: float | None = None,
    wait: float = 0.0,
) -> Output:
    """The Output of --output and --output-table, checked before any work is done.

    A URL (or --output-table alone, with the URL in LSTM_FORECAST_DATABASE_URL) is a
    database; anything else a file path, unless `files` is False (backtest's files go into
    its report folder).
    """
    if output is None and table is None:
        return Output()
    from lstm_forecast.db_url import (
        DEFAULT_CONNECT_TIMEOUT,
        URL_ENV,
        Database,
        database_url,
        is_url,
    )

    if output is not None and not is_url(output):
        if not files:
            raise ConfigError(
                f"--output {output}: not a database URL (this command writes its files into "
                f"--report)"
            )
        if table is not None:
            raise ConfigError(
                f"--output-table {table}: --output {output} is a file; tables are written "
                f"to a database URL (--output, or {URL_ENV})"
            )
        from lstm_forecast.artifacts import check_writable

        check_writable(output)
        return Output(path=Path(output))
    timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    db = Database(database_url(output), timeout, wait)
    return Output(db=db, table=table or default_table)


def write_forecasts(frames: Iterable[pd.DataFrame], out: Output, fmt: str) -> int:
    """predict's rows (with `model` and `origin` for a database), frame by frame as they come,
    to `out`: stdout, a file (renamed into place at the end) or a table (one transaction);
    rows written."""
    if out.db is not None:
        from lstm_forecast import sql_sink

        rows = (typed(frame.drop(columns=["actual"], errors="ignore")) for frame in frames)
        return sql_sink.write_frames(out.db, str(out.table), sql_sink.FORECAST_KEY, rows)
    if out.path is not None and out.path.suffix.lower() == PARQUET_SUFFIX:
        from lstm_forecast.parquet import write_parquet_frames

        return write_parquet_frames(out.path, (typed(frame) for frame in frames))
    from lstm_forecast import render

    return render.write_tables(frames, out.path, fmt)


@dataclass
class BacktestSink:
    """Where a backtest's forecasts go a group of series at a time (`add`): forecasts.csv and,
    with pyarrow, forecasts.parquet (typed) in the report folder, and table NAME of the
    database asked for; `finish` adds the metrics as NAME_metrics in the same transaction.
    See `backtest_sink`."""

    csv: BinaryIO
    parquet: Callable[[pd.DataFrame], int] | None
    db: Callable | None
    out: Output
    rows: int = 0  # forecast rows
    db_rows: int = 0  # rows written to the database, forecasts and metrics
    spec: TableSpec | None = None

    def add(self, run: str, frame: pd.DataFrame) -> None:
        """One group's forecasts (`run`: the run's identity, keying its database rows)."""
        text = frame.to_csv(index=False, header=not self.rows, lineterminator="\n")
        self.csv.write(text.encode())
        self.rows += len(frame)
        if self.parquet is None and self.db is None:
            return
        rows = typed(frame)
        if self.parquet is not None:
            self.parquet(rows)
        if self.db is not None:
            from lstm_forecast import sql_sink

            rows.insert(0, "run", run)
            self.spec = self.spec or sql_sink.table_spec(str(self.out.table), rows, BACKTEST_KEY)
            self.db_rows += self.db(self.spec, rows)

    def finish(self, metrics: dict) -> None:
        """The metrics rows into NAME_metrics, when a database is asked for."""
        if self.db is None:
            return
        from lstm_forecast import sql_sink

        rows = metric_rows(metrics)
        rows.insert(0, "run", metrics["settings"]["run"])
        name = str(self.out.table) + METRICS_SUFFIX
        self.db_rows += self.db(sql_sink.table_spec(name, rows, METRICS_KEY), rows)


@contextlib.contextmanager
def backtest_sink(folder: Path, out: Output) -> Iterator[BacktestSink]:
    """A `BacktestSink` whose files are renamed into place, and whose database transaction is
    committed, when the block ends without an error (otherwise nothing changes)."""
    from lstm_forecast.artifacts import atomic_file

    with contextlib.ExitStack() as stack:
        csv = stack.enter_context(atomic_file(folder / "forecasts.csv"))
        parquet = None
        if importlib.util.find_spec("pyarrow") is not None:
            from lstm_forecast.parquet import parquet_writer

            parquet = stack.enter_context(parquet_writer(folder / "forecasts.parquet"))
        db = None
        if out.db is not None:
            from lstm_forecast import sql_sink

            db = stack.enter_context(sql_sink.transaction(out.db))
        yield BacktestSink(csv, parquet, db, out)


def write_backtest(folder: Path, result: BacktestResult, out: Output | None = None) -> int:
    """A backtest's forecasts (all of them in `result`) into the report folder's files and
    the database tables `out` names, as `backtest` writes them group by group; rows written to
    the database."""
    from lstm_forecast.report import make_folder

    with backtest_sink(make_folder(folder), out or Output()) as sink:
        sink.add(result.metrics["settings"]["run"], result.forecasts)
        sink.finish(result.metrics)
    return sink.db_rows


def metric_rows(metrics: dict) -> pd.DataFrame:
    """metrics.csv's rows, pooled (series POOLED) and per series; horizon 0 for all steps."""
    import pandas as pd

    from lstm_forecast.report import metrics_frame

    parts = [metrics_frame(metrics).assign(series=POOLED)]
    parts += [metrics_frame(found).assign(series=name) for name, found in metrics["series"].items()]
    frame = pd.concat(parts, ignore_index=True)
    frame["horizon"] = frame["horizon"].replace("all", 0).astype("int64")
    for column in frame.columns.difference(["model", "series", "horizon"]):
        values = pd.to_numeric(frame[column])
        frame[column] = values if pd.api.types.is_integer_dtype(values) else values.astype(float)
    first = ["model", "series", "horizon"]
    return frame[first + [c for c in frame.columns if c not in first]]


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with `date` and `origin` as timestamps (kept as integers for a sequence)."""
    import pandas as pd

    out = frame.copy()
    for column in ("origin", "date"):
        if column in out.columns and not pd.api.types.is_integer_dtype(out[column]):
            out[column] = pd.to_datetime(out[column], format="ISO8601")
    return out
