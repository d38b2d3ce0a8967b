"""Model files, checkpoints and atomic writes.

A model is one safetensors file: weights as tensors, everything else (a `spec.ModelCard`) as
JSON in the header. Reading one never unpickles anything and never imports torch. Every file
this tool writes goes to a temporary file in the target's folder and is renamed into place, so
a crash or a kill leaves either the old file or the new one, never half of one. A writer holds
a lock on its temporary file; one that `kill -9` or a power cut left behind is swept by the
next write of the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from lstm_forecast.errors import BusyError, ModelFileError
from lstm_forecast.spec import CALENDAR_TENSORS, ModelCard

FORMAT = "lstm-forecast/model"
CHECKPOINT_FORMAT = "lstm-forecast/checkpoint"
CHECKPOINT_VERSION = 1
MAX_HEADER = 100 * 1024 * 1024
STALE_AFTER_S = 60  # an unlocked temporary file this old is a dead writer's (see `sweep`)


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync, then rename."""
    with atomic_file(path) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes `path` when the block ends (fsync, then rename); an error
    or a kill before then leaves `path` as it was and no temporary file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: folder {folder} does not exist") from None
    except PermissionError:
        raise ModelFileError(f"{path}: cannot write in {folder} (permission denied)") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            with contextlib.suppress(OSError):  # a file system without locks sweeps nothing
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until closed: live
            sweep(path)
            os.fchmod(fd, _mode_for(path))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)  # still locked: a sweep never takes a file being renamed
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def sweep(path: Path) -> list[Path]:
    """Remove the temporary files of `path` whose writers died (the ones removed).

    A live writer holds a lock on its file from just after it exists until it is renamed; one
    older than STALE_AFTER_S that can be locked belongs to no one. Files that cannot be read or
    removed are left alone: the sweep never fails a write. On a network file system whose locks
    are not shared between machines, write each target from one machine only.
    """
    removed = []
    # mkstemp's names: the prefix, 8 random characters, the suffix (not another file's, such
    # as the checkpoint `m.lstm.ckpt` beside `m.lstm`)
    pattern = f".{glob.escape(path.name)}.{'[a-z0-9_]' * 8}.tmp"
    pattern = os.path.join(glob.escape(str(path.parent)), pattern)
    for name in glob.glob(pattern):
        try:
            if time.time() - os.lstat(name).st_mtime < STALE_AFTER_S:
                continue
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a writer's exclusive lock refuses it
            os.unlink(name)
            removed.append(Path(name))
        except OSError:
            pass  # locked by a live writer, or not ours to remove
        finally:
            os.close(fd)
    return removed


def check_writable(path: str | Path) -> None:
    """Refuse up front a path that cannot take a file: a folder, or a missing or locked folder."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a file name")
    if not folder.is_dir():
        raise ModelFileError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ModelFileError(f"{path}: cannot write in {folder} (permission denied)")


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save_model(path: str | Path, weights: dict[str, np.ndarray], card: ModelCard) -> None:
    """Write a model file atomically: float32 weights, and the card's calendar tensors."""
    header = {"format": FORMAT, **card.to_header()}
    tensors = {k: np.ascontiguousarray(v, dtype="float32") for k, v in weights.items()}
    tensors |= {k: np.ascontiguousarray(v) for k, v in card.tensors().items()}
    blob = st_save(tensors, metadata={"lstm_forecast": json.dumps(header)})
    atomic_write(path, blob)


def load_model(path: str | Path) -> tuple[ModelCard, dict[str, np.ndarray]]:
    """Read a model file -> (card, weights), refusing anything that is not one of ours, of a
    format version this lstm-forecast cannot read, or whose weights do not fit its network.
    The calendar's tensors go to the card, never among the weights."""
    card, weights, _ = load_identified_model(path)
    return card, weights


