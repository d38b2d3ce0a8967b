"""Frequency: the pandas offset alias of the typical step, and gaps much longer than it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_forecast.loading.cleaning import Report
from lstm_forecast.loading.dataset import Series
from lstm_forecast.loading.messages import stamp


def detect_frequency(index: np.ndarray) -> str | None:
    """A pandas offset alias for the typical step between timestamps."""
    idx = pd.DatetimeIndex(index)
    if len(idx) < 3:
        return None
    step = pd.Series(idx).diff().dropna().median()
    day = pd.Timedelta(days=1)
    if step < day:
        seconds = max(1, round(step.total_seconds()))
        if seconds % 60:
            return f"{seconds}s" if seconds > 1 else "s"
        minutes = seconds // 60
        return "h" if minutes == 60 else f"{minutes}min"
    if step <= 3 * day:
        return "B" if np.isin(idx.day_of_week, [5, 6]).mean() < 0.01 else "D"
    if step <= 8 * day:
        dow = int(pd.Series(idx.day_of_week).mode().iloc[0])
        return "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[dow]
    if step <= 32 * day:
        return _anchored(idx, "M")
    if step <= 93 * day:
        return _anchored(idx, "Q")
    return _anchored(idx, "Y")


def _anchored(idx: pd.DatetimeIndex, unit: str) -> str:
    """Start- or end-anchored alias (business-day anchors for trading-day stamps)."""
    starts = {"M": idx.is_month_start, "Q": idx.is_quarter_start, "Y": idx.is_year_start}[unit]
    ends = {"M": idx.is_month_end, "Q": idx.is_quarter_end, "Y": idx.is_year_end}[unit]
    if starts.mean() > 0.9:
        return f"{unit}S"
    if ends.mean() > 0.9:
        return f"{unit}E"
    if unit == "M":
        early = (idx.day <= 3).mean() > 0.9
        return "BMS" if early else "BME"
    return f"{unit}S" if (idx.day <= 15).mean() > 0.5 else f"{unit}E"


def find_gaps(s: Series, frequency: str | None, report: Report) -> None:
    """Warn about steps much longer than the frequency's (holidays allowed for)."""
    if frequency is None:
        return
    index = np.asarray(s.index)  # numpy until a gap is named: this runs for every series
    if frequency == "B":
        days = index.astype("datetime64[D]")
        long = np.busday_count(days[:-1], days[1:]) > 3
        limit = "over 2 business days missing"
    else:
        delta = pd.Series(np.diff(index))
        step = delta.median()
        long = (delta / step > 3).to_numpy()
        limit = f"over 3 steps of {frequency}"
        if step < pd.Timedelta(days=1) and long.mean() > 0.05:  # trading sessions
            long = (delta > pd.Timedelta(days=4)).to_numpy()
            limit = "over 4 days"
    hits = np.flatnonzero(long)
    if not len(hits):
        return
    idx = pd.DatetimeIndex(index)
    spans = [(stamp(idx[i]), stamp(idx[i + 1])) for i in hits]
    info = report.per_series[s.name]
    info["gaps"] = [list(p) for p in spans[:5]]
    shown = ", ".join(f"{a} to {b}" for a, b in spans[:3])
    more = f" and {len(spans) - 3} more" if len(spans) > 3 else ""
    gaps = "1 gap" if len(spans) == 1 else f"{len(spans)} gaps"
    report.warnings.append(f"{info['who']}: {gaps} in the dates ({limit}): {shown}{more}")
