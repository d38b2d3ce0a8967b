"""How numbers, timestamps and model names are written for people, in one place for all.

At the bottom of the import chain: it imports nothing from the package and nothing heavy at
module level, so any module may use it, and the command-line plumbing pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

MODEL_LABELS = {
    "lstm": "LSTM",
    "naive": "naive (random walk)",
    "drift": "drift",
    "seasonal_naive": "seasonal naive",
    "mean": "historical mean",
    "garch": "GARCH(1,1)-t",
    "ewma": "EWMA(0.94)",
}


def number(x: object, digits: int = 4) -> str:
    """A number for people: `digits` significant digits, '-' where missing, yes/no for flags."""
    import numpy as np

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(x)
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}g}"
    return str(x)


def timestamp(value: Any, *, date_only: bool = False) -> Any:
    """ISO 8601 text to the second ('2024-05-01T09:30:00'), or the date alone with `date_only`.

    `value` is one of:
    - seconds since the epoch (`time.time()`): a moment of the wall clock, written in UTC with
      its offset, '2024-05-01T09:30:00+00:00' (run records, when a model was made);
    - a `datetime` (a `pandas.Timestamp` too), written as it is, with its offset if it has one;
    - a numpy datetime64 value or array (timestamps of the data, naive): text, or an array of
      text of the same shape.
    """
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(math.floor(value), dt.UTC)  # not rounded up to 1 s
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if date_only else value.isoformat(timespec="seconds")
    import numpy as np

    text = np.datetime_as_string(np.asarray(value), unit="D" if date_only else "s")
    return text.item() if text.ndim == 0 else text
