"""What exchange_calendars computes from its rules, kept between runs in the system temp folder.

Choosing and building a calendar is most of a small `train`'s loading (about 0.8 s of 1 s on
sp500.csv): the holiday rules of twenty-odd exchanges, then the chosen exchange's sessions.
Both depend only on the library's version and the years asked for, so a nightly run that adds
a row a day recomputes nothing: holidays are kept per exchange and year, sessions per exchange
and span of whole years. Entries are named with the versions that computed them, written
atomically (`artifacts.atomic_write`), read with numpy and JSON (no pickles) and trusted only in
this user's own folder that no one else may write; any failure to read or write falls back to
computing, so the cache never fails a run.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = 1  # of the entries; a change here, or in what they are computed by, renames them


def tag(library: str | None) -> str | None:
    """What every entry's name carries: the versions of what computed it (exchange_calendars,
    pandas for the holiday rules, the time-zone database for the hours in UTC) and FORMAT;
    None, and nothing kept, where a version cannot be told."""
    zones = _zone_version()
    if library is None or zones is None:
        return None
    return f"{library}-pandas{pd.__version__}-tz{zones}-f{FORMAT}"


def entry(library: str | None, *parts: object, suffix: str) -> str | None:
    """The name of the entry for `parts` ("sessions", "XNYS", ...) computed by exchange_calendars
    `library`, carrying `tag`; None (nothing kept) where a version cannot be told."""
    version = tag(library)
    stem = "-".join(str(p).replace("/", "_") for p in parts)
    return None if version is None else f"{stem}-{version}{suffix}"


@functools.lru_cache(maxsize=1)
def _zone_version() -> str | None:
    """The version of the time-zone database zoneinfo reads (the system's first, as it does)."""
    import zoneinfo

    for root in zoneinfo.TZPATH:
        if os.path.isdir(root):
            try:
                with open(os.path.join(root, "tzdata.zi")) as fh:
                    words = fh.readline().split()  # "# version 2025b"
            except OSError:
                return None
            return words[-1] if words[:2] == ["#", "version"] else None
    try:
        import tzdata
    except ImportError:
        return None
    return str(tzdata.IANA_VERSION)


@functools.lru_cache(maxsize=1)
def folder() -> Path | None:
    """This user's cache folder (made on first use), or None where it cannot be trusted: not
    in a real temp folder, or a level of it another user owns or may write."""
    if not hasattr(os, "getuid"):
        return None
    try:
        temp = Path(os.path.realpath(tempfile.gettempdir()))
        if temp not in _temp_folders():  # none was usable: gettempdir's last resort, the cwd
            return None
        mine = temp / f"lstm-forecast-{os.getuid()}"
        path = mine / "calendars"
        for level in (mine, path):
            level.mkdir(mode=0o700, exist_ok=True)
            info = level.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                return None
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
    except OSError:
        return None
    return path


def _temp_folders() -> set[Path]:
    """The folders gettempdir tries before falling back on the working folder (which may
    well be one of them: a cron job that runs in /tmp)."""
    named = [os.environ.get(key) for key in ("TMPDIR", "TEMP", "TMP")]
    return {Path(os.path.realpath(p)) for p in [*named, "/tmp", "/var/tmp", "/usr/tmp"] if p}


def read(name: str | None) -> bytes | None:
    """The bytes kept under `name`, or None when there are none (or they cannot be read, or
    `name` is None: see `entry`)."""
    where = folder()
    try:
        return None if where is None or name is None else (where / name).read_bytes()
    except OSError:
        return None


def write(name: str | None, data: bytes) -> None:
    """Keep `data` under `name`, replacing what was there whole or not at all (nothing when
    `name` is None)."""
    from lstm_forecast.artifacts import atomic_write
    from lstm_forecast.errors import ModelFileError

    where = folder()
    if where is not None and name is not None:
        with contextlib.suppress(OSError, ModelFileError):  # not kept: computed next time
            atomic_write(where / name, data)


def read_arrays(name: str | None) -> tuple[dict, dict[str, np.ndarray]] | None:
    """(metadata, arrays) that `write_arrays` kept, or None (none, or unreadable)."""
    data = read(name)
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {k: np.asarray(stored[k]) for k in stored.files}
        meta = json.loads(arrays.pop("meta").tobytes())
    except Exception:  # whatever a damaged file raises (zip, zlib, npy, JSON): not kept
        return None
    return (meta, arrays) if isinstance(meta, dict) else None


def write_arrays(name: str | None, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Keep JSON-able `meta` and numpy `arrays` under `name` (an .npz, no pickles)."""
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    write(name, buffer.getvalue())
