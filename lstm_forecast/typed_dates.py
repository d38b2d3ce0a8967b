"""Typed timestamps with a time zone (database and Parquet columns) as naive timestamps.

The rule for text with UTC offsets holds here too: intraday data becomes UTC, daily data keeps
its calendar dates. A timestamp with a time zone is an instant, so a daily date is read on the
clock it was written with: the column's zone (the database session's), or UTC when every value
sits on UTC midnight and not on local midnight (dates stored as UTC midnight and shown in a
zone west of Greenwich would otherwise all move back one day).
"""

from __future__ import annotations

import pandas as pd

DAILY = pd.Timedelta(hours=20)


def naive_timestamps(values: pd.Series) -> tuple[pd.Series, str | None]:
    """`values` without a time zone, and a note saying what was done (None if nothing)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        return values, None
    utc = values.dt.tz_convert("UTC").dt.tz_localize(None)
    step = utc.dropna().sort_values().diff().median()
    if pd.isna(step) or step < DAILY:
        return utc, "timestamps with time-zone offsets converted to UTC"
    local = values.dt.tz_localize(None)
    if not _midnights(local) and _midnights(utc):
        return utc.dt.normalize(), "daily timestamps at UTC midnight: kept on their UTC dates"
    note = "time-zone offsets dropped: daily data kept on its local calendar dates"
    return local.dt.normalize(), note


def _midnights(values: pd.Series) -> bool:
    present = values.dropna()
    return bool((present == present.dt.normalize()).all())
