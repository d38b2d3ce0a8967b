"""Simple forecasts every model must be set beside, computed for the same origins and steps.

Each takes the full series `values` (target units) and integer `origins`, and uses only values
up to each origin. Output: (origins, horizon) point forecasts, computed for every origin at
once; `forecasts` gives several baselines as a dict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NAMES = ("naive", "drift", "mean", "seasonal_naive")
MIN_CHANGES = 10  # past h-step changes a random-walk interval needs
SEASONS = {"B": 5, "D": 7, "MS": 12, "ME": 12, "BMS": 12, "BME": 12, "QS": 4, "QE": 4, "h": 24}


def season_length(frequency: str | None) -> int | None:
    """Length of the natural season for a frequency alias (None when there is none)."""
    if frequency is None:
        return None
    if frequency.startswith("W-"):
        return 52
    if frequency.endswith("min"):
        minutes = int(frequency[:-3] or 1)
        return 24 * 60 // minutes if 24 * 60 % minutes == 0 else None
    return SEASONS.get(frequency)


def naive(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow = today: the random walk's point forecast."""
    return np.repeat(values[origins][:, None], horizon, axis=1)


def drift(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Last value plus h times the average change so far."""
    slope = (values[origins] - values[0]) / np.maximum(origins, 1)
    return values[origins][:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def seasonal_naive(
    values: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """The value one season before each target step (NaN without enough history)."""
    h = np.arange(1, horizon + 1)
    src = origins[:, None] + h[None, :] - season * np.ceil(h / season).astype(int)[None, :]
    out = values[np.clip(src, 0, None)]
    return np.where(src >= 0, out, np.nan)


def historical_mean(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The mean of all values up to each origin."""
    mean = np.cumsum(values)[origins] / (origins + 1)
    return np.repeat(mean[:, None], horizon, axis=1)


def random_walk_quantiles(
    values: np.ndarray, origins: np.ndarray, horizon: int, quantiles: Sequence[float], log: bool
) -> np.ndarray:
    """Random-walk intervals (origins, H, Q): the origin's value plus empirical quantiles of the
    h-step changes that ended by the origin (log changes for prices; NaN with fewer than
    MIN_CHANGES of them)."""
    import pandas as pd

    y = np.log(values) if log else values
    out = np.full((len(origins), horizon, len(quantiles)), np.nan)
    for h in range(1, min(horizon, len(y) - 1) + 1):
        # expanding[k]: over the changes ending at rows h..k+h, so origin o reads expanding[o-h]
        expanding = pd.Series(y[h:] - y[:-h]).expanding(MIN_CHANGES)
        past = np.column_stack([expanding.quantile(q).to_numpy() for q in quantiles])
        ok = origins - h >= 0
        out[ok, h - 1] = y[origins[ok], None] + past[origins[ok] - h]
    return np.exp(out) if log else out


def forecasts(
    values: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    names: Sequence[str] = NAMES,
    *,
    season: int | None = None,
    quantiles: Sequence[float] | None = None,
    log: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """{name: (points (origins, H), quantiles (origins, H, Q) or None)} of the named baselines.

    `seasonal_naive` is left out without a `season`; the random walk (`naive`) gets an
    interval when `quantiles` are given (`log`: from log changes).
    """
    makers = {
        "naive": lambda: naive(values, origins, horizon),
        "drift": lambda: drift(values, origins, horizon),
        "mean": lambda: historical_mean(values, origins, horizon),
        "seasonal_naive": lambda: seasonal_naive(values, origins, horizon, season),
    }
    out = {}
    for name in names:
        if name == "seasonal_naive" and not season:
            continue
        bands = None
        if name == "naive" and quantiles is not None:
            bands = random_walk_quantiles(values, origins, horizon, quantiles, log)
        out[name] = (makers[name](), bands)
    return out
