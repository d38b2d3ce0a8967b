"""Forecast accuracy measures over plain arrays (NaN entries are ignored).

`point_terms` and `quantile_terms` define every metric an evaluation reports, point by point:
each metric is the mean of its term's values over the points that count (RMSE the root of one,
relative MAE a ratio of two), so that sums of terms over groups of series give the metric of
the whole (`tally`).
"""

from __future__ import annotations

import math

import numpy as np


def _ok(*arrays: np.ndarray) -> np.ndarray:
    mask = np.ones(np.shape(arrays[0]), dtype=bool)
    for a in arrays:
        mask &= np.isfinite(a)
    return mask


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    m = _ok(actual, forecast)
    return float(np.mean(np.abs(actual[m] - forecast[m]))) if m.any() else math.nan


def naive_scale(history: np.ndarray, season: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast on `history`: MASE's denominator."""
    if len(history) <= season:
        return math.nan
    d = np.abs(history[season:] - history[:-season])
    return float(np.mean(d)) if len(d) else math.nan


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    m = _ok(actual, lower, upper)
    if not m.any():
        return math.nan
    return float(np.mean((actual[m] >= lower[m]) & (actual[m] <= upper[m])))


def diebold_mariano_differential(d: np.ndarray, horizon: int = 1) -> tuple[float, float]:
    """The Diebold-Mariano test on loss differentials d = loss_model - loss_base, time-ordered
    (NaN left out), with h - 1 autocovariance lags and the Harvey-Leybourne-Newbold correction.

    Returns (statistic, two-sided p-value) from Student's t with n - 1 degrees of freedom; a
    negative statistic means the model's losses are smaller. NaN without a differential.
    """
    from scipy.special import stdtr  # what scipy.stats.t.sf computes, without scipy.stats

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 3:
        return math.nan, math.nan
    mean = d.mean()
    centred = d - mean
    gamma = [np.sum(centred[k:] * centred[: n - k]) / n for k in range(horizon)]
    var = (gamma[0] + 2 * sum(gamma[1:])) / n
    if var <= 0:
        return math.nan, math.nan
    dm = mean / math.sqrt(var)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    stat = dm * correction
    p = float(2 * stdtr(n - 1, -abs(stat)))
    return float(stat), p


def diebold_mariano(
    errors_model: np.ndarray, errors_base: np.ndarray, horizon: int = 1
) -> tuple[float, float]:
    """DM test on squared errors (see diebold_mariano_differential)."""
    return diebold_mariano_differential(
        np.asarray(errors_model) ** 2 - np.asarray(errors_base) ** 2, horizon
    )


def pinball_loss(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> np.ndarray:
    """Pinball loss of every point and level: actual (...), forecasts (..., Q) -> (..., Q)."""
    q = np.asarray(quantiles)
    diff = np.asarray(actual)[..., None] - quantile_forecasts
    return np.maximum(q * diff, (q - 1) * diff)


def crps_from_quantiles(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> np.ndarray:
    """CRPS of every point (...), approximated as 2 x the mean pinball loss over the levels.

    CRPS = 2 * integral over tau in (0, 1) of the pinball loss at tau; the mean over the
    forecast's levels is that integral by a rule with equal weights, so it is close for many
    evenly spread levels and coarse for three. Compare only forecasts with the same levels.
    """
    return 2 * np.mean(pinball_loss(actual, quantile_forecasts, quantiles), axis=-1)


def interval_score_loss(
    actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float
) -> np.ndarray:
    """Interval score of every point (NaN where any input is): the summand of interval_score."""
    actual, lower, upper = np.broadcast_arrays(actual, lower, upper)
    below = (2 / alpha) * np.maximum(lower - actual, 0.0)
    above = (2 / alpha) * np.maximum(actual - upper, 0.0)
    return (upper - lower) + below + above


def diebold_mariano_loss(
    loss_model: np.ndarray, loss_base: np.ndarray, horizon: int = 1
) -> tuple[float, float]:
    """DM test on any non-negative losses (interval score, pinball, CRPS), time-ordered:
    diebold_mariano_differential of loss_model - loss_base."""
    loss_model, loss_base = np.asarray(loss_model, float), np.asarray(loss_base, float)
    if np.any(loss_model < 0) or np.any(loss_base < 0):
        raise ValueError("diebold_mariano_loss needs non-negative losses")
    return diebold_mariano_differential(loss_model - loss_base, horizon)


Terms = dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (counts, value) per point


def point_terms(
    actual: np.ndarray,
    forecast: np.ndarray,
    origin: np.ndarray,
    scale: np.ndarray,
    random_walk: np.ndarray,
) -> Terms:
    """Each point's term of the point metrics, with whether it counts:

    n (points with a forecast); ae, se (MAE, RMSE); ase (MASE: |error| / the series' in-sample
    naive MAE `scale`); dir (directional accuracy: forecast - origin and actual - origin share
    a sign, where the forecast calls a move); ape, sape (MAPE and sMAPE in percent; zero
    actuals, and zero sums, left out); rwe (the random walk's |error| on the points with a
    forecast: relative MAE = mean ae / mean rwe); up (the base rate of up-moves).
    """
    a, f, o = (np.asarray(x, dtype=float) for x in (actual, forecast, origin))
    s, rw = np.asarray(scale, dtype=float), np.asarray(random_walk, dtype=float)
    has_f = np.isfinite(f)
    ok = has_f & np.isfinite(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_s, f_s = a / s, f / s
        both = np.abs(a) + np.abs(f)
        return {
            "n": (has_f, np.ones(len(a))),
            "ae": (ok, np.abs(a - f)),
            "se": (ok, (a - f) ** 2),
            "ase": (np.isfinite(a_s) & np.isfinite(f_s), np.abs(a_s - f_s)),
            "dir": (ok & np.isfinite(o) & (f != o), np.sign(f - o) == np.sign(a - o)),
            "ape": (ok & (a != 0), 100 * np.abs((a - f) / a)),
            "sape": (ok & (both > 0), 200 * np.abs(a - f) / both),
            "rwe": (ok & np.isfinite(rw), np.abs(a - rw)),
            "up": (ok & np.isfinite(o), a > o),
        }


def quantile_terms(
    actual: np.ndarray,
    quantile_forecasts: np.ndarray,
    quantiles: list[float],
    intervals: list[tuple[int, int]],
) -> Terms:
    """Each point's term of the quantile metrics (forecasts (n, Q) at `quantiles`):

    q (points with any quantile); pinball{j} (the pinball loss at level j; the pinball loss
    is their mean over every point and level); crps (2 x the mean pinball loss over the
    levels); cover{k}, is{k} (coverage and Gneiting-Raftery interval score of interval k,
    the index pair (lower, upper) `intervals[k]`).
    """
    a, q = np.asarray(actual, dtype=float), np.asarray(quantile_forecasts, dtype=float)
    out = {"q": (np.isfinite(q).any(axis=1), np.ones(len(a)))}
    loss = pinball_loss(a, q, quantiles)
    for j in range(len(quantiles)):
        out[f"pinball{j}"] = (np.isfinite(loss[:, j]), loss[:, j])
    crps = crps_from_quantiles(a, q, quantiles)
    out["crps"] = (np.isfinite(crps), crps)
    for k, (i, j) in enumerate(intervals):
        lo, hi = q[:, i], q[:, j]
        known = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
        out[f"cover{k}"] = (known, (a >= lo) & (a <= hi))
        score = interval_score_loss(a, lo, hi, 1 - (quantiles[j] - quantiles[i]))
        out[f"is{k}"] = (np.isfinite(score), score)
    return out
