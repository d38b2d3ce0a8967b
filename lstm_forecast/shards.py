"""Which series each training process reads when a job spans several (torchrun), and which
series `predict` reads together from a universe too big to hold at once.

A Parquet dataset says how many rows each series has without a row being read (file footers,
hive partitions; `parquet.series_rows`), so every rank computes the same plan on its own: the
series in name order, cut into contiguous runs of about equal rows, one run per rank. A rank
then reads only its run (the loader's `--series` filter, pushed down to pyarrow), so its memory
grows with its share of the rows, and no window crosses from one rank's data to another's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from lstm_forecast.loading import LoadOptions


def balance(rows: dict[str, int], parts: int) -> list[list[str]]:
    """The series in name order, cut into `parts` contiguous runs of about equal total rows
    (each run non-empty when there are at least `parts` series)."""
    names = sorted(rows)
    if len(names) <= parts:
        return [[n] for n in names] + [[] for _ in range(parts - len(names))]
    ends = np.cumsum([rows[n] for n in names], dtype="float64")
    cuts = np.searchsorted(ends, ends[-1] * np.arange(1, parts) / parts, side="left") + 1
    bounds = [0]
    for i, cut in enumerate(cuts.tolist()):  # at least one series per run, room for the rest
        bounds.append(min(max(cut, bounds[-1] + 1), len(names) - (parts - 1 - i)))
    bounds.append(len(names))
    return [names[a:b] for a, b in itertools.pairwise(bounds)]


def _series_rows(data: object, options: LoadOptions) -> dict[str, int] | None:
    """Rows per series of a Parquet dataset folder whose series column is known by name
    (only `options.series` when given); None for any other data."""
    if not isinstance(data, str | Path):
        return None
    from lstm_forecast import parquet
    from lstm_forecast.loading.stores import needed_columns

    if not Path(data).is_dir() or not parquet.is_parquet(data):
        return None
    _, column = needed_columns(parquet.column_names(data), options)
    if column is None:
        return None
    rows = parquet.series_rows(data, column)
    if options.series is not None:
        wanted = set(options.series)
        rows = {name: n for name, n in rows.items() if name in wanted}
    return rows


def groups(
    data: object,
    options: LoadOptions,
    max_rows: int,
    known: set[str],
    notify: Callable[[str], None] | None = None,
) -> list[list[str]] | None:
    """The `known` series of a Parquet dataset in runs of about `max_rows` rows, to be read
    and forecast one run at a time; the others are named through `notify`. None when `data`
    is not such a dataset or fits in one run."""
    rows = _series_rows(data, options)
    if rows is None or sum(rows.values()) <= max_rows:
        return None
    if (unknown := sorted(set(rows) - known)) and notify:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        notify(f"warning: {len(unknown):,} series are not in the model, no forecast: {shown}")
    rows = {name: n for name, n in rows.items() if name in known}
    if not rows:
        return None  # as one run, to be refused the way `predict` refuses it
    runs = balance(rows, -(-sum(rows.values()) // max_rows))
    return [run for run in runs if run]  # fewer series than runs: no empty ones


def shard_options(
    data: object, options: LoadOptions, rank: int, world: int
) -> tuple[LoadOptions, int] | None:
    """The options with which rank `rank` of `world` reads only its series of `data`, and the
    number of series in all; None when `data` is not a Parquet dataset with a series column
    known by name (or has fewer series than ranks): then every rank reads all of it."""
    rows = _series_rows(data, options) if world > 1 else None
    if rows is None or len(rows) < world:
        return None
    return replace(options, series=balance(rows, world)[rank]), len(rows)
