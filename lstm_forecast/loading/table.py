"""The table stage: what every source produces and the roles, numbers, dates and cleaning read.

A source (delimited text, Parquet, ...) turns its input into a `Table`; `build.build` turns any
Table into a Dataset. Text columns hold strings and are read by the same parsers as CSV cells;
typed columns (datetime64, tz-aware or not, and numeric dtypes) are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Table:
    """A source's rows and columns, before any column has a role.

    `frame`: one column per source column, on any index. Columns of numbers or timestamps may
    keep their dtype; anything else (str, None, Decimal, date objects, ...) is read as text.
    `lines`: the number shown for each row in messages (the file's line, counting the header
    as line 1); by default rows are numbered as in a CSV with one header line (2, 3, ...).
    `details`: how the source was read (`format` first), shown by inspect.
    """

    name: str  # the source as messages name it: a path, "<stdin>", a query's label
    frame: pd.DataFrame
    lines: np.ndarray | None = None
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # repairs the source made
    warnings: list[str] = field(default_factory=list)
    header: bool = True  # whether the source named its columns (text: a header line)

    def __post_init__(self) -> None:
        if self.lines is None:
            self.lines = np.arange(len(self.frame)) + 2


def settle(table: Table) -> None:
    """Columns ready for the later stages: unique string names, a 0..n-1 index, and every
    column either typed (numbers, timestamps) or text (str, '' where missing)."""
    frame = table.frame
    columns = unique_names([str(c) for c in frame.columns])
    table.frame = pd.DataFrame(
        {c: _settled(frame.iloc[:, i].reset_index(drop=True)) for i, c in enumerate(columns)}
    )
    table.lines = np.asarray(table.lines)


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique as pandas does: a repeated 'x' becomes 'x.1', 'x.2'."""
    out, seen = list(names), {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            out[i] = f"{n}.{seen[n] - 1}"
    return out


def is_typed(col: pd.Series) -> bool:
    """Whether a column holds numbers or timestamps as such (not text)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def text_of(col: pd.Series) -> pd.Series:
    """A column as strings, '' where a value is missing (typed values as pandas prints them)."""
    if col.dtype == object and _all_str(col):
        return col
    if isinstance(col.dtype, pd.StringDtype):  # pandas 3's strings (CSV, Parquet, databases)
        # each distinct string made a Python object once, not once per row (2 M tickers)
        codes, uniques = pd.factorize(col)
        labels = np.append(np.asarray(uniques, dtype=object), "")  # code -1 (missing): ''
        return pd.Series(labels[codes], index=col.index, dtype=object)
    missing = col.isna().to_numpy()
    return col.astype(str).astype(object).where(~missing, "")


def _settled(col: pd.Series) -> pd.Series:
    """A typed column as it is; date objects (a SQL DATE) as timestamps; the rest as text."""
    if is_typed(col):
        return col
    if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) in ("date", "datetime"):
        try:
            return pd.to_datetime(col)
        except (ValueError, TypeError, OverflowError):  # out of range, mixed zones: as text
            pass
    return text_of(col)


def _all_str(col: pd.Series) -> bool:
    return pd.api.types.infer_dtype(col, skipna=False) in ("string", "empty")
