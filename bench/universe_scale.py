"""Training and prediction on a generated stock universe, with 1 and 2 processes per run.

Generates (or reuses) a bucketed Parquet universe with `bench/universe.py`, then for each
process count trains one model with a small step cap (`--steps-per-epoch`) under torchrun,
every rank reporting its own figures: load seconds (reading and cleaning its shard), peak RSS,
and the job's training windows/s. The same run on a tiny universe gives the fixed part of the
memory (interpreter, torch, model), so "data MB" is what grows with the data. `predict` over a
universe is timed by `bench/predict_scale.py`.

    python bench/universe_scale.py [--series 10000] [--days 5000] [--ranks 1,2] [--steps 20]
        [--data DIR] [--keep]

Run it on an idle machine: every rank has one thread, and on 2 cores 2 ranks share them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ["--epochs", "1", "--lookback", "60", "--horizon", "5", "--threads", "1", "-q"]


def worker(argv: list[str]) -> None:
    """Run `lstm-forecast train ARGV` in this process (a rank); print its figures as JSON."""
    sys.path.insert(0, str(ROOT))
    from lstm_forecast import api, cli

    timed: dict[str, float] = {}
    load = api._load_shard

    def timed_load(*args, **kwargs):
        started = time.perf_counter()
        try:
            return load(*args, **kwargs)
        finally:
            timed["load_s"] = time.perf_counter() - started

    api._load_shard = timed_load
    fit = api.train

    def reporting_train(*args, **kwargs):
        result = fit(*args, **kwargs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = {"rank": int(os.environ.get("RANK", "0")), "peak_mb": peak, **timed}
        print("FIGURES " + json.dumps(figures), file=sys.stderr, flush=True)
        return result

    api.train = reporting_train
    sys.argv = ["lstm-forecast", "train", *argv]
    cli.main()


def train(data: Path, model: Path, ranks: int, steps: int) -> list[dict]:
    """Figures of each rank of one training run."""
    args = [str(data), "--model", str(model), *SETTINGS, "--steps-per-epoch", str(steps)]
    me = [str(Path(__file__).resolve()), "--worker", *args]
    if ranks == 1:
        cmd = [sys.executable, *me]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += [f"--nproc-per-node={ranks}", *me]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("FIGURES ")]
    if done.returncode or len(lines) != ranks:
        sys.exit(f"training failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures = sorted((json.loads(ln[len("FIGURES ") :]) for ln in lines), key=lambda f: f["rank"])
    sys.path.insert(0, str(ROOT))
    from lstm_forecast import artifacts

    card = artifacts.load_model(model)[0]
    for f in figures:
        f["windows_per_s"] = card.training.windows_per_s
    return figures


def generate(folder: Path, series: int, days: int) -> Path:
    cmd = [sys.executable, str(ROOT / "bench" / "universe.py"), "--out", str(folder)]
    subprocess.run([*cmd, "--series", str(series), "--days", str(days)], check=True)
    return folder


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=5_000)
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--data", type=Path, help="an existing universe to use")
    parser.add_argument("--keep", action="store_true", help="keep the generated universe")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="universe-"))
    data = args.data or generate(work / "universe", args.series, args.days)
    tiny = generate(work / "tiny", 20, 300)
    print(f"universe {data}: {args.series:,} series x {args.days:,} days (or as given)")
    print("ranks  rank  load s  peak MB  data MB  windows/s")
    for ranks in [int(r) for r in args.ranks.split(",")]:
        base = train(tiny, work / f"tiny{ranks}.lstm", ranks, args.steps)
        model = work / f"model{ranks}.lstm"
        for f, b in zip(train(data, model, ranks, args.steps), base, strict=True):
            print(
                f"{ranks:>5}  {f['rank']:>4}  {f['load_s']:6.1f}  {f['peak_mb']:7.0f}  "
                f"{f['peak_mb'] - b['peak_mb']:7.0f}  {f['windows_per_s']:9,.0f}"
            )
    if not args.keep:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()
