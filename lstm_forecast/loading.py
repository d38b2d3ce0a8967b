"""Read the price files people really have into clean per-series arrays, or say exactly why not.

One loader serves every command. It works on text: it sniffs compression, encoding and delimiter,
finds the date, target and series columns, infers the date format from the whole column (never
from the first row alone), cleans numbers written the way spreadsheets write them, and states
every repair it makes.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError

MAX_BYTES = 2 * 1024**3
MAX_FIELD = 10_000

DATE_NAMES = (
    "date",
    "datetime",
    "timestamp",
    "time",
    "day",
    "dates",
    "date_time",
    "trade_date",
    "tradedate",
    "trading_date",
    "period",
    "month",
    "week",
    "datum",
    "data",
    "fecha",
    "date/time",
    "dt",
    "ds",
    "fecha_hora",
    "zeit",
    "datum/zeit",
    "jour",
    "giorno",
    "tarih",
    "日付",
    "日期",
    "time_stamp",
    "observation_date",
    "ref_date",
    "asof",
    "as_of_date",
)
TIME_NAMES = ("time", "hour", "zeit", "hora", "heure", "ora", "uhrzeit")
SERIES_NAMES = (
    "ticker",
    "symbol",
    "series",
    "name",
    "code",
    "instrument",
    "asset",
    "security",
    "stock",
    "unique_id",
    "id",
    "isin",
    "ric",
    "sym",
)
ADJ_CLOSE_NAMES = (
    "adj close",
    "adj_close",
    "adjclose",
    "adjusted close",
    "adjusted_close",
    "adj. close",
    "adj close*",
    "adj. close**",
    "close adjusted",
)
CLOSE_NAMES = (
    "close",
    "close/last",
    "close*",
    "closing price",
    "close price",
    "price",
    "last",
    "last price",
    "schluss",
    "schlusskurs",
    "cierre",
    "último",
    "ultimo",
    "chiusura",
    "clôture",
    "cloture",
    "zamkniecie",
    "zamknięcie",
    "kapan\u0131\u015f",
    "value",
    "y",
)
MISSING = {
    "",
    ".",
    "null",
    "none",
    "nan",
    "n/a",
    "na",
    "#n/a",
    "-",
    "--",
    "nat",
    "#value!",
    "#div/0!",
    "nil",
    "?",
}
PRICE_LIKE = ("open", "high", "low", "close", "price", "last", "adj")


@dataclass
class Series:
    """One cleaned series: its timestamps (or row numbers), target values and covariates."""

    name: str
    index: np.ndarray  # datetime64[ns] for dated data, int64 row numbers for a plain sequence
    values: np.ndarray  # float64 target, no NaN
    features: np.ndarray  # (rows, n_features) float64, no NaN

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class Dataset:
    """What the loader found in one file, ready for windowing."""

    source: str
    target: str
    date_column: str | None
    feature_names: list[str]
    frequency: str | None  # pandas offset alias ("B", "D", "W-FRI", "MS", "h", "5min"); None: rows
    series: list[Series]
    details: dict = field(default_factory=dict)  # encoding, delimiter, date format, ...
    notes: list[str] = field(default_factory=list)  # repairs made (dropped duplicates, fills)
    warnings: list[str] = field(default_factory=list)

    @property
    def dated(self) -> bool:
        return self.date_column is not None

    def select(self, names: list[str]) -> Dataset:
        """The same dataset restricted to the named series (in the given order)."""
        by_name = {s.name: s for s in self.series}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(
                f"{self.source}: no series named {', '.join(missing)} "
                f"(the file has {', '.join(by_name)})"
            )
        return Dataset(
            self.source,
            self.target,
            self.date_column,
            self.feature_names,
            self.frequency,
            [by_name[n] for n in names],
            self.details,
            self.notes,
            self.warnings,
        )


@dataclass
class LoadOptions:
    """How to read a file; every field is a command-line option of the same name."""

    target: str | None = None
    date_col: str | None = None
    date_format: str | None = None
    dayfirst: bool | None = None
    series_col: str | None = None
    series: list[str] | None = None
    features: list[str] | None = None
    max_gap: int = 5
    min_rows: int = 2
    positive: bool = False  # the transform needs strictly positive values (log returns)


def load(path: str | Path, options: LoadOptions | None = None) -> Dataset:
    """Read `path` ("-" for stdin) into a Dataset, raising DataError with a precise reason."""
    opts = options or LoadOptions()
    name = str(path)
    raw = _read_bytes(name)
    raw, compression = _decompress(raw, name)
    text, encoding = _decode(raw, name)
    frame, delimiter = _parse_table(text, name)
    details = {"encoding": encoding, "delimiter": delimiter, "compression": compression}
    return _build(frame, name, opts, details)


# ---------------------------------------------------------------------------------------------
# bytes -> text -> table


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(MAX_BYTES + 1)
    p = Path(name)
    if p.is_dir():
        raise DataError(f"{name}: is a directory, not a data file")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except PermissionError:
        raise DataError(f"{name}: permission denied") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise DataError(f"{name}: larger than {MAX_BYTES // 1024**3} GiB")
    return data


def _decompress(raw: bytes, name: str) -> tuple[bytes, str | None]:
    try:
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw), "gzip"
        if raw[:3] == b"BZh":
            return bz2.decompress(raw), "bz2"
        if raw[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(raw), "xz"
        if raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise DataError(f"{name}: zip archive holds {len(members)} files, expected one")
                return zf.read(members[0]), "zip"
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as exc:
        raise DataError(f"{name}: damaged compressed file ({exc})") from None
    return raw, None


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise DataError(f"{name}: damaged UTF-16 text") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        text, encoding = raw[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    else:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "latin-1"
    if "\x00" in text:
        raise DataError(f"{name}: binary file (NUL bytes), not delimited text")
    if raw[:4] in (b"PAR1",):
        raise DataError(f"{name}: Parquet file; install the 'parquet' extra to read it")
    return text, encoding


def _parse_table(text: str, name: str) -> tuple[pd.DataFrame, str]:
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].lstrip()[:1] in "#%"):
        start += 1
    lines = lines[start:]
    if not lines:
        raise DataError(f"{name}: empty file")
    head = lines[0].lstrip()
    if head[:1] in "{[":
        raise DataError(f"{name}: looks like JSON, not a delimited table")
    if head.lower().startswith(("<!doctype", "<html", "<?xml", "<")):
        raise DataError(f"{name}: looks like an HTML/XML page, not a delimited table")
    delimiter = _sniff_delimiter(lines[:50])
    body = "\n".join(lines)
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            engine="c",
            on_bad_lines="error",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: malformed table ({_short(exc)})") from None
    except (ValueError, csv.Error) as exc:
        raise DataError(f"{name}: cannot parse as a table ({_short(exc)})") from None
    frame.columns = [str(c).strip().strip('"').strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"{name}: header only, no data rows")
    if any(len(c) > 200 for c in frame.columns):
        raise DataError(f"{name}: a header field is over 200 characters; not a data table")
    frame = frame.apply(lambda col: col.str.strip())
    return frame, delimiter


def _sniff_delimiter(lines: list[str]) -> str:
    best, best_score = ",", -1.0
    for cand in (",", ";", "\t", "|"):
        counts = [line.count(cand) for line in lines if line.strip()]
        if not counts or counts[0] == 0:
            continue
        same = sum(c == counts[0] for c in counts) / len(counts)
        score = same * 10 + min(counts[0], 9) / 10
        if score > best_score:
            best, best_score = cand, score
    return best


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1][:200]


# ---------------------------------------------------------------------------------------------
# table -> Dataset


def _build(frame: pd.DataFrame, name: str, opts: LoadOptions, details: dict) -> Dataset:
    notes: list[str] = []
    warnings: list[str] = []
    columns = list(frame.columns)
    date_col = _find_date_column(frame, name, opts.date_col)
    series_col = _find_series_column(frame, name, opts.series_col, date_col)
    numeric = _numeric_frame(
        frame,
        [c for c in columns if c not in (date_col, series_col)],
        delimiter=details["delimiter"],
    )
    if date_col is not None:
        index, fmt = _parse_dates(
            frame[date_col],
            name,
            date_col,
            opts,
            series=(frame[series_col] if series_col else None),
        )
        details["date_format"] = fmt
    else:
        index = None
    targets = _choose_targets(numeric, name, opts.target, series_col)
    if len(targets) > 1 and series_col:
        raise DataError(
            f"{name}: several target columns in a long file with series column "
            f"'{series_col}'; choose one with --target"
        )
    target_label = targets[0] if len(targets) == 1 else ",".join(targets)
    features = _resolve(opts.features or [], numeric.columns, name, "feature")
    if len(targets) == 1 and not series_col:
        notes.append(f"target column: {targets[0]}")

    raw_series: list[tuple[str, pd.DataFrame]] = []
    if series_col:
        keys = frame[series_col]
        if (keys == "").any():
            row = int(np.flatnonzero((keys == "").to_numpy())[0]) + 2
            raise DataError(f"{name}: row {row}: empty value in series column '{series_col}'")
        for key in pd.unique(keys):
            mask = (keys == key).to_numpy()
            part = pd.DataFrame({"value": numeric[targets[0]][mask]})
            for f in features:
                part[f] = numeric[f][mask]
            part.index = index[mask] if index is not None else np.arange(mask.sum())
            raw_series.append((str(key), part))
    else:
        for t in targets:
            part = pd.DataFrame({"value": numeric[t]})
            for f in features:
                part[f] = numeric[f]
            part.index = index if index is not None else np.arange(len(frame))
            raw_series.append((t, part))

    if opts.series:
        available = {k for k, _ in raw_series}
        missing = [s for s in opts.series if s not in available]
        if missing:
            raise DataError(
                f"{name}: no series {', '.join(missing)} in the file "
                f"(it has {', '.join(sorted(available))})"
            )
        order = {s: i for i, s in enumerate(opts.series)}
        raw_series = sorted([r for r in raw_series if r[0] in order], key=lambda r: order[r[0]])

    cleaned: list[Series] = []
    for key, part in raw_series:
        s = _clean_series(key, part, features, name, target_label, opts, date_col, notes)
        if s is None:
            continue
        if len(s) < opts.min_rows:
            msg = f"series '{key}' has {len(s)} rows, fewer than the {opts.min_rows} needed"
            if len(raw_series) == 1:
                raise DataError(f"{name}: {msg}")
            warnings.append(f"{msg}; skipped")
            continue
        cleaned.append(s)
    if not cleaned:
        raise DataError(f"{name}: no series has the {opts.min_rows} rows needed")
    frequency = _frequency(cleaned, warnings) if date_col else None
    ds = Dataset(
        name, target_label, date_col, features, frequency, cleaned, details, notes, warnings
    )
    if series_col:
        details["series_column"] = series_col
    return ds


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", label.strip().lower())


def _resolve(wanted: list[str], columns, name: str, what: str) -> list[str]:
    by_norm = {_norm(c): c for c in columns}
    out = []
    for w in wanted:
        if _norm(w) not in by_norm:
            raise DataError(
                f"{name}: no numeric {what} column '{w}' (numeric columns: {', '.join(columns)})"
            )
        out.append(by_norm[_norm(w)])
    return out


def _find_date_column(frame: pd.DataFrame, name: str, given: str | None) -> str | None:
    if given:
        matches = [c for c in frame.columns if _norm(c) == _norm(given)]
        if not matches:
            raise DataError(f"{name}: no column '{given}' (columns: {', '.join(frame.columns)})")
        return matches[0]
    for cand in DATE_NAMES:
        for c in frame.columns:
            if _norm(c) == cand:
                return c
    # By content: a column whose every non-empty value looks like a calendar date.
    for c in frame.columns:
        sample = frame[c].head(50)
        if (
            sample.str.contains(r"[-/.:]|[A-Za-z]{3}", regex=True).all()
            and pd.to_datetime(sample, errors="coerce", format="mixed").notna().all()
            and not pd.to_numeric(sample, errors="coerce").notna().all()
        ):
            return c
    return None


def _find_series_column(
    frame: pd.DataFrame, name: str, given: str | None, date_col: str | None
) -> str | None:
    if given:
        matches = [c for c in frame.columns if _norm(c) == _norm(given)]
        if not matches:
            raise DataError(
                f"{name}: no series column '{given}' (columns: {', '.join(frame.columns)})"
            )
        return matches[0]
    for c in frame.columns:
        if c != date_col and _norm(c) in SERIES_NAMES:
            col = frame[c]
            if pd.to_numeric(col, errors="coerce").notna().mean() < 0.5 or col.nunique() < len(col):
                return c
    return None


_NUM_CLEAN = re.compile(r"[\s$€£¥₹%'\u00a0\u202f]|^\+")
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def _numeric_frame(frame: pd.DataFrame, columns: list[str], delimiter: str) -> pd.DataFrame:
    """Parse every column that reads as numbers; text columns are left out."""
    out = {}
    for c in columns:
        parsed = _to_number(frame[c], decimal_comma=delimiter == ";")
        present = ~frame[c].str.lower().isin(MISSING)
        if present.sum() == 0 or parsed[present].notna().mean() < 0.9:
            continue
        out[c] = parsed
    return pd.DataFrame(out, index=frame.index)


def _to_number(col: pd.Series, decimal_comma: bool) -> pd.Series:
    s = col.str.lower()
    s = s.where(~s.isin(MISSING), None)
    s = s.str.replace(_NUM_CLEAN, "", regex=True)
    if decimal_comma:
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.str.replace(",", "", regex=False)
    neg = s.str.match(r"^\(.*\)$", na=False)
    s = s.str.strip("()")
    mult = pd.Series(1.0, index=col.index)
    suffix = s.str[-1:]
    has = suffix.isin(list(_SUFFIX)) & s.str[:-1].str.match(r"^-?[\d.]+$", na=False)
    mult[has] = suffix[has].map(_SUFFIX)
    s = s.where(~has, s.str[:-1])
    num = pd.to_numeric(s, errors="coerce") * mult
    return num.where(~neg, -num)


def _choose_targets(
    numeric: pd.DataFrame, name: str, target: str | None, series_col: str | None
) -> list[str]:
    cols = list(numeric.columns)
    if not cols:
        raise DataError(f"{name}: no numeric column to forecast")
    if target:
        if target.strip().lower() == "all":
            return cols
        return _resolve([t for t in target.split(",") if t.strip()], cols, name, "target")
    norm = {_norm(c): c for c in cols}
    for group in (ADJ_CLOSE_NAMES, CLOSE_NAMES):
        for cand in group:
            if cand in norm:
                return [norm[cand]]
    if len(cols) == 1:
        return cols
    if series_col:
        raise DataError(
            f"{name}: several numeric columns ({', '.join(cols)}) and none is a "
            f"close; choose one with --target"
        )
    return cols  # wide layout: one price column per series


# ---------------------------------------------------------------------------------------------
# dates

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _parse_dates(
    col: pd.Series, name: str, column: str, opts: LoadOptions, series: pd.Series | None
) -> tuple[np.ndarray, str]:
    values = col
    blank = values.str.lower().isin(MISSING)
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0]) + 2
        raise DataError(f"{name}: row {row}: missing date in column '{column}'")
    if opts.date_format:
        parsed = pd.to_datetime(values, format=opts.date_format, errors="coerce")
        _fail_unparsed(parsed, values, name, column, f"--date-format {opts.date_format}")
        return _naive(parsed), opts.date_format
    if values.str.fullmatch(r"\d{9,10}(\.\d+)?").all():
        parsed = pd.to_datetime(pd.to_numeric(values), unit="s", utc=True)
        return _naive(parsed), "epoch seconds"
    if values.str.match(_ISO).all():
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
        _fail_unparsed(parsed, values, name, column, "ISO 8601")
        return _naive(parsed), "ISO 8601"
    candidates = _candidate_formats(values.iloc[0], opts.dayfirst)
    valid: list[tuple[str, pd.Series]] = []
    for fmt in candidates:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
        if parsed.notna().all():
            valid.append((fmt, parsed))
    if len(valid) > 1:
        ordered = [(f, p) for f, p in valid if _ordered(p, series)]
        valid = ordered or valid
        distinct = {tuple(p.to_numpy()) for _, p in valid} if len(valid) > 1 else set()
        if len(distinct) > 1:
            shown = " or ".join(f for f, _ in valid[:2])
            raise DataError(
                f"{name}: dates in column '{column}' read validly as {shown}; "
                f"say which with --dayfirst, --monthfirst or --date-format"
            )
    if valid:
        return _naive(valid[0][1]), valid[0][0]
    parsed = pd.to_datetime(values, format="mixed", errors="coerce", dayfirst=bool(opts.dayfirst))
    if values.str.contains(r"[A-Za-z]{3}").all() and parsed.notna().all():
        return _naive(parsed), "month names"
    _fail_unparsed(parsed, values, name, column, "any known date format")
    raise AssertionError("unreachable")


def _candidate_formats(example: str, dayfirst: bool | None) -> list[str]:
    """Explicit formats that could read values shaped like `example` (separators, field widths)."""
    m = re.match(r"^(\d{1,4})([-/. ])(\d{1,2}|[A-Za-z]{3,9})\2(\d{2,4})(.*)$", example)
    out: list[str] = []
    if not m:
        m2 = re.match(r"^([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})$", example)
        if m2:
            return ["%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y", "%b. %d, %Y"]
        return out
    a, sep, b, c, rest = m.groups()
    time = ""
    if rest.strip():
        time = " %H:%M:%S" if rest.count(":") == 2 else " %H:%M"
    if b.isalpha():
        month = "%b" if len(b) == 3 else "%B"
        year = "%Y" if len(c) == 4 else "%y"
        return [f"%d{sep}{month}{sep}{year}{time}"]
    if len(a) == 4:
        return [f"%Y{sep}%m{sep}%d{time}", f"%Y{sep}%d{sep}%m{time}"]
    year = "%Y" if len(c) == 4 else "%y"
    dm = [f"%d{sep}%m{sep}{year}{time}", f"%m{sep}%d{sep}{year}{time}"]
    if dayfirst is True:
        return dm[:1]
    if dayfirst is False:
        return dm[1:]
    if len(c) == 2:
        dm.append(f"%y{sep}%m{sep}%d{time}")
    return dm


def _ordered(parsed: pd.Series, series: pd.Series | None) -> bool:
    """Whether timestamps run one way (either way) inside every series."""
    groups = [parsed] if series is None else [g for _, g in parsed.groupby(series.to_numpy())]
    for g in groups:
        d = np.diff(g.to_numpy().astype("int64"))
        if not ((d >= 0).all() or (d <= 0).all()):
            return False
    return True


def _fail_unparsed(parsed: pd.Series, values: pd.Series, name: str, column: str, how: str) -> None:
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: row {i + 2}: cannot read '{values.iloc[i][:40]}' in column "
            f"'{column}' as a date ({how})"
        )


def _naive(parsed: pd.Series) -> np.ndarray:
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


# ---------------------------------------------------------------------------------------------
# cleaning


def _clean_series(
    key: str,
    part: pd.DataFrame,
    features: list[str],
    name: str,
    target: str,
    opts: LoadOptions,
    date_col: str | None,
    notes: list[str],
) -> Series | None:
    if date_col is not None:
        if not part.index.is_monotonic_increasing:
            part = part.sort_index(kind="stable")
        dup = part.index.duplicated(keep=False)
        if dup.any():
            exact = part.reset_index().duplicated(keep="first").to_numpy()
            if exact.any():
                notes.append(f"series '{key}': dropped {int(exact.sum())} exact duplicate rows")
                part = part[~exact]
            conflicted = part.index[part.index.duplicated()]
            if len(conflicted):
                shown = ", ".join(str(t)[:19] for t in conflicted[:3])
                raise DataError(
                    f"{name}: series '{key}': conflicting rows for the same timestamp ({shown})"
                )
    values = part["value"].to_numpy(dtype="float64")
    present = ~np.isnan(values)
    if not present.any():
        raise DataError(f"{name}: series '{key}': no numeric values in target '{target}'")
    first = int(np.argmax(present))
    part = part.iloc[first:]
    values = part["value"].to_numpy(dtype="float64")
    nan = np.isnan(values)
    if nan.any():
        runs = _nan_runs(nan)
        longest = max(runs, key=lambda r: r[1] - r[0])
        if longest[1] - longest[0] > opts.max_gap:
            where = _describe(part.index[longest[0]], date_col)
            end = _describe(part.index[longest[1] - 1], date_col)
            raise DataError(
                f"{name}: series '{key}': {longest[1] - longest[0]} missing values "
                f"in a row ({where} to {end}), more than --max-gap {opts.max_gap}"
            )
        notes.append(f"series '{key}': forward-filled {int(nan.sum())} missing values")
        part = part.ffill()
        values = part["value"].to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | (np.abs(values) > 1e30)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: series '{key}': value {values[i]} at "
            f"{_describe(part.index[i], date_col)} is not a usable number"
        )
    if opts.positive and (values <= 0).any():
        i = int(np.flatnonzero(values <= 0)[0])
        raise DataError(
            f"{name}: series '{key}': value {values[i]:g} at "
            f"{_describe(part.index[i], date_col)} is not positive, which a "
            f"log-return transform needs (use --transform diff)"
        )
    feats = part[features].to_numpy(dtype="float64") if features else np.zeros((len(part), 0))
    if features and np.isnan(feats).any():
        feats = pd.DataFrame(feats).ffill().bfill().to_numpy()
    if date_col is not None:
        index = part.index.to_numpy(dtype="datetime64[ns]")
    else:
        index = np.asarray(part.index, dtype="int64")
    return Series(key, index, values, feats)


def _nan_runs(nan: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], nan.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _describe(ts, date_col: str | None) -> str:
    if date_col is None:
        return f"row {int(ts)}"
    return str(pd.Timestamp(ts))[:19].replace(" 00:00:00", "")


def _frequency(series: list[Series], warnings: list[str]) -> str | None:
    longest = max(series, key=len)
    idx = pd.DatetimeIndex(longest.index)
    if len(idx) < 3:
        return None
    inferred = pd.infer_freq(idx[-min(len(idx), 200) :]) if len(idx) >= 3 else None
    step = pd.Series(idx).diff().dropna().median()
    day = pd.Timedelta(days=1)
    if step < day:
        minutes = max(1, round(step / pd.Timedelta(minutes=1)))
        return "h" if minutes % 60 == 0 and minutes == 60 else f"{minutes}min"
    if step <= 3 * day:
        weekend = np.isin(idx.dayofweek, [5, 6]).mean()
        return "B" if weekend < 0.01 else "D"
    if step <= 8 * day:
        dow = int(pd.Series(idx.dayofweek).mode().iloc[0])
        return "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[dow]
    if step <= 32 * day:
        if (idx.is_month_start).mean() > 0.9:
            return "MS"
        if (idx.is_month_end).mean() > 0.9:
            return "ME"
        return inferred or "MS"
    if step <= 93 * day:
        return "QS" if idx.is_quarter_start.mean() > 0.9 else "QE"
    return "YS" if idx.is_year_start.mean() > 0.9 else "YE"
