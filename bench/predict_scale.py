"""Wall time and peak memory of `lstm-forecast predict` over a whole universe of series.

Generates the universe (`bench/universe.py`) and a short universe of the same names, trains
a small model on the short one (one epoch), then runs `predict` over the full universe with
CSV on stdout (to a file) and prints seconds, rows/s and the peak RSS of the predict process:

    python bench/predict_scale.py --work /tmp/predict_scale [--series 10000 --days 5000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Runs a command and writes its peak RSS (KiB) last on stderr: training's peak stays out.
PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
)


def universe(out: Path, series: int, days: int) -> None:
    """Write the bucketed universe to `out` unless it is already there."""
    if not out.exists():
        cmd = [sys.executable, str(ROOT / "bench" / "universe.py"), "--out", str(out)]
        subprocess.run([*cmd, "--series", str(series), "--days", str(days)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for data and model")
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=5_000)
    parser.add_argument("--short-days", type=int, default=300)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    full, short = args.work / "universe", args.work / "short"
    universe(full, args.series, args.days)
    universe(short, args.series, args.short_days)
    tool = [sys.executable, "-m", "lstm_forecast"]
    model = args.work / "small.lstm"
    if not model.exists():
        small = ["--epochs", "1", "--hidden", "8", "--layers", "1", "--lookback", "20"]
        subprocess.run(
            [*tool, "train", str(short), "--model", str(model), *small, "-q"], check=True
        )
    out = args.work / "forecast.csv"
    started = time.perf_counter()
    with out.open("w") as sink:
        measured = subprocess.run(
            [sys.executable, "-c", PEAK, *tool, "predict", str(full), "--model", str(model)],
            check=True,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
        )
    seconds = time.perf_counter() - started
    peak_mib = int(measured.stderr.split()[-1]) / 1024
    rows = args.series * args.days
    print(f"series {args.series:,}  rows {rows:,}")
    print(f"predict: {seconds:.1f} s  {rows / seconds:,.0f} rows/s  peak RSS {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
