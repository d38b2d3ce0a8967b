"""Which trading calendar a file's dates follow, for `--exchange auto`, with the evidence.

The weekdays a daily file skips are its exchange's holidays: each candidate exchange's closed
days (from exchange_calendars' holiday rules) are compared with the data's missing weekdays day
by day, and an exchange is named only when the match is clear. Weekend rows mean `daily`;
anything unclear, or too short to tell, stays on `weekdays` and says why.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from lstm_forecast.calendars import WEEKMASKS, library_bounds, quietly, xcals

# Tried by `auto`, major markets first; of calendars with the same sessions over the data, the
# first here is the answer. XKRX is left out: its lunisolar rules alone take about 1.4 s.
CANDIDATES = (
    "XNYS", "XTSE", "XMEX", "BVMF", "XLON", "XETR", "XPAR", "XAMS", "XSWX", "XMIL", "XMAD",
    "XSTO", "XWAR", "XIST", "XJSE", "XTKS", "XHKG", "XSHG", "XBOM", "XTAI", "XSES", "XASX",
)  # fmt: skip
MIN_EVIDENCE = 4  # an exchange is named only after the data skips this many of its holidays
ODDS = 3  # ... and sides with it on ODDS times as many days as with any rival where they differ
SCREEN_DAYS = 3 * 366  # `infer` first tries every candidate on the data's last three years


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
    names: dict[str, dict[np.datetime64, str]] = {}
    for code in _screen(span, present):
        found = _closed_days(code, span)
        if found is not None:
            closed[code], names[code] = found
    return _decide(span, present, closed, names)


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
    names: dict[str, dict[np.datetime64, str]],
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


def _top_names(named: dict[np.datetime64, str], days: np.ndarray, k: int = 3) -> str:
    """The `k` holiday names most often among `days`, for the reason line."""
    counts = Counter(named.get(d, "other closures") for d in days)
    return ", ".join(name for name, _ in counts.most_common(k)) + ", ..."


def _sides(a: np.ndarray, b: np.ndarray, present: np.ndarray) -> tuple[int, int]:
    """On the days calendars `a` and `b` (closed-day masks) differ: how often each is right."""
    differ = a != b
    right_a = int(np.sum(differ & (present != a)))
    return right_a, int(differ.sum()) - right_a


def _closed_days(code: str, span: np.ndarray) -> tuple[np.ndarray, dict[np.datetime64, str]] | None:
    """Closed days of exchange `code` over `span` from its holiday rules, with their names.

    Building a whole calendar costs 0.1-0.3 s (hours and early closes for 1970-2200); the rules
    alone need no instance state, so they are read from an uninitialised instance. None when
    the library's range for the exchange misses a tenth of the span.
    """
    lo, hi = library_bounds(code, span[0], span[-1])
    if (hi - lo) < 0.9 * (span[-1] - span[0]):
        return None
    cls = xcals().calendar_utils._default_calendar_factories[code]
    rules = cls.__new__(cls)
    a, b = pd.Timestamp(span[0]), pd.Timestamp(span[-1])
    named: dict[np.datetime64, str] = {}
    with quietly():
        for rule in getattr(rules.regular_holidays, "rules", []):
            for d in np.asarray(_clipped(rule, a, b).dates(a, b).values, dtype="datetime64[D]"):
                named.setdefault(d, rule.name)
        adhoc = np.asarray(pd.DatetimeIndex(rules.adhoc_holidays).values, dtype="datetime64[D]")
    holidays = np.union1d(np.array(list(named), dtype="datetime64[D]"), adhoc)
    known = (span >= lo) & (span <= hi)
    weekend = ~np.is_busday(span, weekmask=rules.weekmask)
    return weekend | (known & np.isin(span, holidays)), named


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
    return xcals().names_to_aliases().get(code, [])
