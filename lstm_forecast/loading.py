"""Read the price files people really have into clean per-series arrays, or say exactly why not.

One loader serves every command. Bytes (a file or stdin; gzip, bz2, xz or zip found by their
magic bytes; Parquet when pyarrow is installed) become UTF-8 text (BOM, UTF-16, cp1252/latin-1
fallback), then a table of strings (delimiter sniffed, comment and blank lines skipped). The
date, time, series and target columns are found by name or content, dates and numbers are read
from whole columns (never from the first row alone), and every series is cleaned with each
repair stated in `notes` or `warnings`.

Every failure is a DataError with a one-line message naming the file, the problem and, where it
applies, the line (counted in the file, header included) and the column.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import stat
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError

MAX_BYTES = 256 * 1024**2  # largest file (after decompression) read; bounds memory
HEAD_BYTES = 64 * 1024  # how much text the delimiter and header are sniffed from
MAX_HEADER = 200  # longest column name accepted
FLOAT32_MAX = float(np.finfo(np.float32).max)
STDIN = "<stdin>"
DELIMITERS = (",", ";", "\t", "|")
NO_DELIMITER = "\x1f"  # a separator that never occurs: a one-column file
COMPRESSIONS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
)
FOREIGN = (
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook or other OLE document; save it as CSV"),
    (b"%PDF", "a PDF document, not a data table"),
)


def _key(label: str) -> str:
    """A column name compared ignoring case, spaces and underscores."""
    return re.sub(r"[\s_]+", "", str(label).lower())


def _keys(*names: str) -> tuple[str, ...]:
    """Normalised keys for a list of column names."""
    return tuple(_key(n) for n in names)


DATE_KEYS = _keys(
    "date", "datetime", "timestamp", "time", "day", "dates", "date_time", "trade_date",
    "trading_date", "period", "month", "week", "datum", "data", "fecha", "date/time", "dt",
    "ds", "fecha_hora", "zeit", "datum/zeit", "jour", "giorno", "tarih", "日付", "日期",
    "time_stamp", "observation_date", "ref_date", "asof", "as_of_date", "unix", "epoch", "ts",
    "year",
)  # fmt: skip
TIME_KEYS = _keys("time", "hour", "zeit", "hora", "heure", "ora", "uhrzeit", "time of day")
SERIES_KEYS = _keys(
    "ticker", "symbol", "series", "name", "code", "instrument", "asset", "security", "stock",
    "unique_id", "id", "isin", "ric", "sym", "series_id", "company",
)  # fmt: skip
ADJ_CLOSE_KEYS = _keys(
    "adj close", "adjusted close", "adj. close", "adj close*", "adj. close**", "close adjusted",
    "adjusted closing price", "adj closing price", "adjclose",
)  # fmt: skip
CLOSE_KEYS = _keys(
    "close", "close/last", "close*", "closing price", "close price", "price", "last",
    "last price", "schluss", "schlusskurs", "cierre", "último", "ultimo", "chiusura", "clôture",
    "cloture", "zamkniecie", "zamknięcie", "kapan\u0131\u015f", "fechamento", "settle",
    "value", "y",
)  # fmt: skip
VOLUME_KEYS = _keys("volume", "vol", "vol.", "volumen")
MISSING = {
    "", ".", "null", "none", "nan", "n/a", "na", "#n/a", "-", "--", "nat", "#value!",
    "#div/0!", "#num!", "#ref!", "nil", "?",
}  # fmt: skip


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
    name = STDIN if str(path) == "-" else str(path)
    try:
        raw, compression = _decompress(_read_bytes(str(path), name), name)
        table = _read_parquet(raw, name) if raw[:4] == b"PAR1" else _read_text(raw, name)
        table.details = {"compression": compression, **table.details}
        return _build(table, name, opts)
    except DataError as exc:  # names and values quoted from the file stay on one line
        raise DataError(re.sub(r"[\x00-\x1f\x7f]+", " ", str(exc))) from None


@dataclass
class _Table:
    """A file as strings: one row per data line, with the line each came from."""

    frame: pd.DataFrame
    lines: np.ndarray  # the file's line number (header = line 1 after skipped lines) per row
    details: dict
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# bytes


def _read_bytes(path: str, name: str) -> bytes:
    """The file's bytes (stdin for '-'), refusing directories, devices and huge files."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        try:
            mode = Path(path).stat()
            if stat.S_ISDIR(mode.st_mode):
                raise DataError(f"{name}: is a directory, not a data file")
            if not (stat.S_ISREG(mode.st_mode) or stat.S_ISFIFO(mode.st_mode)):
                raise DataError(f"{name}: is a device or socket, not a data file")
            if mode.st_size > MAX_BYTES:
                raise DataError(f"{name}: {_size(mode.st_size)}, over the {_size(MAX_BYTES)} limit")
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise DataError(f"{name}: no such file") from None
        except PermissionError:
            raise DataError(f"{name}: permission denied") from None
        except OSError as exc:
            raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise DataError(f"{name}: over the {_size(MAX_BYTES)} limit")
    return data


def _size(n: int) -> str:
    """Bytes as MiB for messages."""
    return f"{n / 1024**2:.0f} MiB"


def _decompress(raw: bytes, name: str) -> tuple[bytes, str | None]:
    """Undo gzip, bz2, xz or zip (found by magic bytes), never beyond MAX_BYTES."""
    kind = next((k for magic, k in COMPRESSIONS if raw.startswith(magic)), None)
    if kind is None:
        return raw, None
    try:
        with _open_compressed(kind, raw, name) as fh:
            data = fh.read(MAX_BYTES + 1)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error, ValueError) as exc:
        raise DataError(f"{name}: damaged {kind} file ({_short(exc)})") from None
    if len(data) > MAX_BYTES:
        raise DataError(f"{name}: over the {_size(MAX_BYTES)} limit once decompressed")
    return data, kind


