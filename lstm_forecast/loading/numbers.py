"""Numbers as spreadsheets and exports write them, read from whole columns.

Thousands separators, currency signs, %, K/M/B suffixes, negatives in parentheses, decimal
commas (decided once for the whole file) and the usual missing-value markers. Typed numeric
columns are taken as they are.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lstm_forecast.loading.messages import fail_at_first
from lstm_forecast.loading.table import is_typed

MISSING = {
    "", ".", "null", "none", "nan", "n/a", "na", "#n/a", "-", "--", "nat", "#value!",
    "#div/0!", "#num!", "#ref!", "nil", "?",
}  # fmt: skip
_NUM_JUNK = re.compile(r"[\s$€£¥₹%'\u00a0\u2009\u202f]|^\+")
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def decimal_mark(frame: pd.DataFrame, columns: list[str], delimiter: str | None) -> str:
    """'.' or ',' for the whole file, from the numbers written with separators."""
    columns = [c for c in columns if not is_typed(frame[c])]
    if not columns:
        return "."
    sample = pd.concat([frame[c].head(500) for c in columns], ignore_index=True)
    s = sample.str.replace(_NUM_JUNK, "", regex=True)
    s = s[s.str.fullmatch(r"-?\(?\d[\d.,]*\)?[kmbtKMBT]?") & s.str.contains(r"[.,]")]
    both = s[s.str.contains(".", regex=False) & s.str.contains(",", regex=False)]
    if len(both):
        return "," if (both.str.rfind(",") > both.str.rfind(".")).mean() > 0.5 else "."
    commas = s[s.str.contains(",", regex=False)]
    dots = s[s.str.contains(".", regex=False)]
    if commas.empty:
        return "," if dots.str.fullmatch(r"-?\d{1,3}(\.\d{3}){2,}").any() else "."
    if commas.str.fullmatch(r"-?\d{1,3}(,\d{3}){2,}").any():
        return "."
    if delimiter == ";" and dots.empty:
        return ","
    return "." if commas.str.fullmatch(r"-?\(?\d{1,3}(,\d{3})+\)?[kmbtKMBT]?").all() else ","


def to_number(col: pd.Series, decimal: str) -> pd.Series:
    """Numbers as spreadsheets write them: 1,234.5 / 1.234,5 / $12 / 5% / (3) / 70.89M."""
    if decimal == ".":  # plain numbers need no cleaning
        plain = pd.to_numeric(col, errors="coerce").astype("float64")
        if is_missing(col[plain.isna()]).all():
            return plain
    s = col.str.lower()
    s = s.where(~s.isin(MISSING), "")
    s = s.str.replace(_NUM_JUNK, "", regex=True).str.replace("\u2212", "-", regex=False)
    if decimal == ",":
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.str.replace(",", "", regex=False)
    neg = s.str.fullmatch(r"\(.*\)")
    s = s.str.strip("()")
    suffix = s.str[-1:]
    scaled = suffix.isin(list(_SUFFIX)) & s.str[:-1].str.fullmatch(r"-?[\d.]+(e[-+]?\d+)?")
    s = s.where(~scaled, s.str[:-1])
    num = pd.to_numeric(s.where(s != "", None), errors="coerce").astype("float64")
    num = num * suffix.map(_SUFFIX).where(scaled, 1.0).astype("float64")
    return num.where(~neg, -num)


def numeric_frame(frame: pd.DataFrame, columns: list[str], decimal: str) -> pd.DataFrame:
    """Every column that reads as numbers (at least 90% of its values); all-empty ones too."""
    out = {}
    for c in columns:
        if is_typed(frame[c]):
            if pd.api.types.is_numeric_dtype(frame[c]):
                out[c] = pd.Series(frame[c].to_numpy("float64", na_value=np.nan), frame.index)
            continue
        parsed = to_number(frame[c], decimal)
        failed = (~is_missing(frame[c][parsed.isna()])).sum()
        present = parsed.notna().sum() + failed
        if present == 0 or failed <= 0.1 * present:
            out[c] = parsed
    return pd.DataFrame(out, index=frame.index)


def is_missing(col: pd.Series) -> pd.Series:
    """Which cells are empty or a missing-value marker (NaN, N/A, #N/A, null, -, ...)."""
    if is_typed(col):
        return col.isna()
    return col.str.lower().isin(MISSING)


def strict_numbers(raw: pd.Series, parsed: pd.Series, column: str, lines, name: str) -> None:
    """Every present value of a used column must read as a number."""
    bad = parsed.isna().to_numpy(copy=True)
    bad[bad] = ~is_missing(raw[bad]).to_numpy()
    problem = "cannot read '{value}' in column '{column}' as a number"
    fail_at_first(bad, raw, (name, column, lines), problem)
