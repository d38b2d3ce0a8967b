"""Hold-out skill check: train on all but the last N rows, forecast every origin of those N rows.

For each file and variant the model is trained once on the first rows (nothing of the hold-out
is seen: not by training, calibration or any choice made here), then `predict --since` forecasts
every hold-out origin, with and without online recalibration (`--recalibrate`). Printed per
file, variant and recalibration:

- rel_mae_h1: the model's h=1 MAE / the random walk's on the same origins;
- cov80_h1, cov80: coverage of the 80% band (q10-q90) at h=1 and over every step;
- is80/garch_h1, is80/garch, is80/ewma_h1, is80/ewma: the 80% band's interval score over that of
  a GARCH(1,1)-t and a RiskMetrics EWMA(0.94) band, both computed here on the same origins and
  steps, fitted on the same training rows (lstm_forecast.volatility);
- dm_p_h1: Diebold-Mariano p-value of the h=1 interval-score differential against GARCH;
- cov90, cov98: coverage of the 90% and 98% bands, for the variant with tail quantiles.

Variants: `base` (default settings), `range` (`--features parkinson`, files with High and Low),
`gk` (`--features garman-klass`, files with Open, High, Low and Close), `tails` (`--quantiles
0.01,0.05,0.1,0.5,0.9,0.95,0.99`). Only origins whose every step is known are scored.

    python bench/holdout_skill.py FILE... [--holdout 500] [--epochs 40] [--variants base,tails]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstm_forecast import api, metrics, volatility
from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, Series
from lstm_forecast.settings import TrainConfig, loader_features

TAILS = [0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99]
VARIANTS = {
    "base": {},
    "range": {"features": ["parkinson"]},
    "gk": {"features": ["garman-klass"]},
    "tails": {"quantiles": TAILS},
}


def panel(fc: pd.DataFrame, horizon: int, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes (T, H) and quantiles (T, H, Q) of the origins whose every step is known."""
    fc = fc.sort_values(["origin", "horizon"], kind="stable")
    actual = fc["actual"].to_numpy().reshape(-1, horizon)
    q = fc[cols].to_numpy().reshape(len(actual), horizon, len(cols))
    known = np.isfinite(actual).all(axis=1)
    return actual[known], q[known]


def band_ratio(actual, q, base, lo: int, hi: int, alpha: float) -> tuple[float, float]:
    """Interval score of q's band over base's: at h=1, over every step."""
    own = metrics.interval_score_loss(actual, q[..., lo], q[..., hi], alpha)
    ref = metrics.interval_score_loss(actual, base[..., lo], base[..., hi], alpha)
    return own[:, 0].mean() / ref[:, 0].mean(), own.mean() / ref.mean()


def score(fc: pd.DataFrame, s: Series, n_train: int, horizon: int, levels: list[float]) -> dict:
    cols = [f"q{round(q * 100, 4):g}" for q in levels]
    actual, q = panel(fc, horizon, cols)
    origins = np.arange(n_train - 1, n_train - 1 + len(actual))
    rw = s.values[origins]
    mid, lo, hi = levels.index(0.5), levels.index(0.1), levels.index(0.9)
    row = {
        "rel_mae_h1": metrics.mae(actual[:, 0], q[:, 0, mid]) / metrics.mae(actual[:, 0], rw),
        "cov80_h1": metrics.coverage(actual[:, 0], q[:, 0, lo], q[:, 0, hi]),
        "cov80": metrics.coverage(actual, q[..., lo], q[..., hi]),
    }
    if np.all(s.values > 0):
        bands = {
            "garch": volatility.garch_quantiles(s.values, n_train, origins, horizon, levels),
            "ewma": volatility.ewma_quantiles(s.values, n_train, origins, horizon, levels),
        }
        for name, band in bands.items():
            row[f"is80/{name}_h1"], row[f"is80/{name}"] = band_ratio(actual, q, band, lo, hi, 0.2)
        own = metrics.interval_score_loss(actual[:, 0], q[:, 0, lo], q[:, 0, hi], 0.2)
        ref = metrics.interval_score_loss(
            actual[:, 0], bands["garch"][:, 0, lo], bands["garch"][:, 0, hi], 0.2
        )
        row["dm_p_h1"] = metrics.diebold_mariano_loss(own, ref)[1]
    for level, (a, b) in {"cov90": (0.05, 0.95), "cov98": (0.01, 0.99)}.items():
        if a in levels:
            row[level] = metrics.coverage(actual, q[..., levels.index(a)], q[..., levels.index(b)])
    return row


def run_file(path: str, variant: str, args: argparse.Namespace) -> list[dict]:
    settings = VARIANTS[variant]
    cfg = TrainConfig(epochs=args.epochs, seed=0, horizon=args.horizon, **settings)
    options = LoadOptions(target=args.target, features=loader_features(cfg.features) or None)
    try:
        data = api.load_data(path, options)
    except DataError as exc:
        print(f"{Path(path).name} [{variant}]: skipped ({exc})")
        return []
    s = data.series[0]
    n_train = len(s) - args.holdout
    cut = Series(s.name, s.index[:n_train], s.values[:n_train], s.features[:n_train])
    train_part = data.select([s.name])
    train_part.series = [cut]
    model = Path("/tmp") / f"holdout-{Path(path).stem}-{variant}.lstm"
    started = time.perf_counter()
    result = api.train(train_part, model, cfg, threads=args.threads)
    seconds = time.perf_counter() - started
    since = str(s.index[n_train - 1])[:19] if data.date_column else int(s.index[n_train - 1])
    rows = []
    for recalibrate in (False, True):
        fc = api.predict(data.select([s.name]), model, since=since, recalibrate=recalibrate)
        found = score(fc, s, n_train, args.horizon, list(result.card.network.quantiles))
        rows.append({"file": Path(path).name, "variant": variant, "recal": recalibrate, **found})
    tr = result.meta["training"]
    print(
        f"{Path(path).name} [{variant}]: {n_train} training rows, trained {seconds:.1f}s, "
        f"epochs {tr['epochs_run']} (best {tr['best_epoch']}), shrink "
        f"{[round(x, 2) for x in result.meta['calibration']['shrink']]}",
        flush=True,
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--holdout", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--target", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default="base,range,tails")
    args = parser.parse_args()
    rows = []
    for path in args.files:
        for variant in args.variants.split(","):
            rows += run_file(path, variant, args)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    fmt = {"float_format": lambda x: f"{x:.4f}", "index": False}
    print("\n" + table.to_string(**fmt))
    numeric = [c for c in table.columns if c not in ("file", "variant", "recal")]
    means = table.groupby(["variant", "recal"], sort=False)[numeric].mean()
    counts = table.groupby(["variant", "recal"], sort=False)["file"].count().rename("files")
    print("\nmean over files (each column over the files that have it):")
    print(pd.concat([counts, means], axis=1).reset_index().to_string(**fmt))


if __name__ == "__main__":
    main()
