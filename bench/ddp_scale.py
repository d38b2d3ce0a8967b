"""Training throughput with 1 and 2 processes (torchrun, gloo) on a generated stock universe.

Writes a long-format CSV of random-walk prices (Ticker, Date, Close), trains on it as one
process and then as N ranks of one thread each, and prints global windows/s (from the model
file) and the peak resident memory of the largest process. On a 2-core machine this shows that
sharding is correct and memory per rank stays flat, not a speed-up: the ranks share the cores.

    python bench/ddp_scale.py [--series 500] [--days 5000] [--epochs 1] [--nproc 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lstm_forecast import artifacts  # noqa: E402

# Runs a command and prints the largest peak RSS among its processes (ranks included).
PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def universe(path: Path, series: int, days: int) -> Path:
    """`series` random walks of `days` business days in one long CSV."""
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2000-01-03", periods=days).strftime("%Y-%m-%d")
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (series, days)), axis=1))
    frame = pd.DataFrame(
        {
            "Ticker": np.repeat([f"S{i:04d}" for i in range(series)], days),
            "Date": np.tile(dates, series),
            "Close": prices.ravel().round(4),
        }
    )
    frame.to_csv(path, index=False)
    return path


def train(data: Path, model: Path, nproc: int, epochs: int) -> dict:
    """One training job; windows/s, wall seconds and the biggest process's peak RSS."""
    launch = [sys.executable]
    if nproc > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    cmd = [*launch, "-m", "lstm_forecast", "train", str(data), "--series-col", "Ticker"]
    cmd += ["--target", "Close", "--model", str(model), "--epochs", str(epochs), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *cmd], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - started
    card, _ = artifacts.load_model(model)
    return {
        "windows_per_s": card.training.windows_per_s,
        "train_s": card.training.seconds,
        "wall_s": round(wall, 1),
        "peak_mb_per_process": round(int(done.stdout.split()[-1]) / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--nproc", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = universe(Path(tmp) / "universe.csv", args.series, args.days)
        print(f"{args.series} series x {args.days} days, {args.epochs} epoch(s), 1 thread/rank")
        for n in map(int, args.nproc.split(",")):
            result = train(data, Path(tmp) / f"u{n}.lstm", n, args.epochs)
            print(f"  {n} process(es): {json.dumps(result)}")


if __name__ == "__main__":
    main()
