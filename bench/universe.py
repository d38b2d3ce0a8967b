"""Generate a synthetic daily stock universe as a hive-partitioned Parquet dataset.

Every series is a GARCH(1,1) random walk in log price with Student-t shocks (volatility comes
in clusters, tails are fat, prices stay positive), on business days ending 2024-12-31. Series
parameters (drift, long-run volatility, persistence, starting price) vary per series. With
`--ragged`, about half the series start later (listings) and a tenth end early (delistings).

    python bench/universe.py --out /tmp/universe [--series 10000] [--days 5000] [--seed 0]
        [--layout bucket|ticker|csv] [--buckets 64] [--ragged]

Layouts (columns ticker: string, date: date32, close: float64):

    bucket (default)  bucket=07/part-0.parquet   contiguous, sorted ticker ranges per file;
                                                 ticker is a column inside the files
    ticker            ticker=AAAB/part-0.parquet one file per series; ticker comes from the
                                                 folder name (hive partitioning)
    csv               universe.csv               one long text file (what `convert` reads)

Bucket files list their series' row counts in the footer (what sharded training balances by).
Either Parquet layout read with `pyarrow.dataset.dataset(out, partitioning="hive")` yields a
ticker column. Work is
streamed in chunks of series, so memory stays flat whatever the size, and a chunk's numbers
depend only on the seed and the series' position, so both layouts hold the same data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import string
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lstm_forecast.parquet import SERIES_ROWS

CHUNK = 256  # series simulated at once: 256 x 5,000 float64 is 10 MB per array
ROW_GROUP = 65_536  # rows: a one-ticker read decodes ~13 series, not a whole file
LAST_DAY = "2024-12-31"
T_DOF = 5.0  # Student-t shocks, scaled to unit variance


def ticker_names(n: int) -> list[str]:
    """AAAA, AAAB, ... (wider when needed): fixed width, so text order is series order."""
    width = max(4, int(np.ceil(np.log(max(n, 2)) / np.log(26))))
    letters = string.ascii_uppercase
    names = []
    for i in range(n):
        digits = []
        for _ in range(width):
            i, r = divmod(i, 26)
            digits.append(letters[r])
        names.append("".join(reversed(digits)))
    return names


def business_days(n: int, last: str = LAST_DAY) -> np.ndarray:
    """The `n` business days (Mon-Fri) ending on or before `last`, as datetime64[D]."""
    end = np.busday_offset(np.datetime64(last, "D"), 0, roll="backward")
    return np.busday_offset(end, np.arange(-(n - 1), 1))


def simulate(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """(n, days) positive prices: log returns mu + sigma_t z_t with GARCH(1,1) sigma_t."""
    vol = rng.uniform(0.008, 0.03, n)  # long-run daily volatility
    alpha = rng.uniform(0.04, 0.12, n)  # reaction to yesterday's shock
    beta = rng.uniform(0.95, 0.99, n) - alpha  # persistence alpha + beta: 0.95-0.99
    omega = vol**2 * (1 - alpha - beta)
    mu = rng.normal(3e-4, 2e-4, n) - vol**2 / 2  # log drift: a 7% a year mean price trend
    z = rng.standard_t(T_DOF, (days, n)) / np.sqrt(T_DOF / (T_DOF - 2))
    returns = np.empty((days, n))
    var = vol**2 * rng.uniform(0.5, 2.0, n)  # start away from the long-run level
    for t in range(days):
        shock = np.sqrt(var) * z[t]
        returns[t] = mu + shock
        var = omega + alpha * shock**2 + beta * var
    log_price = np.log(rng.uniform(5.0, 500.0, n)) + np.cumsum(returns, axis=0)
    return np.exp(log_price).T


def spans(rng: np.random.Generator, n: int, days: int, ragged: bool) -> np.ndarray:
    """(n, 2) first and one-past-last day of each series."""
    out = np.column_stack([np.zeros(n, int), np.full(n, days)])
    if ragged:
        late = rng.random(n) < 0.5
        out[late, 0] = rng.integers(0, days // 2, late.sum())
        early = rng.random(n) < 0.1
        out[early, 1] = days - rng.integers(0, days // 4, early.sum())
        out[:, 1] = np.maximum(out[:, 1], np.minimum(out[:, 0] + 100, days))
    return out


def chunks(
    series: int, days: int, seed: int, ragged: bool
) -> Iterator[tuple[int, list[str], np.ndarray, np.ndarray]]:
    """(first series index, names, spans, prices) for each chunk of CHUNK series."""
    names = ticker_names(series)
    for start in range(0, series, CHUNK):
        n = min(CHUNK, series - start)
        rng = np.random.default_rng([seed, start])
        prices = simulate(rng, n, days)
        yield start, names[start : start + n], spans(rng, n, days, ragged), prices


def table(names: list[str], span: np.ndarray, prices: np.ndarray, dates: np.ndarray) -> pa.Table:
    """The rows of some series, series after series, dates ascending."""
    days = prices.shape[1]
    mask = (np.arange(days) >= span[:, :1]) & (np.arange(days) < span[:, 1:])
    which = np.repeat(np.arange(len(names)), mask.sum(1))
    return pa.table(
        {
            "ticker": pa.array(names).take(pa.array(which)),
            "date": pa.array(np.broadcast_to(dates, prices.shape)[mask]),
            "close": pa.array(prices[mask]),
        }
    )


WRITE_OPTIONS = dict(
    compression="zstd",
    use_dictionary=["ticker", "date"],
    use_byte_stream_split=["close"],  # float bytes split by significance compress far better
)


class TickerFolders:
    """ticker=NAME/part-0.parquet per series; the ticker lives in the folder name only."""

    def __init__(self, out: Path) -> None:
        self.out, self.files = out, 0

    def add(self, start: int, names: list[str], tab: pa.Table, offsets: np.ndarray) -> None:
        for i, name in enumerate(names):
            folder = self.out / f"ticker={name}"
            folder.mkdir()
            part = tab.slice(offsets[i], offsets[i + 1] - offsets[i]).drop_columns("ticker")
            pq.write_table(part, folder / "part-0.parquet", **WRITE_OPTIONS)
            self.files += 1

    def close(self) -> None:
        pass


class Buckets:
    """bucket=NN/part-0.parquet: series i goes to bucket i * buckets // series.

    Buckets are contiguous ranges of series, which arrive in order, so one writer is open at a
    time and each file's tickers are sorted (row-group statistics then skip the others).
    """

    def __init__(self, out: Path, series: int, buckets: int) -> None:
        self.out, self.series, self.buckets = out, series, min(buckets, series)
        self.width = len(str(self.buckets - 1))
        self.writer: pq.ParquetWriter | None = None
        self.current, self.files = -1, 0
        self.rows: dict[str, int] = {}

    def add(self, start: int, names: list[str], tab: pa.Table, offsets: np.ndarray) -> None:
        owner = (np.arange(start, start + len(names)) * self.buckets) // self.series
        for b in np.unique(owner):
            if b != self.current:
                self.close()
                folder = self.out / f"bucket={b:0{self.width}d}"
                folder.mkdir()
                path = folder / "part-0.parquet"
                self.writer = pq.ParquetWriter(path, tab.schema, **WRITE_OPTIONS)
                self.current, self.files = b, self.files + 1
            first, last = np.flatnonzero(owner == b)[[0, -1]]
            part = tab.slice(offsets[first], offsets[last + 1] - offsets[first])
            self.writer.write_table(part, row_group_size=ROW_GROUP)
            for i in range(first, last + 1):
                self.rows[names[i]] = int(offsets[i + 1] - offsets[i])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.add_key_value_metadata({SERIES_ROWS: json.dumps(self.rows)})
            self.writer.close()
            self.writer, self.rows = None, {}


class CsvFile:
    """universe.csv: ticker,date,close lines, series after series."""

    def __init__(self, out: Path) -> None:
        self.sink, self.files = open(out / "universe.csv", "wb"), 1  # noqa: SIM115
        self.header = True

    def add(self, start: int, names: list[str], tab: pa.Table, offsets: np.ndarray) -> None:
        options = pacsv.WriteOptions(include_header=self.header, quoting_style="none")
        pacsv.write_csv(tab, self.sink, options)
        self.header = False

    def close(self) -> None:
        self.sink.close()


def write(
    out: Path, series: int, days: int, seed: int, layout: str, buckets: int, ragged: bool
) -> tuple[int, int]:
    """Write the dataset under `out`, chunk by chunk; returns (rows, files)."""
    dates = business_days(days)
    sinks = {"ticker": lambda: TickerFolders(out), "csv": lambda: CsvFile(out)}
    sink = sinks.get(layout, lambda: Buckets(out, series, buckets))()
    rows = 0
    try:
        for start, names, span, prices in chunks(series, days, seed, ragged):
            tab = table(names, span, prices, dates)
            offsets = np.concatenate([[0], np.cumsum(span[:, 1] - span[:, 0])])
            sink.add(start, names, tab, offsets)
            rows += tab.num_rows
    finally:
        sink.close()
    return rows, sink.files


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to create")
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=["bucket", "ticker", "csv"], default="bucket")
    parser.add_argument("--buckets", type=int, default=64, help="files for --layout bucket")
    parser.add_argument("--ragged", action="store_true", help="vary series start and end")
    args = parser.parse_args()
    if args.series < 1 or args.days < 200 or args.buckets < 1:
        sys.exit("need --series >= 1, --days >= 200 and --buckets >= 1")
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} exists and is not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        rows, files = write(
            args.out, args.series, args.days, args.seed, args.layout, args.buckets, args.ragged
        )
    except BaseException:
        shutil.rmtree(args.out, ignore_errors=True)  # never leave half a dataset behind
        raise
    seconds = time.perf_counter() - started
    size = disk_bytes(args.out)
    print(
        f"{args.out}: {args.series:,} series x {args.days:,} days, {rows:,} rows in {files:,} "
        f"files, {size / 2**20:,.1f} MiB, {seconds:.1f} s ({rows / seconds / 1e6:.2f} M rows/s)"
    )


if __name__ == "__main__":
    main()
