"""Checks on a cleaned series: values that must not pass, and moves that look wrong.

Errors naming the line and date: infinite values, values beyond float32, non-positive prices
under log returns, and a few stray zero or negative values in an otherwise positive series
(which --transform auto would otherwise quietly answer with differences for the whole series).
Warnings: one-row spikes that revert on the next row (a slipped decimal point or unit) and
one-day moves that look like unadjusted stock splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.messages import count, stamp, where

FLOAT32_MAX = float(np.finfo(np.float32).max)
STRAY_SHARE, STRAY_MAX = 0.01, 30  # "a few" non-positive values: at most 1% of rows and 30
FAR = 8.0  # reaching zero from further than this many typical moves away takes a data error
SPIKE, BACK = np.log(5), np.log(1.5)  # one row 5x (or 1/5) off, the next back within 50%


def check_values(
    part: pd.DataFrame, who: str, column: str, field_name: str, positive: bool, name: str
) -> None:
    """Infinite, float32-overflowing and (when needed) non-positive values fail."""
    values = part[field_name].to_numpy(dtype="float64")
    checks = (
        (np.isinf(values), "is not a finite number"),
        (np.abs(values) > FLOAT32_MAX, "is too large (beyond float32)"),
        ((values <= 0) if positive else np.zeros(len(values), bool),
         "is not positive, which the log-return transform needs (use --transform diff)"),
    )  # fmt: skip
    for bad, problem in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{name}: {where(part, i)}: {who}: value {values[i]:g} in '{column}' {problem}"
            )


def stray_signs(part: pd.DataFrame, who: str, target: str, name: str) -> None:
    """A few zero or negative values in an otherwise positive series are an error naming them.

    Stray means the series jumps there from far above zero (a sign flip, a zero written for a
    missing price); a series that reaches zero gradually (a spread, an oil future trading
    through zero for a while) is left alone, as is any series with many non-positive values.
    """
    values = part["value"].to_numpy(dtype="float64")
    low = values <= 0
    n = int(low.sum())
    if not n or n > STRAY_MAX or n > max(1, STRAY_SHARE * len(values)):
        return
    rows = np.flatnonzero(_stray(values, low))
    if not len(rows):
        return
    shown = ", ".join(f"{where(part, i)}: {values[i]:g}" for i in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise DataError(
        f"{name}: {who}: {count(len(rows), 'zero or negative value')} in '{target}' among "
        f"{len(values) - n} positive ones, at {shown}{more}; fix the file, or use "
        f"--transform diff for a genuine negative print"
    )


def _stray(values: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Which non-positive rows sit in a run whose positive neighbours are all far above zero."""
    out = np.zeros(len(values), bool)
    steps = np.abs(np.diff(values[~low]))  # moves between the positive rows, strays skipped
    steps = steps[steps > 0]  # unchanged rows (a quiet market, a stale quote) say nothing
    if len(steps) < 10:  # too short to say what a typical move is
        return out
    typical = np.median(steps)
    edges = np.diff(np.concatenate([[0], low.astype(int), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        beside = values[[i for i in (a - 1, b) if 0 <= i < len(values)]]
        if len(beside) and beside.min() > FAR * typical:
            out[a:b] = True
    return out


def spike_rows(values: np.ndarray) -> np.ndarray:
    """Rows 5x (or 1/5) off the row before, with the row after back within 50% of it."""
    if len(values) < 3:
        return np.zeros(0, int)
    before, here, after = values[:-2], values[1:-1], values[2:]
    positive = (before > 0) & (here > 0) & (after > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.abs(np.log(here / before)) >= SPIKE
        back = np.abs(np.log(after / before)) <= BACK
    return np.flatnonzero(positive & jump & back) + 1


def spike_warnings(part: pd.DataFrame, who: str, target: str) -> list[str]:
    """A warning naming the rows that spike for one row and revert on the next."""
    values = part["value"].to_numpy(dtype="float64")
    rows = spike_rows(values)
    if not len(rows):
        return []
    shown = ", ".join(
        f"{where(part, i)}: {values[i]:g} between {values[i - 1]:g} and {values[i + 1]:g}"
        for i in rows[:3]
    )
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    spikes = "one-row spike" if len(rows) == 1 else "one-row spikes"
    return [f"{who}: {spikes} in '{target}' at {shown}{more}; a misplaced decimal point or unit?"]


def split_warnings(part: pd.DataFrame, who: str, target: str, helpers: dict) -> list[str]:
    """Warnings about one-step moves that look like unadjusted stock splits."""
    values = part["value"].to_numpy(dtype="float64")
    if len(values) < 3 or (values <= 0).any():
        return []
    ratio = np.log(values[1:] / values[:-1])
    if "_adjusted" in part:  # the adjusted close does not make the same move
        adjusted = part["_adjusted"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            apart = np.abs(np.log(adjusted[1:] / adjusted[:-1]) - ratio) > np.log(1.4)
        suspect = (np.abs(ratio) > np.log(1.4)) & apart
        why = f"while '{helpers['adjusted']}' does not; use --target '{helpers['adjusted']}'"
    elif "_volume" in part:  # halving or doubling with no rush of trading
        volume = part["_volume"].to_numpy(dtype="float64")
        typical = pd.Series(volume).rolling(20, min_periods=5).median().shift().to_numpy()[1:]
        with np.errstate(invalid="ignore"):
            calm = volume[1:] <= 3 * typical * np.exp(-ratio)
        suspect = (np.abs(ratio) > np.log(1.65)) & calm
        why = "with no rush in volume"
    else:
        return []
    spikes = spike_rows(values)  # a split does not revert on the next row
    hits = np.setdiff1d(np.flatnonzero(suspect) + 1, np.concatenate([spikes, spikes + 1]))
    if not len(hits):
        return []
    shown = ", ".join(f"{stamp(part.index[i])} ({np.expm1(ratio[i - 1]):+.0%})" for i in hits[:3])
    return [f"{who}: '{target}' moves like an unadjusted stock split on {shown}, {why}"]
