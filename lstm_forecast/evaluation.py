"""Scoring, for every evaluation: a long frame of forecasts in, metrics, a test and a verdict out.

Every evaluation (the validation table `train` and `update` print and store, `--keep-better`,
`backtest`) builds one long pandas frame and hands it here, in the spirit of utilsforecast's
`evaluate`. One row per series, origin, horizon step and model:

    series, origin, horizon, model, origin_value, actual, scale, forecast, q<level>...

`origin_value` is the series' value at the origin (for directional accuracy), `scale` the
MASE denominator of the row's series (the in-sample MAE of the one-step naive forecast on the
rows the model was fitted on), and `q10`, `q50`, ... the quantile forecasts of models that make
them (NaN for the others). The baselines are rows of the same frame, so a new model, with or
without quantile columns, is scored by the same code: interval scores are computed for every
model with quantiles. Every model's rows must cover the same (series, origin, horizon) points
as the random walk's (`naive`).

Skill, one definition everywhere: the model (`lstm`) has skill over the random walk when its
MAE, pooled over every series, origin and step, is below the random walk's on the same points
AND the Diebold-Mariano test at the first horizon step rejects equal accuracy in its favour at
the 5% level (two-sided p < 0.05 with a negative statistic; squared-error loss, HLN-corrected,
Student's t with n - 1 degrees of freedom, the loss differentials in order of series, then
origin). `beats_naive` in the validation table and `skill` in a backtest's metrics.json are
this verdict; `verdict` returns it with plain sentences saying why.

Intervals get the second half of the verdict (`intervals`): every model with quantile columns
gets pinball, CRPS, coverage and interval scores; the model's interval is tested against the
strongest other band in the frame (the random walk's empirical band, and in a backtest, or in
`train --interval-baselines`, GARCH(1,1)-t and EWMA fitted on the same training rows), and its
quantiles get Kupiec and Christoffersen coverage tests. `interval_skill` and `interval_verdict`
sit beside `skill` (`beats_naive`) and `verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_forecast import baselines, intervals, metrics, volatility
from lstm_forecast.forecasting import quantile_column
from lstm_forecast.intervals import KEYS
from lstm_forecast.loading import Dataset
from lstm_forecast.spec import ModelCard
from lstm_forecast.tally import MODEL, RANDOM_WALK, Tally, quantile_columns

SKILL_P = 0.05
COLUMNS = ["series", "origin", "horizon", "model", "origin_value", "actual", "scale", "forecast"]
BACKTEST_BASELINES = ("naive", "drift", "mean", "seasonal_naive")
VALIDATION_BASELINES = ("naive", "drift", "seasonal_naive")
TABLE_METRICS = ("mae", "rmse", "mase", "directional_accuracy", "coverage", "interval_score")


def series_frame(
    name: str,
    values: np.ndarray,
    origins: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    scale: float,
    *,
    names: Sequence[str],
    season: int | None,
    interval: bool,
    log: bool,
    bands: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The long frame of one series: the model's quantile forecasts (origins, H, Q) in target
    units, with the named baselines from the same origins and steps. `origin` is the row.

    `interval` gives the random walk its empirical interval at `levels` (`log`: from log
    changes); `season` is the seasonal naive's period (left out when None). `bands` are more
    models given by their quantiles (origins, H, Q) at `levels` (the interval baselines);
    their point forecast is their median.
    """
    n, horizon = quantiles.shape[:2]
    mid = list(levels).index(0.5)
    cols = [quantile_column(q) for q in levels]
    target = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    common = {
        "series": np.full(n * horizon, name, dtype=object),
        "origin": np.repeat(origins, horizon),
        "horizon": np.tile(np.arange(1, horizon + 1), n),
    }
    shared = {
        "origin_value": np.repeat(values[origins], horizon),
        "actual": values[target].ravel(),
        "scale": np.full(n * horizon, scale),
    }
    models = {MODEL: (quantiles[..., mid], quantiles)}
    models |= baselines.forecasts(
        values,
        origins,
        horizon,
        names,
        season=season,
        quantiles=levels if interval else None,
        log=log,
    )
    models |= {name: (q[..., mid], q) for name, q in (bands or {}).items()}
    k, size = len(models), n * horizon
    frame = {key: np.tile(values, k) for key, values in common.items()}
    frame["model"] = np.repeat(np.array(list(models), dtype=object), size)
    frame |= {key: np.tile(values, k) for key, values in shared.items()}
    frame["forecast"] = np.concatenate([points.ravel() for points, _ in models.values()])
    for j, col in enumerate(cols):
        frame[col] = np.concatenate(
            [
                q[..., j].ravel() if q is not None else np.full(size, np.nan)
                for _, q in models.values()
            ]
        )
    return pd.DataFrame(frame)


