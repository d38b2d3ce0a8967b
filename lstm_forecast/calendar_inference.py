"""Which trading calendar a file's dates follow, for `--exchange auto`, with the evidence.

The weekdays a daily file skips are its exchange's holidays: each candidate exchange's closed
days (from exchange_calendars' holiday rules) are compared with the data's missing weekdays day
by day, and an exchange is named only when the match is clear. Weekend rows mean `daily`;
anything unclear, or too short to tell, stays on `weekdays` and says why. Intraday bars tell
more: `by_hours` names the exchange whose regular trading hours the bars fill, for files too
short to skip enough holidays.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from lstm_forecast import calendar_cache
from lstm_forecast.calendars import (
    WEEKMASKS,
    library_bounds,
    library_facts,
    library_version,
    quietly,
    xcals,
)

# Tried by `auto`, major markets first; of calendars with the same sessions over the data, the
# first here is the answer. XKRX is left out: its lunisolar rules alone take about 1.4 s.
CANDIDATES = (
    "XNYS", "XTSE", "XMEX", "BVMF", "XLON", "XETR", "XPAR", "XAMS", "XSWX", "XMIL", "XMAD",
    "XSTO", "XWAR", "XIST", "XJSE", "XTKS", "XHKG", "XSHG", "XBOM", "XTAI", "XSES", "XASX",
)  # fmt: skip
MIN_EVIDENCE = 4  # an exchange is named only after the data skips this many of its holidays
ODDS = 3  # ... and sides with it on ODDS times as many days as with any rival where they differ
SCREEN_DAYS = 3 * 366  # `infer` first tries every candidate on the data's last three years
# `by_hours`: shares of the bars inside an exchange's hours, of its bar slots filled, and of the
# days whose first and last bars are its opening and closing ones
INSIDE, FILLED, SPANNED = 0.95, 0.5, 0.5


@dataclasses.dataclass(frozen=True)
class Inference:
    """What `auto` found in a file's dates, with the evidence `inspect` shows."""

    code: str  # an exchange's MIC, "weekdays" or "daily"
    reason: str  # one sentence
    same_as: tuple[str, ...] = ()  # other codes with the same sessions over the data's span
    skipped: int = 0  # the exchange's holidays that have no row
    holidays_with_rows: tuple[str, ...] = ()  # the exchange's holidays that do have a row
    missing_sessions: tuple[str, ...] = ()  # weekdays without a row that are no holiday

    def evidence(self, limit: int = 10) -> dict:
        """A JSON-able summary (date lists cut at `limit`, with their full counts)."""
        out = {"calendar": self.code, "reason": self.reason, "same_as": list(self.same_as)}
        if self.code in WEEKMASKS:
            return out
        for key in ("holidays_with_rows", "missing_sessions"):
            dates = getattr(self, key)
            out[key] = {"count": len(dates), "dates": list(dates[:limit])}
        return out | {"holidays_skipped": self.skipped}


def infer(index: Any) -> Inference:
    """The calendar a file's dates follow: the exchange whose holidays it skips, clearly.

    Weekend rows on most weekends mean `daily`. Otherwise each candidate exchange is compared
    with the data day by day over its span; one is named only when the data skips at least
    MIN_EVIDENCE of its holidays and, on the days where it and any rival (plain weekdays
    included) disagree, sides with it ODDS times as often. Else the answer is `weekdays`.
    """
    days = np.unique(pd.DatetimeIndex(index).values.astype("datetime64[D]"))
    if len(days) < 2:
        return Inference("weekdays", "too few dates to tell a calendar: plain weekdays")
    span = np.arange(days[0], days[-1] + 1)
    present = np.isin(span, days)
    weekend = ~np.is_busday(span, weekmask=WEEKMASKS["weekdays"])
    if weekend.any() and present[weekend].mean() > 0.5:
        seen = f"{int(present[weekend].sum())} of {int(weekend.sum())}"
        return Inference("daily", f"rows on {seen} weekend days: every day is a session")
    closed = {"weekdays": weekend}
    names: dict[str, Mapping[np.datetime64, str]] = {}
    for code in _screen(span, present):
        found = _closed_days(code, span)
        if found is not None:
            closed[code], names[code] = found
    return _decide(span, present, closed, names)


