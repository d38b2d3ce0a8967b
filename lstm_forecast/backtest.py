"""Walk-forward evaluation: refit on the past, forecast the next origins, set beside baselines.

The last `folds * step` origins of each series (each with a full horizon of actuals) form
`folds` consecutive folds of `step` origins. At the start of a fold the model, with every
statistic it fits, is trained on the rows up to and including the fold's first origin and no
further (its own validation tail lies inside them); every forecast from an origin then reads the
true history up to that origin only. Baselines forecast from exactly the same origins and steps;
the interval baselines (GARCH(1,1)-t and EWMA, `volatility`) are refitted at every fit on that
fit's training rows, for positive series among `volatility.sample_series` of the series. With
`recalibrate`, the model's intervals adapt online from the fit's cutoff on, as `predict
--recalibrate` does. The forecasts are long frames made a group of series at a time, tallied
(`tally`) and scored by `evaluation.summarise` into a JSON-ready dict of metrics, so that a
universe of series needs memory for one group's forecasts, not for all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context

import numpy as np
import pandas as pd

from lstm_forecast import baselines, evaluation, forecasting, metrics, volatility
from lstm_forecast.errors import ConfigError, DataError, Interrupted
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.settings import TrainConfig
from lstm_forecast.spec import ModelCard
from lstm_forecast.tally import Tally

WINDOWS = ("expanding", "sliding")
GROUP_POINTS = 100_000  # forecast points (origins x steps) of the series forecast together
PLOTTED_SERIES = volatility.MAX_SERIES  # series a streamed backtest keeps for the plots


@dataclass
class BacktestConfig:
    """How origins are laid out and how often the model is refitted."""

    folds: int = 5
    step: int = 50
    window: str = "expanding"
    train_size: int | None = None  # sliding window rows (default: the first fold's)
    refit_every: int = 1
    season: int | None = None  # seasonal naive's period (default: from the frequency)
    recalibrate: bool = False  # adapt the model's intervals online between refits

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
    card: ModelCard | None = None
    seconds: float = 0.0


@dataclass
class BacktestResult:
    """The forecasts in long format (every one, or the plotted series' when they were handed
    on as they came: see `walk_forward`), and the metrics.json content (settings included)."""

    forecasts: pd.DataFrame
    metrics: dict

    @property
    def record(self) -> dict:
        """The headline figures of a run record: the verdict, pooled MAE of the model and the
        random walk, and the horizon-1 Diebold-Mariano test."""
        models, dm = self.metrics["models"], self.metrics["dm_test"]
        return {
            "skill": self.metrics["skill"],
            "interval_skill": self.metrics["interval_skill"],
            "coverage_tests_pass": self.metrics["coverage_tests_pass"],
            "lstm_mae": models[evaluation.MODEL]["mae"],
            "naive_mae": models[evaluation.RANDOM_WALK]["mae"],
            "rel_mae": models[evaluation.MODEL]["rel_mae"],
            "dm_statistic": dm["statistic"],
            "dm_p_value": dm["p_value"],
        }


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
    return result.weights, result.card, time.perf_counter() - started


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
    """Train every fit, in `jobs` processes; fills each Fit's weights, card and seconds.

    `progress(fit, done, total)` is called once with no fit before the first starts, then
    after each fit."""
    done = 0
    if progress:
        progress(None, 0, len(fits))

    def finish(fit: Fit, outcome: tuple) -> None:
        nonlocal done
        fit.weights, fit.card, fit.seconds = outcome
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


def series_groups(
    dataset: Dataset, config: TrainConfig, plan: BacktestConfig
) -> list[list[Series]]:
    """The series cut into groups of about GROUP_POINTS forecast points (origins x steps),
    each forecast and scored together."""
    size = max(1, GROUP_POINTS // (plan.folds * plan.step * config.horizon))
    return [dataset.series[i : i + size] for i in range(0, len(dataset.series), size)]


def forecast_groups(
    dataset: Dataset,
    config: TrainConfig,
    plan: BacktestConfig,
    fits: list[Fit],
    *,
    interval_baselines: bool = True,
) -> Iterator[pd.DataFrame]:
    """Long frames, one per group of series (`series_groups`): one row per series, origin,
    horizon step and model (without the GARCH and EWMA rows when not `interval_baselines`:
    tuning's trials score the model alone)."""
    season = plan.season or baselines.season_length(dataset.frequency)
    sampled = set(banded(dataset)) if interval_baselines else set()
    # once per fit: a universe has thousands of series
    runs = [
        (forecasting.runner(fit.card, fit.weights, "numpy"), fit.card.series_ids()) for fit in fits
    ]
    first = ["series", "fold", "origin", "date", "horizon", "model", "origin_value", "actual"]
    for group in series_groups(dataset, config, plan):
        frames = []
        for fit, (run, ids) in zip(fits, runs, strict=True):
            for s in group:
                origins = fold_origins(len(s), config, plan)[fit.folds].ravel()
                model = (run, ids[s.name])
                frame = _fit_forecasts(
                    dataset, s, origins, fit, model, season, plan, s.name in sampled
                )
                folds = np.repeat(np.asarray(fit.folds) + 1, plan.step)
                frame["fold"] = frame.pop("_row").map(dict(zip(origins, folds, strict=True)))
                frames.append(frame)
        frame = pd.concat(frames, ignore_index=True)
        yield frame[first + [c for c in frame.columns if c not in first]]


def forecast_frame(
    dataset: Dataset,
    config: TrainConfig,
    plan: BacktestConfig,
    fits: list[Fit],
    *,
    interval_baselines: bool = True,
) -> pd.DataFrame:
    """Every group's `forecast_groups` frame as one."""
    groups = forecast_groups(dataset, config, plan, fits, interval_baselines=interval_baselines)
    return pd.concat(list(groups), ignore_index=True)


def banded(dataset: Dataset) -> list[str]:
    """The series that get the interval baselines: positive ones, at most
    `volatility.MAX_SERIES` of them (`volatility.sample_series`)."""
    positive = [s.name for s in dataset.series if np.all(s.values > 0)]
    return volatility.sample_series(positive)


def _fit_forecasts(
    dataset: Dataset,
    s: Series,
    origins: np.ndarray,
    fit: Fit,
    model: tuple[forecasting.Runner, int],
    season: int | None,
    plan: BacktestConfig,
    bands: bool,
) -> pd.DataFrame:
    """The model's and every baseline's forecasts from one series' origins in one fit's folds
    (`model`: the fit's runner and the series' id in it)."""
    card = fit.card
    upto = _cut(s, 0, int(origins[-1]))  # no forecast may read past the fit's last origin
    run, sid = model
    start = forecasting.cutoff_row(card, sid, upto) if plan.recalibrate else None
    q = forecasting.quantile_forecasts(card, run, upto, sid, origins, start)
    first, last = fit.rows[s.name]
    levels = card.network.quantiles
    extra = None
    if bands:  # fitted on the fit's own training rows, like the model
        extra = volatility.interval_baselines(
            upto.values[first:], last - first + 1, origins - first, q.shape[1], levels
        )
    frame = evaluation.series_frame(
        s.name,
        s.values,
        origins,
        q,
        levels,
        metrics.naive_scale(s.values[first : last + 1]),
        names=evaluation.BACKTEST_BASELINES,
        season=season,
        interval=True,
        log=card.transform == "log-return",
        bands=extra,
    )
    rows, steps = frame["origin"].to_numpy(), frame["horizon"].to_numpy()
    frame["_row"] = rows
    frame["origin"] = forecasting.format_index(s.index[rows], dataset.frequency)
    frame["date"] = forecasting.format_index(s.index[rows + steps], dataset.frequency)
    return frame


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
    each: Callable[[pd.DataFrame], None] | None = None,
) -> BacktestResult:
    """Walk forward over `dataset`; see the module docstring.

    The forecasts are made and scored a group of series at a time (`series_groups`). With
    `each`, every group's frame is handed to it and only the plotted series (`plotted`) are
    kept in the result; without, the result holds every forecast."""
    if jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    check_length(dataset, config, plan)
    started = time.perf_counter()
    fits = plan_fits(dataset, config, plan)
    run_fits(dataset, config, fits, device=device, threads=threads, jobs=jobs, progress=progress)
    tally = Tally()
    shown = set(plotted(dataset))
    kept = []
    for frame in forecast_groups(dataset, config, plan, fits):
        tally.add(frame)
        if each is not None:
            each(frame)
            frame = frame[frame["series"].isin(shown)]
        kept.append(frame)
    result = evaluation.summarise(tally)
    result["folds"] = _fold_table(dataset, config, plan, fits)
    result["settings"] = {
        "train": config.to_dict(),
        "backtest": asdict(plan),
        "season": plan.season or baselines.season_length(dataset.frequency),
        "transform": fits[0].card.transform,
        "interval": [config.quantiles[0], config.quantiles[-1]],
        "interval_baselines": {
            "models": [m for m in volatility.BASELINES if m in tally.models],
            "series": banded(dataset),
            "of_series": len(dataset.series),
            "max_series": volatility.MAX_SERIES,
        },
        "origins_per_series": plan.folds * plan.step,
        "warm_start": False,
        "device": device,
        "threads": threads,
        "jobs": jobs,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return BacktestResult(pd.concat(kept, ignore_index=True), result)


def plotted(dataset: Dataset) -> list[str]:
    """The series a streamed backtest keeps for the report's plots: every series, or a fixed
    sample of PLOTTED_SERIES of them (`volatility.sample_series`)."""
    return volatility.sample_series([s.name for s in dataset.series], PLOTTED_SERIES)


def _fold_table(
    dataset: Dataset, config: TrainConfig, plan: BacktestConfig, fits: list[Fit]
) -> list[dict]:
    """Per fold and series: the origins, the training rows and how the fit went."""
    out = []
    for fit in fits:
        tr = fit.card.training
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
                        "epochs_run": tr.epochs_run,
                        "best_epoch": tr.best_epoch,
                        "fit_seconds": round(fit.seconds, 2),
                    }
                )
    return out


def _stamper(s: Series, frequency: str | None) -> Callable[[int], str | int]:
    """Row position -> its timestamp as forecasts.csv writes it (row number for sequences)."""
    return lambda row: forecasting.format_index(s.index[[row]], frequency)[0].item()