def validation_frame(
    dataset: Dataset,
    reference: ModelCard,
    forecasts: dict[str, tuple[np.ndarray, np.ndarray]],
    model: ModelCard | None = None,
    steps: int | None = None,
    *,
    interval_baselines: bool = False,
) -> pd.DataFrame:
    """The long frame of a validation tail: a model's forecasts {series: (origins, quantiles)}
    (`model`, by default the `reference` itself), its first `steps` horizon steps, beside the
    VALIDATION_BASELINES, every scale from the reference's training rows.

    `interval_baselines` adds GARCH(1,1)-t and EWMA bands fitted on the reference's training
    rows, for positive series among `volatility.sample_series` of the series.
    """
    model = model or reference
    n_train = {s.name: s.n_train for s in reference.series}
    season = baselines.season_length(dataset.frequency)
    if season is not None and not all(season < n for n in n_train.values()):
        season = None
    by_name = {s.name: s for s in dataset.series}
    sampled = set(volatility.sample_series(list(forecasts))) if interval_baselines else set()
    frames = []
    for name, (origins, q) in forecasts.items():
        values = by_name[name].values
        bands = None
        if name in sampled and np.all(values > 0):
            horizon = q[:, :steps].shape[1]
            levels = model.network.quantiles
            bands = volatility.interval_baselines(values, n_train[name], origins, horizon, levels)
        frames.append(
            series_frame(
                name,
                values,
                origins,
                q[:, :steps],
                model.network.quantiles,
                metrics.naive_scale(values[: n_train[name]]),
                names=VALIDATION_BASELINES,
                season=season,
                interval=False,
                log=False,
                bands=bands,
            )
        )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# metrics


def score(frame: pd.DataFrame | Tally) -> dict:
    """{"models": metrics of every model, pooled and per horizon step, "dm_test": the model
    against the random walk, "interval_test": the model's interval against the strongest other
    band (None without one; see `intervals`)}. A `Tally` scores frames added a group of series
    at a time."""
    return (frame if isinstance(frame, Tally) else Tally.of(frame)).score()


def errors_at(frame: pd.DataFrame, model: str, horizon: int) -> np.ndarray:
    """Forecast errors (actual - forecast) of a model at one step, ordered by series, origin."""
    rows = frame[(frame["model"] == model) & (frame["horizon"] == horizon)]
    rows = rows.sort_values(["series", "origin"], kind="stable")
    return (rows["actual"] - rows["forecast"]).to_numpy()


def verdict(models: dict, dm: dict) -> tuple[bool, str]:
    """(skill, plain sentences): skill needs a lower MAE than the random walk's AND a
    significant DM test in the model's favour (see the module docstring)."""
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


# ---------------------------------------------------------------------------------------------
# the three evaluations


