"""Dates read from the whole column: ISO, D/M/Y or M/D/Y, 2-digit years, month names, epochs.

Day-first or month-first is the one reading under which every value is a valid date and dates
run in order in each series; when both qualify, the one under which timestamps are regularly
spaced wins if the other's are clearly not (noted), else it is asked for. UTC offsets become UTC
for intraday data and local calendar dates for daily data. Typed timestamp columns are used as
they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.dataset import LoadOptions
from lstm_forecast.loading.messages import count, fail_at_first, short
from lstm_forecast.loading.numbers import is_missing
from lstm_forecast.loading.table import text_of

TYPED = "typed timestamps"  # how inspect shows a column that held timestamps already
JUMP = pd.Timedelta(days=20)  # intraday rows this far apart are no trading calendar's
_DATE_SHAPE = re.compile(
    r"\d{4}-\d{1,2}(-\d{1,2})?([T ].*)?"  # ISO dates and timestamps, year-month
    r"|\d{1,4}[-/. ][^\W\d_]{3,9}\.?[-/. ]\d{2,4}(\s.*)?"  # 19-Sep-03, 01.Mär.2020
    r"|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([T\s].*)?"  # 03-01-00, 1/2/2020 9:30
    r"|([^\W\d_]+,?\s+)?[^\W\d_]{3,9}\.?\s+\d{1,2},?\s+\d{2,4}(\s.*)?"  # Jan 1 2000
    r"|\d{4}[-/.]\d{1,2}|\d{1,2}[-/.]\d{4}"  # 2020/01, 01/2020
)
_THOUSANDS = re.compile(r"-?\d{1,3}([.,' ]\d{3})+([.,]\d+)?")
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(:?\d{2})?)?"
)
_TZ_SUFFIX = re.compile(r"(\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$")
_HAS_TZ = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$")


def date_kind(col: pd.Series, named: bool) -> str | None:
    """'dates', 'epoch' (Unix seconds or ms), 'steps' (small integers) or None (not dates)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return "dates"
    col = text_of(col)  # typed numbers (years, YYYYMMDD, epochs) are judged by their digits
    sample = col[~is_missing(col)].head(50)
    if sample.empty:
        return "dates" if named else None
    if sample.str.fullmatch(r"\d+(\.\d+)?").all():
        if not named:
            return None
        if sample.str.fullmatch(r"\d{4}").all() and sample.astype(int).between(1800, 2200).all():
            return "dates"
        if sample.str.fullmatch(r"\d{8}").all():
            ok = pd.to_datetime(sample, format="%Y%m%d", errors="coerce").notna().all()
            return "dates" if ok else None
        digits = sample.str.split(".").str[0].str.len()
        if digits.between(9, 10).all() or digits.between(12, 13).all():
            return "epoch"
        return "steps" if sample.str.fullmatch(r"\d{1,7}").all() else None
    shaped = sample.str.fullmatch(_DATE_SHAPE)
    if named:  # a few bad values are reported by line when the column is parsed
        return "dates" if shaped.mean() > 0.5 else None
    if not shaped.all():
        return None
    if sample.str.fullmatch(_THOUSANDS).any():
        return None
    return "dates" if parse_mixed(sample, dayfirst=False).notna().all() else None


def date_shaped(col: pd.Series) -> pd.Series:
    """Which values are shaped like a date the loader reads (ISO, D/M/Y, month names, ...)."""
    return text_of(col).str.fullmatch(_DATE_SHAPE)


def parse_mixed(values: pd.Series, dayfirst: bool) -> pd.Series:
    """Free-form dates (month names and the like); NaT where unreadable."""
    try:
        return pd.to_datetime(values, format="mixed", errors="coerce", dayfirst=dayfirst, utc=True)
    except (ValueError, OverflowError):  # mixed offsets, out-of-range years
        return pd.Series(pd.NaT, index=values.index)


def _strip_tz(values: pd.Series) -> pd.Series:
    """The local wall-clock part of timestamps written with a UTC offset."""
    return values.str.replace(_TZ_SUFFIX, r"\1", regex=True)