def _open_compressed(kind: str, raw: bytes, name: str) -> IO[bytes]:
    """A reader for the one data file inside a compressed container."""
    buf = io.BytesIO(raw)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=buf)
    if kind == "bz2":
        return bz2.BZ2File(buf)
    if kind == "xz":
        return lzma.LZMAFile(buf)
    archive = zipfile.ZipFile(buf)
    members = [m for m in archive.infolist() if not m.is_dir()]
    if any(m.filename.startswith("xl/") for m in members):
        raise DataError(f"{name}: an Excel workbook (.xlsx); save the sheet as CSV")
    if len(members) != 1:
        raise DataError(f"{name}: zip archive holds {len(members)} files, expected one")
    return archive.open(members[0])


def _read_parquet(raw: bytes, name: str) -> _Table:
    """A Parquet file as strings, like a CSV (needs the optional pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{name}: a Parquet file; reading it needs pyarrow "
            f"(pip install 'lstm-forecast[parquet]', the 'parquet' extra)"
        ) from None
    try:
        frame = pq.read_table(io.BytesIO(raw)).to_pandas()
    except Exception as exc:  # pyarrow raises its own ArrowException family
        raise DataError(f"{name}: damaged Parquet file ({_short(exc)})") from None
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.astype(str).fillna("").reset_index(drop=True)
    return _Table(frame, np.arange(len(frame)) + 2, {"format": "parquet"})


# ---------------------------------------------------------------------------------------------
# text -> table


def _read_text(raw: bytes, name: str) -> _Table:
    """Delimited text as a table of strings, with line numbers and reading details."""
    for magic, what in FOREIGN:
        if raw.startswith(magic):
            raise DataError(f"{name}: {what}")
    data, encoding = _to_utf8(raw, name)
    _check_text(data, name)
    if b"\n" not in data[:HEAD_BYTES] and b"\r" in data[:HEAD_BYTES]:
        data = data.replace(b"\r", b"\n")  # old Mac line endings
    start, skipped, delimiter = _find_header(data, name)
    lines = _head_lines(data, start)
    title = 0
    if delimiter is None:
        delimiter, title = _sniff_delimiter(lines)
    _reject_non_table(lines[0], name, skipped + 1, delimiter)
    notes = []
    if title:
        start, skipped = _skip_lines(data, start, skipped, title)
        notes.append(f"skipped {_count(title, 'title line')} above the header (line {skipped + 1})")
    frame = _read_csv(data, start, delimiter, name, skipped)
    has_header = not _looks_like_data(list(frame.iloc[0]))
    table = _Table(
        frame,
        np.arange(len(frame)) + skipped + 1,
        {"format": "csv", "encoding": encoding, "delimiter": delimiter},
        notes,
    )
    if delimiter:
        _short_rows(table, data, start, delimiter)
    padded = re.search(rb" (?:\r|\n|$)", data) or (
        f" {delimiter}".encode() in data if delimiter else False
    )
    _take_header(table, name, has_header, bool(padded))
    _tidy(table, name)
    return table


def _to_utf8(raw: bytes, name: str) -> tuple[bytes, str]:
    """The text as UTF-8 bytes and the encoding it was read in."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :], "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: damaged UTF-16 text at byte {exc.start}") from None
    if _is_utf8(raw):
        return raw, "utf-8"
    try:
        return raw.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1").encode("utf-8"), "latin-1"


def _is_utf8(raw: bytes, chunk: int = 1 << 20) -> bool:
    """Whether the bytes are valid UTF-8 (checked in chunks, without a full copy)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for i in range(0, len(raw), chunk):
            decoder.decode(raw[i : i + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13))


def _check_text(data: bytes, name: str) -> None:
    """Refuse binary data: NUL bytes or many control characters."""
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = ""
        head = data[:400]
        if max(head[::2].count(0), head[1::2].count(0)) > 0.4 * len(head):
            hint = "; UTF-16 without a byte-order mark? Save it as UTF-8"
        line = data.count(b"\n", 0, nul) + 1
        raise DataError(f"{name}: line {line}: NUL byte, a binary file, not delimited text{hint}")
    head = data[:HEAD_BYTES]
    controls = len(head) - len(head.translate(None, _CONTROL))
    if controls > max(8, len(head) // 100):
        raise DataError(f"{name}: binary file ({controls} control bytes), not delimited text")


_SEP_LINE = re.compile(rb'"?sep=(.)"?[,;\t|]*')


def _find_header(data: bytes, name: str) -> tuple[int, int, str | None]:
    """Byte offset and number of lines before the header, skipping blank and comment lines."""
    pos, skipped, delimiter = 0, 0, None
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].strip()
        sep = _SEP_LINE.fullmatch(line)
        if sep:  # Excel's "sep=;" hint
            delimiter = sep.group(1).decode("latin-1")
        elif line and not line.startswith((b"#", b"%", b"//")):
            return pos, skipped, delimiter
        pos, skipped = end + 1, skipped + 1
    raise DataError(f"{name}: empty file" if not data.strip() else f"{name}: only comment lines")


_MARKUP = re.compile(r"<(!doctype|html|\?xml|head|body|!--|rss|feed|error)\b", re.IGNORECASE)


def _reject_non_table(first: str, name: str, line: int, delimiter: str | None) -> None:
    """Refuse JSON and HTML/XML pages saved under a table's name."""
    head = first.lstrip()
    if head[:1] in ("{", "["):
        raise DataError(f"{name}: line {line}: looks like JSON, not a delimited table")
    if _MARKUP.match(head) or (head.startswith("<") and delimiter is None):
        raise DataError(f"{name}: line {line}: looks like an HTML/XML page, not a delimited table")


def _head_lines(data: bytes, start: int) -> list[str]:
    """Up to 50 non-blank lines from `start`, for sniffing."""
    lines = data[start : start + HEAD_BYTES].decode("utf-8", "replace").splitlines()
    if len(data) - start > HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [line for line in lines[:200] if line.strip()][:50]


