"""Convert a big delimited file into a Parquet dataset of whole series, a chunk at a time.

Two passes, so that memory follows a chunk and a bucket, never the file:

1. split: the text is read CHUNK_BYTES at a time, each chunk (with the file's header lines put
   before it) through the loader's text stage; the roles are found on the first chunk, and every
   row goes, as text with its line number, to one of the spill files chosen by a hash of its
   series name.
2. build: one spill at a time goes through the loader's build stage (the same parsers, checks,
   cleaning and messages as `load`, lines named as in the file) and its cleaned series are
   written as one Parquet file, sorted by series and date, with each series' row count in the
   footer (`parquet.SERIES_ROWS`: what sharded training balances ranks by without reading).

What the loader decides over a whole file comes out the same in every bucket: the calendar is
found once (on the bucket with the longest series) and given to the others; the roles, the date
format, the decimal mark and the clock must agree, else the message names the option that
settles it. (The step is found again, from the longest series, whenever the dataset is read.)

The dataset is built in a hidden folder beside the target, claimed by a lock file held while the
run lives, and renamed into place: a crash leaves no half-written dataset, and the next run
clears what a killed one left (putting back an old dataset it had moved aside).
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.loading.build import build
from lstm_forecast.loading.dataset import Dataset, LoadOptions
from lstm_forecast.loading.messages import short
from lstm_forecast.loading.roles import Roles, find_roles, helper_columns
from lstm_forecast.loading.source import (
    DAMAGED,
    PARQUET_MAGIC,
    STDIN,
    need_pyarrow,
    open_stream,
)
from lstm_forecast.loading.table import Table
from lstm_forecast.loading.text import read_text

CHUNK_BYTES = 32 * 1024**2  # text parsed at once
BUCKET_BYTES = 64 * 1024**2  # text per bucket: what one build pass holds as strings
MAX_BUCKETS = 256
ROW_GROUP = 65_536  # rows: a shard's filter skips the row groups of other series
LINE = "__lstm_forecast_line__"  # the spill column of each row's line in the file
WORK_PREFIX = ".{}.partial-"  # the hidden work folder beside the target
LOCK_SUFFIX = ".lock"  # the lock file beside a work folder: held while its conversion runs
OLD_SUFFIX = ".old"  # a replaced dataset, moved aside until the new one is in place
PART = re.compile(r"part-\d+\.parquet")  # the files of a converted dataset


@dataclass
class Conversion:
    """What `convert` wrote: the dataset folder, its size, and the loader's messages."""

    path: Path
    series: int
    rows: int
    files: int
    source_rows: int
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def convert(
    data: str | Path,
    to: str | Path,
    options: LoadOptions | None = None,
    *,
    replace_existing: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    bucket_bytes: int = BUCKET_BYTES,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> Conversion:
    """Write the series of a delimited text file (or stdin, '-') as a Parquet dataset at `to`;
    `progress(done, total, what)` hears of each chunk read and each file written."""
    opts = options or LoadOptions()
    need_pyarrow(str(data))
    if opts.series:
        raise ConfigError("convert writes every series of the file; select them when reading")
    path, target = str(data), Path(to)
    name = STDIN if path == "-" else path
    if not target.parent.is_dir():
        raise ConfigError(f"{target}: folder {target.parent} does not exist")
    _clear_stale(target)
    if target.exists() and not replace_existing:
        raise ConfigError(f"{target} exists; remove it or pass --replace")
    if target.exists():
        _check_replaceable(target)
    try:
        with _work_folder(target) as work:
            spill = _split(path, name, opts, (chunk_bytes, bucket_bytes), work / "spill", progress)
            result = _build_all(spill, work, opts, progress)
            shutil.rmtree(work / "spill")
            _move_into_place(work, target)
    except OSError as exc:  # reading errors are DataErrors by now: this is the writing
        why = exc.strerror or short(exc)
        raise ConfigError(f"{target}: cannot write in {target.parent} ({why})") from None
    result.path = target
    return result


@dataclass
class _Spill:
    """Pass 1's result: rows as text in buckets by series, and what reading found."""

    name: str
    folder: Path
    roles: Roles
    details: dict
    counts: list[dict[str, int]]  # per bucket (one spill file each): rows per series
    rows: int
    notes: list[str]
    warnings: list[str]


def _split(
    path: str, name: str, opts: LoadOptions, sizes: tuple[int, int], folder: Path, progress
) -> _Spill:
    """Pass 1: every row, as text with its line number, into a spill file by series;
    `sizes`: the bytes of text per chunk and per bucket."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stream, compression = open_stream(path, name)
    writers: dict[int, pq.ParquetWriter] = {}
    spill: _Spill | None = None
    columns: list[str] = []
    try:
        for table in _tables(stream, name, sizes[0], compression or "text"):
            if spill is None:
                buckets = _buckets(path, compression, sizes[1])
                spill, columns = _first(table, name, opts, folder, buckets)
            # an unnamed column that is empty all through a piece was dropped from it
            frame = table.frame.reindex(columns=columns, fill_value="")
            frame = frame.assign(**{LINE: table.lines})
            names = frame[spill.roles.series].to_numpy(object)
            bucket = pd.util.hash_array(names) % len(spill.counts)
            for b, rows in frame.groupby(bucket, sort=False):
                part = pa.Table.from_pandas(rows, preserve_index=False)
                if b not in writers:
                    writers[b] = pq.ParquetWriter(folder / f"{b:03d}.parquet", part.schema)
                writers[b].write_table(part)
                counts = rows[spill.roles.series].value_counts()
                for s, n in counts.items():
                    spill.counts[b][s] = spill.counts[b].get(s, 0) + int(n)
            spill.rows += len(frame)
            _keep_new(spill.notes, table.notes)
            _keep_new(spill.warnings, table.warnings)
            if progress:
                progress(spill.rows, None, "rows read")
    finally:
        for writer in writers.values():
            writer.close()
        stream.close()
    if spill is None:
        raise DataError(f"{name}: empty file")
    return spill


def _first(
    table: Table, name: str, opts: LoadOptions, folder: Path, buckets: int
) -> tuple[_Spill, list[str]]:
    """The roles, found on the first chunk, and the columns the build pass needs."""
    details = {k: table.details[k] for k in ("format", "encoding", "delimiter")}
    roles = find_roles(table, opts)
    if roles.series is None:
        raise DataError(
            f"{name}: no series (ticker) column; convert is for long files of many series "
            f"(name it with --series-col), a file of one series loads as it is"
        )
    if roles.date is None:
        raise DataError(f"{name}: no date column; convert writes dated series")
    if len(roles.targets) != 1:
        raise DataError(f"{name}: convert writes one target column; pick it with --target")
    helpers = helper_columns(roles.numeric, roles.targets)
    wanted = [roles.date, roles.time, roles.series, *roles.targets, *roles.features]
    columns = [c for c in table.frame.columns if c in {*wanted, *helpers.values()}]
    counts: list[dict[str, int]] = [{} for _ in range(buckets)]
    spill = _Spill(name, folder, roles, details, counts, 0, [], [])
    return spill, columns


def _buckets(path: str, compression: str | None, bucket_bytes: int) -> int:
    """Spill files for the file's size (compressed text counted five times over)."""
    if path == "-":
        return MAX_BUCKETS // 4
    size = Path(path).stat().st_size * (5 if compression else 1)
    return min(MAX_BUCKETS, max(1, math.ceil(size / bucket_bytes)))


def _tables(stream: IO[bytes], name: str, chunk_bytes: int, kind: str) -> Iterator[Table]:
    """The text as Tables of about `chunk_bytes` each, lines numbered as in the whole file;
    every piece after the first is read with the first's delimiter and header line (put
    before it), nothing guessed again. `kind` names the stream's container in messages."""
    header, dialect, before = b"", None, 0
    for chunk in _chunks(stream, chunk_bytes, kind, name):
        if dialect is None:
            if chunk.startswith(PARQUET_MAGIC):
                raise DataError(f"{name}: Parquet already; it is read as it is")
            table = read_text(chunk, name)
            dialect = (table.details["delimiter"], table.header)
            if table.header:  # the last line with text before the first row
                above = chunk.splitlines(keepends=True)[: int(table.lines[0]) - 1]
                header = next(line for line in reversed(above) if line.strip())
        else:
            table = read_text(
                header + chunk, name, line_offset=before - bool(header), dialect=dialect
            )
        before += chunk.count(b"\n")
        yield table


def _chunks(stream: IO[bytes], size: int, kind: str, name: str) -> Iterator[bytes]:
    """The stream in pieces of about `size` bytes, each ending at a line break outside
    quotes (the last one as the file ends); UTF-16 text is turned into UTF-8 first. A stream
    that cannot be read is a DataError naming `kind` (its container, or text)."""
    read: Callable[[], bytes] = lambda: stream.read(size)  # noqa: E731
    if stream.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = io.TextIOWrapper(stream, encoding="utf-16", newline="")
        read = lambda: text.read(size // 2).encode()  # noqa: E731
    rest = b""
    while True:
        try:
            piece = read()
        except DAMAGED as exc:
            raise DataError(f"{name}: damaged {kind} file ({short(exc)})") from None
        if not piece:
            break
        rest += piece
        if len(rest) >= size and (cut := _record_end(rest)):
            yield rest[:cut]
            rest = rest[cut:]
    if rest:
        yield rest


def _record_end(text: bytes) -> int:
    """The end of the last whole record of `text` (which starts at a record's start): just
    past its last line break with an even number of quotes before it; 0 when there is none."""
    cut = text.rfind(b"\n") + 1
    quotes = text.count(b'"', 0, cut)
    while cut and quotes % 2:
        earlier = text.rfind(b"\n", 0, cut - 1) + 1
        quotes -= text.count(b'"', earlier, cut)
        cut = earlier
    return cut


def _build_all(spill: _Spill, work: Path, opts: LoadOptions, progress) -> Conversion:
    """Pass 2: each group of spill files loaded as the loader would, written as one file.

    The group holding the longest series goes first: the calendar found there (from the longest
    series, as `load` finds it) is then given to the others, so one decision covers the file.
    """
    result = Conversion(work, 0, 0, 0, spill.rows, list(spill.notes), list(spill.warnings))
    decided: dict[str, Any] = {}
    groups = _groups(spill.counts, max(opts.min_rows, 1))
    width = len(str(max(len(groups) - 1, 1)))
    later = opts
    for i, group in enumerate(groups):
        dataset = build(_spilled(spill, group), later)
        if i == 0 and opts.exchange.strip().lower() == "auto" and dataset.exchange:
            later = replace(opts, exchange=dataset.exchange)
        _agree(decided, dataset, spill.name)
        rows = _write(dataset, spill.roles, work / f"part-{i:0{width}d}.parquet")
        result.series += len(dataset.series)
        result.rows += rows
        result.files += 1
        _keep_new(result.notes, dataset.notes)
        _keep_new(result.warnings, dataset.warnings)
        if progress:
            progress(i + 1, len(groups), f"files written ({result.series:,} series)")
    return result


def _groups(counts: list[dict[str, int]], min_rows: int) -> list[list[int]]:
    """Spill buckets built together, the group with the longest series first. Each group holds
    two series of `min_rows` rows or more (one series alone would be read as a single-series
    file, and a group of none would be refused where the whole file is not), unless the whole
    file holds fewer."""
    groups: list[list[int]] = []
    held = 0
    for b, found in enumerate(counts):
        if not found:
            continue
        usable = sum(n >= min_rows for n in found.values())
        if groups and held < 2:
            groups[-1].append(b)
            held += usable
        else:
            groups.append([b])
            held = usable
    if len(groups) > 1 and held < 2:  # the previous group held two already: so will this
        groups[-2].extend(groups.pop())
    longest = [max(n for b in g for n in counts[b].values()) for g in groups]
    first = int(np.argmax(longest))
    return [groups[first], *groups[:first], *groups[first + 1 :]]


def _spilled(spill: _Spill, group: list[int]) -> Table:
    """The rows of some spill files as the Table the loader's build stage reads."""
    import pyarrow.parquet as pq

    parts = [pq.read_table(spill.folder / f"{b:03d}.parquet").to_pandas() for b in group]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    lines = frame.pop(LINE).to_numpy()
    order = np.argsort(lines, kind="stable")  # file order, as `load` sees the rows
    frame = frame.iloc[order].reset_index(drop=True)
    return Table(spill.name, frame, lines[order], dict(spill.details))


def _agree(decided: dict[str, Any], dataset: Dataset, name: str) -> None:
    """Every bucket must read the file as the first did."""
    said = {
        "target column": (dataset.target, "; name it with --target"),
        "series column": (dataset.details.get("series_column"), "; name it with --series-col"),
        "date format": (dataset.details.get("date_format"), "; say which with --date-format"),
        "decimal mark": (dataset.details.get("decimal", "."), ""),
        "clock": (dataset.clock or "as written", ""),
    }
    for what, (value, advice) in said.items():
        first = decided.setdefault(what, value)
        if value != first:
            raise DataError(
                f"{name}: series read with a different {what} in different parts of the file "
                f"({first} and {value}){advice}"
            )


def _write(dataset: Dataset, roles: Roles, path: Path) -> int:
    """The cleaned series as one Parquet file sorted by series and date; returns its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lstm_forecast.parquet import SERIES_ROWS

    lengths = [len(s) for s in dataset.series]
    stamps = pa.array(np.concatenate([s.index for s in dataset.series]))
    if dataset.clock == "UTC":
        stamps = stamps.cast(pa.timestamp("ns", tz="UTC"))
    columns = {
        roles.series: pa.array(np.repeat([s.name for s in dataset.series], lengths)),
        roles.date: stamps,  # with a time-of-day column, the two as one
        dataset.target: pa.array(np.concatenate([s.values for s in dataset.series])),
    }
    for j, feature in enumerate(dataset.feature_names):
        columns[feature] = pa.array(np.concatenate([s.features[:, j] for s in dataset.series]))
    rows = {s.name: len(s) for s in dataset.series}
    table = pa.table(columns).replace_schema_metadata({SERIES_ROWS: json.dumps(rows)})
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP,
        compression="zstd",
        use_dictionary=[roles.series],
    )
    return sum(lengths)


def _check_replaceable(target: Path) -> None:
    """--replace replaces a dataset this command wrote, nothing else."""
    if not target.is_dir():
        raise ConfigError(f"{target} exists and is not a folder; it is left as it is")
    others = [p.name for p in target.iterdir() if not PART.fullmatch(p.name)]
    if others:
        raise ConfigError(
            f"{target} holds other files than a converted dataset ({', '.join(others[:3])}); "
            f"it is left as it is"
        )


@contextlib.contextmanager
def _work_folder(target: Path) -> Iterator[Path]:
    """A new hidden folder beside `target`, removed at the end whatever happens, its claim a
    lock file beside it that the process holds while it lives (see `_clear_stale`)."""
    fd, lock = tempfile.mkstemp(prefix=WORK_PREFIX.format(target.name), dir=target.parent)
    work = Path(lock)  # the name, once its file is renamed to the lock's
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(lock, f"{lock}{LOCK_SUFFIX}")
        (work / "spill").mkdir(parents=True)
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if target.exists():  # else the old dataset moved aside is all there is: keep it
            shutil.rmtree(f"{work}{OLD_SUFFIX}", ignore_errors=True)
        for leftover in (lock, f"{lock}{LOCK_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        os.close(fd)


def _clear_stale(target: Path) -> None:
    """Remove what conversions to `target` that were killed left: their work folder and the
    old dataset they had moved aside, once no process holds their lock."""
    for lock in target.parent.glob(WORK_PREFIX.format(target.name) + "*" + LOCK_SUFFIX):
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a conversion that is running
        work = str(lock).removesuffix(LOCK_SUFFIX)
        old = Path(f"{work}{OLD_SUFFIX}")
        if old.is_dir() and not target.exists():
            old.rename(target)  # killed between its two renames: the old dataset comes back
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        lock.unlink(missing_ok=True)
        os.close(fd)


def _move_into_place(work: Path, target: Path) -> None:
    """Rename the finished folder to `target`; an old one is moved aside first (and put back
    if the second rename fails), then removed."""
    if not target.exists():
        work.rename(target)
        return
    old = Path(f"{work}{OLD_SUFFIX}")
    target.rename(old)
    try:
        work.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _keep_new(kept: list[str], found: list[str]) -> None:
    """Add the messages not said yet, in order."""
    kept.extend(m for m in dict.fromkeys(found) if m not in kept)
