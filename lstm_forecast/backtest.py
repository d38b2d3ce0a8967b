"""Walk-forward evaluation: refit on the past, forecast the next origins, set beside baselines.

The last `folds * step` origins of each series (each with a full horizon of actuals) form
`folds` consecutive folds of `step` origins. At the start of a fold the model, with every
statistic it fits, is trained on the rows up to and including the fold's first origin and no
further (its own validation tail lies inside them); every forecast from an origin then reads the
true history up to that origin only. Baselines forecast from exactly the same origins and steps.
The result is one long frame of forecasts and a JSON-ready dict of metrics.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context

import numpy as np
import pandas as pd

from lstm_forecast import baselines, forecasting, metrics
from lstm_forecast.errors import ConfigError, DataError, Interrupted
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.settings import TrainConfig

WINDOWS = ("expanding", "sliding")
MODEL = "lstm"
RANDOM_WALK = "naive"
SKILL_P = 0.05


@dataclass
class BacktestConfig:
    """How origins are laid out and how often the model is refitted."""

    folds: int = 5
    step: int = 50
    window: str = "expanding"
    train_size: int | None = None  # sliding window rows (default: the first fold's)
    refit_every: int = 1
    season: int | None = None  # seasonal naive's period (default: from the frequency)

    def __post_init__(self) -> None:
        checks = [
            (self.folds >= 1, "--folds must be at least 1"),
            (self.step >= 1, "--step must be at least 1"),
            (self.window in WINDOWS, f"--window must be one of {', '.join(WINDOWS)}"),
            (self.train_size is None or self.train_size >= 2, "--train-size must be at least 2"),
            (self.refit_every >= 1, "--refit-every must be at least 1"),
            (self.season is None or self.season >= 1, "--season must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass
class Fit:
    """One training run: which folds it serves and the rows (per series) it saw."""

    folds: list[int]
    rows: dict[str, tuple[int, int]]  # series -> (first, last) row, inclusive
    weights: dict | None = None
    meta: dict | None = None
    seconds: float = 0.0


@dataclass
class BacktestResult:
    """Every forecast in long format, and the metrics.json content (settings included)."""

    forecasts: pd.DataFrame
    metrics: dict


def min_train_rows(config: TrainConfig) -> int:
    """The fewest rows a fold's training part may have."""
    return max(2 * (config.lookback + config.horizon), 50)


def fold_origins(n: int, config: TrainConfig, plan: BacktestConfig) -> np.ndarray:
    """(folds, step) row positions of the origins of a series of n rows."""
    last = n - 1 - config.horizon
    first = last - plan.folds * plan.step + 1
    return np.arange(first, last + 1).reshape(plan.folds, plan.step)


def check_length(dataset: Dataset, config: TrainConfig, plan: BacktestConfig) -> None:
    """DataError with the numbers when a series cannot hold the origins and a training part."""
    need_train = min_train_rows(config)
    need = plan.folds * plan.step + config.horizon + need_train
    for s in dataset.series:
        if len(s) < need:
            raise DataError(
                f"{dataset.source}: series '{s.name}' has {len(s)} rows; --folds {plan.folds} "
                f"x --step {plan.step} = {plan.folds * plan.step} origins, plus --horizon "
                f"{config.horizon} actuals after the last, plus a training part of at least "
                f"{need_train} rows, need {need}"
            )


def plan_fits(dataset: Dataset, config: TrainConfig, plan: BacktestConfig) -> list[Fit]:
    """One fit per `refit_every` folds, each ending at its first fold's first origin."""
    fits = []
    for start in range(0, plan.folds, plan.refit_every):
        rows = {}
        ends = {s.name: int(fold_origins(len(s), config, plan)[start, 0]) for s in dataset.series}
        if dataset.date_column:  # one calendar cut-off: no series trains past another's origin
            cutoff = min(s.index[ends[s.name]] for s in dataset.series)
            ends = {
                s.name: int(np.searchsorted(s.index, cutoff, side="right")) - 1
                for s in dataset.series
            }
        for s in dataset.series:
            origins = fold_origins(len(s), config, plan)
            end = ends[s.name]
            size = plan.train_size or int(origins[0, 0]) + 1
            first = max(0, end + 1 - size) if plan.window == "sliding" else 0
            if end + 1 - first < min_train_rows(config):
                raise ConfigError(
                    f"--train-size {size}: fewer than the {min_train_rows(config)} training "
                    f"rows a fold needs"
                )
            rows[s.name] = (first, end)
        folds = list(range(start, min(start + plan.refit_every, plan.folds)))
        fits.append(Fit(folds, rows))
    return fits


