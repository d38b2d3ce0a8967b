"""Where results go: --output files (CSV, JSON, Parquet) and database tables, typed, rerun-safe,
all or nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace

import pandas as pd
import pytest

from helpers import cli_path, hold_duckdb, run_sql
from lstm_forecast import api, outputs
from lstm_forecast.backtest import BacktestConfig
from lstm_forecast.db_url import URL_ENV, Database
from lstm_forecast.errors import ConfigError, DataError, ModelFileError
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig
from postgres import PASSWORD


def count(url: str, table: str = "forecasts") -> int:
    return run_sql(url, f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture(scope="module")
def small_backtest(walk_file):
    config = TrainConfig(lookback=10, horizon=3, hidden=8, layers=1, epochs=1, seed=0)
    return api.backtest(walk_file, config, BacktestConfig(folds=2, step=4), threads=1)


def test_output_is_a_file_a_database_or_stdout(tmp_path, monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    assert outputs.output_for(None, None, "forecasts") == outputs.Output()
    to_file = outputs.output_for(str(tmp_path / "f.parquet"), None, "forecasts")
    assert to_file.path == tmp_path / "f.parquet" and to_file.db is None
    url = f"postgresql://me:{PASSWORD}@db.example/prices"
    to_db = outputs.output_for(url, None, "forecasts", connect_timeout=3, wait=2)
    assert (to_db.table, to_db.db.connect_timeout, to_db.db.wait) == ("forecasts", 3, 2)
    assert str(to_db) == "postgresql://me:***@db.example/prices table forecasts"
    with pytest.raises(ConfigError, match=URL_ENV):
        outputs.output_for(None, "fc", "forecasts")
    monkeypatch.setenv(URL_ENV, url)
    assert outputs.output_for(None, "fc", "forecasts").db.url == url
    with pytest.raises(ConfigError, match="is a file"):
        outputs.output_for(str(tmp_path / "f.csv"), "fc", "forecasts")
    with pytest.raises(ConfigError, match="--report"):
        outputs.output_for(str(tmp_path / "f.csv"), None, "backtest", files=False)
    with pytest.raises(ModelFileError, match="does not exist"):  # exit 1, before any work
        outputs.output_for(str(tmp_path / "no" / "f.csv"), None, "forecasts")


def test_forecasts_into_a_database_carry_model_and_origin_once(database_url, walk_model, walk_file):
    model, _ = walk_model
    plain = api.predict(walk_file, model)
    frame = api.predict(walk_file, model, identify=True)
    assert list(frame.columns[:3]) == ["model", "series", "origin"]
    assert frame[plain.columns].equals(plain)
    assert (frame["origin"] == "2013-06-14").all()  # the walk's last business day
    out = outputs.Output(db=Database(database_url), table="fc")
    assert outputs.write_forecasts([frame], out, "csv") == 3
    assert outputs.write_forecasts([frame], out, "csv") == 3
    history = api.predict(walk_file, model, since="2013-06-01", identify=True)
    halves = [history.iloc[:12], history.iloc[12:]]  # frames as predict_groups yields them
    assert outputs.write_forecasts(iter(halves), out, "csv") == 30
    assert count(database_url, "fc") == len(history) == 3 * 10
    rows = run_sql(
        database_url, "SELECT origin, date, horizon, forecast FROM fc ORDER BY origin, horizon"
    )
    assert [str(v)[:10] for v in rows[-1][:2]] == ["2013-06-14", "2013-06-19"]  # h=3
    assert isinstance(rows[-1][2], int) and isinstance(rows[-1][3], float)


def test_parquet_output_has_typed_dates(walk_model, walk_file, tmp_path):
    import pyarrow.parquet as pq

    model, _ = walk_model
    frame = api.predict(walk_file, model, since="2013-06-10")
    halves = iter([frame.iloc[:7], frame.iloc[7:]])
    outputs.write_forecasts(halves, outputs.Output(path=tmp_path / "f.parquet"), "csv")
    assert pq.read_metadata(tmp_path / "f.parquet").num_row_groups == 2  # written as they came
    back = pq.read_table(tmp_path / "f.parquet").to_pandas()
    assert str(back["date"].dtype).startswith("datetime64") and len(back) == len(frame)
    assert back["date"].dt.strftime("%Y-%m-%d").tolist() == frame["date"].tolist()
    assert back["forecast"].tolist() == frame["forecast"].tolist()


def test_backtest_tables_are_keyed_by_run_and_model(database_url, small_backtest, tmp_path):
    result = small_backtest
    out = outputs.Output(db=Database(database_url), table="bt")
    written = outputs.write_backtest(tmp_path, result, out)
    assert outputs.write_backtest(tmp_path, result, out) == written
    assert count(database_url, "bt") == len(result.forecasts)
    metrics = outputs.metric_rows(result.metrics)
    assert count(database_url, "bt_metrics") == len(metrics) == written - len(result.forecasts)
    pooled = metrics[(metrics["series"] == outputs.POOLED) & (metrics["model"] == "lstm")]
    assert pooled["horizon"].tolist() == [1, 2, 3, 0]
    assert pooled["mae"].iloc[-1] == pytest.approx(result.metrics["models"]["lstm"]["mae"])
    runs = run_sql(database_url, "SELECT DISTINCT run FROM bt")
    assert runs == [(result.metrics["settings"]["run"],)]


def test_backtest_files_are_written_group_by_group_and_only_land_whole(small_backtest, tmp_path):
    import pyarrow.parquet as pq

    frame = small_backtest.forecasts
    halves = [frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]]
    with outputs.backtest_sink(tmp_path) as sink:
        for half in halves:
            sink.add(half)
    back = pd.read_csv(tmp_path / "forecasts.csv")
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))
    assert pq.read_metadata(tmp_path / "forecasts.parquet").num_row_groups == 2
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError), outputs.backtest_sink(tmp_path) as sink:
        sink.add(halves[0])
        raise RuntimeError("the second group failed")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing else


def test_run_identity_follows_data_and_settings(small_backtest, walk_file):
    settings = small_backtest.metrics["settings"]
    dataset = api.load_data(walk_file)
    config, options = TrainConfig(**settings["train"]), LoadOptions(**settings["load"])
    plan = BacktestConfig(**settings["backtest"])
    assert api.run_identity(dataset, config, plan, options) == settings["run"]
    other = replace(plan, step=5)
    assert api.run_identity(dataset, config, other, options) != settings["run"]


@pytest.mark.slow
def test_predict_into_postgres_twice_counts_rows_once(postgres_server, walk_model, walk_file):
    postgres_server.sql("CREATE DATABASE twice")
    url = postgres_server.url("twice")
    model, _ = walk_model
    args = ["predict", walk_file, "--model", model, "--output", url, "--since", "2013-06-03"]
    for _ in range(2):
        proc = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout == "", proc.stderr
        assert "wrote 30 forecast rows to" in proc.stderr and PASSWORD not in proc.stderr
    assert count(url) == 30
    assert run_sql(url, "SELECT count(DISTINCT model), count(DISTINCT origin) FROM forecasts") == [
        (1, 10)
    ]


@pytest.mark.slow
def test_kill_9_during_predict_into_postgres_leaves_no_partial_rows(
    postgres_server, walk_model, walk_file
):
    postgres_server.sql(  # the server notices a client gone even in the middle of a statement
        "CREATE DATABASE killed",
        "ALTER DATABASE killed SET client_connection_check_interval = '100ms'",
    )
    url = postgres_server.url("killed")
    model, _ = walk_model
    base = [cli_path(), "predict", str(walk_file), "--model", str(model), "--output", url]
    assert subprocess.run(base, capture_output=True).returncode == 0
    run_sql(
        url,  # every insert then waits inside its transaction: a write we can kill midway
        "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$",
        "CREATE TRIGGER stall AFTER INSERT ON forecasts "
        "FOR EACH STATEMENT EXECUTE FUNCTION stall()",
    )
    child = subprocess.Popen([*base, "--since", "2013-01-02"], stderr=subprocess.PIPE)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO forecasts%'"
    deadline = time.monotonic() + 60
    while run_sql(url, waiting)[0][0] == 0:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    run_sql(url, "SET lock_timeout = '20s'", "DROP TRIGGER stall ON forecasts")
    assert count(url) == 3  # the first run's rows, none of the killed run's


@pytest.mark.slow
def test_duckdb_file_held_by_another_writer_exits_75_or_waits(walk_model, walk_file, tmp_path):
    url = f"duckdb:///{tmp_path / 'fc.duckdb'}"
    model, _ = walk_model
    args = ["predict", walk_file, "--model", model, "--output", url, "--output-table", "fc"]
    holder = hold_duckdb(tmp_path / "fc.duckdb", 120)
    try:
        busy = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True)
        assert busy.returncode == 75 and "--wait" in busy.stderr, busy.stderr
        waiting = subprocess.Popen([cli_path(), *map(str, args), "--wait", "120"])
        time.sleep(1)
    finally:
        holder.kill()
        holder.wait()
    assert waiting.wait(timeout=120) == 0
    assert pd.DataFrame(run_sql(url, "SELECT * FROM fc")).shape[0] == 3


@pytest.mark.parametrize("name", ["f.csv", "f.parquet"])
def test_a_file_output_stays_as_it_was_when_a_later_group_fails(tmp_path, name):
    path = tmp_path / name
    path.write_text("old\n")

    def frames():
        yield pd.DataFrame({"series": ["A"], "date": ["2024-01-02"], "forecast": [1.5]})
        raise DataError("the second group is unreadable")

    with pytest.raises(DataError, match="second group"):
        outputs.write_forecasts(frames(), outputs.Output(path=path), "csv")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == [name]
