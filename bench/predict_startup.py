"""Cold-start cost of the everyday commands, side by side with bare imports on this machine.

Trains a default-sized model on the bundled sample (7,983 rows), then times whole processes,
alternating contenders so that machine noise hits them alike, and prints medians and ratios:

- `lstm-forecast predict` (numpy engine) against `python -c "import torch"`;
- `lstm-forecast --help` and `predict --help` against `python -c "import typer, rich"`.

    python bench/predict_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "msft.csv"


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tool = [sys.executable, "-m", "lstm_forecast"]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "msft.lstm"
        subprocess.run(
            [*tool, "train", str(SAMPLE), "--model", str(model), "--epochs", "2", "-q"], check=True
        )
        contenders = {
            "predict": [*tool, "predict", str(SAMPLE), "--model", str(model)],
            "import torch": [sys.executable, "-c", "import torch"],
            "--help": [*tool, "--help"],
            "predict --help": [*tool, "predict", "--help"],
            "import typer, rich": [sys.executable, "-c", "import typer, rich"],
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, cmd in contenders.items():
                times[name].append(timed(cmd))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, value in med.items():
        print(f"{name:20} median {value:.3f} s over {args.runs} runs")
    print(
        f"predict / import torch:            {med['predict'] / med['import torch']:.2f} "
        f"(goal <= 0.5)"
    )
    for name in ("--help", "predict --help"):
        print(
            f"{name:15} / import typer, rich: {med[name] / med['import typer, rich']:.2f} "
            f"(goal <= 2)"
        )


if __name__ == "__main__":
    main()
