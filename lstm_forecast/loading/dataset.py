"""What the loader hands on: cleaned series in a Dataset, and the options that shape reading."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from lstm_forecast.errors import DataError

if TYPE_CHECKING:
    from lstm_forecast.calendars import Calendar


@dataclass
class Series:
    """One cleaned series: its timestamps (or row numbers), target values and covariates."""

    name: str
    index: np.ndarray  # datetime64[ns] for dated data, int64 row numbers for a plain sequence
    values: np.ndarray  # float64 target, no NaN
    features: np.ndarray  # (rows, n_features) float64, no NaN

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class Dataset:
    """What the loader found in one file, ready for windowing."""

    source: str
    target: str
    date_column: str | None
    feature_names: list[str]
    frequency: str | None  # pandas offset alias ("B", "D", "W-FRI", "MS", "h", "5min"); None: rows
    series: list[Series]
    details: dict = field(default_factory=dict)  # encoding, delimiter, date format, ...
    notes: list[str] = field(default_factory=list)  # repairs made (dropped duplicates, fills)
    warnings: list[str] = field(default_factory=list)
    exchange: str | None = None  # the trading calendar's code (`--exchange`); None: a sequence
    calendar: Calendar | None = None  # its sessions; None for `none` and plain sequences
    clock: str | None = None  # "UTC" when stamps were converted to UTC; None: as written
    calendar_info: dict | None = None  # how the calendar was chosen, with evidence (inspect)

    @property
    def dated(self) -> bool:
        return self.date_column is not None

    def select(self, names: list[str]) -> Dataset:
        """The same dataset restricted to the named series (in the given order)."""
        by_name = {s.name: s for s in self.series}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(
                f"{self.source}: no series named {', '.join(missing)} "
                f"(the file has {', '.join(by_name)})"
            )
        return replace(self, series=[by_name[n] for n in names])


@dataclass
class LoadOptions:
    """How to read a file; every field is a command-line option of the same name."""

    target: str | None = None
    date_col: str | None = None
    date_format: str | None = None
    dayfirst: bool | None = None
    series_col: str | None = None
    series: list[str] | None = None
    features: list[str] | None = None
    max_gap: int = 5
    exchange: str = "auto"  # trading calendar: an exchange's MIC, weekdays, daily, none, auto
    calendar: Calendar | None = None  # a model's stored calendar: used as it is, nothing inferred
    min_rows: int = 2
    # the --transform the data is for: "log-return" needs every value positive; "auto" (also
    # when not known, as in inspect) refuses a few stray zero or negative values in an otherwise
    # positive series, which would silently make it "diff"; "diff" and "none" accept them
    transform: str = "auto"
