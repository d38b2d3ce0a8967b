"""Trading calendars: the sessions a series trades in, for forecast dates and gap checks.

A calendar code is an exchange's ISO 10383 MIC (`XNYS`, `XLON`, `XETR`, ...: any calendar that
exchange_calendars knows, aliases such as `XNAS` or `NYSE` included), `weekdays` (Monday to
Friday), `daily` (every day) or `none` (the data's own step arithmetic); `auto` is found by
`calendar_inference.infer` from the weekdays a daily file skips. Sessions, hours and early
closes come from exchange_calendars, never from a list kept here.

Where the sessions come from (bench/calendar_cost.py, CPU time): importing exchange_calendars
costs about 0.1 s and building one calendar 0.1-0.2 s, together a fifth of a bare torch import,
which a cold `predict` (held under half of one) cannot spare; so a model file stores its
calendar (`Calendar.to_arrays`, 35 KiB for 35 years of sessions) from its data's first day to
five years past its last, with the exchange_calendars version that computed it, and reading it
back costs about 0.03 s. `future_index` uses the stored sessions only while that same version is
installed and they reach far enough, and otherwise recomputes them from the installed library,
so a model used after an upgrade that adds a holiday (as Juneteenth was added), or years after
training, still dates correctly, and a date beyond the library's own range is an error naming
it. `train` builds calendars; what it computes, and what it asks of the library (names, bounds,
aliases), is kept between runs in the user's temp folder (`calendar_cache`), under the versions
that computed it, so a run on daily data whose calendars are kept does not import
exchange_calendars at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import re
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from lstm_forecast import calendar_cache
from lstm_forecast.errors import ConfigError, DataError, ModelFileError

WEEKMASKS = {"weekdays": "1111100", "daily": "1111111"}
SPECIAL = ("auto", *WEEKMASKS, "none")
YEARS_AHEAD = 5  # how far past the data's end a calendar is built
DAILY_FREQUENCIES = ("B", "C", "D")
_NAT = np.iinfo(np.int64).min


class Gap(NamedTuple):
    """A run of consecutive sessions without a row."""

    first: pd.Timestamp
    last: pd.Timestamp
    sessions: int


class _OutOfRange(DataError):
    """A date past the sessions a Calendar holds (a stored one is then rebuilt)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Calendar:
    """The sessions of one calendar: a weekmask with no end, or an exchange's over a known span."""

    code: str
    weekmask: str = "1111100"
    sessions: np.ndarray | None = None  # datetime64[D] from `start` to `end`; None: the weekmask
    hours: np.ndarray | None = None  # int64 UTC ns per session: open, break start/end, close
    tz: str | None = None  # the exchange's time zone
    version: str = ""  # the exchange_calendars version that computed `sessions`
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None

    def sessions_between(self, first: Any, last: Any) -> np.ndarray:
        """Sessions from `first` to `last` inclusive (datetime64[D]), within the known span."""
        lo, hi = _day(first), _day(last)
        if self.sessions is None:
            days = np.arange(lo, hi + 1)
            return days[np.is_busday(days, weekmask=self.weekmask)]
        return self.sessions[(self.sessions >= lo) & (self.sessions <= hi)]

    def next_sessions(self, after: Any, n: int) -> np.ndarray:
        """The `n` sessions after the day of `after` (datetime64[D])."""
        day = _day(after)
        if self.sessions is None:
            return np.busday_offset(day, np.arange(1, n + 1), "backward", weekmask=self.weekmask)
        at = int(np.searchsorted(self.sessions, day, side="right"))
        if day < self.start or at + n > len(self.sessions):
            raise self._beyond(f"{n} sessions after {day}")
        return self.sessions[at : at + n]

    def missing_sessions(self, index: Any, tz: str | None = None) -> pd.DatetimeIndex:
        """Sessions between the data's first and last day that have no row (holidays are none).

        `index` holds dates or intraday stamps; naive stamps are in `tz` (default: the exchange's
        time). Days outside the span the calendar knows are not judged.
        """
        present = self._session_days(index, tz)
        if not len(present):
            return pd.DatetimeIndex([])
        expected = self.sessions_between(present[0], present[-1])
        return pd.DatetimeIndex(np.setdiff1d(expected, present))

    def gaps(self, index: Any, tz: str | None = None) -> list[Gap]:
        """`missing_sessions` grouped into runs of consecutive sessions, for warnings."""
        missing = self.missing_sessions(index, tz).values.astype("datetime64[D]")
        if not len(missing):
            return []
        where = np.searchsorted(self.sessions_between(missing[0], missing[-1]), missing)
        runs = np.split(missing, np.flatnonzero(np.diff(where) > 1) + 1)
        return [Gap(pd.Timestamp(r[0]), pd.Timestamp(r[-1]), len(r)) for r in runs]

    def next_bars(
        self, after: int, n: int, step: int, phase: int = 0, closing: bool = False
    ) -> np.ndarray:
        """The `n` bar stamps after `after` (all int64 UTC ns) inside the sessions' hours.

        Bars fall every `step` from each open (shifted by `phase`), skip lunch breaks and stop at
        the close, early closes included; `closing` bars are stamped at their end (the last one
        at the close) rather than their start.
        """
        hours = self._hours()
        out: list[np.ndarray] = []
        found = 0
        j = int(np.searchsorted(hours[:, 3], after, side="right"))
        while found < n:
            if j >= len(hours):
                raise self._beyond(f"{n} bars after {pd.Timestamp(after, tz='UTC')}")
            opened, pause, resume, close = hours[j]
            bars = np.arange(opened + (phase or (step if closing else 0)), close + 1, step)
            keep = _within(bars, opened, close, closing) & (bars > after)
            if pause != _NAT:
                keep &= ~_within(bars, pause, resume, closing)
            out.append(bars[keep][: n - found])
            found += len(out[-1])
            j += 1
        return np.concatenate(out)

    def bar_layout(self, stamps: np.ndarray, step: int) -> tuple[int, bool, float]:
        """How bars (int64 UTC ns) sit in sessions: (phase, closing labels, share inside)."""
        hours = self._hours()
        k = np.searchsorted(hours[:, 0], stamps, side="right") - 1
        ok = k >= 0
        k = np.where(ok, k, 0)
        opened, close = hours[k, 0], hours[k, 3]
        inside = ok & (stamps >= opened) & (stamps <= close)
        if not inside.any():
            return 0, False, 0.0
        offsets = (stamps[inside] - opened[inside]) % step
        values, counts = np.unique(offsets, return_counts=True)
        at_open = (stamps[inside] == opened[inside]).any()
        closing = bool((stamps[inside] == close[inside]).any() and not at_open)
        return int(values[np.argmax(counts)]), closing, float(inside.mean())

    def to_arrays(self, hours: bool) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able metadata and arrays for a model file (hours only when `hours`)."""
        meta = {"code": self.code, "weekmask": self.weekmask, "tz": self.tz}
        if self.sessions is None:
            return meta, {}
        meta |= {"version": self.version, "start": str(self.start), "end": str(self.end)}
        arrays = {"sessions": self.sessions.astype("int32")}  # days since 1970
        if hours and self.hours is not None:
            arrays["hours"] = self.hours
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Calendar:
        """The Calendar `to_arrays` stored (ModelFileError when the parts do not fit)."""
        try:
            if "sessions" not in arrays:
                return cls(meta["code"], meta["weekmask"], tz=meta["tz"])
            sessions = np.asarray(arrays["sessions"], dtype="int64").astype("datetime64[D]")
            hours = arrays.get("hours")
            if hours is not None and hours.shape != (len(sessions), 4):
                raise ValueError("hours do not match sessions")
            if len(sessions) and np.any(np.diff(sessions) <= np.timedelta64(0, "D")):
                raise ValueError("sessions out of order")
            return cls(
                meta["code"],
                meta["weekmask"],
                sessions,
                hours,
                meta["tz"],
                meta["version"],
                start=np.datetime64(meta["start"], "D"),
                end=np.datetime64(meta["end"], "D"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"the model's stored calendar is damaged ({exc})") from None

    def _session_days(self, index: Any, tz: str | None) -> np.ndarray:
        """The sessions (datetime64[D], unique, sorted) that the rows of `index` fall in."""
        idx = pd.DatetimeIndex(index)
        if not len(idx) or (idx.tz is None and (idx == idx.normalize()).all()):
            return np.unique(idx.values.astype("datetime64[D]"))
        if self.hours is None:
            local = idx.tz_convert(None) if idx.tz is not None else idx
            return np.unique(local.values.astype("datetime64[D]"))
        stamps = to_utc(idx, tz or self.tz)
        k = np.searchsorted(self.hours[:, 0], stamps, side="right") - 1
        k = k[(k >= 0) & (stamps <= self.hours[np.maximum(k, 0), 3])]
        return np.unique(self.sessions[k])

    def _hours(self) -> np.ndarray:
        if self.hours is None:
            raise ConfigError(f"calendar {self.code} has no trading hours (use an exchange's)")
        return self.hours

    def _beyond(self, what: str) -> _OutOfRange:
        return _OutOfRange(
            f"calendar {self.code}: {what} fall outside {self.start} to {self.end}, the sessions "
            f"exchange_calendars {self.version} gave; a newer exchange_calendars may know more, "
            f"or use --exchange weekdays"
        )


class Future(NamedTuple):
    """Forecast timestamps and a note about them.

    `index` is naive datetime64[ns] on the data's own clock: the zone its naive stamps are in,
    or the zone of tz-aware ones.
    """

    index: np.ndarray
    note: str | None = None


def check_code(code: str) -> str:
    """The canonical form of a calendar code (aliases become their calendar's MIC)."""
    word = code.strip()
    if word.lower() in SPECIAL:
        return word.lower()
    names = library_facts()["names"]
    if word.upper() in names:
        return names[word.upper()]
    near = difflib.get_close_matches(word.upper(), names, n=3)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    raise ConfigError(
        f"--exchange: unknown calendar '{code}'{hint}: use auto, weekdays, daily, none or an "
        f"exchange's MIC such as XNYS, XNAS, XLON, XETR, XPAR, XTKS ({len(names)} codes known)"
    )


def resolve(code: str, start: Any, end: Any) -> Calendar | None:
    """Calendar `code` from `start` to YEARS_AHEAD years past `end` (None for `none`).

    The span is passed to exchange_calendars explicitly (its default starts ~20 years back),
    clipped only to the library's own bounds for that exchange.
    """
    code = check_code(code)
    if code in ("none", "auto"):
        if code == "auto":
            raise ConfigError("calendar 'auto' is decided from the data (calendar_inference.infer)")
        return None
    if code in WEEKMASKS:
        return Calendar(code, WEEKMASKS[code])
    lo, hi = library_bounds(code, _day(start), _day(end) + np.timedelta64(366 * YEARS_AHEAD, "D"))
    if hi <= lo:
        raise DataError(
            f"calendar {code}: exchange_calendars {library_version()} knows no sessions of it "
            f"from {_day(start)} to {_day(end)}; use --exchange weekdays"
        )
    return _exchange(code, lo, hi)


@functools.lru_cache(maxsize=32)
def _exchange(code: str, lo: np.datetime64, hi: np.datetime64) -> Calendar:
    """Exchange `code`'s sessions and hours from `lo` to `hi`, cut from those exchange_calendars
    builds for the whole years around them (0.1-0.3 s; kept on disk, `calendar_cache`, and for
    the process, read-only)."""
    first, last = library_bounds(code, *_whole_years(lo, hi))
    name = calendar_cache.entry(library_version(), "sessions", code, first, last, suffix=".npz")
    kept = calendar_cache.read_arrays(name)
    if kept is not None:
        with contextlib.suppress(Exception):  # damaged (or without hours): built again below
            return _cut(Calendar.from_arrays(*kept), lo, hi)
    with quietly():
        cal = xcals().get_calendar(code, start=pd.Timestamp(first), end=pd.Timestamp(last))
    hours = np.stack(
        [cal.opens_nanos, cal.break_starts_nanos, cal.break_ends_nanos, cal.closes_nanos], axis=1
    ).astype("int64")
    sessions = np.asarray(cal.sessions.values, dtype="datetime64[D]")
    whole = Calendar(
        code, cal.weekmask, sessions, hours, str(cal.tz), library_version(), first, last
    )
    calendar_cache.write_arrays(name, *whole.to_arrays(hours=True))
    return _cut(whole, lo, hi)


def _whole_years(lo: np.datetime64, hi: np.datetime64) -> tuple[np.datetime64, np.datetime64]:
    """January 1 of `lo`'s year to December 31 of `hi`'s."""
    return lo.astype("datetime64[Y]").astype("datetime64[D]"), (
        hi.astype("datetime64[Y]") + 1
    ).astype("datetime64[D]") - np.timedelta64(1, "D")


def _cut(cal: Calendar, lo: np.datetime64, hi: np.datetime64) -> Calendar:
    """`cal` from `lo` to `hi` only (the sessions and hours a calendar built on them has)."""
    keep = (cal.sessions >= lo) & (cal.sessions <= hi)
    sessions, hours = cal.sessions[keep], cal.hours[keep]
    sessions.setflags(write=False)
    hours.setflags(write=False)
    return dataclasses.replace(cal, sessions=sessions, hours=hours, start=lo, end=hi)


def future_index(
    index: Any,
    frequency: str | None,
    steps: int,
    code: str,
    stored: Calendar | None = None,
    tz: str | None = None,
) -> Future | None:
    """The `steps` timestamps after the data's last, on the sessions of calendar `code`.

    Daily data steps through sessions; intraday bars continue the data's interval inside each
    session's hours, with naive stamps read in `tz` (default: the exchange's own time). A
    `stored` calendar (from the model file) is used while it is current (see the module's
    docstring). None when the calendar has no say: code `none`, a plain sequence, weekly or
    coarser data, intraday data on `weekdays` or `daily`; the data's own arithmetic applies.
    """
    intraday = is_intraday(frequency)
    if code == "none" or (not intraday and frequency not in DAILY_FREQUENCIES):
        return None
    idx = pd.DatetimeIndex(index)
    if code in WEEKMASKS:
        if intraday:
            return None
        days = Calendar(code, WEEKMASKS[code]).next_sessions(idx[-1], steps)
        return Future(days.astype("datetime64[ns]"))
    recent = idx[-5000:] if intraday else idx[-1:]
    start = _day(recent[0]) - np.timedelta64(7, "D")

    def make(cal: Calendar) -> Future:
        if intraday:
            return _bars(cal, recent, frequency, steps, tz)
        return Future(cal.next_sessions(idx[-1], steps).astype("datetime64[ns]"))

    if _current(stored, code, start):
        try:
            return make(stored)
        except _OutOfRange:
            pass  # past the stored span: the library knows more
    return make(resolve(code, start, _day(idx[-1]) + np.timedelta64(2 * steps, "D")))


def is_intraday(frequency: str | None) -> bool:
    """Whether a pandas offset alias steps within a day (`5min`, `h`, `30s`)."""
    return frequency is not None and re.fullmatch(r"\d*(min|h|s)", frequency) is not None


@functools.lru_cache(maxsize=1)
def library_version() -> str | None:
    """The installed exchange_calendars version (None when it is not installed), unimported.

    Read from the name of its `.dist-info` folder: importing importlib.metadata alone costs
    about 40 ms, a tenth of a cold `predict`; importlib.metadata only where no such folder is.
    """
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("exchange_calendars")
    if spec is None or spec.origin is None:
        return None
    found = list(Path(spec.origin).parent.parent.glob("exchange_calendars-*.dist-info"))
    if len(found) == 1:
        return found[0].name.removeprefix("exchange_calendars-").removesuffix(".dist-info")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("exchange_calendars")
    except PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------


def _bars(
    cal: Calendar, recent: pd.DatetimeIndex, frequency: str, steps: int, tz: str | None
) -> Future:
    zone = tz or cal.tz
    stamps = to_utc(recent, zone)
    step = int(pd.Timedelta(pd.tseries.frequencies.to_offset(frequency)).value)
    phase, closing, inside = cal.bar_layout(stamps, step)
    bars = cal.next_bars(int(stamps[-1]), steps, step, phase, closing)
    out = pd.DatetimeIndex(bars.astype("datetime64[ns]"), tz="UTC")
    out = out.tz_convert(recent.tz or zone).tz_localize(None)  # the data's own wall clock
    read = "read as" if tz is None and recent.tz is None else "converted from"
    note = f"intraday times {read} {recent.tz or zone} time to fit {cal.code} sessions ({cal.tz})"
    if inside < 0.5:
        note += (
            f"; only {inside:.0%} of the bars fall inside those sessions: if the times are in "
            f"another zone, say so"
        )
    return Future(out.as_unit("ns").to_numpy(), note)


def _current(stored: Calendar | None, code: str, start: np.datetime64) -> bool:
    """Whether a stored calendar may stand for what the installed library would compute now."""
    return (
        stored is not None
        and stored.code == code
        and stored.sessions is not None
        and stored.start is not None
        and stored.start <= start
        and stored.version == library_version()
    )


def library_bounds(
    code: str, lo: np.datetime64, hi: np.datetime64
) -> tuple[np.datetime64, np.datetime64]:
    """`lo`..`hi` clipped to the range exchange_calendars can evaluate for `code`."""
    first, last = library_facts()["bounds"][code]
    return (lo if first is None else max(lo, first)), (hi if last is None else min(hi, last))


@functools.lru_cache(maxsize=1)
def library_facts() -> dict:
    """What is asked of exchange_calendars besides sessions and holidays, kept on disk beside
    them (`calendar_cache`), so that a run whose calendars are kept need not import it (0.14 s;
    intraday files still do, to match their bars to exchanges' hours): {"names": {NAME or
    ALIAS in capitals: its calendar's code}, "bounds": {code: (first day, last day), None where
    unbounded}, "aliases": {code: [its aliases]}}."""
    name = calendar_cache.entry(library_version(), "library", suffix=".json")
    kept = calendar_cache.read(name)
    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):  # damaged
        if kept is not None:
            return _facts(json.loads(kept))
    lib = xcals()
    factories = lib.calendar_utils._default_calendar_factories
    found = {
        "names": {
            n.upper(): lib.resolve_alias(n) for n in lib.get_calendar_names(include_aliases=True)
        },
        "bounds": {
            code: [None if b is None else str(_day(b)) for b in (cls.bound_min(), cls.bound_max())]
            for code, cls in factories.items()
        },
        "aliases": {code: list(names) for code, names in lib.names_to_aliases().items()},
    }
    calendar_cache.write(name, json.dumps(found).encode())
    return _facts(found)


