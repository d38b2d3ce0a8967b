"""Simple forecasts every model must be set beside, computed for the same origins and steps.

Each takes the full series `values` (target units) and integer `origins`, and uses only values
up to each origin. Output: (origins, horizon) point forecasts.
"""

from __future__ import annotations

import numpy as np

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
    values: np.ndarray, origins: np.ndarray, horizon: int, quantiles: list[float], log: bool
) -> np.ndarray:
    """Random-walk intervals from empirical quantiles of past h-step changes (origins, H, Q)."""
    y = np.log(values) if log else values
    out = np.full((len(origins), horizon, len(quantiles)), np.nan)
    for h in range(1, horizon + 1):
        changes = y[h:] - y[:-h]  # change ending at row t+h
        for i, o in enumerate(origins):
            past = changes[: max(o - h + 1, 0)]
            if len(past) >= 10:
                out[i, h - 1] = y[o] + np.quantile(past, quantiles)
    return np.exp(out) if log else out