def by_hours(index: Any, step: int, clock: str | None = None) -> Inference | None:
    """The exchange whose regular trading hours intraday bars fill, or None when none clearly.

    `step` is the bar interval (ns); naive stamps are read as each candidate's local time,
    or as UTC with `clock="UTC"`. A candidate qualifies when INSIDE of the bars fall in its
    hours (bars labelled by their start or by their end), they fill FILLED of its bar slots on
    the data's days, on SPANNED of the days the first and last bars are its opening and closing
    ones, and no row falls on one of its holidays; the first in CANDIDATES order of those
    filling the most wins (New York before Toronto, Frankfurt before Paris: the same hours).
    """
    idx = pd.DatetimeIndex(index)
    days = np.unique(idx.values.astype("datetime64[D]"))
    if len(days) < 2 or np.isin(pd.DatetimeIndex(days).day_of_week, [5, 6]).any():
        return None
    span = np.arange(days[0], days[-1] + 1)
    best: tuple[float, str, str] | None = None
    for code in CANDIDATES:
        found = _closed_days(code, span)
        if found is None or np.isin(days, span[found[0]]).any():
            continue
        filled, hours = _fills(code, idx, step, clock, days[-1])
        if filled is not None and (best is None or filled > best[0]):
            best = (filled, code, hours)
    if best is None:
        return None
    filled, code, hours = best
    return Inference(
        code,
        f"{code}: the bars fill {filled:.0%} of its trading hours ({hours}) on the data's days "
        f"and none falls on its holidays (too few holidays in the data to tell by them)",
    )


def _fills(
    code: str, idx: pd.DatetimeIndex, step: int, clock: str | None, last: np.datetime64
) -> tuple[float | None, str]:
    """(share of the bar slots of `code`'s regular hours that hold a bar, or None when the bars
    fall outside them, its hours as text)."""
    cls = xcals().calendar_utils._default_calendar_factories[code]
    rules = cls.__new__(cls)
    opens, closes = _at(cls.open_times, last), _at(cls.close_times, last)
    pause = getattr(rules, "break_start_times", None)
    resume = getattr(rules, "break_end_times", None)
    local = idx if clock is None else idx.tz_localize(clock).tz_convert(rules.tz).tz_localize(None)
    local = local.as_unit("ns")
    day = local.normalize().asi8
    rel = local.asi8 - day - _ns(opens)
    length = _ns(closes) - _ns(opens)
    text = f"{opens:%H:%M}-{closes:%H:%M} {rules.tz}"
    best = None
    for closing in (False, True):
        keep = (rel > 0) & (rel <= length) if closing else (rel >= 0) & (rel < length)
        slots = np.arange(step if closing else 0, length + (1 if closing else 0), step)
        if isinstance(pause, tuple) and isinstance(resume, tuple):
            lo, hi = _ns(_at(pause, last)) - _ns(opens), _ns(_at(resume, last)) - _ns(opens)
            keep &= ~_in_break(rel, lo, hi, closing)
            slots = slots[~_in_break(slots, lo, hi, closing)]
        keep &= rel % step == 0
        if keep.mean() < INSIDE or not len(slots):
            continue
        filled = len(np.unique(local.asi8[keep])) / (len(np.unique(day)) * len(slots))
        ends = pd.DataFrame({"day": day, "rel": rel}).groupby("day")["rel"].agg(["min", "max"])
        spanned = ((ends["min"] == slots[0]) & (ends["max"] == slots[-1])).mean()
        if filled >= FILLED and spanned >= SPANNED and (best is None or filled > best):
            best = filled
    return best, text


def _in_break(rel: np.ndarray, lo: int, hi: int, closing: bool) -> np.ndarray:
    """Bars (offsets from the open) in a lunch break, labelled by their start or their end."""
    return (rel > lo) & (rel <= hi) if closing else (rel >= lo) & (rel < hi)


def _at(entries: Any, last: np.datetime64) -> Any:
    """The time of day of a calendar's hours rule in force on `last`."""
    now = [t for since, t in entries if since is None or np.datetime64(since.date()) <= last]
    return now[-1] if now else entries[0][1]


def _ns(t: Any) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000


def _screen(span: np.ndarray, present: np.ndarray) -> list[str]:
    """The candidates worth comparing over the whole span, judged on its last SCREEN_DAYS.

    A holiday rule costs time for every year it is evaluated over, so every candidate is tried
    on the recent years first and only those near the best there on the whole span.
    """
    if len(span) <= SCREEN_DAYS:
        return list(CANDIDATES)
    tail, seen = span[-SCREEN_DAYS:], present[-SCREEN_DAYS:]
    errors = {}
    for code in CANDIDATES:
        found = _closed_days(code, tail)
        if found is not None:
            errors[code] = int(np.sum(found[0] == seen))
    best = min(errors.values(), default=0)
    return [code for code, e in errors.items() if e <= 2 * best + MIN_EVIDENCE]


