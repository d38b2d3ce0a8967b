"""Where a whole `lstm-forecast train` process spends its time, phase by phase.

Each run is a fresh interpreter that imports the heavy libraries one by one (timed), wraps the
pipeline's stage functions in timers, then runs the real command line in-process. The parent
times the whole process from outside, so interpreter start-up and exit are counted too.

    python bench/train_profile.py [--data FILE] [--runs 3] [--importtime] [--cprofile N]
        [-- extra train options]

Defaults train the default model (2 x 64, lookback 60, horizon 5) for 10 epochs with early
stopping off on the bundled sample. `--importtime` adds one `python -X importtime` run and lists
the costliest imports; `--cprofile N` adds one run under cProfile and lists its top N functions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTERED = time.perf_counter()  # CLOCK_MONOTONIC on Linux: comparable with the parent's clock

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "msft.csv"
TRAIN_ARGS = "--epochs 10 --patience 100 --hidden 64 --layers 2 --lookback 60 --horizon 5 --seed 0"

IMPORTS = {  # phase name -> modules, imported in this order so each is charged once
    "import numpy": ["numpy"],
    "import pandas (+pyarrow)": ["pandas"],
    "import torch": ["torch"],
    "import typer, rich, safetensors": ["typer", "rich.console", "safetensors.numpy"],
    "import lstm_forecast": [
        "lstm_forecast.cli",
        "lstm_forecast.api",
        "lstm_forecast.training",
    ],
}
STAGES = {  # phase name -> (module, attribute path) of the function whose calls are timed
    "load + parse data": ("lstm_forecast.api", "load"),
    "windowing (split, stats)": ("lstm_forecast.training", "split"),
    "trainer set-up (model, tensors)": ("lstm_forecast.training", "Trainer.__init__"),
    "training steps": ("lstm_forecast.training", "Trainer.step"),
    "validation passes": ("lstm_forecast.training", "Trainer.validation_sums"),
    "evaluation (calibration, baselines)": ("lstm_forecast.training", "_validation"),
    "data fingerprint": ("lstm_forecast.training", "data_hash"),
    "write model file": ("lstm_forecast.artifacts", "save_model"),
    "report table": ("lstm_forecast.cli", "_trained"),
}


def child(out: str, train_args: list[str], cprofile: int) -> None:
    """One measured run, in this (fresh) interpreter; writes {phase: seconds} to `out`."""
    import importlib

    started = time.perf_counter()
    seconds: dict[str, float] = {}
    for phase, modules in IMPORTS.items():
        t = time.perf_counter()
        for name in modules:
            importlib.import_module(name)
        seconds[phase] = time.perf_counter() - t
    missing = [phase for phase, target in STAGES.items() if not _wrap(phase, *target, seconds)]
    from lstm_forecast import cli

    sys.argv = ["lstm-forecast", "train", *train_args]
    t = time.perf_counter()
    try:
        if cprofile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(cli.main)
        else:
            cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        if cprofile:
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(cprofile)
    run = time.perf_counter() - t
    seconds["other (CLI, locks, render set-up)"] = run - sum(
        seconds.get(p, 0.0) for p in STAGES if p in seconds
    )
    seconds["in-process total"] = time.perf_counter() - started
    clock = {"entered": ENTERED, "left": time.perf_counter()}
    Path(out).write_text(json.dumps({"seconds": seconds, "missing": missing, "clock": clock}))
    from lstm_forecast import process

    # The command skips the interpreter's teardown once it has loaded torch; here torch was
    # loaded before it (to time the import), so it would not: end as the command does.
    process._exit(0, fast=True)


def _wrap(phase: str, module: str, path: str, seconds: dict[str, float]) -> bool:
    """Replace module.path by a timer around it; False when the function is not there."""
    import importlib

    owner: object = importlib.import_module(module)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part, None)
    original = getattr(owner, name, None)
    if original is None:
        return False
    depth = [0]

    @functools.wraps(original)
    def timed(*args: object, **kwargs: object) -> object:
        depth[0] += 1
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:  # a recursive or nested call is charged once
                seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - t

    setattr(owner, name, timed)
    return True


def run_once(data: str, train_args: list[str], env: dict, cprofile: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phases.json"
        model = Path(tmp) / "m.lstm"
        cmd = [sys.executable, __file__, "--child", str(out), "--cprofile", str(cprofile)]
        cmd += ["--", data, "--model", str(model), *train_args]
        launched = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        ended = time.perf_counter()
        if done.returncode != 0:
            sys.exit(f"train failed ({done.returncode}):\n{done.stderr}")
        if cprofile:
            print(done.stderr)
        result = json.loads(out.read_text())
    clock, seconds = result["clock"], result["seconds"]
    seconds["interpreter start-up"] = clock["entered"] - launched
    seconds["interpreter exit (teardown)"] = ended - clock["left"]
    seconds["whole process (wall)"] = ended - launched
    return result


def importtime(data: str, train_args: list[str], env: dict, top: int = 12) -> None:
    """One `python -X importtime` run: the costliest top-level and second-level imports."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-X", "importtime", "-m", "lstm_forecast", "train", data]
        cmd += ["--model", str(Path(tmp) / "m.lstm"), "-q", *train_args]
        err = subprocess.run(cmd, env=env, capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "[us]" not in line:
            own, total, name = line.split(":", 1)[1].split("|")
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append((int(total), int(own), depth, name.strip()))
    print(f"\n-X importtime (inflated by the tracing): {sum(r[1] for r in rows) / 1e6:.2f} s")
    print(f"{'cumulative':>11} {'self':>8}  module (depth <= 1)")
    for total, own, depth, name in sorted(r for r in rows if r[2] <= 1)[::-1][:top]:
        print(f"{total / 1e3:9.0f}ms {own / 1e3:6.0f}ms  {'  ' * depth}{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SAMPLE))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help="train options (after --)")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.extra, args.cprofile)
    train_args = TRAIN_ARGS.split() + args.extra
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("OMP_NUM_THREADS", "1")
    runs = [run_once(args.data, train_args, env) for _ in range(args.runs)]
    missing = sorted({m for r in runs for m in r["missing"]})
    phases = list(runs[0]["seconds"])
    median = {p: statistics.median(r["seconds"].get(p, 0.0) for r in runs) for p in phases}
    whole = median["whole process (wall)"]
    print(f"train {Path(args.data).name} {' '.join(train_args)}")
    print(f"{'phase':38}" + "".join(f"{f'run {i + 1}':>9}" for i in range(len(runs))), end="")
    print(f"{'median':>9}{'share':>7}")
    for p in phases:
        cells = "".join(f"{r['seconds'].get(p, 0.0):9.3f}" for r in runs)
        share = "" if p.endswith(("total", "(wall)")) else f"{median[p] / whole:6.0%}"
        print(f"{p:38}{cells}{median[p]:9.3f} {share:>6}")
    if missing:
        print(f"not found (counted in 'other'): {', '.join(missing)}")
    if args.importtime:
        importtime(args.data, train_args, env)
    if args.cprofile:
        run_once(args.data, train_args, env, cprofile=args.cprofile)


if __name__ == "__main__":
    main()
