"""Checks on a cleaned series: values that must not pass, and moves that look wrong.

Infinite values, values beyond float32 and non-positive prices under log returns are errors
naming the line and date; one-day moves that look like unadjusted stock splits are warnings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.messages import stamp, where

FLOAT32_MAX = float(np.finfo(np.float32).max)


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
    hits = np.flatnonzero(suspect) + 1
    if not len(hits):
        return []
    shown = ", ".join(f"{stamp(part.index[i])} ({np.expm1(ratio[i - 1]):+.0%})" for i in hits[:3])
    return [f"{who}: '{target}' moves like an unadjusted stock split on {shown}, {why}"]
