"""Forecast accuracy measures over plain arrays (NaN entries are ignored)."""

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


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    m = _ok(actual, forecast)
    return float(np.sqrt(np.mean((actual[m] - forecast[m]) ** 2))) if m.any() else math.nan


def point_scores(
    actual: np.ndarray, forecast: np.ndarray, origin: np.ndarray, scale: np.ndarray
) -> dict[str, float]:
    """The point metrics every evaluation reports: MAE, RMSE, MASE, directional accuracy.

    `scale` is each point's MASE denominator (the in-sample naive MAE of its series).
    """
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "mase": mae(actual / scale, forecast / scale),
        "directional_accuracy": directional_accuracy(actual, forecast, origin),
    }


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (zero actuals are skipped)."""
    m = _ok(actual, forecast) & (actual != 0)
    if not m.any():
        return math.nan
    return float(100 * np.mean(np.abs((actual[m] - forecast[m]) / actual[m])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent: 200 * |a - f| / (|a| + |f|)."""
    m = _ok(actual, forecast) & ((np.abs(actual) + np.abs(forecast)) > 0)
    if not m.any():
        return math.nan
    a, f = actual[m], forecast[m]
    return float(100 * np.mean(2 * np.abs(a - f) / (np.abs(a) + np.abs(f))))


def naive_scale(history: np.ndarray, season: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast on `history`: MASE's denominator."""
    if len(history) <= season:
        return math.nan
    d = np.abs(history[season:] - history[:-season])
    return float(np.mean(d)) if len(d) else math.nan


def directional_accuracy(actual: np.ndarray, forecast: np.ndarray, origin: np.ndarray) -> float:
    """Share of points where forecast - origin value and actual - origin value share a sign.

    Points where the forecast is the origin value (it calls no direction) are left out; a
    forecast that never calls one (the naive forecast) has no directional accuracy (NaN).
    """
    m = _ok(actual, forecast, origin) & (forecast != origin)
    if not m.any():
        return math.nan
    return float(np.mean(np.sign(forecast[m] - origin[m]) == np.sign(actual[m] - origin[m])))


def up_rate(actual: np.ndarray, origin: np.ndarray) -> float:
    """Base rate of up-moves: the directional accuracy of always saying "up"."""
    m = _ok(actual, origin)
    return float(np.mean(actual[m] > origin[m])) if m.any() else math.nan


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    m = _ok(actual, lower, upper)
    if not m.any():
        return math.nan
    return float(np.mean((actual[m] >= lower[m]) & (actual[m] <= upper[m])))


def pinball(actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]) -> float:
    """Mean pinball loss over every point and level (NaN left out): the mean of pinball_loss."""
    loss = pinball_loss(actual, quantile_forecasts, quantiles)
    m = np.isfinite(loss)
    return float(np.mean(loss[m])) if m.any() else math.nan


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> float:
    """Gneiting-Raftery interval score of the central (1 - alpha) interval (lower is better):
    the mean of interval_score_loss over the points where it is defined."""
    loss = interval_score_loss(actual, lower, upper, alpha)
    m = np.isfinite(loss)
    return float(np.mean(loss[m])) if m.any() else math.nan


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


def pinball_by_quantile(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> np.ndarray:
    """Mean pinball loss of each quantile level (Q,), NaN points left out."""
    loss = pinball_loss(actual, quantile_forecasts, quantiles).reshape(-1, len(quantiles))
    n = np.isfinite(loss).sum(axis=0)
    total = np.where(np.isfinite(loss), loss, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


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


def quantile_hit_rate(actual: np.ndarray, quantile_forecasts: np.ndarray) -> np.ndarray:
    """Share of outcomes at or below each quantile forecast (Q,): q should be near level q."""
    actual = np.asarray(actual)[..., None]
    ok = np.isfinite(actual) & np.isfinite(quantile_forecasts)
    hits = (actual <= quantile_forecasts) & ok
    nq = quantile_forecasts.shape[-1]
    n = ok.reshape(-1, nq).sum(axis=0)
    return np.where(n > 0, hits.reshape(-1, nq).sum(axis=0) / np.maximum(n, 1), np.nan)


def diebold_mariano_loss(
    loss_model: np.ndarray, loss_base: np.ndarray, horizon: int = 1
) -> tuple[float, float]:
    """DM test on any non-negative losses (interval score, pinball, CRPS), time-ordered:
    diebold_mariano_differential of loss_model - loss_base."""
    loss_model, loss_base = np.asarray(loss_model, float), np.asarray(loss_base, float)
    if np.any(loss_model < 0) or np.any(loss_base < 0):
        raise ValueError("diebold_mariano_loss needs non-negative losses")
    return diebold_mariano_differential(loss_model - loss_base, horizon)