@dataclass
class Reading:
    """A date column read: the timestamps, how they were read and what was decided."""

    index: np.ndarray  # naive datetime64[ns]
    format: str  # as inspect shows it: a strftime format, "ISO 8601", "month names", ...
    timezone: str | None = None  # what was done with UTC offsets
    order: str | None = None  # why day-first or month-first, when the spacing decided it


def parse_dates(
    values: pd.Series,
    column: str,
    kind: str,
    opts: LoadOptions,
    groups: pd.Series | None,
    name: str,
    lines: np.ndarray,
) -> Reading:
    """The column's timestamps, or a DataError naming the first line that is no date."""
    blank = is_missing(values).to_numpy()
    if blank.any():
        line = lines[int(np.flatnonzero(blank)[0])]
        raise DataError(f"{name}: line {line}: missing date in column '{column}'")
    where = (name, column, lines)
    if pd.api.types.is_datetime64_any_dtype(values):
        return Reading(*_typed_dates(values, where))
    text = text_of(values)
    if opts.date_format:
        try:
            return Reading(*_apply_format(text, opts.date_format, where, "--date-format"))
        except ValueError as exc:
            raise DataError(f"{name}: --date-format {opts.date_format}: {short(exc)}") from None
    if kind == "epoch":
        number = pd.to_numeric(values, errors="coerce")
        _fail_unparsed(number, text, where, "epoch seconds")
        unit = "ms" if number.abs().max() > 1e11 else "s"
        parsed = pd.to_datetime(number, unit=unit)
        how = "epoch milliseconds (UTC)" if unit == "ms" else "epoch seconds (UTC)"
        return Reading(_nanoseconds(parsed, text, where), how)
    fmt, order = _choose_format(text, opts.dayfirst, groups, where)
    return Reading(*_apply_format(text, fmt, where, fmt), order=order)


def _typed_dates(values: pd.Series, where: tuple) -> tuple[np.ndarray, str, str | None]:
    """A timestamp column as it is; one with a time zone is treated like written offsets."""
    if values.dt.tz is None:
        return _nanoseconds(values, values, where), TYPED, None
    return _zoned(values.dt.tz_convert("UTC"), values.dt.tz_localize(None), values, where, TYPED)


def _choose_format(
    values: pd.Series, dayfirst: bool | None, groups: pd.Series | None, where: tuple
) -> tuple[str, str | None]:
    """The one format under which every value is valid and dates run in order in each series,
    and a note when their spacing had to decide between day-first and month-first."""
    name, column, _ = where
    if values.str.fullmatch(_ISO).all():
        return "ISO8601", None
    naive = _strip_tz(values)
    tried = _candidate_formats(naive.iloc[0], dayfirst)
    valid: list[tuple[str, pd.Series]] = []
    best = pd.Series(pd.NaT, index=values.index)
    for fmt in tried:
        parsed = pd.to_datetime(naive, format=fmt, errors="coerce")
        if parsed.notna().all():
            valid.append((fmt, parsed))
        elif parsed.notna().sum() > best.notna().sum():
            best = parsed
    if not valid:
        if naive.str.contains(r"[^\W\d_]{3}").all():
            parsed = parse_mixed(naive, bool(dayfirst))
            if parsed.notna().all():
                return "mixed", None
            best = parsed
        how = f"tried {', '.join(tried)}" if tried else "no known date format"
        _fail_unparsed(best, values, where, how)
    ordered = [(f, p) for f, p in valid if _ordered(p, groups)] or valid
    distinct = {tuple(p.to_numpy()) for _, p in ordered}
    if len(distinct) > 1:
        regular = _by_spacing(ordered, groups, column)
        if regular:
            return regular
        shown = " and ".join(f for f, _ in ordered[:2])
        raise DataError(
            f"{name}: dates in column '{column}' read validly both as {shown} (every day "
            f"number is 12 or less); say which with --dayfirst, --monthfirst or --date-format"
        )
    return ordered[0][0], None


