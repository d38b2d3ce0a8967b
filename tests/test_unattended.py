"""Running unattended: signals, checkpoints and resume, locks, concurrent readers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from helpers import cli_path, random_walk_prices, run_cli, write_prices
from lstm_forecast import artifacts

pytestmark = pytest.mark.slow

OPTS = (
    "--lookback 30 --horizon 3 --hidden 64 --layers 2 --epochs 60 --patience 500 --seed 0 "
    "--threads 1 --batch-size 8"
).split()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("u") / "p.csv", random_walk_prices(2500, seed=5))


def test_sigterm_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(data, tmp_path):
    model = tmp_path / "m.lstm"
    proc = subprocess.Popen(
        [cli_path(), "train", data, "--model", model, *OPTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ckpt = artifacts.checkpoint_path(model)
    lock = model.parent / f"{model.name}.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:  # taken just before training starts
        time.sleep(0.05)
    time.sleep(3.0)  # past the optimiser set-up, well before the last epoch
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 143, err
    assert ckpt.exists() and not model.exists(), err
    assert "--resume" in err and "Traceback" not in err

    resumed = run_cli("train", data, "--model", model, *OPTS, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not ckpt.exists()
    straight = tmp_path / "straight.lstm"
    assert run_cli("train", data, "--model", straight, *OPTS).returncode == 0
    _, w_resumed = artifacts.load_model(model)
    _, w_straight = artifacts.load_model(straight)
    for key in w_straight:
        np.testing.assert_array_equal(w_resumed[key], w_straight[key])
    a = run_cli("predict", data, "--model", model).stdout
    b = run_cli("predict", data, "--model", straight).stdout
    assert a == b and len(a.splitlines()) == 4


def test_resume_without_checkpoint_is_a_clear_error(data, tmp_path):
    proc = run_cli("train", data, "--model", tmp_path / "none.lstm", *OPTS, "--resume")
    assert proc.returncode == 1 and "no such checkpoint" in proc.stderr


def test_predict_in_a_loop_while_train_replaces_the_model(data, tmp_path):
    model = tmp_path / "live.lstm"
    quick = [*OPTS[:4], "--hidden", "8", "--layers", "1", "--epochs", "2", "--seed"]
    assert run_cli("train", data, "--model", model, *quick, "0").returncode == 0
    trainer = subprocess.Popen(
        [
            "bash",
            "-c",
            " && ".join(
                f"'{cli_path()}' train '{data}' --model '{model}' "
                + " ".join(quick)
                + f" {seed} --wait 60 -q"
                for seed in (1, 2, 3)
            ),
        ]
    )
    outputs = 0
    while trainer.poll() is None:
        proc = run_cli("predict", data, "--model", model)
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.splitlines()) == 4
        outputs += 1
    assert trainer.returncode == 0 and outputs >= 2


SMALL = "--lookback 20 --horizon 3 --hidden 8 --layers 1 --epochs 2 --threads 1".split()


@pytest.fixture(scope="module")
def older_and_newer(tmp_path_factory):
    """The same random walk twice: the first 1,200 rows, and all 1,300."""
    folder = tmp_path_factory.mktemp("upd")
    prices = random_walk_prices(1300, seed=8)
    return write_prices(folder / "old.csv", prices[:1200]), write_prices(folder / "new.csv", prices)


def test_update_fine_tunes_on_newer_rows_and_refuses_stale_or_foreign_data(
    older_and_newer, tmp_path
):
    old, new = older_and_newer
    model = tmp_path / "m.lstm"
    assert run_cli("train", old, "--model", model, *SMALL).returncode == 0
    same = run_cli("update", old, "--model", model)
    assert same.returncode == 1 and "no rows newer" in same.stderr
    proc = run_cli("update", new, "--model", model, "--epochs", "2", "--json-log")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stderr.strip().splitlines()[-1])
    assert record["command"] == "update" and record["exit_status"] == 0
    info = json.loads(run_cli("info", model, "--json").stdout)
    assert info["series"][0]["last"].startswith("2014-12-26")  # row 1300 of the business days
    assert info["config"]["epochs"] == 2 and info["config"]["lookback"] == 20
    weekly = tmp_path / "weekly.csv"
    frame = pd.read_csv(new).iloc[::5]
    frame.to_csv(weekly, index=False)
    foreign = run_cli("update", weekly, "--model", model)
    assert foreign.returncode == 1 and "frequency" in foreign.stderr


def test_keep_better_keeps_the_model_that_scores_better(older_and_newer, tmp_path):
    _, new = older_and_newer
    model = tmp_path / "m.lstm"
    assert run_cli("train", new, "--model", model, *SMALL, "--epochs", "4").returncode == 0
    good = model.read_bytes()
    # one epoch at a huge learning rate cannot do better than the trained model
    worse = run_cli(
        "train", new, "--model", model, *SMALL, "--epochs", "1", "--lr", "0.5", "--keep-better"
    )
    assert worse.returncode == 0, worse.stderr
    assert "keep-better" in worse.stderr
    kept = "existing model kept" in worse.stderr
    assert (model.read_bytes() == good) == kept


def test_config_file_environment_and_options_precedence(older_and_newer, tmp_path):
    _, new = older_and_newer
    cfg = tmp_path / "settings.toml"
    cfg.write_text("epochs = 7\n[train]\nhidden = 12\nlookback = 25\n")
    proc = run_cli(
        "train",
        new,
        "--model",
        tmp_path / "m.lstm",
        "--config",
        cfg,
        "--lookback",
        "30",
        "--print-config",
        env={"LSTM_FORECAST_DEVICE": "cpu"},
    )
    assert proc.returncode == 0
    settings = dict(line.split(" = ", 1) for line in proc.stdout.splitlines())
    assert settings["epochs"] == "7" and settings["hidden"] == "12"
    assert settings["lookback"] == "30" and settings["device"] == '"cpu"'
    assert not (tmp_path / "m.lstm").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = \n")
    proc = run_cli("train", new, "--model", tmp_path / "m.lstm", "--config", bad)
    assert proc.returncode == 1 and "not a valid TOML" in proc.stderr


def test_log_file_records_failures_too(tmp_path):
    log = tmp_path / "runs.jsonl"
    proc = run_cli(
        "predict", tmp_path / "missing.csv", "--model", tmp_path / "m.lstm", "--log-file", log
    )
    assert proc.returncode == 1
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["exit_status"] == 1 and record["ok"] is False
    assert "no such model file" in record["error"]
    assert set(record) >= {"command", "start", "end", "seconds"}


def test_writes_nothing_outside_the_named_paths(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    data = write_prices(tmp_path / "p.csv", random_walk_prices(400, seed=2))
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), LSTM_FORECAST_THREADS="1")
    steps = [
        ["train", data, "--model", "m.lstm", *SMALL],
        ["predict", data, "--model", "m.lstm", "--output", "fc.csv"],
        ["backtest", data, "--report", "bt", "--folds", "1", "--step", "30", *SMALL],
    ]
    for args in steps:
        proc = subprocess.run(
            [cli_path(), *map(str, args)], cwd=work, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    assert list(home.iterdir()) == []
    assert {p.name for p in work.iterdir()} <= {"m.lstm", "m.lstm.lock", "fc.csv", "bt"}


def test_config_keys_are_option_names_and_typos_are_errors(older_and_newer, tmp_path):
    _, new = older_and_newer
    model = tmp_path / "m.lstm"
    assert run_cli("train", new, "--model", model, *SMALL).returncode == 0
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'log_file = "{tmp_path / "runs.jsonl"}"\n[predict]\nformat = "json"\n')
    proc = run_cli("predict", new, "--model", model, "--config", cfg)
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["horizon"] == 1
    assert json.loads((tmp_path / "runs.jsonl").read_text())["command"] == "predict"
    cfg.write_text("[train]\nepoch = 3\n")
    proc = run_cli("train", new, "--model", model, "--config", cfg)
    assert proc.returncode == 1 and "[train] has no setting 'epoch'" in proc.stderr


def test_keep_better_scores_an_identical_model_identically(older_and_newer, tmp_path):
    _, new = older_and_newer
    model = tmp_path / "m.lstm"
    assert run_cli("train", new, "--model", model, *SMALL).returncode == 0
    again = run_cli("train", new, "--model", model, *SMALL, "--keep-better")
    line = next(x for x in again.stderr.splitlines() if x.startswith("keep-better"))
    new_score, old_score = (part.split()[-1].rstrip(")") for part in line.split(","))
    assert new_score == old_score and "new model replaces" in line
