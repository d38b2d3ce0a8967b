"""Cleaning: rows per series in time order, duplicates dropped, short holes filled, each stated.

Newest-first or unordered rows are sorted, exact duplicate rows dropped (rows that disagree on
a timestamp are an error), leading and trailing rows without a value dropped and runs of up to
--max-gap missing values forward-filled; a longer run is an error naming its span.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.checks import (
    check_values,
    spike_warnings,
    split_warnings,
    stray_signs,
)
from lstm_forecast.loading.dataset import LoadOptions, Series
from lstm_forecast.loading.messages import count, names, stamp, where
from lstm_forecast.loading.roles import Roles
from lstm_forecast.loading.table import text_of


@dataclass
class Report:
    """Where cleaning states what it did."""

    name: str
    notes: list[str]
    warnings: list[str]
    per_series: dict
    reordered: set = field(default_factory=set)


def split_series(
    frame: pd.DataFrame,
    roles: Roles,
    helpers: dict[str, str],
    index: np.ndarray | None,
    lines: np.ndarray,
    name: str,
) -> list[tuple[str, pd.DataFrame]]:
    """(name, frame with value, features, helpers and _line) per series, in file order."""
    numeric, targets, features, series_col = (
        roles.numeric,
        roles.targets,
        roles.features,
        roles.series,
    )
    base = pd.DataFrame({f: numeric[f].to_numpy() for f in features})
    for role, col in helpers.items():
        base["_" + role] = numeric[col].to_numpy()
    base["_line"] = lines
    base.index = pd.DatetimeIndex(index) if index is not None else pd.RangeIndex(len(frame))
    if series_col is None:
        return [(t, base.assign(value=numeric[t].to_numpy())) for t in targets]
    keys = text_of(frame[series_col]).to_numpy()
    if (keys == "").any():
        line = lines[int(np.flatnonzero(keys == "")[0])]
        raise DataError(f"{name}: line {line}: empty name in series column '{series_col}'")
    base["value"] = numeric[targets[0]].to_numpy()
    # one pass, not one per series: codes in order of first appearance, each series' rows in
    # file order (a stable sort), five times faster than a groupby on 2 M names
    codes, uniques = pd.factorize(keys)
    if not len(uniques):
        return []
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    return [
        (str(k), _rows(base, at)) for k, at in zip(uniques, np.split(order, bounds), strict=True)
    ]


def _rows(frame: pd.DataFrame, at: np.ndarray) -> pd.DataFrame:
    """frame.iloc[at] for ascending row numbers; a slice when they run unbroken (a dataset
    stored series by series), which pandas takes several times faster than a gather."""
    if at[-1] - at[0] + 1 == len(at):
        return frame.iloc[at[0] : at[-1] + 1]
    return frame.iloc[at]


def select_series(raw_series: list, wanted: list[str] | None, name: str) -> list:
    """The series named with --series, in that order."""
    if not wanted:
        return raw_series
    available = [k for k, _ in raw_series]
    missing = [s for s in wanted if s not in available]
    if missing:
        raise DataError(
            f"{name}: no series {names(missing)} in the file (it has {names(available)})"
        )
    by_name = dict(raw_series)
    return [(s, by_name[s]) for s in dict.fromkeys(wanted)]


def clean_all(
    raw_series: list[tuple[str, pd.DataFrame]],
    roles: Roles,
    helpers: dict[str, str],
    opts: LoadOptions,
    report: Report,
) -> list[Series]:
    """Clean every series; skip (with a warning) those too short while others remain."""
    several = len(raw_series) > 1 or roles.series is not None
    cleaned: list[Series] = []
    short: list[str] = []
    for key, part in raw_series:
        who = f"series '{key}'" if several else f"column '{key}'"
        s = _clean_series(key, who, part, roles, helpers, opts, report)
        if s is not None and len(s) >= opts.min_rows:
            cleaned.append(s)
            continue
        column = roles.targets[0] if len(roles.targets) == 1 else key
        rows = 0 if s is None else len(s)
        msg = (
            f"{who} has no values in '{column}'"
            if s is None
            else f"{who} has {count(rows, 'usable row')}, fewer than the {opts.min_rows} needed"
        )
        if not several:
            raise DataError(f"{report.name}: {msg}")
        report.warnings.append(f"{msg}; skipped")
        report.per_series.pop(key, None)
        short.append(f"{key} {rows}")
    if not cleaned:
        raise DataError(
            f"{report.name}: no series has the {opts.min_rows} rows needed ({names(short)})"
        )
    return cleaned


def _clean_series(
    key: str,
    who: str,
    part: pd.DataFrame,
    roles: Roles,
    helpers: dict[str, str],
    opts: LoadOptions,
    report: Report,
) -> Series | None:
    """Order, dedupe, trim, fill and check one series; None when it has no values at all.

    The rows filled are kept in the report (`holes`) for the sessions stage: a row without a
    value on a day the exchange is closed is a holiday, not a missing value."""
    dated = isinstance(part.index, pd.DatetimeIndex)
    features = roles.features
    target = roles.targets[0] if len(roles.targets) == 1 else key
    if dated:
        part = _order(part, report)
        part = _dedupe(part, who, features, report)
    part = _trim(part, who, target, report)
    if part.empty:
        return None
    empty = part.index[part["value"].isna().to_numpy()] if dated else None
    part, filled = _fill(part, who, target, opts, report)
    said = report.warnings[-1] if filled else None
    check_values(part, who, target, "value", opts.transform == "log-return", report.name)
    if opts.transform == "auto":
        stray_signs(part, who, target, report.name)
    for f in features:
        check_values(part, who, f, f, False, report.name)
        missing = int(part[f].isna().sum())
        if missing:
            report.notes.append(f"{who}: filled {count(missing, 'missing value')} in feature '{f}'")
            part[f] = part[f].ffill().bfill()
    report.warnings.extend(spike_warnings(part, who, target))
    if dated:
        report.warnings.extend(split_warnings(part, who, target, helpers))
    report.per_series[key] = {
        "filled": filled,
        "gaps": [],
        "who": who,
        "holes": empty,
        "fill_warning": said,
    }
    values = part["value"].to_numpy(dtype="float64")
    feats = part[features].to_numpy(dtype="float64") if features else np.zeros((len(part), 0))
    if dated:
        index = part.index.to_numpy(dtype="datetime64[ns]")
    else:
        index = np.arange(len(part), dtype="int64")
    return Series(key, index, values, feats)


def _order(part: pd.DataFrame, report: Report) -> pd.DataFrame:
    """Rows in time order (newest-first files reversed, others sorted)."""
    if part.index.is_monotonic_increasing:
        return part
    if part.index.is_monotonic_decreasing:
        report.reordered.add("newest-first")
        return part.iloc[::-1]
    report.reordered.add("out of order")
    return part.sort_index(kind="stable")


def report_order(report: Report) -> None:
    """One note for all reordering."""
    if "out of order" in report.reordered:
        report.notes.append("rows were out of date order; sorted oldest-first")
    elif report.reordered:
        report.notes.append("rows ran newest-first; sorted oldest-first")


def _dedupe(part: pd.DataFrame, who: str, features: list[str], report: Report) -> pd.DataFrame:
    """Drop exact duplicate rows; rows that disagree on a timestamp are an error."""
    if not part.index.has_duplicates:
        return part
    values = part[["value", *features]].reset_index()
    exact = values.duplicated(keep="first").to_numpy()
    if exact.any():
        report.notes.append(f"{who}: dropped {count(int(exact.sum()), 'exact duplicate row')}")
        part = part[~exact]
    clash = part.index.duplicated(keep=False)
    if clash.any():
        stamps = list(dict.fromkeys(part.index[clash]))[:3]
        shown = "; ".join(
            f"{stamp(t)} (lines {', '.join(map(str, sorted(part['_line'][part.index == t])))})"
            for t in stamps
        )
        raise DataError(f"{report.name}: {who}: rows with the same timestamp disagree: {shown}")
    return part


def _trim(part: pd.DataFrame, who: str, target: str, report: Report) -> pd.DataFrame:
    """Drop leading and trailing rows without a target value."""
    present = part["value"].notna().to_numpy()
    if not present.any():
        return part.iloc[:0]
    first, last = int(np.argmax(present)), len(present) - int(np.argmax(present[::-1]))
    if first == 0 and last == len(part):
        return part
    if first:
        report.notes.append(
            f"{who}: dropped {count(first, 'leading row')} with no '{target}' value"
        )
    if last < len(part):
        report.warnings.append(
            f"{who}: dropped {count(len(part) - last, 'trailing row')} with no '{target}' value "
            f"(from line {part['_line'].iloc[last]})"
        )
    return part.iloc[first:last]


def _fill(
    part: pd.DataFrame, who: str, target: str, opts: LoadOptions, report: Report
) -> tuple[pd.DataFrame, int]:
    """Forward-fill short runs of missing target values; a longer run is an error."""
    nan = part["value"].isna().to_numpy()
    if not nan.any():
        return part, 0
    edges = np.diff(np.concatenate([[0], nan.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    run = int(ends[longest] - starts[longest])
    if run > opts.max_gap:
        a, b = starts[longest], ends[longest] - 1
        raise DataError(
            f"{report.name}: {who}: {run} missing '{target}' values in a row "
            f"({where(part, a)} to {where(part, b)}), more than --max-gap {opts.max_gap}"
        )
    report.warnings.append(
        f"{who}: forward-filled {count(int(nan.sum()), f'missing {target!r} value')} "
        f"(first at {where(part, int(starts[0]))})"
    )
    part = part.copy()
    part["value"] = part["value"].ffill()
    return part, int(nan.sum())