def _by_spacing(
    readings: list[tuple[str, pd.Series]], groups: pd.Series | None, column: str
) -> tuple[str, str] | None:
    """The one reading whose timestamps are regularly spaced when every other reading's are
    clearly not, with a note saying why; None when more than one is plausible."""
    spacing = [_spacing(p, groups) for _, p in readings]
    if None in spacing:
        return None
    for j, (fmt, parsed) in enumerate(readings):
        if _irregular(spacing[j], None):
            continue
        others = [i for i, (_, p) in enumerate(readings) if not p.equals(parsed)]
        why = [_irregular(spacing[i], spacing[j]) for i in others]
        if all(why):
            note = (
                f"dates in column '{column}' read as {fmt} (every day number is 12 or less; "
                f"as {readings[others[0]][0]}, {why[0]})"
            )
            return fmt, note
    return None


def _spacing(
    parsed: pd.Series, groups: pd.Series | None
) -> tuple[pd.Timedelta, pd.Timedelta, float] | None:
    """(typical step, longest step, share of rows on weekends), or None without two steps."""
    stamps = pd.Series(parsed.to_numpy())
    keys = np.zeros(len(stamps)) if groups is None else groups.to_numpy()
    steps = stamps.groupby(keys).diff().abs().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if len(steps) < 2:
        return None
    return steps.median(), steps.max(), float((stamps.dt.day_of_week >= 5).mean())


def _irregular(spacing: tuple, beside: tuple | None) -> str | None:
    """Why timestamps spaced like this are clearly irregular: month-long jumps between rows
    typically minutes or hours apart, or, `beside` a reading with none, rows on weekends."""
    typical, longest, weekend = spacing
    if longest > JUMP and longest > 100 * typical:
        return f"rows {_duration(typical)} apart would jump by {longest.days} days"
    intraday = typical < pd.Timedelta(days=1)
    if beside is not None and intraday and weekend >= 0.05 and beside[2] == 0:
        return f"{weekend:.0%} of the rows would fall on weekends"
    return None


