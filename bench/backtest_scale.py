"""Wall time and peak memory of `lstm-forecast backtest` over a universe of series.

Generates the universe (`bench/universe.py`, a bucketed Parquet dataset), then runs a backtest
with a small model and capped epochs, so that what grows with the universe is loading, the
forecasts and their scoring, and prints seconds, forecast rows, rows/s and the peak RSS of the
backtest process:

    python bench/backtest_scale.py --work /tmp/backtest_scale [--series 2000 --days 1500]
        [--folds 5 --step 50]

The backtest runs as `python -m lstm_forecast` in the current folder: run this script from
another checkout's root to measure that checkout's code.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from predict_scale import PEAK, universe  # bench/ is the script's folder, first on sys.path

MODEL = ["--epochs", "1", "--steps-per-epoch", "20", "--hidden", "8", "--layers", "1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for data and reports")
    parser.add_argument("--series", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=1_500)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--step", type=int, default=50)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / f"universe-{args.series}x{args.days}"
    universe(data, args.series, args.days)
    report = args.work / "report"
    plan = ["--folds", str(args.folds), "--step", str(args.step), "--lookback", "20"]
    command = [
        sys.executable,
        "-m",
        "lstm_forecast",
        "backtest",
        str(data),
        "--report",
        str(report),
    ]
    started = time.perf_counter()
    measured = subprocess.run(
        [sys.executable, "-c", PEAK, *command, *plan, *MODEL, "--threads", "1", "-q"],
        check=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_mib = int(measured.stderr.split()[-1]) / 1024
    with (report / "forecasts.csv").open("rb") as fh:
        rows = sum(1 for _ in fh) - 1
    print(f"series {args.series:,}  days {args.days:,}  origins {args.folds * args.step}/series")
    print(
        f"backtest: {seconds:.1f} s  {rows:,} forecast rows  {rows / seconds:,.0f} rows/s  "
        f"peak RSS {peak_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
