"""How the loader words what it says: counts, lists, timestamps, the line a problem is on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError


def count(n: int, thing: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def names(items, limit: int = 10) -> str:
    """A comma-separated list, cut after `limit` items."""
    items = [str(i) for i in items]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def short(exc: Exception) -> str:
    """An exception's text, one line, at most 200 characters."""
    text = " ".join(str(exc).split())
    return text[:200]


def stamp(ts) -> str:
    """A timestamp as a date, or date and time when it has one."""
    t = pd.Timestamp(ts)
    return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M:%S")


def where(part: pd.DataFrame, i: int) -> str:
    """'line N (date)' for row i of a series frame (which keeps each row's line in `_line`)."""
    line = f"line {part['_line'].iloc[i]}"
    if isinstance(part.index, pd.DatetimeIndex):
        return f"{line} ({stamp(part.index[i])})"
    return line


def fail_at_first(mask: np.ndarray, values: pd.Series, at: tuple, problem: str) -> None:
    """DataError naming the first flagged line; `problem` may use {value} and {column}.

    `at` is (source name, column, line number per row).
    """
    if mask.any():
        name, column, lines = at
        i = int(np.flatnonzero(mask)[0])
        text = problem.format(value=str(values.iloc[i])[:40], column=column)
        raise DataError(f"{name}: line {lines[i]}: {text}")
