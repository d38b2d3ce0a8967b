"""Roles: which column is the date (and time of day), the series (ticker), the target, a feature.

Columns are found by name (case, spaces and underscores ignored) or by content, trying the
numbers and dates parsers on them; a user-given name always wins. The default target is the
adjusted close, else the close, else the only numeric column; several other numeric columns
make a wide file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.dataset import LoadOptions
from lstm_forecast.loading.dates import date_kind, date_shaped
from lstm_forecast.loading.messages import fail_at_first, names
from lstm_forecast.loading.numbers import decimal_mark, is_missing, numeric_frame, strict_numbers
from lstm_forecast.loading.table import Table, is_typed, text_of


def key(label: str) -> str:
    """A column name compared ignoring case, spaces and underscores."""
    return re.sub(r"[\s_]+", "", str(label).lower())


def is_adjusted_close(label: str) -> bool:
    """Adj Close, Adj. Close*, adj_close, Adjusted Close, AdjClose, Adj Close**, ... by name."""
    letters = re.sub(r"[\W_]+", "", str(label).lower())
    return letters.startswith(("adjclos", "adjustedclos")) or letters == "closeadjusted"


def keys(*labels: str) -> tuple[str, ...]:
    """Normalised keys for a list of column names."""
    return tuple(key(n) for n in labels)


DATE_KEYS = keys(
    "date", "datetime", "timestamp", "time", "day", "dates", "date_time", "trade_date",
    "trading_date", "period", "month", "week", "datum", "data", "fecha", "date/time", "dt",
    "ds", "fecha_hora", "zeit", "datum/zeit", "jour", "giorno", "tarih", "日付", "日期",
    "time_stamp", "observation_date", "ref_date", "asof", "as_of_date", "unix", "epoch", "ts",
    "year",
)  # fmt: skip
TIME_KEYS = keys("time", "hour", "zeit", "hora", "heure", "ora", "uhrzeit", "time of day")
SERIES_KEYS = keys(
    "ticker", "symbol", "series", "name", "code", "instrument", "asset", "security", "stock",
    "unique_id", "id", "isin", "ric", "sym", "series_id", "company",
)  # fmt: skip
CLOSE_KEYS = keys(
    "close", "close/last", "close*", "closing price", "close price", "price", "last",
    "last price", "schluss", "schlusskurs", "cierre", "último", "ultimo", "chiusura", "clôture",
    "cloture", "zamkniecie", "zamknięcie", "kapan\u0131\u015f", "fechamento", "settle",
    "value", "y",
)  # fmt: skip
VOLUME_KEYS = keys("volume", "vol", "vol.", "volumen")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[AaPp][Mm])?")


@dataclass
class Roles:
    """Which column plays which part, and the numeric columns parsed."""

    date: str | None
    kind: str  # what the date column holds: 'dates' or 'epoch'
    time: str | None
    series: str | None
    numeric: pd.DataFrame
    targets: list[str]
    features: list[str]


def find_roles(table: Table, opts: LoadOptions) -> Roles:
    """Find the date, time, series, target and feature columns and parse the numbers."""
    frame, details, name = table.frame, table.details, table.name
    date_col, kind = _find_date_column(frame, name, opts.date_col, bool(opts.date_format))
    used = {date_col}
    if kind == "steps":
        table.notes.append(f"column '{date_col}' numbers the rows; read as a plain sequence")
        date_col = None
    elif kind == "not dates":
        _not_dates(table, date_col)
        used, date_col = set(), None
    time_col = _find_time_column(frame, date_col) if date_col else None
    used.add(time_col)
    series_col = _find_series_column(frame, name, opts.series_col, used)
    used.add(series_col)
    candidates = [c for c in frame.columns if c not in used]
    decimal = decimal_mark(frame, candidates, details.get("delimiter"))
    if decimal == ",":
        details["decimal"] = ","
    numeric = numeric_frame(frame, candidates, decimal)
    targets = _choose_targets(
        frame, numeric, name, opts.target, (candidates, series_col), table.notes
    )
    features = _columns(opts.features or [], list(numeric.columns), name, "feature", frame)
    for c in dict.fromkeys(targets + features):
        strict_numbers(frame[c], numeric[c], c, table.lines, name)
    if series_col:
        details["series_column"] = series_col
    details["layout"] = "long" if series_col else "wide" if len(targets) > 1 else "single"
    return Roles(date_col, kind, time_col, series_col, numeric, targets, features)


def _columns(
    wanted: list[str], columns: list[str], name: str, what: str, frame: pd.DataFrame
) -> list[str]:
    """Resolve user-given column names (case, spaces and underscores ignored)."""
    by_key = {key(c): c for c in columns}
    out = []
    for w in wanted:
        if key(w) in by_key:
            out.append(by_key[key(w)])
            continue
        text = [c for c in frame.columns if key(c) == key(w)]
        if text:
            bad = text_of(frame[text[0]])[~is_missing(frame[text[0]])]
            example = f" ('{bad.iloc[0][:40]}')" if len(bad) else ""
            raise DataError(f"{name}: {what} column '{text[0]}' is not numeric{example}")
        raise DataError(
            f"{name}: no numeric {what} column '{w}' (numeric columns: {names(columns)})"
        )
    return out


def _column(frame: pd.DataFrame, given: str, name: str, what: str) -> str:
    """Resolve a user-given column name among all columns."""
    matches = [c for c in frame.columns if key(c) == key(given)]
    if not matches:
        raise DataError(f"{name}: no {what} column '{given}' (columns: {names(frame.columns)})")
    return matches[0]


def _find_date_column(
    frame: pd.DataFrame, name: str, given: str | None, formatted: bool
) -> tuple[str | None, str]:
    """The date column and what it holds: 'dates', 'epoch' or 'steps' (row numbers).

    With no date column found, the first column named like one is returned as 'not dates'.
    With --date-format (`formatted`), a column named like a date is read with it.
    """
    if given:
        col = _column(frame, given, name, "date")
        kind = date_kind(frame[col], named=True)
        return col, "dates" if kind in (None, "steps") else kind
    misnamed = None
    for wanted in DATE_KEYS:
        for c in frame.columns:
            if key(c) == wanted:
                kind = date_kind(frame[c], named=True) or ("dates" if formatted else None)
                if kind:
                    return c, kind
                misnamed = misnamed or c
    for c in frame.columns:
        if date_kind(frame[c], named=False) == "dates":
            return c, "dates"
    return misnamed, "not dates" if misnamed else "none"


def _not_dates(table: Table, col: str) -> None:
    """A column named like a date without dates: numbers are noted, anything else an error."""
    frame = table.frame
    if _plain_numbers(frame[col]):
        table.notes.append(
            f"column '{col}' is named like a date but holds numbers; read as a plain sequence"
        )
        return
    bad = (~is_missing(frame[col]) & ~date_shaped(frame[col])).to_numpy()
    problem = (
        "column '{column}' is named like a date, but '{value}' is not a date; give its format "
        "with --date-format, or the date column with --date-col"
    )
    fail_at_first(bad, frame[col], (table.name, col, table.lines), problem)


def _plain_numbers(col: pd.Series) -> bool:
    """Whether a column holds plain numbers (decimal point or comma; no separators, no units)."""
    if is_typed(col):
        return True
    present = col[~is_missing(col)]
    parsed = pd.to_numeric(present.str.replace(",", ".", regex=False), errors="coerce")
    return bool(len(present)) and parsed.notna().mean() >= 0.9


def _find_time_column(frame: pd.DataFrame, date_col: str) -> str | None:
    """A separate time-of-day column to combine with a date-only column (both text)."""
    if is_typed(frame[date_col]) or frame[date_col].str.contains(":", regex=False).any():
        return None
    for c in frame.columns:
        if c == date_col or key(c) not in TIME_KEYS or is_typed(frame[c]):
            continue
        if frame[c].str.fullmatch(_TIME_OF_DAY).all():
            return c
    return None


def _find_series_column(frame: pd.DataFrame, name: str, given: str | None, used: set) -> str | None:
    """The ticker column of a long file: given, or found by name."""
    if given:
        col = _column(frame, given, name, "series")
        if col in used:
            raise DataError(f"{name}: column '{col}' cannot be both the date and series column")
        return col
    for c in frame.columns:
        if c in used or key(c) not in SERIES_KEYS:
            continue
        counts = frame[c].value_counts()  # each distinct value parsed once, not every row
        numeric = pd.to_numeric(counts.index.to_series(), errors="coerce").notna().to_numpy()
        if counts[numeric].sum() < 0.5 * len(frame) or len(counts) < len(frame):
            return c
    return None


def _choose_targets(
    frame: pd.DataFrame,
    numeric: pd.DataFrame,
    name: str,
    target: str | None,
    columns: tuple[list[str], str | None],
    notes: list[str],
) -> list[str]:
    """The target column(s): given with --target, else by name; noted either way."""
    candidates, series_col = columns
    cols = list(numeric.columns)
    if target and target.strip().lower() == "all":
        chosen = cols
    elif target:
        wanted = [t for t in target.split(",") if t.strip()]
        found = {key(c) for c in cols}
        if (
            series_col
            and len(wanted) == 1
            and key(wanted[0]) not in found
            and (text_of(frame[series_col]) == wanted[0]).any()
        ):
            raise DataError(
                f"{name}: '{wanted[0]}' is a series in column '{series_col}', not a column; "
                f"pick it with --series"
            )
        chosen = _columns(wanted, cols, name, "target", frame)
    else:
        chosen, why = _default_target(cols, candidates, series_col, name, frame)
    if not chosen:
        raise DataError(f"{name}: no numeric column to forecast (columns: {names(frame.columns)})")
    if len(chosen) > 1 and series_col:
        raise DataError(
            f"{name}: several target columns ({names(chosen)}) in a long file with series "
            f"column '{series_col}'; choose one with --target"
        )
    if len(chosen) == 1:
        how = "given with --target" if target else f"{why}; --target picks another"
        notes.append(f"target column: {chosen[0]} ({how})")
    else:
        notes.append(f"wide layout: one series per column ({names(chosen)})")
    return chosen


def _default_target(
    cols: list[str], candidates: list[str], series_col: str | None, name: str, frame: pd.DataFrame
) -> tuple[list[str], str]:
    """Adjusted close, else close, else the only numeric column; else every column (wide).

    A close found by name must be numeric: text there is an error, not a reason to pick another.
    """
    keys = {key(c): c for c in candidates}
    adjusted = [c for c in candidates if is_adjusted_close(c)]
    close = [keys[k] for k in CLOSE_KEYS if k in keys]
    close += [c for k, c in keys.items() if k.startswith("close")]
    for found, why in ((adjusted, "the adjusted close"), (close, "the close")):
        if found:
            return _columns(found[:1], cols, name, "target", frame), why
    if len(cols) <= 1:
        return cols, "the only numeric column"
    if series_col:
        raise DataError(
            f"{name}: several numeric columns ({names(cols)}) and none is a close; "
            f"choose one with --target"
        )
    return cols, "wide"


def helper_columns(numeric: pd.DataFrame, targets: list[str]) -> dict[str, str]:
    """Adjusted-close and volume columns used to tell unadjusted splits from real moves."""
    if len(targets) != 1:
        return {}
    keys = {key(c): c for c in numeric.columns if c != targets[0]}
    out = {}
    adj = next((c for c in keys.values() if is_adjusted_close(c)), None)
    if adj and not is_adjusted_close(targets[0]):
        out["adjusted"] = adj
    volume = next((keys[k] for k in VOLUME_KEYS if k in keys), None)
    if volume:
        out["volume"] = volume
    return out