def _sniff_delimiter(lines: list[str]) -> tuple[str | None, int]:
    """The delimiter splitting the header into most columns that the other lines agree with.

    Also how many title lines without any delimiter stand above a header of 3 or more columns.
    """
    best, best_score, title = None, (0.0, 0, 0), 0
    for cand in DELIMITERS:
        widths = [len(row) for row in csv.reader(lines, delimiter=cand)]
        first = next((i for i, w in enumerate(widths) if w > 1), None)
        if first is None or (first and widths[first] < 3):
            continue
        width = widths[first]
        agree = sum(w == width for w in widths[first:]) / len(widths[first:])
        score = (agree, -first, width)  # at equal agreement, a reading that skips no line
        if score > best_score:
            best, best_score, title = cand, score, first
    return best, title


def _skip_lines(data: bytes, pos: int, skipped: int, count: int) -> tuple[int, int]:
    """Move past `count` non-blank lines and the blank lines around them."""
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        blank = not data[pos:end].strip()
        if not (count or blank):
            break
        count -= not blank
        pos, skipped = end + 1, skipped + 1
    return pos, skipped


def _read_csv(data: bytes, start: int, delimiter: str | None, name: str, skipped: int):
    """Parse every line into string cells; the first row is the header (or data)."""
    buf = io.BytesIO(data)
    buf.seek(start)
    try:
        return pd.read_csv(
            buf,
            sep=delimiter or NO_DELIMITER,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            index_col=False,
            encoding="utf-8",
            encoding_errors="replace",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: {_parser_problem(str(exc), skipped)}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: empty file") from None
    except (ValueError, OverflowError, csv.Error) as exc:
        raise DataError(f"{name}: cannot parse as a table ({_short(exc)})") from None


def _parser_problem(message: str, skipped: int) -> str:
    """pandas' parser error as a message naming the file's line."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        want, line, saw = (int(g) for g in fields.groups())
        return f"line {line + skipped}: {saw} fields where the header has {want}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return f"line {int(quote.group(1)) + 1 + skipped}: a quote is never closed"
    return f"malformed table ({_short(Exception(message))})"


_NUMBER_SHAPE = re.compile(r"[-+(]?[$€£¥]?\d[\d.,' ]*[%)kmbKMB]?")
_DATE_START = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _looks_like_data(fields: list[str]) -> bool:
    """Whether a first line holds values (every field a number or date) rather than names."""
    fields = [f.strip() for f in fields]
    return all(f and (_NUMBER_SHAPE.fullmatch(f) or _DATE_START.match(f)) for f in fields)


def _short_rows(table: _Table, data: bytes, start: int, delimiter: str) -> None:
    """Report rows with fewer fields than the header; drop a cut-off last line.

    Only for unquoted files, where a line is a row and counting delimiters counts fields.
    """
    width = table.frame.shape[1]
    if width < 2 or data.find(b'"', start) >= 0:
        return
    text = np.frombuffer(data, np.uint8, offset=start)
    newlines = np.flatnonzero(text == 10)
    per_line = np.bincount(
        np.searchsorted(newlines, np.flatnonzero(text == ord(delimiter))),
        minlength=len(newlines) + 1,
    )
    ends = np.append(newlines, len(text))
    lengths = np.diff(np.concatenate([[-1], ends])) - 1
    short = np.flatnonzero((per_line < width - 1) & (lengths > 1))
    short = short[short < len(table.frame)]
    if not len(short):
        return
    last = len(table.frame) - 1
    if short[-1] == last and not data.endswith(b"\n"):
        table.warnings.append(
            f"line {table.lines[last]}: cut short ({per_line[last] + 1} of {width} fields, "
            f"no final newline); ignored"
        )
        table.frame, table.lines = table.frame.iloc[:-1], table.lines[:-1]
        short = short[:-1]
    if len(short):
        shown = ", ".join(str(table.lines[i]) for i in short[:5])
        table.warnings.append(
            f"{_count(len(short), 'line')} with fewer fields than the header (line {shown}); "
            f"their missing fields read as empty"
        )


def _take_header(table: _Table, name: str, has_header: bool, padded: bool) -> None:
    """Name the columns from the header line (or 'column N' without one)."""
    frame = table.frame.fillna("")
    if has_header:
        names = [_clean_header(c, i) for i, c in enumerate(frame.iloc[0])]
        if any(len(n) > MAX_HEADER for n in names):
            raise DataError(
                f"{name}: line {table.lines[0]}: a header field is over {MAX_HEADER} "
                f"characters; not a data table"
            )
        frame, table.lines = frame.iloc[1:], table.lines[1:]
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            seen[n] = seen.get(n, 0) + 1
            if seen[n] > 1:
                names[i] = f"{n}.{seen[n] - 1}"
    else:
        names = [f"column {i + 1}" for i in range(frame.shape[1])]
        table.notes.append(f"no header line; columns named {names[0]} .. {names[-1]}")
    frame.columns = names
    table.frame = frame.reset_index(drop=True)
    if padded:
        table.frame = table.frame.apply(lambda col: col.str.strip())
    if table.frame.empty:
        raise DataError(f"{name}: header only, no data rows")


def _clean_header(label: str, i: int) -> str:
    """A header cell without padding, quotes, BOM or MetaTrader's angle brackets."""
    label = str(label).strip().strip('"').strip().lstrip("\ufeff")
    if re.fullmatch(r"<[^<>]+>", label):  # MetaTrader's <DATE>, <CLOSE>
        label = label[1:-1]
    return label or f"column {i + 1}"


def _tidy(table: _Table, name: str) -> None:
    """Drop blank lines, repeated header lines, empty unnamed columns and a saved row index."""
    frame = table.frame
    keep = ~(frame == "").all(axis=1).to_numpy()
    repeated = (frame == pd.Series(frame.columns, index=frame.columns)).all(axis=1).to_numpy()
    if repeated.any():
        table.notes.append(f"dropped {_count(int(repeated.sum()), 'repeated header line')}")
    keep &= ~repeated
    frame, table.lines = frame[keep].reset_index(drop=True), table.lines[keep]
    if frame.empty:
        raise DataError(f"{name}: header only, no data rows")
    for c in list(frame.columns):
        if not re.fullmatch(r"column \d+", c) or frame.shape[1] == 1:
            continue
        if (frame[c] == "").all():
            frame = frame.drop(columns=c)
        elif frame[c].str.fullmatch(r"\d{1,9}").all() and _is_counter(frame[c]):
            frame = frame.drop(columns=c)
            table.notes.append(f"dropped unnamed row-number column ({c})")
    table.frame = frame


def _is_counter(col: pd.Series) -> bool:
    """Whether a column counts rows 0.. or 1.. (a saved index)."""
    d = np.diff(col.astype("int64").to_numpy())
    return bool(len(d)) and bool((d == 1).all()) and int(col.iloc[0]) in (0, 1)


def _names(items, limit: int = 10) -> str:
    """A comma-separated list, cut after `limit` items."""
    items = [str(i) for i in items]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _count(n: int, thing: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _short(exc: Exception) -> str:
    """An exception's text, one line, at most 200 characters."""
    text = " ".join(str(exc).split())
    return text[:200]


# ---------------------------------------------------------------------------------------------
# table -> Dataset


def _build(table: _Table, name: str, opts: LoadOptions) -> Dataset:
    """The Dataset for a table: columns found, dates parsed, series split and cleaned."""
    roles = _find_roles(table, name, opts)
    index, date_label = _timestamps(table, roles, name, opts)
    helpers = _helper_columns(roles.numeric, roles.targets)
    raw_series = _split_series(table.frame, roles, helpers, index, table.lines, name)
    raw_series = _select_series(raw_series, opts.series, name)
    report = _Report(name, table.notes, table.warnings, {})
    cleaned = _clean_all(raw_series, roles, helpers, opts, report)
    _report_order(report)
    frequency = _frequency(max(cleaned, key=len).index) if roles.date else None
    for s in cleaned:
        _gaps(s, frequency, report)
    for info in report.per_series.values():
        del info["who"]
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
    )


@dataclass
class _Roles:
    """Which column plays which part, and the numeric columns parsed."""

    date: str | None
    kind: str  # what the date column holds: 'dates' or 'epoch'
    time: str | None
    series: str | None
    numeric: pd.DataFrame
    targets: list[str]
    features: list[str]


def _find_roles(table: _Table, name: str, opts: LoadOptions) -> _Roles:
    """Find the date, time, series, target and feature columns and parse the numbers."""
    frame, details = table.frame, table.details
    date_col, kind = _find_date_column(frame, name, opts.date_col)
    used = {date_col}
    if kind == "steps":
        table.notes.append(f"column '{date_col}' numbers the rows; read as a plain sequence")
        date_col = None
    time_col = _find_time_column(frame, date_col) if date_col else None
    used.add(time_col)
    series_col = _find_series_column(frame, name, opts.series_col, used)
    used.add(series_col)
    candidates = [c for c in frame.columns if c not in used]
    decimal = _decimal_mark(frame, candidates, details.get("delimiter"))
    if decimal == ",":
        details["decimal"] = ","
    numeric = _numeric_frame(frame, candidates, decimal)
    targets = _choose_targets(
        frame, numeric, name, opts.target, (candidates, series_col), table.notes
    )
    features = _columns(opts.features or [], list(numeric.columns), name, "feature", frame)
    for c in dict.fromkeys(targets + features):
        _strict_numbers(frame[c], numeric[c], c, table.lines, name)
    if series_col:
        details["series_column"] = series_col
    details["layout"] = "long" if series_col else "wide" if len(targets) > 1 else "single"
    return _Roles(date_col, kind, time_col, series_col, numeric, targets, features)


def _timestamps(
    table: _Table, roles: _Roles, name: str, opts: LoadOptions
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
    index, fmt, tz_note = _parse_dates(stamps, label, roles.kind, opts, groups, name, table.lines)
    details["date_format"] = fmt
    if tz_note:
        table.notes.append(tz_note)
        details["timezone"] = tz_note
    return index, label


def _clean_all(
    raw_series: list[tuple[str, pd.DataFrame]],
    roles: _Roles,
    helpers: dict[str, str],
    opts: LoadOptions,
    report: _Report,
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
            else f"{who} has {_count(rows, 'usable row')}, fewer than the {opts.min_rows} needed"
        )
        if not several:
            raise DataError(f"{report.name}: {msg}")
        report.warnings.append(f"{msg}; skipped")
        report.per_series.pop(key, None)
        short.append(f"{key} {rows}")
    if not cleaned:
        raise DataError(
            f"{report.name}: no series has the {opts.min_rows} rows needed ({_names(short)})"
        )
    return cleaned


def _columns(
    wanted: list[str], columns: list[str], name: str, what: str, frame: pd.DataFrame
) -> list[str]:
    """Resolve user-given column names (case, spaces and underscores ignored)."""
    by_key = {_key(c): c for c in columns}
    out = []
    for w in wanted:
        if _key(w) in by_key:
            out.append(by_key[_key(w)])
            continue
        text = [c for c in frame.columns if _key(c) == _key(w)]
        if text:
            bad = frame[text[0]][~_missing(frame[text[0]])]
            example = f" ('{bad.iloc[0][:40]}')" if len(bad) else ""
            raise DataError(f"{name}: {what} column '{text[0]}' is not numeric{example}")
        raise DataError(
            f"{name}: no numeric {what} column '{w}' (numeric columns: {_names(columns)})"
        )
    return out


def _column(frame: pd.DataFrame, given: str, name: str, what: str) -> str:
    """Resolve a user-given column name among all columns."""
    matches = [c for c in frame.columns if _key(c) == _key(given)]
    if not matches:
        raise DataError(f"{name}: no {what} column '{given}' (columns: {_names(frame.columns)})")
    return matches[0]


def _find_date_column(frame: pd.DataFrame, name: str, given: str | None) -> tuple[str | None, str]:
    """The date column and what it holds: 'dates', 'epoch' or 'steps' (row numbers)."""
    if given:
        col = _column(frame, given, name, "date")
        kind = _date_kind(frame[col], named=True)
        return col, "dates" if kind in (None, "steps") else kind
    for key in DATE_KEYS:
        for c in frame.columns:
            if _key(c) == key:
                kind = _date_kind(frame[c], named=True)
                if kind:
                    return c, kind
    for c in frame.columns:
        if _date_kind(frame[c], named=False) == "dates":
            return c, "dates"
    return None, "none"


_DATE_SHAPE = re.compile(
    r"\d{4}-\d{1,2}(-\d{1,2})?([T ].*)?"  # ISO dates and timestamps, year-month
    r"|\d{1,4}[-/. ][^\W\d_]{3,9}\.?[-/. ]\d{2,4}(\s.*)?"  # 19-Sep-03, 01.Mär.2020
    r"|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([T\s].*)?"  # 03-01-00, 1/2/2020 9:30
    r"|([^\W\d_]+,?\s+)?[^\W\d_]{3,9}\.?\s+\d{1,2},?\s+\d{2,4}(\s.*)?"  # Jan 1 2000
    r"|\d{4}[-/.]\d{1,2}|\d{1,2}[-/.]\d{4}"  # 2020/01, 01/2020
)
_THOUSANDS = re.compile(r"-?\d{1,3}([.,' ]\d{3})+([.,]\d+)?")


def _date_kind(col: pd.Series, named: bool) -> str | None:
    """'dates', 'epoch' (Unix seconds or ms), 'steps' (small integers) or None (not dates)."""
    sample = col[~_missing(col)].head(50)
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
    return "dates" if _parse_mixed(sample, dayfirst=False).notna().all() else None


def _parse_mixed(values: pd.Series, dayfirst: bool) -> pd.Series:
    """Free-form dates (month names and the like); NaT where unreadable."""
    try:
        return pd.to_datetime(values, format="mixed", errors="coerce", dayfirst=dayfirst, utc=True)
    except (ValueError, OverflowError):  # mixed offsets, out-of-range years
        return pd.Series(pd.NaT, index=values.index)


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[AaPp][Mm])?")


def _find_time_column(frame: pd.DataFrame, date_col: str) -> str | None:
    """A separate time-of-day column to combine with a date-only column."""
    if frame[date_col].str.contains(":", regex=False).any():
        return None
    for c in frame.columns:
        if c != date_col and _key(c) in TIME_KEYS and frame[c].str.fullmatch(_TIME_OF_DAY).all():
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
        if c in used or _key(c) not in SERIES_KEYS:
            continue
        col = frame[c]
        numbers = pd.to_numeric(col, errors="coerce").notna().mean()
        if numbers < 0.5 or col.nunique() < len(col):
            return c
    return None


# ---------------------------------------------------------------------------------------------
# numbers

_NUM_JUNK = re.compile(r"[\s$€£¥₹%'\u00a0\u2009\u202f]|^\+")
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def _decimal_mark(frame: pd.DataFrame, columns: list[str], delimiter: str | None) -> str:
    """'.' or ',' for the whole file, from the numbers written with separators."""
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


def _to_number(col: pd.Series, decimal: str) -> pd.Series:
    """Numbers as spreadsheets write them: 1,234.5 / 1.234,5 / $12 / 5% / (3) / 70.89M."""
    if decimal == ".":  # plain numbers need no cleaning
        plain = pd.to_numeric(col, errors="coerce").astype("float64")
        if _missing(col[plain.isna()]).all():
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


def _numeric_frame(frame: pd.DataFrame, columns: list[str], decimal: str) -> pd.DataFrame:
    """Every column that reads as numbers (at least 90% of its values); all-empty ones too."""
    out = {}
    for c in columns:
        parsed = _to_number(frame[c], decimal)
        failed = (~_missing(frame[c][parsed.isna()])).sum()
        present = parsed.notna().sum() + failed
        if present == 0 or failed <= 0.1 * present:
            out[c] = parsed
    return pd.DataFrame(out, index=frame.index)


def _missing(col: pd.Series) -> pd.Series:
    """Which cells are empty or a missing-value marker (NaN, N/A, #N/A, null, -, ...)."""
    return col.str.lower().isin(MISSING)


def _strict_numbers(raw: pd.Series, parsed: pd.Series, column: str, lines, name: str) -> None:
    """Every present value of a used column must read as a number."""
    bad = parsed.isna().to_numpy(copy=True)
    bad[bad] = ~_missing(raw[bad]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: line {lines[i]}: cannot read '{raw.iloc[i][:40]}' in column "
            f"'{column}' as a number"
        )


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
        if series_col and len(wanted) == 1 and wanted[0] in set(frame[series_col]):
            raise DataError(
                f"{name}: '{wanted[0]}' is a series in column '{series_col}', not a column; "
                f"pick it with --series"
            )
        chosen = _columns(wanted, cols, name, "target", frame)
    else:
        chosen, why = _default_target(cols, candidates, series_col, name, frame)
    if not chosen:
        raise DataError(f"{name}: no numeric column to forecast (columns: {_names(frame.columns)})")
    if len(chosen) > 1 and series_col:
        raise DataError(
            f"{name}: several target columns ({_names(chosen)}) in a long file with series "
            f"column '{series_col}'; choose one with --target"
        )
    if len(chosen) == 1:
        how = "given with --target" if target else f"{why}; --target picks another"
        notes.append(f"target column: {chosen[0]} ({how})")
    else:
        notes.append(f"wide layout: one series per column ({_names(chosen)})")
    return chosen


def _default_target(
    cols: list[str], candidates: list[str], series_col: str | None, name: str, frame: pd.DataFrame
) -> tuple[list[str], str]:
    """Adjusted close, else close, else the only numeric column; else every column (wide).

    A close found by name must be numeric: text there is an error, not a reason to pick another.
    """
    keys = {_key(c): c for c in candidates}
    groups = (
        (ADJ_CLOSE_KEYS, ("adjclose", "adjustedclose"), "the adjusted close"),
        (CLOSE_KEYS, ("close",), "the close"),
    )
    for names, prefixes, why in groups:
        found = [keys[k] for k in names if k in keys]
        found += [c for k, c in keys.items() if k.startswith(prefixes)]
        if found:
            return _columns(found[:1], cols, name, "target", frame), why
    if len(cols) <= 1:
        return cols, "the only numeric column"
    if series_col:
        raise DataError(
            f"{name}: several numeric columns ({_names(cols)}) and none is a close; "
            f"choose one with --target"
        )
    return cols, "wide"


# ---------------------------------------------------------------------------------------------
# dates

_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(:?\d{2})?)?"
)
_TZ_SUFFIX = re.compile(r"(\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$")
_HAS_TZ = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$")


