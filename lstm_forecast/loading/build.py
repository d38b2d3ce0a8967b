"""Table -> Dataset: roles found, timestamps read, series split, cleaned and checked, stated."""

from __future__ import annotations

import numpy as np

from lstm_forecast.loading.cleaning import (
    Report,
    clean_all,
    report_order,
    select_series,
    split_series,
)
from lstm_forecast.loading.dataset import Dataset, LoadOptions
from lstm_forecast.loading.dates import parse_dates
from lstm_forecast.loading.frequency import detect_frequency
from lstm_forecast.loading.roles import Roles, find_roles, helper_columns
from lstm_forecast.loading.sessions import check_gaps, choose, describe, drop_closed
from lstm_forecast.loading.table import Table, settle


def build(table: Table, opts: LoadOptions) -> Dataset:
    """The Dataset for a table: columns found, dates parsed, series split and cleaned."""
    settle(table)
    name = table.name
    roles = find_roles(table, opts)
    index, date_label = _timestamps(table, roles, opts)
    helpers = helper_columns(roles.numeric, roles.targets)
    raw_series = split_series(table.frame, roles, helpers, index, table.lines, name)
    if roles.series:  # by name: the rows' order (a file's, a table's) never changes the model
        raw_series.sort(key=lambda item: item[0])
    raw_series = select_series(raw_series, opts.series, name)
    report = Report(name, table.notes, table.warnings, {})
    cleaned = clean_all(raw_series, roles, helpers, opts, report)
    report_order(report)
    frequency = detect_frequency(max(cleaned, key=len).index) if roles.date else None
    clock = _clock(table)
    exchange, calendar, calendar_info = None, None, None
    if roles.date:
        exchange, calendar, calendar_info = choose(cleaned, frequency, opts, clock, report)
        cleaned = drop_closed(cleaned, frequency, calendar, report)
        calendar_info = describe(cleaned, frequency, calendar, clock, calendar_info, report)
    check_gaps(cleaned, frequency, calendar, clock, report)
    for info in report.per_series.values():
        del info["who"], info["holes"], info["fill_warning"]
    table.details["per_series"] = report.per_series
    return Dataset(
        name,
        ",".join(roles.targets),
        date_label,
        roles.features,
        frequency,
        cleaned,
        table.details,
        table.notes,
        table.warnings,
        exchange,
        calendar,
        clock,
        calendar_info,
    )


def _clock(table: Table) -> str | None:
    """ "UTC" when the dates stage converted stamps to UTC (offsets, epochs); None: as written."""
    said = f"{table.details.get('timezone') or ''} {table.details.get('date_format') or ''}"
    return "UTC" if "converted to UTC" in said or "(UTC)" in said else None


def _timestamps(
    table: Table, roles: Roles, opts: LoadOptions
) -> tuple[np.ndarray | None, str | None]:
    """Each row's timestamp (None for a plain sequence) and the date column's label."""
    if roles.date is None:
        return None, None
    frame, details = table.frame, table.details
    stamps = frame[roles.date]
    label = roles.date
    if roles.time:
        stamps, label = stamps + " " + frame[roles.time], f"{roles.date} + {roles.time}"
        details["time_column"] = roles.time
    groups = frame[roles.series] if roles.series else None
    reading = parse_dates(stamps, label, roles.kind, opts, groups, table.name, table.lines)
    details["date_format"] = reading.format
    if reading.order:
        table.notes.append(reading.order)
    if reading.timezone:
        table.notes.append(reading.timezone)
        details["timezone"] = reading.timezone
    return reading.index, label
