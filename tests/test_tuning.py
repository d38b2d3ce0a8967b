"""The search: trials scored on folds before the untouched stretch only, failures recorded,
trials shared by processes (SQLite, PostgreSQL), resumed after kill -9, stopped by SIGTERM."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import replace

import numpy as np
import optuna
import pytest

from helpers import (
    TUNE_ARGS,
    cli_path,
    states,
    study_trials,
    tune_files,
)
from lstm_forecast import backtest, tuning
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.settings import TrainConfig

BASE = TrainConfig(horizon=3, lookback=12, hidden=8, layers=1, epochs=1, patience=1)
PLAN = tuning.TunePlan(folds=2, step=30, holdout=40)
POINT = {"lookback": 10, "hidden": 4, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-4}


@pytest.fixture
def files(tmp_path):
    return tune_files(tmp_path)


def setup_of(dataset, space) -> tuning.Setup:
    return tuning.prepare(dataset, BASE, PLAN, space, device="cpu", threads=1)


def start(*args, env=None) -> subprocess.Popen:
    """`lstm-forecast tune ...` in the background."""
    import os

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


def test_the_search_never_reads_the_untouched_stretch(files):
    data, space = files
    dataset = load(data, LoadOptions())
    setup = setup_of(dataset, space)
    s, cut = dataset.series[0], setup.span.series[0]
    holdout_origins = backtest.fold_origins(len(s), BASE, setup.holdout)[0]
    assert len(cut) == holdout_origins[0] + 1  # the span ends at the stretch's first origin
    inner = backtest.fold_origins(len(cut), BASE, setup.inner)
    assert inner.max() + BASE.horizon <= holdout_origins[0]  # every target before the stretch
    # Changing the stretch changes nothing the search sees or scores.
    values = s.values.copy()
    values[holdout_origins[0] + 1 :] = values[holdout_origins[0] + 1 :] * 3 + 50
    other = replace(dataset, series=[replace(s, values=values)])
    other_setup = setup_of(other, space)
    assert other_setup.fingerprint() == setup.fingerprint()
    trial_a = optuna.trial.FixedTrial({**POINT, "transform": "diff"}, number=4)
    trial_b = optuna.trial.FixedTrial({**POINT, "transform": "diff"}, number=4)
    a = tuning.objective(setup, lambda: None)(trial_a)
    b = tuning.objective(other_setup, lambda: None)(trial_b)
    assert a == b and np.isfinite(a) and a > 0
    assert trial_a.user_attrs["config"]["seed"] == BASE.seed + 4
    assert len(trial_a.user_attrs["fold_scores"]) == PLAN.folds
    assert trial_a.user_attrs["rel_mae"] > 0


def test_an_impossible_trial_is_recorded_as_failed_and_the_search_goes_on(files, tmp_path):
    data, space = files
    space.write_text(space.read_text().replace("{low = 8, high = 16}", "{choices = [8, 12, 250]}"))
    setup = setup_of(load(data, LoadOptions()), space)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = tuning.open_study(url, "s", setup, 3)
    for lookback in (250, 8, 12, 8):  # the first trials' lookbacks; the rest is drawn
        study.enqueue_trial({"lookback": lookback})
    tuning.search(setup, url, "s", trials=3, timeout=None)
    trials = study_trials(url, "s")
    first = trials[0]
    assert len(trials) == 4
    assert first.state.name == "FAIL" and first.params["lookback"] == 250
    assert "need" in first.user_attrs["error"] and "rows" in first.user_attrs["error"]
    assert_shared(trials, 3, 1)


def test_a_study_resumes_only_with_the_same_data_and_settings(files, tmp_path):
    data, space = files
    setup = setup_of(load(data, LoadOptions()), space)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tuning.open_study(url, "s", setup, 3)
    tuning.open_study(url, "s", setup, 3)  # the same: fine
    changed = replace(setup, base=replace(BASE, epochs=2))
    with pytest.raises(tuning.ConfigError, match="made with other base"):
        tuning.open_study(url, "s", changed, 3)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # trials made by ask(), not optimize
def test_a_trial_whose_process_died_on_this_machine_is_failed_at_once(files, tmp_path):
    data, space = files
    setup = setup_of(load(data, LoadOptions()), space)
    study = tuning.open_study(f"sqlite:///{tmp_path / 'study.db'}", "s", setup, 3)
    gone = subprocess.Popen(["true"])
    gone.wait()
    here, elsewhere = study.ask(), study.ask()
    here.set_user_attr("process", {**tuning.this_process(), "pid": gone.pid})
    elsewhere.set_user_attr("process", {"host": "elsewhere", "boot": "b", "pid": gone.pid})
    tuning.fail_abandoned(study)
    found = {t.number: t.state.name for t in study.get_trials()}
    assert found == {here.number: "FAIL", elsewhere.number: "RUNNING"}  # that one: heartbeat


def test_storage_urls():
    assert tuning.storage_url(None, "/m/best.lstm") == "sqlite:////m/best.lstm.tune.db"
    pg = tuning.storage_url("postgresql://u:pw@h/db", "m")
    assert pg == "postgresql+psycopg://u:pw@h/db"
    assert tuning.shown(pg) == "postgresql+psycopg://u:***@h/db"
    with pytest.raises(tuning.ConfigError, match="not a database URL"):
        tuning.storage_url("study.db", "m")


# ---------------------------------------------------------------------------------------------
# processes


@pytest.mark.slow
def test_kill_9_and_restart_completes_the_trials_none_repeated(files, tmp_path):
    data, space = files
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
def test_two_processes_on_one_sqlite_study_share_the_trials(files, tmp_path):
    data, space = files
    model = tmp_path / "m.lstm"
    args = [data, "--model", model, "--space", space, "--trials", 6, *TUNE_ARGS]
    procs = [start(*args), start(*args)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert_shared(study_trials(f"sqlite:///{model}.tune.db", "m.lstm"), 6, 2)
    assert model.exists()


@pytest.mark.slow
def test_jobs_run_worker_processes_on_one_study(files, tmp_path):
    data, space = files
    model = tmp_path / "m.lstm"
    proc = start(data, "--model", model, "--space", space, "--trials", 4, *TUNE_ARGS, "--jobs", 2)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert_shared(study_trials(f"sqlite:///{model}.tune.db", "m.lstm"), 4, 2)


@pytest.mark.slow
def test_two_processes_on_one_postgresql_study_share_the_trials(files, tmp_path, postgres_server):
    data, space = files
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
def test_sigterm_fails_the_running_trial_and_exits_143(files, tmp_path):
    data, space = files
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
