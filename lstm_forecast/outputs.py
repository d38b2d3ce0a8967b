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

PARQUET_SUFFIX = ".parquet"
FORECASTS_PARQUET = "forecasts.parquet"  # beside a backtest's forecasts.csv
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
    """forecasts.csv and, with pyarrow, forecasts.parquet (typed) of a backtest's report
    folder, written a group of series at a time (`add`); see `backtest_sink`."""

    csv: BinaryIO
    parquet: Callable[[pd.DataFrame], int] | None
    started: bool = False  # the CSV header is written

    def add(self, frame: pd.DataFrame) -> None:
        """One group's forecasts."""
        text = frame.to_csv(index=False, header=not self.started, lineterminator="\n")
        self.csv.write(text.encode())
        self.started = True
        if self.parquet is not None:
            self.parquet(typed(frame))


@contextlib.contextmanager
def backtest_sink(folder: Path) -> Iterator[BacktestSink]:
    """A `BacktestSink` into `folder`, whose files are renamed into place when the block ends
    without an error; otherwise the old files stay as they were."""
    from lstm_forecast.artifacts import atomic_file

    with contextlib.ExitStack() as stack:
        csv = stack.enter_context(atomic_file(folder / "forecasts.csv"))
        parquet = None
        if importlib.util.find_spec("pyarrow") is not None:
            from lstm_forecast.parquet import parquet_writer

            parquet = stack.enter_context(parquet_writer(folder / FORECASTS_PARQUET))
        yield BacktestSink(csv, parquet)


def write_backtest_tables(folder: Path, metrics: dict, out: Output) -> int:
    """A backtest's forecasts into table NAME (read back from the report folder's
    forecasts.parquet a row group at a time) and its metrics into NAME_metrics, keyed by the
    run and the model, all in one transaction once the run is over; rows written."""
    from lstm_forecast import sql_sink
    from lstm_forecast.parquet import row_groups

    run, name = metrics["settings"]["run"], str(out.table)
    written, spec = 0, None
    with sql_sink.transaction(out.db) as put:  # type: ignore[arg-type]
        for frame in row_groups(folder / FORECASTS_PARQUET):
            frame.insert(0, "run", run)
            spec = spec or sql_sink.table_spec(name, frame, BACKTEST_KEY)
            written += put(spec, frame)
        rows = metric_rows(metrics)
        rows.insert(0, "run", run)
        written += put(sql_sink.table_spec(name + METRICS_SUFFIX, rows, METRICS_KEY), rows)
    return written


def write_backtest(folder: Path, result: BacktestResult, out: Output | None = None) -> int:
    """The forecasts files of a backtest report folder from `result` (every forecast when it
    was run without `each`), and the database tables `out` names; rows written to the
    database."""
    from lstm_forecast.report import make_folder

    with backtest_sink(make_folder(folder)) as sink:
        sink.add(result.forecasts)
    if out is None or out.db is None:
        return 0
    return write_backtest_tables(Path(folder), result.metrics, out)


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