def two_part_verdict(tally: Tally, scores: dict) -> dict:
    """The verdict's two halves: {"skill", "verdict"} of the point forecast against the random
    walk, {"interval_skill", "interval_verdict"} of the intervals, and the coverage tests
    ({"coverage_tests", "coverage_tests_pass"}, the model's pass or fail)."""
    skill, text = verdict(scores["models"], scores["dm_test"])
    tests = tally.coverage_tests()
    own = tests.get(MODEL)
    interval_skill, interval_text = intervals.verdict(scores["interval_test"], own)
    return {
        "verdict": text,
        "skill": skill,
        "interval_verdict": interval_text,
        "interval_skill": interval_skill,
        "coverage_tests_pass": own["pass"] if own else None,
        "coverage_tests": tests,
    }


def summarise(frame: pd.DataFrame | Tally) -> dict:
    """A backtest's metrics: pooled, per series, and the two-part verdict (metrics.json's
    keys). A `Tally` summarises frames added a group of series at a time."""
    tally = frame if isinstance(frame, Tally) else Tally.of(frame)
    pooled = tally.score()
    per_series = dict(tally.each_series())
    return {**pooled, **two_part_verdict(tally, pooled), "series": per_series}


def validation_table(frame: pd.DataFrame, shrink: list[float]) -> dict:
    """The validation table a model stores (`meta["evaluation"]`): per model and horizon step
    the TABLE_METRICS, the verdict as `beats_naive`, the DM test, the interval verdict and
    coverage tests, and the median's shrinkage."""
    tally = Tally.of(frame)
    scores = tally.score()
    parts = two_part_verdict(tally, scores)
    levels = list(quantile_columns(frame).values())
    model = scores["models"][MODEL]
    return {
        "horizon": [h["horizon"] for h in model["by_horizon"]],
        "origins": int(model["by_horizon"][0]["n"]),
        "interval": [levels[0], levels[-1]],
        "models": {
            name: {key: [h[key] for h in m["by_horizon"]] for key in TABLE_METRICS if key in m}
            for name, m in scores["models"].items()
        },
        "beats_naive": parts["skill"],
        "verdict": parts["verdict"],
        "dm_test": scores["dm_test"],
        "interval_skill": parts["interval_skill"],
        "interval_verdict": parts["interval_verdict"],
        "interval_test": scores["interval_test"],
        "coverage_tests_pass": parts["coverage_tests_pass"],
        "coverage_tests": parts["coverage_tests"],
        "shrink": shrink,
    }


@dataclass
class Comparison:
    """`--keep-better`: which model to keep, by the model's pooled MASE on the same points."""

    kept: str  # "new" or "old"
    new_mase: float
    old_mase: float
    new_skill: bool  # each model's verdict against the random walk
    old_skill: bool


def compare(new: pd.DataFrame, old: pd.DataFrame) -> Comparison:
    """Score two models' frames of the same points; the new one is kept when its MASE is no
    higher than the old one's."""
    points = [f.loc[f["model"] == MODEL, KEYS].reset_index(drop=True) for f in (new, old)]
    if not points[0].equals(points[1]):
        raise ValueError("the two models were not scored on the same points")
    a, b = score(new), score(old)
    new_mase, old_mase = a["models"][MODEL]["mase"], b["models"][MODEL]["mase"]
    return Comparison(
        "new" if new_mase <= old_mase else "old",
        new_mase,
        old_mase,
        verdict(a["models"], a["dm_test"])[0],
        verdict(b["models"], b["dm_test"])[0],
    )


def scaled_crps(frame: pd.DataFrame, model: str = MODEL) -> float:
    """Mean CRPS (from the quantile columns) of a model's points, each divided by its row's
    MASE scale, so that series of any size pool, and settings with the same quantile levels
    compare (the tuning objective; lower is better). NaN for a model without quantiles."""
    qcols = quantile_columns(frame)
    rows = frame[frame["model"] == model]
    q = rows[list(qcols)].to_numpy()
    if not len(rows) or not np.isfinite(q).any():
        return math.nan
    crps = metrics.crps_from_quantiles(rows["actual"].to_numpy(), q, list(qcols.values()))
    return float(np.nanmean(crps / rows["scale"].to_numpy()))
