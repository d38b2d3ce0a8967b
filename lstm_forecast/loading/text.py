"""Text: bytes as UTF-8, the dialect sniffed, title and header lines found, cells as strings.

The result is a Table of text columns with each row's line in the file (header = line 1 after
the skipped lines), ready for the roles, numbers and dates stages.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

import numpy as np
import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.messages import count, short
from lstm_forecast.loading.table import Table, unique_names

HEAD_BYTES = 64 * 1024  # how much text the delimiter and header are sniffed from
MAX_HEADER = 200  # longest column name accepted
DELIMITERS = (",", ";", "\t", "|")
NO_DELIMITER = "\x1f"  # a separator that never occurs: a one-column file
FOREIGN = (
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook or other OLE document; save it as CSV"),
    (b"%PDF", "a PDF document, not a data table"),
)


def read_text(
    raw: bytes,
    name: str,
    *,
    line_offset: int = 0,
    dialect: tuple[str | None, bool] | None = None,
) -> Table:
    """Delimited text as a table of strings, with line numbers and reading details.

    For a later piece of a file read in pieces: `line_offset` lines come before `raw` (every
    line number, messages included, counts them), and `dialect` is (delimiter, has a header)
    as the first piece was read, so nothing is guessed again.
    """
    for magic, what in FOREIGN:
        if raw.startswith(magic):
            raise DataError(f"{name}: {what}")
    data, encoding = _to_utf8(raw, name)
    _check_text(data, name, line_offset)
    if b"\n" not in data[:HEAD_BYTES] and b"\r" in data[:HEAD_BYTES]:
        data = data.replace(b"\r", b"\n")  # old Mac line endings
    start, skipped, delimiter = _find_header(data, name)
    skipped += line_offset
    lines = _head_lines(data, start)
    title = 0
    if dialect is not None:
        delimiter = dialect[0]
    elif delimiter is None:
        delimiter, title = _sniff_delimiter(lines)
    _reject_non_table(lines[0], name, skipped + 1, delimiter)
    notes = []
    if title:
        start, skipped = _skip_lines(data, start, skipped, title)
        notes.append(f"skipped {count(title, 'title line')} above the header (line {skipped + 1})")
    frame = _read_csv(data, start, delimiter, name, skipped)
    has_header = not _looks_like_data(list(frame.iloc[0])) if dialect is None else dialect[1]
    table = Table(
        name,
        frame,
        np.arange(len(frame)) + skipped + 1,
        {"format": "csv", "encoding": encoding, "delimiter": delimiter},
        notes,
        header=has_header,
    )
    if delimiter:
        _short_rows(table, data, start, delimiter)
    padded = re.search(rb" (?:\r|\n|$)", data) or (
        f" {delimiter}".encode() in data if delimiter else False
    )
    _take_header(table, name, bool(padded))
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


def _check_text(data: bytes, name: str, line_offset: int = 0) -> None:
    """Refuse binary data: NUL bytes or many control characters."""
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = ""
        head = data[:400]
        if max(head[::2].count(0), head[1::2].count(0)) > 0.4 * len(head):
            hint = "; UTF-16 without a byte-order mark? Save it as UTF-8"
        line = data.count(b"\n", 0, nul) + 1 + line_offset
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


def _skip_lines(data: bytes, pos: int, skipped: int, lines: int) -> tuple[int, int]:
    """Move past `lines` non-blank lines and the blank lines around them."""
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        blank = not data[pos:end].strip()
        if not (lines or blank):
            break
        lines -= not blank
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
        raise DataError(f"{name}: cannot parse as a table ({short(exc)})") from None


def _parser_problem(message: str, skipped: int) -> str:
    """pandas' parser error as a message naming the file's line."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        want, line, saw = (int(g) for g in fields.groups())
        return f"line {line + skipped}: {saw} fields where the header has {want}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return f"line {int(quote.group(1)) + 1 + skipped}: a quote is never closed"
    return f"malformed table ({short(Exception(message))})"


_NUMBER_SHAPE = re.compile(r"[-+(]?[$€£¥]?\d[\d.,' ]*[%)kmbKMB]?")
_DATE_START = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _looks_like_data(fields: list[str]) -> bool:
    """Whether a first line holds values (every field a number or date) rather than names."""
    fields = [f.strip() for f in fields]
    return all(f and (_NUMBER_SHAPE.fullmatch(f) or _DATE_START.match(f)) for f in fields)


def _short_rows(table: Table, data: bytes, start: int, delimiter: str) -> None:
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
            f"{count(len(short), 'line')} with fewer fields than the header (line {shown}); "
            f"their missing fields read as empty"
        )


def _take_header(table: Table, name: str, padded: bool) -> None:
    """Name the columns from the header line (or 'column N' without one)."""
    frame = table.frame.fillna("")
    if table.header:
        names = [_clean_header(c, i) for i, c in enumerate(frame.iloc[0])]
        if any(len(n) > MAX_HEADER for n in names):
            raise DataError(
                f"{name}: line {table.lines[0]}: a header field is over {MAX_HEADER} "
                f"characters; not a data table"
            )
        frame, table.lines = frame.iloc[1:], table.lines[1:]
        names = unique_names(names)
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


def _tidy(table: Table, name: str) -> None:
    """Drop blank lines, repeated header lines, empty unnamed columns and a saved row index."""
    frame = table.frame
    keep = ~(frame == "").all(axis=1).to_numpy()
    repeated = (frame == pd.Series(frame.columns, index=frame.columns)).all(axis=1).to_numpy()
    if repeated.any():
        table.notes.append(f"dropped {count(int(repeated.sum()), 'repeated header line')}")
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
