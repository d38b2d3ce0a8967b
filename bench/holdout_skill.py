"""Hold-out skill check: train on all but the last N rows, forecast every origin of those N rows.

Prints, per file and pooled, the model's MAE against the random walk's on the same origins
(h=1 and all steps), MASE, the 80% interval's coverage, and its interval score beside a
random-walk band of constant historical volatility and a RiskMetrics EWMA band.

    python bench/holdout_skill.py data/msft.csv [more files] [--holdout 500] [--epochs 40]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstm_forecast import api, metrics
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig


def bands(values: np.ndarray, origins: np.ndarray, n_train: int, z: float, log: bool):
    """Constant-volatility and EWMA(0.94) random-walk 80% bands for one-step-ahead forecasts."""
    y = np.log(values) if log else values
    r = np.diff(y)
    sd = r[: n_train - 1].std()
    var = np.empty(len(r))
    v = sd**2
    for t in range(len(r)):
        v = 0.94 * v + 0.06 * r[t] ** 2
        var[t] = v
    ew = np.sqrt(var[origins - 1])
    out = {}
    for name, s in (("const", np.full(len(origins), sd)), ("ewma", ew)):
        lo, hi = y[origins] - z * s, y[origins] + z * s
        out[name] = (np.exp(lo), np.exp(hi)) if log else (lo, hi)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--holdout", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--target", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    z = norm.ppf(0.9)
    pooled: dict[str, list] = {}
    for path in args.files:
        data = api.load_data(path, LoadOptions(target=args.target))
        s = data.series[0]
        n_train = len(s) - args.holdout
        train_part = data.select([s.name])
        train_part.series = [
            type(s)(s.name, s.index[:n_train], s.values[:n_train], s.features[:n_train])
        ]
        model = Path("/tmp") / f"holdout-{Path(path).stem}.lstm"
        started = time.perf_counter()
        cfg = TrainConfig(epochs=args.epochs, seed=0, horizon=args.horizon)
        result = api.train(train_part, model, cfg, threads=args.threads)
        seconds = time.perf_counter() - started
        since = s.index[n_train - 1]
        since = str(since)[:19] if data.date_column else int(since)
        fc = api.predict(data, model, since=since)
        log = result.meta["transform"] == "log-return"
        h1 = fc[(fc["horizon"] == 1) & fc["actual"].notna()]
        origins = np.arange(n_train - 1, n_train - 1 + len(h1))
        actual = h1["actual"].to_numpy()
        rw = s.values[origins]
        b = bands(s.values, origins, n_train, z, log)
        row = {
            "rel_mae_h1": metrics.mae(actual, h1["forecast"].to_numpy()) / metrics.mae(actual, rw),
            "mase_h1": metrics.mae(actual, h1["forecast"].to_numpy())
            / metrics.naive_scale(s.values[:n_train]),
            "coverage": metrics.coverage(actual, h1["q10"].to_numpy(), h1["q90"].to_numpy()),
            "is_model": metrics.interval_score(
                actual, h1["q10"].to_numpy(), h1["q90"].to_numpy(), 0.2
            ),
            "is_const": metrics.interval_score(actual, *b["const"], 0.2),
            "is_ewma": metrics.interval_score(actual, *b["ewma"], 0.2),
            "cov_ewma": metrics.coverage(actual, *b["ewma"]),
        }
        allh = fc[fc["actual"].notna()]
        origin_vals = np.repeat(s.values[n_train - 1 :], args.horizon)[: len(fc)]
        fc_rw = origin_vals[fc["actual"].notna().to_numpy()]
        row["rel_mae_all"] = metrics.mae(
            allh["actual"].to_numpy(), allh["forecast"].to_numpy()
        ) / metrics.mae(allh["actual"].to_numpy(), fc_rw)
        epochs = result.meta["training"]["epochs_run"]
        shrink = result.meta["calibration"]["shrink"]
        print(f"{Path(path).name}: train {seconds:.1f}s, epochs {epochs}, shrink {shrink}")
        print("   " + "  ".join(f"{k}={v:.4f}" for k, v in row.items()))
        for k, v in row.items():
            pooled.setdefault(k, []).append(v)
    print(
        "mean over files: "
        + "  ".join(
            f"{k}={np.mean(v):.4f}" for k, v in pooled.items() if all(math.isfinite(x) for x in v)
        )
    )


if __name__ == "__main__":
    main()
