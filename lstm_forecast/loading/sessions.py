"""Sessions: the trading calendar a dated file follows, and the sessions it has no row for.

The calendar is `--exchange` (an exchange's MIC, `weekdays`, `daily` or `none`), or with `auto`
the exchange whose holidays the longest series skips (`calendar_inference.infer`); a model's
stored calendar (`LoadOptions.calendar`, at predict) is used as it is, so that a forecast
imports no calendar library and infers nothing. Weekly and coarser data step on their own
dates: no calendar applies. With an exchange's sessions every session without a row is a gap,
named, and a holiday is none; a daily row without a value on a day the exchange is closed is
dropped rather than filled. `weekdays`, `daily` and `none` keep the data's own gap rule
(`frequency.find_gaps`). Intraday files too short to skip enough holidays are told by the
trading hours their bars fill (`calendar_inference.by_hours`). Naive intraday stamps are read
as the exchange's local time unless the file gave UTC offsets (then they are UTC); either way
it is said.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_forecast import calendars
from lstm_forecast.calendars import Calendar
from lstm_forecast.loading.cleaning import Report
from lstm_forecast.loading.dataset import LoadOptions, Series
from lstm_forecast.loading.frequency import find_gaps
from lstm_forecast.loading.messages import count

SHOWN = 10  # dates listed in the evidence, of each kind


def choose(
    series: list[Series],
    frequency: str | None,
    opts: LoadOptions,
    clock: str | None,
    report: Report,
) -> tuple[str, Calendar | None, dict]:
    """(code, sessions or None, how it was chosen) for dated series; `auto` judges the rows
    that had a value, so that empty rows on holidays do not hide them."""
    longest = max(series, key=len)
    first = min(s.index[0] for s in series)
    last = max(s.index[-1] for s in series)
    wanted = opts.exchange.strip().lower()
    if opts.calendar is not None:
        cal = opts.calendar
        info = {"code": cal.code, "chosen": "model", "reason": "the model's calendar"}
    elif frequency not in calendars.DAILY_FREQUENCIES and not calendars.is_intraday(frequency):
        code = "none" if wanted == "auto" else calendars.check_code(opts.exchange)
        steps = f"{frequency} data" if frequency else "too few rows to tell a frequency"
        reason = f"{steps}: dates continue the data's own steps"
        return code, None, {"code": code, "chosen": _how(wanted), "reason": reason}
    elif wanted == "auto":
        from lstm_forecast.calendar_inference import by_hours, infer

        stamps = _with_values(longest, report)
        found = infer(stamps)
        if found.code == "weekdays" and calendars.is_intraday(frequency):
            found = by_hours(stamps, _step(frequency), clock) or found
        why = found.reason.removeprefix(f"{found.code}: ")
        report.notes.append(f"trading calendar {found.code} (--exchange auto): {why}")
        cal = calendars.resolve(found.code, first, last)
        info = {"code": found.code, "chosen": "inferred", "reason": why}
        info |= {k: v for k, v in found.evidence(SHOWN).items() if k not in ("calendar", "reason")}
    else:
        code = calendars.check_code(opts.exchange)
        cal = calendars.resolve(code, first, last)
        info = {"code": code, "chosen": "given", "reason": "given with --exchange"}
    if cal is None:
        return "none", None, info | {"reason": "--exchange none: the data's own steps"}
    return cal.code, cal, info


def describe(
    series: list[Series],
    frequency: str | None,
    cal: Calendar | None,
    clock: str | None,
    info: dict,
    report: Report,
) -> dict:
    """`choose`'s account with the evidence of an exchange's sessions over the longest series:
    rows on closed days, sessions without a row, the span known and, intraday, the clock. A
    model's calendar (predict) needs none: nothing was chosen."""
    if cal is None or cal.sessions is None or info["chosen"] == "model":
        return info
    longest = max(series, key=len).index
    info = {**info, **_evidence(cal, longest, clock), "sessions": _span(cal)}
    if calendars.is_intraday(frequency):
        info["clock"] = _clock(cal, longest, frequency, clock, report)
    return info


