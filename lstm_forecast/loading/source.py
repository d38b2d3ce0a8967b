"""Bytes: a file or stdin, within the size bound, out of its gzip, bz2, xz or zip container.

Also the one source that is a table already: Parquet (with the optional pyarrow).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from lstm_forecast.errors import DataError
from lstm_forecast.loading.messages import short
from lstm_forecast.loading.table import Table

MAX_BYTES = 256 * 1024**2  # largest file (after decompression) read; bounds memory
STDIN = "<stdin>"
COMPRESSIONS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
)
PARQUET_MAGIC = b"PAR1"
# what reading a damaged container raises
DAMAGED = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error, ValueError)


def read_bytes(path: str, name: str) -> bytes:
    """The file's bytes (stdin for '-'), refusing directories, devices and huge files."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        with _reading(name):
            size = _check_file(path, name)
            if size > MAX_BYTES:
                raise DataError(f"{name}: {_size(size)}, over the {_size(MAX_BYTES)} limit")
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise DataError(f"{name}: over the {_size(MAX_BYTES)} limit")
    return data


def open_stream(path: str, name: str) -> tuple[IO[bytes], str | None]:
    """The file (stdin for '-') as a stream of its data, out of any gzip, bz2, xz or zip
    container (found by magic bytes), and the container's kind; no size bound, for readers
    that go a chunk at a time. Damage found while reading raises the errors in DAMAGED."""
    if path == "-":
        fh: IO[bytes] = sys.stdin.buffer
    else:
        with _reading(name):
            _check_file(path, name)
            fh = open(path, "rb")  # noqa: SIM115 (the caller closes the stream)
    magic = fh.peek(8)[:8] if hasattr(fh, "peek") else b""
    kind = next((k for m, k in COMPRESSIONS if magic.startswith(m)), None)
    if kind is None:
        return fh, None
    try:
        return _open_compressed(kind, fh, name), kind
    except DAMAGED as exc:
        raise DataError(f"{name}: damaged {kind} file ({short(exc)})") from None


def _check_file(path: str, name: str) -> int:
    """The size of a regular file or pipe; a DataError for directories and devices."""
    mode = Path(path).stat()
    if stat.S_ISDIR(mode.st_mode):
        raise DataError(f"{name}: is a directory, not a data file")
    if not (stat.S_ISREG(mode.st_mode) or stat.S_ISFIFO(mode.st_mode)):
        raise DataError(f"{name}: is a device or socket, not a data file")
    return mode.st_size


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """OS errors of opening a file as one-line DataErrors."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except PermissionError:
        raise DataError(f"{name}: permission denied") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None


def _size(n: int) -> str:
    """Bytes as MiB for messages."""
    return f"{n / 1024**2:.0f} MiB"


def decompress(raw: bytes, name: str) -> tuple[bytes, str | None]:
    """Undo gzip, bz2, xz or zip (found by magic bytes), never beyond MAX_BYTES."""
    kind = next((k for magic, k in COMPRESSIONS if raw.startswith(magic)), None)
    if kind is None:
        return raw, None
    try:
        with _open_compressed(kind, io.BytesIO(raw), name) as fh:
            data = fh.read(MAX_BYTES + 1)
    except DAMAGED as exc:
        raise DataError(f"{name}: damaged {kind} file ({short(exc)})") from None
    if len(data) > MAX_BYTES:
        raise DataError(f"{name}: over the {_size(MAX_BYTES)} limit once decompressed")
    return data, kind


def _open_compressed(kind: str, buf: IO[bytes], name: str) -> IO[bytes]:
    """A reader for the one data file inside a compressed container."""
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


def need_pyarrow(name: str) -> None:
    """DataError saying which extra to install when pyarrow is missing."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise DataError(
            f"{name}: Parquet; reading it needs pyarrow "
            f"(pip install 'lstm-forecast[parquet]', the 'parquet' extra)"
        ) from None


def read_parquet(raw: bytes, name: str) -> Table:
    """A Parquet file as a Table of typed columns (needs the optional pyarrow).

    A saved pandas index (a DatetimeIndex named Date, say) becomes a column again.
    """
    need_pyarrow(name)
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(io.BytesIO(raw)).to_pandas()
    except Exception as exc:  # pyarrow raises its own ArrowException family
        raise DataError(f"{name}: damaged Parquet file ({short(exc)})") from None
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return Table(name, frame, details={"format": "parquet"})
