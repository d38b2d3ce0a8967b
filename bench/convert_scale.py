"""Wall time and peak memory of `lstm-forecast convert` on a long CSV of a whole universe.

Writes the universe as one CSV (`bench/universe.py --layout csv`), converts it to a Parquet
dataset and prints the seconds, rows/s, the peak RSS of the convert process and both sizes:

    python bench/convert_scale.py --work /tmp/convert_scale [--series 1000 --days 5000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Runs a command and writes its peak RSS (KiB) last on stderr.
PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
)


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the data")
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=5_000)
    args = parser.parse_args()
    text = args.work / f"csv-{args.series}x{args.days}"
    if not text.exists():
        cmd = [sys.executable, str(ROOT / "bench" / "universe.py"), "--layout", "csv"]
        subprocess.run(
            [*cmd, "--out", str(text), "--series", str(args.series), "--days", str(args.days)],
            check=True,
        )
    source, out = text / "universe.csv", args.work / "converted"
    shutil.rmtree(out, ignore_errors=True)
    tool = [sys.executable, "-m", "lstm_forecast", "convert", str(source), "--to", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *tool], check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    peak = int(done.stderr.split()[-1]) / 1024
    rows = args.series * args.days
    print(
        f"convert {args.series:,} series x {args.days:,} days ({rows:,} rows, "
        f"{size_mib(source):,.0f} MiB CSV -> {size_mib(out):,.0f} MiB Parquet): {seconds:.1f} s, "
        f"{rows / seconds / 1e6:.2f} M rows/s, peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
