"""The study: failures recorded, settings checked on resume, abandoned trials failed, trials
shared by processes (SQLite, PostgreSQL, --jobs), resumed after kill -9, stopped by SIGTERM."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import replace

import pytest

from helpers import (
    TUNE_ARGS,
    TUNE_BASE,
    cli_path,
    states,
    study_trials,
    tune_setup,
)
from lstm_forecast import tune_study, tuning
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.settings import TrainConfig


def start(*args, env=None) -> subprocess.Popen:
    """`lstm-forecast tune ...` in the background."""
    full = {**os.environ, "LSTM_FORECAST_THREADS": "1", **(env or {})}
    return subprocess.Popen(
        [cli_path(), "tune", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )


def wait_until(db, condition, timeout=180.0) -> list[tuple]:
    """Poll the SQLite study file until `condition(rows of (number, state))` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=10) as conn:
                rows = conn.execute("SELECT number, state FROM trials").fetchall()
        except sqlite3.OperationalError:  # not created yet
            rows = []
        if condition(rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting on {db}")


def assert_shared(trials, n: int, processes: int) -> None:
    """N finished trials (at most one more per extra process), none running, none repeated."""
    found = states(trials)
    finished = found.get("COMPLETE", 0) + found.get("PRUNED", 0)
    assert n <= finished <= n + processes - 1, found
    assert "RUNNING" not in found, found
    assert len({t.number for t in trials}) == len(trials)
    params = [tuple(sorted(t.params.items())) for t in trials if t.state.is_finished()]
    assert len(set(params)) == len(params)
    seeds = [t.user_attrs["config"]["seed"] for t in trials if "config" in t.user_attrs]
    assert len(set(seeds)) == len(seeds)  # seed + trial number: no two replay one training


# ---------------------------------------------------------------------------------------------
# in process


def test_an_impossible_trial_is_recorded_as_failed_and_the_search_goes_on(tune_inputs, tmp_path):
    data, space = tune_inputs
    space.write_text(space.read_text().replace("{low = 8, high = 16}", "{choices = [8, 12, 250]}"))
    setup = tune_setup(load(data, LoadOptions()), space)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = tune_study.open_study(url, "s", setup, 3)
    for lookback in (250, 8, 12, 8):  # the first trials' lookbacks; the rest is drawn
        study.enqueue_trial({"lookback": lookback})
    tune_study.search(setup, url, "s", trials=3, timeout=None)
    trials = study_trials(url, "s")
    first = trials[0]
    assert len(trials) == 4
    assert first.state.name == "FAIL" and first.params["lookback"] == 250
    assert "need" in first.user_attrs["error"] and "rows" in first.user_attrs["error"]
    assert_shared(trials, 3, 1)


def test_a_study_resumes_only_with_the_same_data_and_settings(tune_inputs, tmp_path):
    data, space = tune_inputs
    setup = tune_setup(load(data, LoadOptions()), space)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tune_study.open_study(url, "s", setup, 3)
    tune_study.open_study(url, "s", setup, 3)  # the same: fine
    changed = replace(setup, base=TrainConfig(**TUNE_BASE | {"epochs": 2}))
    with pytest.raises(tune_study.ConfigError, match="made with other base") as caught:
        tune_study.open_study(url, "s", changed, 3)
    assert "base (epochs=1 (now 2));" in str(caught.value)  # what to pass to resume it


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # trials made by ask(), not optimize
def test_a_trial_whose_process_died_on_this_machine_is_failed_at_once(tune_inputs, tmp_path):
    data, space = tune_inputs
    setup = tune_setup(load(data, LoadOptions()), space)
    study = tune_study.open_study(f"sqlite:///{tmp_path / 'study.db'}", "s", setup, 3)
    gone = subprocess.Popen(["true"])
    gone.wait()
    here, elsewhere = study.ask(), study.ask()
    here.set_user_attr("process", {**tuning.this_process(), "pid": gone.pid})
    elsewhere.set_user_attr("process", {"host": "elsewhere", "boot": "b", "pid": gone.pid})
    tune_study.fail_abandoned(study)
    found = {t.number: t.state.name for t in study.get_trials()}
    assert found == {here.number: "FAIL", elsewhere.number: "RUNNING"}  # that one: heartbeat


def test_storage_urls():
    assert tune_study.storage_url(None, "/m/best.lstm") == "sqlite:////m/best.lstm.tune.db"
    pg = tune_study.storage_url("postgresql://u:pw@h/db", "m")
    assert pg == "postgresql+psycopg://u:pw@h/db"
    assert tune_study.shown(pg) == "postgresql+psycopg://u:***@h/db"
    with pytest.raises(tune_study.ConfigError, match="not a database URL"):
        tune_study.storage_url("study.db", "m")


# ---------------------------------------------------------------------------------------------
# processes


@pytest.mark.slow
def test_kill_9_and_restart_completes_the_trials_none_repeated(tune_inputs, tmp_path):
    data, space = tune_inputs
    model = tmp_path / "m.lstm"
    db = f"{model}.tune.db"
    args = [data, "--model", model, "--space", space, "--trials", 6, *TUNE_ARGS, "--epochs", 3]
    proc = start(*args)
    rows = wait_until(
        db, lambda r: sum(s == "COMPLETE" for _, s in r) >= 2 and any(s == "RUNNING" for _, s in r)
    )
    proc.kill()
    proc.wait(30)
    killed = [n for n, s in wait_until(db, lambda r: True) if s == "RUNNING"]
    assert killed and rows
    again = start(*args)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    trials = study_trials(f"sqlite:///{db}", "m.lstm")
    assert_shared(trials, 6, 1)
    assert all(trials[n].state.name == "FAIL" for n in killed)  # marked failed, not counted
    assert model.exists() and (tmp_path / "m.lstm.toml").exists()


@pytest.mark.slow
def test_two_processes_on_one_sqlite_study_share_the_trials(tune_inputs, tmp_path):
    data, space = tune_inputs
    model = tmp_path / "m.lstm"
    args = [data, "--model", model, "--space", space, "--trials", 6, *TUNE_ARGS]
    procs = [start(*args), start(*args)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert_shared(study_trials(f"sqlite:///{model}.tune.db", "m.lstm"), 6, 2)
    assert model.exists()


@pytest.mark.slow
def test_jobs_run_worker_processes_on_one_study(tune_inputs, tmp_path):
    data, space = tune_inputs
    model = tmp_path / "m.lstm"
    proc = start(data, "--model", model, "--space", space, "--trials", 4, *TUNE_ARGS, "--jobs", 2)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert_shared(study_trials(f"sqlite:///{model}.tune.db", "m.lstm"), 4, 2)


@pytest.mark.slow
def test_two_processes_on_one_postgresql_study_share_the_trials(
    tune_inputs, tmp_path, postgres_server
):
    data, space = tune_inputs
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.sql(f"CREATE DATABASE {name}")
    url = postgres_server.url(name)
    log = tmp_path / "runs.jsonl"
    procs = [
        start(data, "--model", tmp_path / "m.lstm", "--space", space, "--trials", 6,
              "--storage", url, "--study", "pg", "--log-file", log, *TUNE_ARGS,
              *(["--report", tmp_path / "rep"] if i == 0 else []))
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    assert_shared(study_trials(url, "pg"), 6, 2)
    password = url.split(":")[2].split("@")[0]
    written = [log, tmp_path / "m.lstm.toml", tmp_path / "rep" / "tune.json"]
    texts = [*itertools.chain.from_iterable(outputs), *(p.read_text() for p in written)]
    assert all(password not in text for text in texts)
    assert "postgresql+psycopg://postgres:***@" in (tmp_path / "rep" / "tune.json").read_text()


@pytest.mark.slow
def test_sigterm_fails_the_running_trial_and_exits_143(tune_inputs, tmp_path):
    data, space = tune_inputs
    model = tmp_path / "m.lstm"
    long = ["--epochs", 400, "--patience", 1000]
    proc = start(data, "--model", model, "--space", space, "--trials", 5, *TUNE_ARGS, *long)
    wait_until(f"{model}.tune.db", lambda r: any(s == "RUNNING" for _, s in r))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "tune stopped by SIGTERM" in err and "Traceback" not in err
    trials = study_trials(f"sqlite:///{model}.tune.db", "m.lstm")
    assert [t.state.name for t in trials] == ["FAIL"]
    assert "stopped by a signal" in trials[0].user_attrs["error"]
    assert not model.exists()
