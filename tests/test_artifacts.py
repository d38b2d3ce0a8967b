"""Model files and checkpoints: round trips, refusal of anything not ours, atomic writes, locks."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstm_forecast import artifacts
from lstm_forecast.errors import BusyError, ModelFileError


def test_a_model_round_trips_bit_for_bit(walk_model, tmp_path):
    path, result = walk_model
    card, weights = artifacts.load_model(path)
    assert weights.keys() == result.weights.keys()
    for key, value in result.weights.items():
        np.testing.assert_array_equal(weights[key], value)
        assert weights[key].dtype == np.float32
    again = tmp_path / "again.lstm"
    artifacts.save_model(again, weights, card)
    assert again.read_bytes() == path.read_bytes()
    assert json.dumps(card.evaluation) == json.dumps(result.card.evaluation)  # NaN != NaN
    assert card.created == result.card.created


class _Boom:
    def __reduce__(self):
        return (open, (os.environ["MARKER"], "w"))


def test_a_pickle_is_refused_and_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    monkeypatch.setenv("MARKER", str(marker))
    bad = tmp_path / "evil.lstm"
    bad.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ModelFileError, match="not a lstm-forecast model file"):
        artifacts.load_model(bad)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (pickle.dumps({"weights": [1, 2, 3]}), "not a lstm-forecast model file"),
        (os.urandom(5000), "not a lstm-forecast model file"),
        (b"", "too short"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", "unreadable header"),
    ],
)
def test_foreign_files_are_refused(tmp_path, content, words):
    bad = tmp_path / "bad.lstm"
    bad.write_bytes(content)
    with pytest.raises(ModelFileError, match=words) as caught:
        artifacts.load_model(bad)
    assert str(bad) in str(caught.value)


def test_a_truncated_model_is_refused(walk_model, tmp_path):
    path, _ = walk_model
    blob = path.read_bytes()
    for size in (len(blob) // 2, len(blob) - 1):
        cut = tmp_path / "cut.lstm"
        cut.write_bytes(blob[:size])
        with pytest.raises(ModelFileError, match=r"damaged|not a lstm-forecast"):
            artifacts.load_model(cut)


def test_weights_that_do_not_fit_the_network_are_refused(walk_model, tmp_path):
    path, _ = walk_model
    card, weights = artifacts.load_model(path)
    bad = tmp_path / "bad.lstm"
    artifacts.save_model(bad, {**weights, "head.bias": np.zeros(2, "float32")}, card)
    with pytest.raises(ModelFileError, match="weights do not fit its network"):
        artifacts.load_model(bad)


def test_missing_files_folders_and_checkpoints_are_not_models(walk_model, tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        artifacts.load_model(tmp_path / "none.lstm")
    with pytest.raises(ModelFileError, match="is a directory"):
        artifacts.load_model(tmp_path)
    ckpt = tmp_path / "m.lstm.ckpt"
    artifacts.save_checkpoint(ckpt, {"x": np.arange(3.0)}, {"loop": {"epoch": 2}})
    with pytest.raises(ModelFileError, match="not a lstm-forecast model file"):
        artifacts.load_model(ckpt)
    path, _ = walk_model
    with pytest.raises(ModelFileError, match="not a lstm-forecast checkpoint file"):
        artifacts.load_checkpoint(path)


def test_a_checkpoint_round_trips(tmp_path):
    ckpt = artifacts.checkpoint_path(tmp_path / "m.lstm")
    assert ckpt.name == "m.lstm.ckpt"
    tensors = {"model.w": np.arange(6, dtype="float32").reshape(2, 3), "opt.0.step": np.array(4.0)}
    artifacts.save_checkpoint(ckpt, tensors, {"loop": {"epoch": 3}, "data_hash": "abc"})
    state, got = artifacts.load_checkpoint(ckpt)
    assert state["loop"] == {"epoch": 3} and state["data_hash"] == "abc"
    assert state["format_version"] == artifacts.CHECKPOINT_VERSION == 1
    for key, value in tensors.items():
        np.testing.assert_array_equal(got[key], value)


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    artifacts.atomic_write(target, "first\n")
    target.chmod(0o640)
    artifacts.atomic_write(target, b"second\n")
    assert target.read_text() == "second\n"
    assert target.stat().st_mode & 0o777 == 0o640  # an existing file keeps its permissions
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(ModelFileError, match="does not exist"):
        artifacts.atomic_write(tmp_path / "missing" / "x.csv", "x")


WRITER = """
import sys, time
from lstm_forecast import artifacts
with artifacts.atomic_file(sys.argv[1]) as fh:
    fh.write(b"half of a file")
    fh.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def _writer(target):
    """A process in the middle of writing `target` (its temporary file exists and is locked)."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline() == "writing\n"
    return child


def _backdate(path, seconds):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_killed_writers_temporary_file_is_swept_by_the_next_write(tmp_path):
    target = tmp_path / "forecasts.csv"
    target.write_text("old\n")
    dead, live = _writer(target), _writer(target)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=30)
        left = sorted(tmp_path.glob(".forecasts.csv.*.tmp"))
        assert len(left) == 2 and target.read_text() == "old\n"  # the kill left the old file
        for tmp in left:
            _backdate(tmp, artifacts.STALE_AFTER_S + 5)
        other = tmp_path / ".other.csv.x.tmp"  # another file's leftover is not this write's
        other.write_text("x")
        _backdate(other, 3600)
        artifacts.atomic_write(target, "new\n")
        assert target.read_text() == "new\n"
        # the dead writer's file is gone; the live writer's (locked) one stays
        (kept,) = tmp_path.glob(".forecasts.csv.*.tmp")
        assert kept.read_bytes() == b"half of a file" and other.exists()
        ckpt = tmp_path / ".forecasts.csv.ckpt.abcdefgh.tmp"  # another target's leftover
        ckpt.write_text("x")
        _backdate(ckpt, 3600)
        assert artifacts.sweep(target) == [] and ckpt.exists()
        fresh = _writer(target)  # a dead writer's young file is left alone
        fresh.kill()
        fresh.wait(timeout=30)
        assert artifacts.sweep(target) == []
    finally:
        live.kill()
        live.wait(timeout=30)
    assert len(list(tmp_path.glob(".forecasts.csv.????????.tmp"))) == 2  # live's, fresh's
    _backdate(kept, artifacts.STALE_AFTER_S + 5)
    assert artifacts.sweep(target) == [kept]


def test_paths_that_cannot_take_a_file_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory"):
        artifacts.check_writable(tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        artifacts.check_writable(tmp_path / "nope" / "m.lstm")
    artifacts.check_writable(tmp_path / "m.lstm")  # a new file in an existing folder is fine


HOLD_LOCK = """
import sys, time
from lstm_forecast import artifacts
with artifacts.model_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_held_lock_is_busy(tmp_path):
    model = tmp_path / "m.lstm"
    with (
        artifacts.model_lock(model),  # another run's: a lock of its own open file
        pytest.raises(BusyError, match="another run"),
        artifacts.model_lock(model, wait=0.0),
    ):
        pass
    with artifacts.model_lock(model):  # free again
        assert (tmp_path / "m.lstm.lock").exists()