def drop_closed(
    series: list[Series], frequency: str | None, cal: Calendar | None, report: Report
) -> list[Series]:
    """Daily rows without a value on days the exchange is closed dropped, not filled: such a
    row (Yahoo writes `null` on some holidays) marks a holiday, not a missing value."""
    if cal is None or cal.sessions is None or frequency not in calendars.DAILY_FREQUENCIES:
        return series
    out = []
    for s in series:
        info = report.per_series[s.name]
        days = pd.DatetimeIndex(info["holes"]).values.astype("datetime64[D]")
        known = (days >= cal.start) & (days <= cal.end)
        closed = days[known & ~np.isin(days, cal.sessions_between(cal.start, cal.end))]
        if not len(closed):
            out.append(s)
            continue
        keep = ~np.isin(s.index.astype("datetime64[D]"), closed)
        out.append(Series(s.name, s.index[keep], s.values[keep], s.features[keep]))
        info["filled"] -= len(closed)
        shown = ", ".join(str(d) for d in closed[:3]) + (", ..." if len(closed) > 3 else "")
        dropped = f"{count(len(closed), 'row')} without a value on {cal.code} holidays ({shown})"
        at = report.warnings.index(info["fill_warning"])
        if info["filled"]:  # the rest were missing values on sessions, and stay filled
            report.warnings[at] += f"; of these, {dropped} were dropped instead: no sessions"
        else:
            del report.warnings[at]
            report.notes.append(f"{info['who']}: dropped {dropped}: no sessions, not filled")
    return out


def find_missing(s: Series, cal: Calendar, clock: str | None, report: Report) -> None:
    """Warn about the sessions of `cal` without a row in `s`, naming them (runs as spans)."""
    gaps = cal.gaps(s.index, tz=clock)
    if not gaps:
        return
    info = report.per_series[s.name]
    info["gaps"] = [[str(g.first.date()), str(g.last.date())] for g in gaps[:5]]
    shown = ", ".join(
        str(g.first.date()) if g.sessions == 1 else f"{g.first.date()} to {g.last.date()}"
        for g in gaps[:3]
    )
    more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
    missing = sum(g.sessions for g in gaps)
    report.warnings.append(
        f"{info['who']}: {count(missing, f'{cal.code} session')} without a row: {shown}{more}"
    )


def check_gaps(
    series: list[Series],
    frequency: str | None,
    cal: Calendar | None,
    clock: str | None,
    report: Report,
) -> None:
    """Gaps in every series: against an exchange's sessions, else by the data's own steps."""
    for s in series:
        if cal is not None and cal.sessions is not None:
            find_missing(s, cal, clock, report)
        else:
            find_gaps(s, frequency, report)


def _with_values(s: Series, report: Report) -> np.ndarray:
    """The timestamps of a series' rows that had a value (filled ones left out)."""
    holes = report.per_series[s.name]["holes"]
    return s.index if holes is None or not len(holes) else s.index[~np.isin(s.index, holes)]


def _evidence(cal: Calendar, index: np.ndarray, clock: str | None) -> dict:
    """Rows on days that are no session, and sessions without a row, over the longest series."""
    days = np.unique(pd.DatetimeIndex(index).values.astype("datetime64[D]"))
    known = (days >= cal.start) & (days <= cal.end)
    closed = days[known & ~np.isin(days, cal.sessions_between(days[0], days[-1]))]
    missing = cal.missing_sessions(index, clock).strftime("%Y-%m-%d").tolist()
    return {
        "holidays_with_rows": {"count": len(closed), "dates": [str(d) for d in closed[:SHOWN]]},
        "missing_sessions": {"count": len(missing), "dates": missing[:SHOWN]},
    }


def _span(cal: Calendar) -> dict:
    return {"from": str(cal.start), "to": str(cal.end), "exchange_calendars": cal.version}


def _clock(
    cal: Calendar, index: np.ndarray, frequency: str, clock: str | None, report: Report
) -> str:
    """How intraday stamps are placed in the sessions' hours, said once (and a warning when
    most bars fall outside them)."""
    recent = pd.DatetimeIndex(index[-5000:])
    zone = clock or cal.tz
    if clock is None:
        said = f"intraday times read as {cal.code}'s local time ({cal.tz}): the file gives no "
        said += "UTC offsets"
    else:
        said = f"intraday times in {clock} (from the file's offsets), placed in {cal.code}'s "
        said += f"sessions ({cal.tz})"
    inside = cal.bar_layout(calendars.to_utc(recent, zone), _step(frequency))[2]
    report.notes.append(said)
    if inside < 0.5:
        report.warnings.append(
            f"only {inside:.0%} of the bars fall inside {cal.code}'s trading hours: if the times "
            f"are in another zone, write them with their UTC offset (or use --exchange weekdays)"
        )
    return said


def _step(frequency: str) -> int:
    """An intraday frequency's bar interval in nanoseconds."""
    return int(pd.Timedelta(pd.tseries.frequencies.to_offset(frequency)).value)


def _how(wanted: str) -> str:
    return "inferred" if wanted == "auto" else "given"