def _strip_tz(values: pd.Series) -> pd.Series:
    """The local wall-clock part of timestamps written with a UTC offset."""
    return values.str.replace(_TZ_SUFFIX, r"\1", regex=True)


def _parse_dates(
    values: pd.Series,
    column: str,
    kind: str,
    opts: LoadOptions,
    groups: pd.Series | None,
    name: str,
    lines: np.ndarray,
) -> tuple[np.ndarray, str, str | None]:
    """Timestamps (naive, datetime64[ns]), the format read and a note on time zones."""
    blank = _missing(values).to_numpy()
    if blank.any():
        line = lines[int(np.flatnonzero(blank)[0])]
        raise DataError(f"{name}: line {line}: missing date in column '{column}'")
    where = (name, column, lines)
    if opts.date_format:
        try:
            return _apply_format(values, opts.date_format, where, "--date-format")
        except ValueError as exc:
            raise DataError(f"{name}: --date-format {opts.date_format}: {_short(exc)}") from None
    if kind == "epoch":
        number = pd.to_numeric(values, errors="coerce")
        _fail_unparsed(number, values, where, "epoch seconds")
        unit = "ms" if number.abs().max() > 1e11 else "s"
        parsed = pd.to_datetime(number, unit=unit)
        how = "epoch milliseconds (UTC)" if unit == "ms" else "epoch seconds (UTC)"
        return _nanoseconds(parsed, values, where), how, None
    fmt = _choose_format(values, opts.dayfirst, groups, where)
    return _apply_format(values, fmt, where, fmt)