def test_a_lock_waits_for_a_holder_that_lets_go_and_a_dead_holder_leaves_none(tmp_path):
    model = tmp_path / "m.lstm"
    holders = []

    def hold(seconds: float) -> subprocess.Popen:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, model, str(seconds)], stdout=subprocess.PIPE
        )
        holders.append(holder)
        assert holder.stdout.readline() == b"held\n"
        return holder

    try:
        holder = hold(1.0)
        started = time.monotonic()
        with artifacts.model_lock(model, wait=30.0):
            waited = time.monotonic() - started
        assert holder.wait() == 0 and 0.3 < waited < 30.0  # it waited for the holder
        holder = hold(600)
        with pytest.raises(BusyError), artifacts.model_lock(model, wait=0.0):
            pass
        holder.kill()  # a run that dies holding the lock leaves no stale lock behind
        holder.wait()
        with artifacts.model_lock(model, wait=0.0):
            pass
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
            holder.stdout.close()


def test_a_lock_file_replaced_as_it_is_locked_is_locked_again(tmp_path, monkeypatch):
    model = tmp_path / "m.lstm"
    lock = tmp_path / "m.lstm.lock"
    real_flock = artifacts.fcntl.flock
    replaced = []

    def flock_then_replace(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        if not replaced:  # another process swaps the file in between open and lock
            replaced.append(lock.stat().st_ino)
            lock.unlink()
            lock.touch()

    monkeypatch.setattr(artifacts.fcntl, "flock", flock_then_replace)
    with artifacts.model_lock(model):
        other = os.open(lock, os.O_RDWR)  # another run, on the file now there
        try:
            with pytest.raises(BlockingIOError):  # finds it locked
                real_flock(other, artifacts.fcntl.LOCK_EX | artifacts.fcntl.LOCK_NB)
        finally:
            os.close(other)
    assert replaced and lock.stat().st_ino != replaced[0]
