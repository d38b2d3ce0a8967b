"""Interval baselines on a hold-out: GARCH(1,1)-t, RiskMetrics EWMA, the empirical random-walk
band, and each after online recalibration (lstm_forecast.conformal), with coverage tests.

Nothing here is tuned on the hold-out: every band's parameters come from the training rows,
the recalibration runs with its defaults and starts from zero at the first hold-out origin.

Part 1 simulates GARCH(1,1)-t prices with arch (the answer is known: the GARCH-t 80% band should
cover ~80%) and also scores a deliberately too narrow band (GARCH's, 0.6x as wide) before and
after recalibration. Part 2 does the same on real price files (Adj Close where there is one,
else Close; one series per Ticker in a long file). Part 3 times arch's import, a GARCH fit on
5,000 daily rows and the recalibration of 2,000 series x 300 origins x 5 steps x 3 levels.

    python bench/volatility_bands.py data/msft.csv tests/data/goog_yahoo.csv [--holdout 500]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstm_forecast import baselines, conformal, coverage, metrics, volatility

LEVELS = [0.1, 0.5, 0.9]
TRUE_PARAMS = [0.05, 0.02, 0.08, 0.9, 6.0]  # mu, omega, alpha, beta, nu on 100x log returns


def simulate(n: int, seed: int) -> np.ndarray:
    """GARCH(1,1)-t prices simulated by arch."""
    from arch.univariate import GARCH, ConstantMean, StudentsT

    model = ConstantMean(None, volatility=GARCH(), distribution=StudentsT(seed=seed))
    returns = model.simulate(TRUE_PARAMS, n)["data"].to_numpy()
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns / 100)]))


def narrowed(q: np.ndarray, factor: float) -> np.ndarray:
    """The band shrunk towards its median in log space."""
    mid = np.log(q[..., 1:2])
    return np.exp(mid + factor * (np.log(q) - mid))


def bands(prices: np.ndarray, n_train: int, origins: np.ndarray, horizon: int) -> dict:
    garch = volatility.garch_quantiles(prices, n_train, origins, horizon, LEVELS)
    out = {
        "garch": garch,
        "ewma": volatility.ewma_quantiles(prices, n_train, origins, horizon, LEVELS),
        "rw-empirical": baselines.random_walk_quantiles(prices, origins, horizon, LEVELS, True),
        "garch-0.6x": narrowed(garch, 0.6),
    }
    actual = outcomes(prices, origins, horizon)
    for name in list(out):
        out[name + "+aci"] = conformal.adaptive_quantiles(out[name], actual, LEVELS, origins)
    return out


def outcomes(prices: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    return np.where(rows < len(prices), prices[np.minimum(rows, len(prices) - 1)], np.nan)


def score(prices: np.ndarray, n_train: int, horizon: int) -> list[dict]:
    """One row per band: coverage, interval score relative to GARCH, CRPS, coverage tests."""
    origins = np.arange(n_train - 1, len(prices) - 1)
    actual = outcomes(prices, origins, horizon)
    found = bands(prices, n_train, origins, horizon)
    ref = metrics.interval_score_loss(actual, found["garch"][..., 0], found["garch"][..., 2], 0.2)
    rows = []
    for name, q in found.items():
        loss = metrics.interval_score_loss(actual, q[..., 0], q[..., 2], 0.2)
        tests = coverage.coverage_tests(actual, q, LEVELS)
        _, p_dm = metrics.diebold_mariano_loss(loss[:, 0], ref[:, 0])
        rows.append(
            {
                "band": name,
                "cov_h1": metrics.coverage(actual[:, 0], q[:, 0, 0], q[:, 0, 2]),
                "cov_all": metrics.coverage(actual, q[..., 0], q[..., 2]),
                "is_h1/garch": np.nanmean(loss[:, 0]) / np.nanmean(ref[:, 0]),
                "is_all/garch": np.nanmean(loss) / np.nanmean(ref),
                "dm_p_h1": p_dm,
                "crps_all": np.nanmean(metrics.crps_from_quantiles(actual, q, LEVELS)),
                "tests_pass": coverage.tests_pass([r["pvalue"] for r in tests]),
            }
        )
    return rows


def show(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def read_series(path: str) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path)
    column = "Adj Close" if "Adj Close" in frame else "Close"
    if "Ticker" not in frame:
        return {Path(path).name: frame[column].to_numpy(float)}
    return {f"{Path(path).name}:{t}": g[column].to_numpy(float) for t, g in frame.groupby("Ticker")}


def costs() -> None:
    """arch's import in a fresh interpreter, a GARCH fit on 5,000 rows, the recalibration."""
    code = "import time; t = time.perf_counter(); import arch; print(time.perf_counter() - t)"
    imports = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    prices = simulate(5000, seed=7)
    fits = []
    for _ in range(5):
        started = time.perf_counter()
        volatility.fit_garch(prices, 5001)
        fits.append(time.perf_counter() - started)
    rng = np.random.default_rng(0)
    f = np.sort(rng.standard_normal((2000, 300, 5, 3)), axis=-1)
    started = time.perf_counter()
    conformal.adaptive_quantiles(f, rng.standard_normal((2000, 300, 5)), LEVELS)
    aci = time.perf_counter() - started
    print(
        f"\ncosts: import arch {min(imports):.2f}s (min of 3 fresh interpreters), "
        f"GARCH fit on 5,000 rows {statistics.median(fits):.3f}s (median of 5), "
        f"recalibration 2000x300x5x3 {aci:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*")
    parser.add_argument("--holdout", type=int, default=500)
    parser.add_argument("--horizon", type=int, default=5)
    args = parser.parse_args()
    for seed in (1, 2):
        prices = simulate(4000 + args.holdout, seed)
        show(f"simulated GARCH(1,1)-t, seed {seed}", score(prices, 4001, args.horizon))
    for path in args.files:
        for name, prices in read_series(path).items():
            n_train = len(prices) - args.holdout
            if n_train < 250:
                print(f"\n{name}: skipped, {len(prices)} rows leave under 250 for training")
                continue
            show(f"{name}: {n_train} training rows", score(prices, n_train, args.horizon))
    costs()


if __name__ == "__main__":
    main()