def _choose_format(
    values: pd.Series, dayfirst: bool | None, groups: pd.Series | None, where: tuple
) -> str:
    """The one format under which every value is valid and dates run in order in each series."""
    name, column, _ = where
    if values.str.fullmatch(_ISO).all():
        return "ISO8601"
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
            parsed = _parse_mixed(naive, bool(dayfirst))
            if parsed.notna().all():
                return "mixed"
            best = parsed
        how = f"tried {', '.join(tried)}" if tried else "no known date format"
        _fail_unparsed(best, values, where, how)
    ordered = [(f, p) for f, p in valid if _ordered(p, groups)] or valid
    distinct = {tuple(p.to_numpy()) for _, p in ordered}
    if len(distinct) > 1:
        shown = " and ".join(f for f, _ in ordered[:2])
        raise DataError(
            f"{name}: dates in column '{column}' read validly both as {shown} (every day "
            f"number is 12 or less); say which with --dayfirst, --monthfirst or --date-format"
        )
    return ordered[0][0]


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
        parsed = _parse_mixed(values, dayfirst=False).dt.tz_localize(None)
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
    step = pd.Series(np.sort(utc.to_numpy())).diff().median()
    if local.notna().all() and not pd.isna(step) and step >= pd.Timedelta(hours=20):
        note = "time-zone offsets dropped: daily data kept on its local calendar dates"
        return _nanoseconds(local.dt.normalize(), values, where), _describe_format(fmt), note
    note = "timestamps with time-zone offsets converted to UTC"
    parsed = utc.dt.tz_convert("UTC").dt.tz_localize(None)
    return _nanoseconds(parsed, values, where), _describe_format(fmt), note


