"""Online recalibration of quantile forecasts from their own realised misses (no refit).

This is adaptive conformal inference (Gibbs & Candes 2021) in its score-space form, the
quantile tracker of Angelopoulos, Candes & Tibshirani (2023, "Conformal PID control"): each
quantile level tau of each horizon step carries an offset theta added to the model's forecast,
and every outcome that becomes known moves it by

    theta <- theta + eta * (tau - 1{outcome <= forecast + theta}),

up after an outcome above the adjusted quantile, down after one at or below it, so that the
long-run share of outcomes at or below it is tau whatever the data do (as long as the clip does
not bind). ACI's alpha_{t+1} = alpha_t + gamma * (alpha - err_t) is the same step on the
level scale.

The step eta is `gamma` times the mean absolute distance between outcomes and the model's
quantiles over the last `window` known origins, so it follows each series' own scale; theta is
clipped to `clip` times that distance.

No look-ahead: the outcome of origin k at step h is the value h rows after it, so at origin t
it is used only when origins[k] + h <= origins[t]. An origin's adjusted quantiles therefore
depend only on outcomes observed by its own row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GAMMA = 0.05
WINDOW = 250  # about a trading year of daily origins
CLIP = 3.0


def _trailing_scale(forecasts: np.ndarray, actual: np.ndarray, window: int) -> np.ndarray:
    """(B, T, H): mean |outcome - quantile| over origins k-window+1..k, NaN outcomes left out."""
    err = np.abs(actual[..., None] - forecasts).mean(axis=-1)
    ok = np.isfinite(err)
    sums = np.cumsum(np.where(ok, err, 0.0), axis=1)
    counts = np.cumsum(ok, axis=1)
    lag_s = np.zeros_like(sums)
    lag_c = np.zeros_like(counts)
    lag_s[:, window:], lag_c[:, window:] = sums[:, :-window], counts[:, :-window]
    n = counts - lag_c
    return np.where(n > 0, (sums - lag_s) / np.maximum(n, 1), np.nan)


def adaptive_quantiles(
    forecasts: np.ndarray,
    actual: np.ndarray,
    quantiles: Sequence[float],
    origins: np.ndarray | None = None,
    gamma: float = GAMMA,
    window: int = WINDOW,
    clip: float = CLIP,
) -> np.ndarray:
    """Recalibrated quantiles (..., T, H, Q), sorted along Q, for forecasts (..., T, H, Q)
    made at T origins in time order, with outcomes actual (..., T, H) (NaN where not known).

    `origins` are the origins' row numbers (default 0..T-1, one row apart): they decide when
    each outcome is known. Leading axes (series) are independent and handled at once.
    """
    forecasts = np.asarray(forecasts, dtype=float)
    lead, (n_t, horizon, n_q) = forecasts.shape[:-3], forecasts.shape[-3:]
    f = forecasts.reshape(-1, n_t, horizon, n_q)
    y = np.asarray(actual, dtype=float).reshape(-1, n_t, horizon)
    rows = np.arange(n_t) if origins is None else np.asarray(origins)
    if rows.shape != (n_t,) or np.any(np.diff(rows) <= 0):
        raise ValueError("origins must be T increasing row numbers")
    if window < 1:
        raise ValueError("window must be at least one origin")
    tau = np.asarray(quantiles, dtype=float)
    # time-major copies, so that each step reads and writes contiguous (B, Q) blocks
    scale = np.ascontiguousarray(np.moveaxis(_trailing_scale(f, y, window), 0, -1))
    f_t = np.ascontiguousarray(np.moveaxis(f, 0, 2))
    y_t = np.ascontiguousarray(np.moveaxis(y, 0, -1))
    # known[h, t]: how many origins have their step-(h+1) outcome observed at origin t
    known = np.stack([np.searchsorted(rows + h + 1, rows, side="right") for h in range(horizon)])
    theta = np.zeros((horizon, f.shape[0], n_q))
    used = np.zeros(horizon, dtype=int)
    out_t = np.empty_like(f_t)
    for t in range(n_t):
        for h in range(horizon):
            for k in range(used[h], known[h, t]):
                _update(theta[h], out_t[k, h], y_t[k, h], scale[k, h], tau, gamma, clip)
            used[h] = known[h, t]
        out_t[t] = f_t[t] + theta
    out = np.moveaxis(out_t, 2, 0)
    return np.sort(out, axis=-1).reshape(*lead, n_t, horizon, n_q)


def _update(
    theta: np.ndarray,
    issued: np.ndarray,
    outcome: np.ndarray,
    scale: np.ndarray,
    tau: np.ndarray,
    gamma: float,
    clip: float,
) -> None:
    """One tracker step in place: theta (B, Q) from the quantiles issued (B, Q) and the
    outcome (B,) now known; series without an outcome, a scale or a forecast keep theirs."""
    ok = np.isfinite(outcome) & np.isfinite(scale) & np.all(np.isfinite(issued), axis=-1)
    hit = outcome[:, None] <= issued
    step = np.where(ok[:, None], gamma * scale[:, None] * (tau - hit), 0.0)
    bound = np.where(ok, clip * scale, np.inf)[:, None]
    theta += step
    np.clip(theta, -bound, bound, out=theta)


def adaptive_tails(
    forecasts: np.ndarray,
    actual: np.ndarray,
    quantiles: Sequence[float],
    origins: np.ndarray | None = None,
) -> np.ndarray:
    """adaptive_quantiles of every level but the median, which is left as it is (the point
    forecast, and with it the fall-back on the random walk, stays the model's); the adjusted
    levels stay on their side of the median."""
    levels = list(quantiles)
    if 0.5 not in levels:
        return adaptive_quantiles(forecasts, actual, levels, origins)
    mid = levels.index(0.5)
    tails = [j for j in range(len(levels)) if j != mid]
    adjusted = adaptive_quantiles(
        forecasts[..., tails], actual, [levels[j] for j in tails], origins
    )
    median = forecasts[..., mid : mid + 1]
    below = np.array([levels[j] < 0.5 for j in tails])
    out = np.array(forecasts, dtype=float)
    out[..., tails] = np.where(below, np.minimum(adjusted, median), np.maximum(adjusted, median))
    return out
