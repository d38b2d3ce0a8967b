"""Running unattended: signals, checkpoints and resume, locks, concurrent readers."""

from __future__ import annotations

import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import cli_path, random_walk_prices, run_cli, write_prices
from lstm_forecast import artifacts

pytestmark = pytest.mark.slow

OPTS = [
    "--lookback",
    "30",
    "--horizon",
    "3",
    "--hidden",
    "64",
    "--layers",
    "2",
    "--epochs",
    "25",
    "--patience",
    "100",
    "--seed",
    "0",
    "--threads",
    "1",
    "--batch-size",
    "8",
]


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
    time.sleep(1.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 143, err
    assert ckpt.exists() and not model.exists()
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