def _nanoseconds(parsed: pd.Series, values: pd.Series, where: tuple) -> np.ndarray:
    """Timestamps as datetime64[ns]; a date outside 1677..2262 is an error naming its line."""
    outside = (~parsed.between(pd.Timestamp.min, pd.Timestamp.max)).to_numpy()
    _raise_at_first(
        outside, values, where, "date '{value}' in column '{column}' is outside the years 1677-2262"
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
    _raise_at_first(
        bad, values, where, f"cannot read '{{value}}' in column '{{column}}' as a date ({how})"
    )


def _raise_at_first(mask: np.ndarray, values: pd.Series, where: tuple, problem: str) -> None:
    """DataError naming the first flagged line; `problem` may use {value} and {column}."""
    if mask.any():
        name, column, lines = where
        i = int(np.flatnonzero(mask)[0])
        text = problem.format(value=values.iloc[i][:40], column=column)
        raise DataError(f"{name}: line {lines[i]}: {text}")


# ---------------------------------------------------------------------------------------------
# series


def _helper_columns(numeric: pd.DataFrame, targets: list[str]) -> dict[str, str]:
    """Adjusted-close and volume columns used to tell unadjusted splits from real moves."""
    if len(targets) != 1:
        return {}
    keys = {_key(c): c for c in numeric.columns if c != targets[0]}
    out = {}
    adj = next((keys[k] for k in ADJ_CLOSE_KEYS if k in keys), None)
    if adj and _key(targets[0]) not in ADJ_CLOSE_KEYS:
        out["adjusted"] = adj
    volume = next((keys[k] for k in VOLUME_KEYS if k in keys), None)
    if volume:
        out["volume"] = volume
    return out


def _split_series(
    frame: pd.DataFrame,
    roles: _Roles,
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
    keys = frame[series_col].to_numpy()
    if (keys == "").any():
        line = lines[int(np.flatnonzero(keys == "")[0])]
        raise DataError(f"{name}: line {line}: empty name in series column '{series_col}'")
    values = numeric[targets[0]].to_numpy()
    return [(str(k), base[keys == k].assign(value=values[keys == k])) for k in pd.unique(keys)]


def _select_series(raw_series: list, wanted: list[str] | None, name: str) -> list:
    """The series named with --series, in that order."""
    if not wanted:
        return raw_series
    available = [k for k, _ in raw_series]
    missing = [s for s in wanted if s not in available]
    if missing:
        raise DataError(
            f"{name}: no series {_names(missing)} in the file (it has {_names(available)})"
        )
    by_name = dict(raw_series)
    return [(s, by_name[s]) for s in dict.fromkeys(wanted)]


@dataclass
class _Report:
    """Where cleaning states what it did."""

    name: str
    notes: list[str]
    warnings: list[str]
    per_series: dict
    reordered: set = field(default_factory=set)


def _clean_series(
    key: str,
    who: str,
    part: pd.DataFrame,
    roles: _Roles,
    helpers: dict[str, str],
    opts: LoadOptions,
    report: _Report,
) -> Series | None:
    """Order, dedupe, trim, fill and check one series; None when it has no values at all."""
    dated = isinstance(part.index, pd.DatetimeIndex)
    features = roles.features
    target = roles.targets[0] if len(roles.targets) == 1 else key
    if dated:
        part = _order(part, report)
        part = _dedupe(part, who, features, report)
    part = _trim(part, who, target, report)
    if part.empty:
        return None
    part, filled = _fill(part, who, target, opts, report)
    _check_values(part, who, target, "value", opts.positive, report.name)
    for f in features:
        _check_values(part, who, f, f, False, report.name)
        holes = int(part[f].isna().sum())
        if holes:
            report.notes.append(f"{who}: filled {_count(holes, 'missing value')} in feature '{f}'")
            part[f] = part[f].ffill().bfill()
    if dated:
        _split_warnings(part, who, target, helpers, report)
    report.per_series[key] = {"filled": filled, "gaps": [], "who": who}
    values = part["value"].to_numpy(dtype="float64")
    feats = part[features].to_numpy(dtype="float64") if features else np.zeros((len(part), 0))
    if dated:
        index = part.index.to_numpy(dtype="datetime64[ns]")
    else:
        index = np.arange(len(part), dtype="int64")
    return Series(key, index, values, feats)


def _order(part: pd.DataFrame, report: _Report) -> pd.DataFrame:
    """Rows in time order (newest-first files reversed, others sorted)."""
    if part.index.is_monotonic_increasing:
        return part
    if part.index.is_monotonic_decreasing:
        report.reordered.add("newest-first")
        return part.iloc[::-1]
    report.reordered.add("out of order")
    return part.sort_index(kind="stable")


def _report_order(report: _Report) -> None:
    """One note for all reordering."""
    if "out of order" in report.reordered:
        report.notes.append("rows were out of date order; sorted oldest-first")
    elif report.reordered:
        report.notes.append("rows ran newest-first; sorted oldest-first")


def _dedupe(part: pd.DataFrame, who: str, features: list[str], report: _Report) -> pd.DataFrame:
    """Drop exact duplicate rows; rows that disagree on a timestamp are an error."""
    if not part.index.has_duplicates:
        return part
    values = part[["value", *features]].reset_index()
    exact = values.duplicated(keep="first").to_numpy()
    if exact.any():
        report.notes.append(f"{who}: dropped {_count(int(exact.sum()), 'exact duplicate row')}")
        part = part[~exact]
    clash = part.index.duplicated(keep=False)
    if clash.any():
        stamps = list(dict.fromkeys(part.index[clash]))[:3]
        shown = "; ".join(
            f"{_stamp(t)} (lines {', '.join(map(str, sorted(part['_line'][part.index == t])))})"
            for t in stamps
        )
        raise DataError(f"{report.name}: {who}: rows with the same timestamp disagree: {shown}")
    return part


def _trim(part: pd.DataFrame, who: str, target: str, report: _Report) -> pd.DataFrame:
    """Drop leading and trailing rows without a target value."""
    present = part["value"].notna().to_numpy()
    if not present.any():
        return part.iloc[:0]
    first, last = int(np.argmax(present)), len(present) - int(np.argmax(present[::-1]))
    if first:
        report.notes.append(
            f"{who}: dropped {_count(first, 'leading row')} with no '{target}' value"
        )
    if last < len(part):
        report.warnings.append(
            f"{who}: dropped {_count(len(part) - last, 'trailing row')} with no '{target}' value "
            f"(from line {part['_line'].iloc[last]})"
        )
    return part.iloc[first:last]


def _fill(
    part: pd.DataFrame, who: str, target: str, opts: LoadOptions, report: _Report
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
            f"({_where(part, a)} to {_where(part, b)}), more than --max-gap {opts.max_gap}"
        )
    report.warnings.append(
        f"{who}: forward-filled {_count(int(nan.sum()), f'missing {target!r} value')} "
        f"(first at {_where(part, int(starts[0]))})"
    )
    part = part.copy()
    part["value"] = part["value"].ffill()
    return part, int(nan.sum())


def _check_values(
    part: pd.DataFrame, who: str, column: str, field_name: str, positive: bool, name: str
) -> None:
    """Infinite, float32-overflowing and (when needed) non-positive values fail."""
    values = part[field_name].to_numpy(dtype="float64")
    checks = (
        (np.isinf(values), "is not a finite number"),
        (np.abs(values) > FLOAT32_MAX, "is too large (beyond float32)"),
        ((values <= 0) if positive else np.zeros(len(values), bool),
         "is not positive, which the log-return transform needs (use --transform diff)"),
    )  # fmt: skip
    for bad, problem in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{name}: {_where(part, i)}: {who}: value {values[i]:g} in '{column}' {problem}"
            )


def _split_warnings(part: pd.DataFrame, who: str, target: str, helpers: dict, report) -> None:
    """Warn about one-step moves that look like unadjusted stock splits."""
    values = part["value"].to_numpy(dtype="float64")
    if len(values) < 3 or (values <= 0).any():
        return
    ratio = np.log(values[1:] / values[:-1])
    if "_adjusted" in part:  # the adjusted close does not make the same move
        adjusted = part["_adjusted"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            apart = np.abs(np.log(adjusted[1:] / adjusted[:-1]) - ratio) > np.log(1.4)
        suspect = (np.abs(ratio) > np.log(1.4)) & apart
        why = f"while '{helpers['adjusted']}' does not; use --target '{helpers['adjusted']}'"
    elif "_volume" in part:  # halving or doubling with no rush of trading
        volume = part["_volume"].to_numpy(dtype="float64")
        typical = pd.Series(volume).rolling(20, min_periods=5).median().shift().to_numpy()[1:]
        with np.errstate(invalid="ignore"):
            calm = volume[1:] <= 3 * typical * np.exp(-ratio)
        suspect = (np.abs(ratio) > np.log(1.65)) & calm
        why = "with no rush in volume"
    else:
        return
    hits = np.flatnonzero(suspect) + 1
    if len(hits):
        shown = ", ".join(
            f"{_stamp(part.index[i])} ({np.expm1(ratio[i - 1]):+.0%})" for i in hits[:3]
        )
        report.warnings.append(
            f"{who}: '{target}' moves like an unadjusted stock split on {shown}, {why}"
        )


def _where(part: pd.DataFrame, i: int) -> str:
    """'line N (date)' for row i of a series."""
    line = f"line {part['_line'].iloc[i]}"
    if isinstance(part.index, pd.DatetimeIndex):
        return f"{line} ({_stamp(part.index[i])})"
    return line


def _stamp(ts) -> str:
    """A timestamp as a date, or date and time when it has one."""
    t = pd.Timestamp(ts)
    return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------------------------
# frequency


def _frequency(index: np.ndarray) -> str | None:
    """A pandas offset alias for the typical step between timestamps."""
    idx = pd.DatetimeIndex(index)
    if len(idx) < 3:
        return None
    step = pd.Series(idx).diff().dropna().median()
    day = pd.Timedelta(days=1)
    if step < day:
        seconds = max(1, round(step.total_seconds()))
        if seconds % 60:
            return f"{seconds}s" if seconds > 1 else "s"
        minutes = seconds // 60
        return "h" if minutes == 60 else f"{minutes}min"
    if step <= 3 * day:
        return "B" if np.isin(idx.day_of_week, [5, 6]).mean() < 0.01 else "D"
    if step <= 8 * day:
        dow = int(pd.Series(idx.day_of_week).mode().iloc[0])
        return "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[dow]
    if step <= 32 * day:
        return _anchored(idx, "M")
    if step <= 93 * day:
        return _anchored(idx, "Q")
    return _anchored(idx, "Y")


def _anchored(idx: pd.DatetimeIndex, unit: str) -> str:
    """Start- or end-anchored alias (business-day anchors for trading-day stamps)."""
    starts = {"M": idx.is_month_start, "Q": idx.is_quarter_start, "Y": idx.is_year_start}[unit]
    ends = {"M": idx.is_month_end, "Q": idx.is_quarter_end, "Y": idx.is_year_end}[unit]
    if starts.mean() > 0.9:
        return f"{unit}S"
    if ends.mean() > 0.9:
        return f"{unit}E"
    if unit == "M":
        early = (idx.day <= 3).mean() > 0.9
        return "BMS" if early else "BME"
    return f"{unit}S" if (idx.day <= 15).mean() > 0.5 else f"{unit}E"


def _gaps(s: Series, frequency: str | None, report: _Report) -> None:
    """Warn about steps much longer than the frequency's (holidays allowed for)."""
    if frequency is None:
        return
    idx = pd.DatetimeIndex(s.index)
    delta = idx[1:] - idx[:-1]
    if frequency == "B":
        days = idx.values.astype("datetime64[D]")
        long = np.busday_count(days[:-1], days[1:]) > 3
        limit = "over 2 business days missing"
    else:
        step = pd.Series(delta).median()
        long = np.asarray(delta / step > 3)
        limit = f"over 3 steps of {frequency}"
        if step < pd.Timedelta(days=1) and long.mean() > 0.05:  # trading sessions
            long = np.asarray(delta > pd.Timedelta(days=4))
            limit = "over 4 days"
    hits = np.flatnonzero(long)
    if not len(hits):
        return
    spans = [(_stamp(idx[i]), _stamp(idx[i + 1])) for i in hits]
    info = report.per_series[s.name]
    info["gaps"] = [list(p) for p in spans[:5]]
    shown = ", ".join(f"{a} to {b}" for a, b in spans[:3])
    more = f" and {len(spans) - 3} more" if len(spans) > 3 else ""
    count = "1 gap" if len(spans) == 1 else f"{len(spans)} gaps"
    report.warnings.append(f"{info['who']}: {count} in the dates ({limit}): {shown}{more}")