def _decide(
    span: np.ndarray,
    present: np.ndarray,
    closed: dict[str, np.ndarray],
    names: dict[str, Mapping[np.datetime64, str]],
) -> Inference:
    """Pick the clear winner among the candidates' closed-day masks (see `infer`)."""
    errors = {code: int(np.sum(mask == present)) for code, mask in closed.items()}
    ranked = sorted(names, key=lambda c: (errors[c], CANDIDATES.index(c)))
    if not ranked:
        return Inference("weekdays", "no exchange calendar covers the data's dates: weekdays")
    best = ranked[0]
    same = [c for c in ranked[1:] if np.array_equal(closed[c], closed[best])]
    rivals = ["weekdays", *(c for c in ranked if c != best and c not in same)][:2]
    holiday = closed[best] & ~closed["weekdays"]
    skipped = int(np.sum(holiday & ~present))
    odds = {r: _sides(closed[best], closed[r], present) for r in rivals}
    first, last, count = span[0], span[-1], int(holiday.sum())
    if count < MIN_EVIDENCE:
        return Inference("weekdays", f"too short to tell an exchange ({first} to {last}): weekdays")
    if skipped < MIN_EVIDENCE or any(b * ODDS > a for a, b in odds.values()):
        rival = max(odds, key=lambda r: odds[r][1] / max(1, sum(odds[r])))
        a, b = odds[rival]
        return Inference(
            "weekdays",
            f"no exchange's holidays match the weekdays without a row clearly (closest: {best}, "
            f"{skipped} of its {count} holidays without a row; {rival} fits {b} of the {a + b} "
            f"days where they differ): plain weekdays",
        )
    with_rows = span[holiday & present]
    missing = span[~closed[best] & ~present]
    aliases = sorted(a for a in _aliases(best) if re.fullmatch(r"X[A-Z]{3}", a))
    same_as = (*aliases, *same)
    called = _top_names(names[best], span[holiday & ~present])
    reason = (
        f"{best}: the data skips {skipped} of its {count} holidays from {first} "
        f"to {last} ({called})"
        + (f", the same sessions as {', '.join(same_as)}" if same_as else "")
        + (f"; {len(missing)} sessions have no row" if len(missing) else "")
    )
    return Inference(
        best,
        reason,
        same_as,
        skipped,
        tuple(str(d) for d in with_rows),
        tuple(str(d) for d in missing),
    )


def _top_names(named: Mapping[np.datetime64, str], days: np.ndarray, k: int = 3) -> str:
    """The `k` holiday names most often among `days`, for the reason line."""
    counts = Counter(named.get(d, "other closures") for d in days)
    return ", ".join(name for name, _ in counts.most_common(k)) + ", ..."


def _sides(a: np.ndarray, b: np.ndarray, present: np.ndarray) -> tuple[int, int]:
    """On the days calendars `a` and `b` (closed-day masks) differ: how often each is right."""
    differ = a != b
    right_a = int(np.sum(differ & (present != a)))
    return right_a, int(differ.sum()) - right_a


def _closed_days(
    code: str, span: np.ndarray
) -> tuple[np.ndarray, Mapping[np.datetime64, str]] | None:
    """Closed days of exchange `code` over `span` from its holiday rules, with their names.

    Building a whole calendar costs 0.1-0.3 s (hours and early closes for 1970-2200); the rules
    alone need no instance state, so they are read from an uninitialised instance. None when
    the library's range for the exchange misses a tenth of the span.
    """
    lo, hi = library_bounds(code, span[0], span[-1])
    if (hi - lo) < 0.9 * (span[-1] - span[0]):
        return None
    holidays, named, weekmask = _holidays(code, span[0], span[-1])
    known = (span >= lo) & (span <= hi)
    weekend = ~np.is_busday(span, weekmask=weekmask)
    return weekend | (known & np.isin(span, holidays)), named