def load_identified_model(path: str | Path) -> tuple[ModelCard, dict[str, np.ndarray], str]:
    """`load_model`, and the model's identity: a hash of the very bytes read (a model that
    `train` replaces meanwhile cannot lend the forecasts another model's identity)."""
    header, tensors, blob = _read(path, FORMAT, "model")
    weights = {k: v for k, v in tensors.items() if not k.startswith(CALENDAR_TENSORS)}
    card = ModelCard.from_header(header, str(path), tensors)
    expected = card.network.weight_shapes()
    got = {k: tuple(v.shape) for k, v in weights.items()}
    if got != expected:
        raise ModelFileError(f"{path}: damaged model file (its weights do not fit its network)")
    return card, weights, hashlib.sha256(blob).hexdigest()[:16]


def checkpoint_path(model_path: str | Path) -> Path:
    """Where training saves its checkpoint for a model path."""
    return Path(f"{model_path}.ckpt")


def save_checkpoint(path: str | Path, tensors: dict[str, np.ndarray], state: dict) -> None:
    header = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, **state}
    blob = st_save(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()},
        metadata={"lstm_forecast": json.dumps(header)},
    )
    atomic_write(path, blob)


def load_checkpoint(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    state, tensors, _ = _read(path, CHECKPOINT_FORMAT, "checkpoint")
    if state.get("format_version") != CHECKPOINT_VERSION:
        raise ModelFileError(
            f"{path}: checkpoint format version {state.get('format_version')} is not "
            f"supported (this lstm-forecast reads version {CHECKPOINT_VERSION})"
        )
    return state, tensors


def _read(path: str | Path, expected: str, what: str) -> tuple[dict, dict[str, np.ndarray], bytes]:
    """(header, tensors, the file's bytes) of a safetensors file of ours of the `expected`
    format."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelFileError(f"{path}: not a lstm-forecast {what} file (too short)")
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER or n > path.stat().st_size:
                raise ModelFileError(
                    f"{path}: not a lstm-forecast {what} file (no safetensors header)"
                )
            blob = head + fh.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a {what} file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    try:
        header = json.loads(blob[8 : 8 + n])
        meta = json.loads(header.get("__metadata__", {}).get("lstm_forecast", "null"))
    except (ValueError, AttributeError, TypeError):
        raise ModelFileError(
            f"{path}: not a lstm-forecast {what} file (unreadable header)"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != expected:
        raise ModelFileError(f"{path}: not a lstm-forecast {what} file")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged {what} file ({exc})") from None
    return meta, tensors, blob


@contextlib.contextmanager
def model_lock(model_path: str | Path, wait: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on `MODEL.lock` while writing a model, waiting up to `wait`
    seconds for another run's; BusyError when it is still held. The kernel drops the lock of
    a process that dies, so a crash leaves no stale lock: the empty file stays, and must (a run
    that finds it removed makes a new one, which another run holding the old one does not
    lock). A file removed or replaced just as it is locked is opened and locked again."""
    check_writable(model_path)
    path = f"{model_path}.lock"
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ModelFileError(
                f"{model_path}: cannot create the lock file {path} ({exc.strerror})"
            ) from None
        try:
            got = _locked(fd, model_path, path)
            if got:
                yield
                return
        finally:
            os.close(fd)  # releases the lock
        if got is None:
            continue  # the file was replaced as it was locked: lock the new one
        if (left := deadline - time.monotonic()) <= 0:
            raise BusyError(
                f"{model_path}: another run is writing this model "
                f"(lock {path}); try later or pass --wait SECONDS"
            )
        time.sleep(min(0.05, left))


def _locked(fd: int, model_path: str | Path, path: str) -> bool | None:
    """Take the exclusive lock on `fd` if it is free: True when it is still the file at `path`,
    None when that was removed or replaced meanwhile, False when another run holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:  # no locks on this file system (some network mounts)
        raise ModelFileError(f"{model_path}: cannot lock {path} ({exc.strerror})") from None
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return None
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino) or None