def _facts(data: Any) -> dict:
    """`library_facts` from its JSON form, every part checked: ValueError (or TypeError,
    KeyError, AttributeError) for anything else."""
    names, bounds, aliases = data["names"], data["bounds"], data["aliases"]
    whole = (
        all(isinstance(code, str) and code in bounds for code in names.values())
        and all(isinstance(pair, list) and len(pair) == 2 for pair in bounds.values())
        and all(
            isinstance(a, list) and all(isinstance(x, str) for x in a) for a in aliases.values()
        )
    )
    if not whole:
        raise ValueError("not the library's facts")
    days = {code: tuple(_bound(day) for day in pair) for code, pair in bounds.items()}
    return {"names": names, "bounds": days, "aliases": aliases}


def _bound(day: Any) -> np.datetime64 | None:
    if day is not None and not isinstance(day, str):
        raise ValueError(f"not a day: {day!r}")
    return None if day is None else np.datetime64(day, "D")


def _within(bars: np.ndarray, lo: int, hi: int, closing: bool) -> np.ndarray:
    """Bars inside [lo, hi) when stamped at their start, inside (lo, hi] when at their end."""
    return (bars > lo) & (bars <= hi) if closing else (bars >= lo) & (bars < hi)


def to_utc(idx: pd.DatetimeIndex, zone: str | None) -> np.ndarray:
    """Stamps as int64 UTC ns; naive ones are local times of `zone`."""
    if idx.tz is None:
        idx = idx.tz_localize(
            zone, ambiguous=np.zeros(len(idx), dtype=bool), nonexistent="shift_forward"
        )
    return idx.tz_convert("UTC").as_unit("ns").asi8


def _day(value: Any) -> np.datetime64:
    """The calendar day of a date or timestamp (a tz-aware one: its local day)."""
    stamp = pd.Timestamp(value)
    if stamp.tz is not None:
        stamp = stamp.tz_localize(None)
    return np.datetime64(stamp.date(), "D")


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Hide the deprecation warnings exchange_calendars raises under newer pandas: no user's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def xcals() -> Any:
    """exchange_calendars, imported on first use (about 0.1 s)."""
    import exchange_calendars

    return exchange_calendars
