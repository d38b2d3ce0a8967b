"""Shared fixtures: the installed CLI, models trained once per session, a throwaway PostgreSQL
server and an empty database of each kind, and a temp folder of the run's own."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

from helpers import (
    BOKEH,
    GLOBAL_CONFIG,
    TUNE_ARGS,
    WALK_CONFIG,
    random_walk_prices,
    run_cli,
    tune_files,
    write_prices,
)
from lstm_forecast import api
from lstm_forecast.settings import TrainConfig
from postgres import Server, binaries

DATABASE_KINDS = ["postgresql", "sqlite", "duckdb"]


@pytest.fixture(scope="session", autouse=True)
def own_temp_folder(tmp_path_factory):
    """The system temp folder of this run and of every command it starts, so that what the
    tool keeps there (the calendar cache) starts empty and nothing is left from another run.
    Others may enter it (not list it): the PostgreSQL server runs as its own OS user."""
    from lstm_forecast import calendar_cache

    tmp_path_factory.getbasetemp()  # pytest's own folders stay where they always are
    folder = tempfile.mkdtemp(prefix="lstm-forecast-tests-")
    os.chmod(folder, 0o711)
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    calendar_cache.folder.cache_clear()
    yield
    if saved[0] is None:
        os.environ.pop("TMPDIR")
    else:
        os.environ["TMPDIR"] = saved[0]
    tempfile.tempdir = saved[1]
    calendar_cache.folder.cache_clear()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def walk_file(tmp_path_factory):
    """900 business days of a random walk from 2010-01-04."""
    return write_prices(
        tmp_path_factory.mktemp("walk") / "walk.csv", random_walk_prices(900, seed=3)
    )


@pytest.fixture(scope="session")
def walk_model(walk_file, tmp_path_factory):
    """(model path, TrainResult) of a small model of `walk_file`."""
    model = tmp_path_factory.mktemp("model") / "walk.lstm"
    result = api.train(walk_file, model, TrainConfig(**WALK_CONFIG), threads=1)
    return model, result


@pytest.fixture(scope="session")
def global_model(tmp_path_factory):
    """(model path, TrainResult) of one model of the five tickers of the long sample."""
    path = tmp_path_factory.mktemp("global") / "stocks.lstm"
    result = api.train(BOKEH, path, TrainConfig(**GLOBAL_CONFIG), threads=1)
    return path, result


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run, stopped and removed at the end."""
    bindir = binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server installed (initdb not found): apt-get install postgresql")
    server = Server(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request, tmp_path) -> str:
    """The URL of a new, empty database of each kind (with its password, for PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'test.duckdb'}"
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.sql(f"CREATE DATABASE {name}")
    return server.url(name)


@pytest.fixture(scope="session")
def tuned(tmp_path_factory):
    """One `lstm-forecast tune` of a small seasonal series with --report and --log-file:
    {"data", "space", "model", "settings", "report", "log", "proc", "args"}."""
    folder = tmp_path_factory.mktemp("tune")
    data, space = tune_files(folder)
    model = folder / "best.lstm"
    args = [
        "tune", data, "--model", model, "--space", space, "--trials", 5, *TUNE_ARGS,
        "--report", folder / "report", "--log-file", folder / "runs.jsonl",
    ]  # fmt: skip
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    return {
        "data": data,
        "space": space,
        "model": model,
        "settings": folder / "best.lstm.toml",
        "report": folder / "report",
        "log": folder / "runs.jsonl",
        "proc": proc,
        "args": args,
    }


@pytest.fixture
def tune_inputs(tmp_path):
    """(data, space file) of a small seasonal series and a tiny search space."""
    return tune_files(tmp_path)