def _duration(step: pd.Timedelta) -> str:
    """A step as '1 minute', '5 minutes', '2 hours' or '3 days'."""
    seconds = round(step.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return count(seconds // size, unit)
    return count(seconds, "second")


def _candidate_formats(example: str, dayfirst: bool | None) -> list[str]:
    """Explicit formats that could read values shaped like `example` (separators, widths)."""
    m = re.fullmatch(r"(\d{1,4})([-/. ])(\d{1,2}|[^\W\d_]{3,9}\.?)\2(\d{2,4})(.*)", example)
    if m:
        a, sep, b, c, rest = m.groups()
        time = _time_format(rest)
        if time is None:
            return []
        if not b[:1].isdigit():
            month = ("%b" if len(b.rstrip(".")) == 3 else "%B") + ("." if b.endswith(".") else "")
            if len(a) == 4:
                return [f"%Y{sep}{month}{sep}%d{time}"]
            return [f"%d{sep}{month}{sep}{'%Y' if len(c) == 4 else '%y'}{time}"]
        if len(a) == 4:
            return [f"%Y{sep}%m{sep}%d{time}"]
        year = "%Y" if len(c) == 4 else "%y"
        dm, md = f"%d{sep}%m{sep}{year}{time}", f"%m{sep}%d{sep}{year}{time}"
        if dayfirst is not None:
            return [dm if dayfirst else md]
        return [dm, md] + ([f"%y{sep}%m{sep}%d{time}"] if len(a) == len(c) == 2 else [])
    m = re.fullmatch(r"\d{8}(.*)", example)
    if m and _time_format(m.group(1)) is not None:
        return [f"%Y%m%d{_time_format(m.group(1))}"]
    m = re.fullmatch(r"([^\W\d_]{3,9})(\.?)\s(\d{1,2})(,?)\s(\d{2,4})(.*)", example)
    if m and _time_format(m.group(6)) is not None:
        month = "%b" if len(m.group(1)) == 3 else "%B"
        year = "%Y" if len(m.group(5)) == 4 else "%y"
        return [f"{month}{m.group(2)} %d{m.group(4)} {year}{_time_format(m.group(6))}"]
    if re.fullmatch(r"\d{4}", example):
        return ["%Y"]
    m = re.fullmatch(r"\d{4}([-/.])\d{1,2}", example)
    if m:
        return [f"%Y{m.group(1)}%m"]
    m = re.fullmatch(r"\d{1,2}([-/.])\d{4}", example)
    return [f"%m{m.group(1)}%Y"] if m else []


def _time_format(rest: str) -> str | None:
    """The strftime tail for a time of day after a date ('' when there is none)."""
    if not rest:
        return ""
    m = re.fullmatch(r"([T ]|\s+)\d{1,2}:\d{2}(:\d{2})?(\.\d+)?(\s*)([AaPp][Mm])?", rest)
    if not m:
        return None
    sep, seconds, fraction, space, ampm = m.groups()
    out = ("T" if sep == "T" else " ") + ("%I" if ampm else "%H") + ":%M"
    out += (":%S" if seconds else "") + (".%f" if fraction else "")
    return out + (f"{space}%p" if ampm else "")


def _apply_format(values: pd.Series, fmt: str, where: tuple, how: str):
    """Parse with `fmt`; offsets go to UTC for intraday data, to local dates for daily data."""
    with_tz = values.str.contains(_HAS_TZ).any() or "%z" in fmt or "%Z" in fmt
    if fmt == "mixed":
        parsed = parse_mixed(values, dayfirst=False).dt.tz_localize(None)
        _fail_unparsed(parsed, values, where, how)
        return _nanoseconds(parsed, values, where), _describe_format(fmt), None
    if not with_tz:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
        _fail_unparsed(parsed, values, where, how)
        return _nanoseconds(parsed, values, where), _describe_format(fmt), None
    utc = pd.to_datetime(
        values.str.replace(r"\s*(UTC|GMT)$", "+00:00", regex=True),
        format=fmt,
        errors="coerce",
        utc=True,
    )
    _fail_unparsed(utc, values, where, how)
    local_fmt = fmt.replace("%z", "").replace("%Z", "").strip()
    local = pd.to_datetime(_strip_tz(values), format=local_fmt, errors="coerce")
    return _zoned(utc, local, values, where, _describe_format(fmt))


def _zoned(utc: pd.Series, local: pd.Series, values: pd.Series, where: tuple, described: str):
    """Daily data keeps its local calendar dates; intraday data becomes UTC. With a note."""
    step = pd.Series(np.sort(utc.to_numpy())).diff().median()
    if local.notna().all() and not pd.isna(step) and step >= pd.Timedelta(hours=20):
        note = "time-zone offsets dropped: daily data kept on its local calendar dates"
        return _nanoseconds(local.dt.normalize(), values, where), described, note
    note = "timestamps with time-zone offsets converted to UTC"
    parsed = utc.dt.tz_convert("UTC").dt.tz_localize(None)
    return _nanoseconds(parsed, values, where), described, note


def _nanoseconds(parsed: pd.Series, values: pd.Series, where: tuple) -> np.ndarray:
    """Timestamps as datetime64[ns]; a date outside 1677..2262 is an error naming its line."""
    lo, hi = parsed.min(skipna=False), parsed.max(skipna=False)  # the usual case at once
    if pd.isna(lo) or lo < pd.Timestamp.min or hi > pd.Timestamp.max:
        outside = (~parsed.between(pd.Timestamp.min, pd.Timestamp.max)).to_numpy()
        fail_at_first(
            outside,
            values,
            where,
            "date '{value}' in column '{column}' is outside the years 1677-2262",
        )
    return parsed.to_numpy("datetime64[ns]")


def _describe_format(fmt: str) -> str:
    """How a date format is shown in inspect."""
    return {"ISO8601": "ISO 8601", "mixed": "month names"}.get(fmt, fmt)


def _ordered(parsed: pd.Series, groups: pd.Series | None) -> bool:
    """Whether timestamps run one way (either way) inside every series."""
    step = pd.Series(parsed.to_numpy().astype("int64"))
    keys = np.zeros(len(step)) if groups is None else groups.to_numpy()
    d = step.groupby(keys).diff()
    sign = pd.DataFrame({"up": d > 0, "down": d < 0}).groupby(keys).any()
    return not (sign["up"] & sign["down"]).any()


def _fail_unparsed(parsed: pd.Series, values: pd.Series, where: tuple, how: str) -> None:
    """Raise naming the first line whose date could not be read."""
    bad = parsed.isna().to_numpy(copy=True)
    fail_at_first(
        bad, values, where, f"cannot read '{{value}}' in column '{{column}}' as a date ({how})"
    )