def rows_of(dataset: Dataset, rows: dict[str, tuple[int, int]]) -> Dataset:
    """The dataset cut to the given (first, last) rows of each series."""
    return replace(dataset, series=[_cut(s, *rows[s.name]) for s in dataset.series])


def _cut(s: Series, first: int, last: int) -> Series:
    sl = slice(first, last + 1)
    return Series(s.name, s.index[sl], s.values[sl], s.features[sl])


def _train(dataset: Dataset, config: TrainConfig, device: str, threads: int | None):
    """Fit one model (runs in a worker process when --jobs > 1)."""
    from lstm_forecast import training

    started = time.perf_counter()
    result = training.train(dataset, config, device=device, threads=threads)
    return result.weights, result.meta, time.perf_counter() - started


def run_fits(
    dataset: Dataset,
    config: TrainConfig,
    fits: list[Fit],
    *,
    device: str,
    threads: int | None,
    jobs: int,
    progress: Callable[[Fit | None, int, int], None] | None,
) -> None:
    """Train every fit, in `jobs` processes; fills each Fit's weights, meta and seconds.

    `progress(fit, done, total)` is called once with no fit before the first starts, then
    after each fit."""
    done = 0
    if progress:
        progress(None, 0, len(fits))

    def finish(fit: Fit, outcome: tuple) -> None:
        nonlocal done
        fit.weights, fit.meta, fit.seconds = outcome
        done += 1
        if progress:
            progress(fit, done, len(fits))

    try:
        if jobs <= 1:
            for fit in fits:
                finish(fit, _train(rows_of(dataset, fit.rows), config, device, threads))
            return
        per_job = max(1, (os.cpu_count() or 1) // jobs)
        pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn"))
        try:
            futures = {
                pool.submit(_train, rows_of(dataset, f.rows), config, device, per_job): f
                for f in fits
            }
            for future in as_completed(futures):
                finish(futures[future], future.result())
        except BaseException:
            # A signal or a failed fit: stop the workers now instead of waiting for every
            # queued fit (the executor has no public way to end running workers).
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    except Interrupted as exc:
        raise Interrupted(
            "backtest stopped by a signal; nothing was written", exc.exit_code
        ) from None


def forecast_frame(
    dataset: Dataset, config: TrainConfig, plan: BacktestConfig, fits: list[Fit]
) -> pd.DataFrame:
    """Long frame: one row per series, origin, horizon step and model."""
    season = plan.season or baselines.season_length(dataset.frequency)
    frames = []
    for fit in fits:
        for fold in fit.folds:
            for s in dataset.series:
                origins = fold_origins(len(s), config, plan)[fold]
                frames.append(_fold_forecasts(dataset, s, origins, fold, fit, season))
    frame = pd.concat(frames, ignore_index=True)
    first = ["series", "fold", "origin", "date", "horizon", "model", "origin_value", "actual"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _fold_forecasts(
    dataset: Dataset, s: Series, origins: np.ndarray, fold: int, fit: Fit, season: int | None
) -> pd.DataFrame:
    """The model's and every baseline's forecasts from one series' origins in one fold."""
    meta = fit.meta
    horizon, quantiles = meta["config"]["horizon"], meta["config"]["quantiles"]
    upto = replace(dataset, series=[_cut(s, 0, int(origins[-1]))])
    lstm = forecasting.forecast(
        meta, fit.weights, upto, since=str(s.index[origins[0]]), engine_name="numpy"
    )
    if len(lstm) != len(origins) * horizon:
        raise DataError(f"series '{s.name}': forecasts do not line up with the fold's origins")
    qcols = [forecasting.quantile_column(q) for q in quantiles]
    keys = lstm[["series", "origin", "date", "horizon"]]
    first, last = fit.rows[s.name]
    target = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    common = {
        "fold": fold + 1,
        "origin_value": np.repeat(s.values[origins], horizon),
        "actual": s.values[target].ravel(),
        "scale": metrics.naive_scale(s.values[first : last + 1]),
    }
    points = {
        RANDOM_WALK: baselines.naive(s.values, origins, horizon),
        "drift": baselines.drift(s.values, origins, horizon),
        "mean": baselines.historical_mean(s.values, origins, horizon),
    }
    if season:
        points["seasonal_naive"] = baselines.seasonal_naive(s.values, origins, horizon, season)
    rw_q = baselines.random_walk_quantiles(
        s.values, origins, horizon, quantiles, meta["transform"] == "log-return"
    )
    lstm_q = {c: lstm[c] for c in qcols}
    blocks = [keys.assign(model=MODEL, **common, forecast=lstm["forecast"], **lstm_q)]
    for name, f in points.items():
        block = keys.assign(model=name, **common, forecast=f.ravel())
        if name == RANDOM_WALK:
            block = block.assign(**{c: rw_q[..., j].ravel() for j, c in enumerate(qcols)})
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# scoring


def score(frame: pd.DataFrame, quantiles: list[float]) -> dict:
    """Metrics of every model, overall and per horizon step, with the DM test against the
    random walk. `frame` holds each model's rows in the same (series, origin, horizon) order."""
    qcols = [forecasting.quantile_column(q) for q in quantiles]
    naive = frame[frame["model"] == RANDOM_WALK]
    steps = sorted(naive["horizon"].unique())
    models = {}
    for name in frame["model"].unique():
        rows = frame[frame["model"] == name]
        levels = quantiles if rows[qcols].notna().any().any() else None
        by_h = []
        for h in steps:
            at = (rows["horizon"] == h).to_numpy()
            by_h.append({"horizon": int(h), **_point_metrics(rows[at], naive[at], levels)})
        models[name] = {**_point_metrics(rows, naive, levels), "by_horizon": by_h}
    return {"models": models, "dm_test": dm_test(frame, steps)}


def _point_metrics(rows: pd.DataFrame, naive: pd.DataFrame, quantiles: list[float] | None):
    """Point metrics of `rows`; interval metrics too when the model has `quantiles`."""
    a, f = rows["actual"].to_numpy(), rows["forecast"].to_numpy()
    o, scale = rows["origin_value"].to_numpy(), rows["scale"].to_numpy()
    ok = np.isfinite(f)
    out = {
        "n": int(ok.sum()),
        **metrics.point_scores(a, f, o, scale),
        "mape": metrics.mape(a, f),
        "smape": metrics.smape(a, f),
        "rel_mae": _ratio(metrics.mae(a, f), metrics.mae(a[ok], naive["forecast"].to_numpy()[ok])),
        "up_rate": metrics.up_rate(a[ok], o[ok]),
    }
    if quantiles:
        q = rows[[forecasting.quantile_column(x) for x in quantiles]].to_numpy()
        lo, hi = q[:, 0], q[:, -1]
        out["coverage"] = metrics.coverage(a, lo, hi)
        out["pinball"] = metrics.pinball(a, q, quantiles)
        alpha = 1 - (quantiles[-1] - quantiles[0])
        out["interval_score"] = metrics.interval_score(a, lo, hi, alpha)
    return out


def _ratio(x: float, y: float) -> float:
    return x / y if y and math.isfinite(y) else math.nan


def errors_at(frame: pd.DataFrame, model: str, horizon: int) -> np.ndarray:
    """Forecast errors (actual - forecast) of a model at one step, ordered by series, origin."""
    rows = frame[(frame["model"] == model) & (frame["horizon"] == horizon)]
    rows = rows.sort_values(["series", "origin"], kind="stable")
    return (rows["actual"] - rows["forecast"]).to_numpy()


def dm_test(frame: pd.DataFrame, steps: list[int]) -> dict:
    """Diebold-Mariano (HLN) of the model against the random walk on squared errors."""
    by_h = []
    for h in steps:
        e_model, e_base = errors_at(frame, MODEL, h), errors_at(frame, RANDOM_WALK, h)
        stat, p = metrics.diebold_mariano(e_model, e_base, horizon=int(h))
        by_h.append({"horizon": int(h), "statistic": stat, "p_value": p, "n": len(e_model)})
    head = by_h[0]
    return {
        "model": MODEL,
        "baseline": RANDOM_WALK,
        "loss": "squared error",
        "horizon": head["horizon"],
        "statistic": head["statistic"],
        "p_value": head["p_value"],
        "n": head["n"],
        "by_horizon": by_h,
    }


def verdict(models: dict, dm: dict) -> tuple[bool, str]:
    """(skill, plain sentences): skill needs a lower MAE than the random walk's AND a
    significant DM test in the model's favour."""
    m, rw = models[MODEL]["mae"], models[RANDOM_WALK]["mae"]
    stat, p = dm["statistic"], dm["p_value"]
    side = "below" if m < rw else "above"
    numbers = (
        f"the LSTM's MAE {m:.4g} is {abs(m / rw - 1):.2%} {side} the random walk's {rw:.4g}; "
        f"Diebold-Mariano at horizon {dm['horizon']}: statistic {stat:.2f}, p = {p:.3g}, "
        f"n = {dm['n']}."
    )
    if not math.isfinite(stat):
        numbers = (
            f"at horizon {dm['horizon']} the LSTM's forecasts are the random walk's (it fell "
            f"back on tomorrow = today), so there is nothing to test (n = {dm['n']})."
        )
    if m < rw and stat < 0 and p < SKILL_P:
        return True, f"Evidence of skill over the random walk: {numbers}"
    if stat > 0 and p < SKILL_P:
        return False, f"No evidence of skill: significantly WORSE than the random walk: {numbers}"
    return False, (
        f"No evidence of skill over the random walk (tomorrow = today): {numbers} Skill needs "
        f"a lower MAE and p below {SKILL_P}; treat the point forecasts as no better than the "
        f"last value."
    )


def summarise(frame: pd.DataFrame, quantiles: list[float]) -> dict:
    """Pooled metrics, per-series metrics and the verdict."""
    pooled = score(frame, quantiles)
    skill, text = verdict(pooled["models"], pooled["dm_test"])
    per_series = {
        name: score(rows, quantiles) for name, rows in frame.groupby("series", sort=False)
    }
    return {**pooled, "verdict": text, "skill": skill, "series": per_series}


# ---------------------------------------------------------------------------------------------
# the whole run


def walk_forward(
    dataset: Dataset,
    config: TrainConfig,
    plan: BacktestConfig,
    *,
    device: str = "auto",
    threads: int | None = None,
    jobs: int = 1,
    progress: Callable[[Fit | None, int, int], None] | None = None,
) -> BacktestResult:
    """Walk forward over `dataset`; see the module docstring."""
    if jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    check_length(dataset, config, plan)
    started = time.perf_counter()
    fits = plan_fits(dataset, config, plan)
    run_fits(dataset, config, fits, device=device, threads=threads, jobs=jobs, progress=progress)
    frame = forecast_frame(dataset, config, plan, fits)
    result = summarise(frame, config.quantiles)
    result["folds"] = _fold_table(dataset, config, plan, fits)
    result["settings"] = {
        "train": config.to_dict(),
        "backtest": asdict(plan),
        "season": plan.season or baselines.season_length(dataset.frequency),
        "transform": fits[0].meta["transform"],
        "interval": [config.quantiles[0], config.quantiles[-1]],
        "origins_per_series": plan.folds * plan.step,
        "warm_start": False,
        "device": device,
        "threads": threads,
        "jobs": jobs,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return BacktestResult(frame, result)


def _fold_table(
    dataset: Dataset, config: TrainConfig, plan: BacktestConfig, fits: list[Fit]
) -> list[dict]:
    """Per fold and series: the origins, the training rows and how the fit went."""
    out = []
    for fit in fits:
        tr = fit.meta["training"]
        for fold in fit.folds:
            for s in dataset.series:
                origins = fold_origins(len(s), config, plan)[fold]
                first, last = fit.rows[s.name]
                stamp = _stamper(s, dataset.frequency)
                out.append(
                    {
                        "fold": fold + 1,
                        "series": s.name,
                        "first_origin": stamp(origins[0]),
                        "last_origin": stamp(origins[-1]),
                        "train_start": stamp(first),
                        "train_end": stamp(last),
                        "train_rows": last - first + 1,
                        "refit": fold == fit.folds[0],
                        "epochs_run": tr["epochs_run"],
                        "best_epoch": tr["best_epoch"],
                        "fit_seconds": round(fit.seconds, 2),
                    }
                )
    return out


def _stamper(s: Series, frequency: str | None) -> Callable[[int], str | int]:
    """Row position -> its timestamp as forecasts.csv writes it (row number for sequences)."""
    return lambda row: forecasting.format_index(s.index[[row]], frequency)[0].item()