@functools.lru_cache(maxsize=256)
def _holidays(
    code: str, first: np.datetime64, last: np.datetime64
) -> tuple[np.ndarray, Mapping[np.datetime64, str], str]:
    """Exchange `code`'s holidays from `first` to `last` (sorted), each rule's holiday with its
    name, and its weekmask; kept for the process (the same span recurs, read after read) and,
    year by year, on disk (`calendar_cache`)."""
    years = [str(y) for y in range(int(str(first)[:4]), int(str(last)[:4]) + 1)]
    name = calendar_cache.entry(library_version(), "holidays", code, suffix=".json")
    kept = _kept_years(calendar_cache.read(name))
    if missing := [y for y in years if y not in kept["years"]]:
        kept["years"] |= _rule_years(code, int(missing[0]), int(missing[-1]), kept)
        calendar_cache.write(name, json.dumps(_as_text(kept)).encode())
    named: dict[np.datetime64, str] = {}
    adhoc = []
    for y in years:
        ruled, names, closed = kept["years"][y]
        for day, rule in zip(ruled, names, strict=True):
            if first <= day <= last:
                named.setdefault(day, rule)
        adhoc.append(closed)
    holidays = np.union1d(np.array(list(named), dtype="datetime64[D]"), np.concatenate(adhoc))
    holidays.setflags(write=False)
    return holidays, MappingProxyType(named), kept["weekmask"]


def _kept_years(data: bytes | None) -> dict:
    """The years of an exchange's holidays kept on disk, {"weekmask", "years": {year: (rule
    holidays, their names, ad hoc closures)}} with the dates as datetime64[D]; an empty record
    when there are none or they do not read back whole."""
    try:
        kept = json.loads(data) if data is not None else {}
        years = {}
        for y, e in kept["years"].items():
            ruled = np.array(e["ruled"], dtype="datetime64[D]")
            names = [str(n) for n in e["names"]]
            if len(ruled) == len(names):
                years[str(y)] = (ruled, names, np.array(e["adhoc"], dtype="datetime64[D]"))
        return {"weekmask": str(kept["weekmask"]), "years": years}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"weekmask": "", "years": {}}


def _as_text(kept: dict) -> dict:
    """`_kept_years`' record as JSON-able lists of ISO dates."""
    return {
        "weekmask": kept["weekmask"],
        "years": {
            y: {"ruled": [str(d) for d in r], "names": n, "adhoc": [str(d) for d in a]}
            for y, (r, n, a) in kept["years"].items()
        },
    }


def _rule_years(code: str, first: int, last: int, kept: dict) -> dict[str, tuple]:
    """Exchange `code`'s holidays of the years `first` to `last` from its rules, an entry per
    year as `_kept_years` holds them (its rules' holidays with their names, its ad hoc
    closures). Sets the weekmask in `kept`."""
    cls = xcals().calendar_utils._default_calendar_factories[code]
    rules = cls.__new__(cls)
    a, b = pd.Timestamp(first, 1, 1), pd.Timestamp(last, 12, 31)
    found: list[tuple[np.datetime64, str]] = []
    with quietly():
        for rule in getattr(rules.regular_holidays, "rules", []):
            days = np.asarray(_clipped(rule, a, b).dates(a, b).values, dtype="datetime64[D]")
            found += [(d, rule.name) for d in days]
        adhoc = np.asarray(pd.DatetimeIndex(rules.adhoc_holidays).values, dtype="datetime64[D]")
    kept["weekmask"] = rules.weekmask
    year_of = adhoc.astype("datetime64[Y]").astype(int) + 1970
    out = {}
    for year in range(first, last + 1):
        mine = [(d, n) for d, n in found if d.astype("datetime64[Y]").astype(int) + 1970 == year]
        ruled = np.array([d for d, _ in mine], dtype="datetime64[D]")
        out[str(year)] = (ruled, [n for _, n in mine], adhoc[year_of == year])
    return out


def _clipped(rule: Any, a: pd.Timestamp, b: pd.Timestamp) -> Any:
    """A pandas Holiday rule limited to the years around `a`..`b`, with the same dates there.

    pandas generates a rule's dates from its own start year whatever the range asked for (1950
    for many), which is most of the cost; a shallow copy starting at `a` gives the same dates.
    """
    year = pd.Timestamp(a.year - 1, 1, 1)
    if getattr(rule, "year", None) is not None or (rule.start_date or year) >= year:
        return rule
    limited = copy.copy(rule)
    limited.start_date = year
    return limited


def _aliases(code: str) -> list[str]:
    return library_facts()["aliases"].get(code, [])
