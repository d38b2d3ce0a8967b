"""Two-rank training under torchrun on the CPU (gloo): same model as one process, clean failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import BOKEH, ROOT
from lstm_forecast import api, artifacts
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig

pytestmark = pytest.mark.slow

TINY = dict(lookback=20, horizon=3, hidden=16, layers=1, epochs=3, patience=10, seed=0)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LSTM_FORECAST_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(model: Path, nproc: int = 2, **settings) -> subprocess.Popen:
    """Start `lstm-forecast train` on the multi-ticker sample as `nproc` ranks."""
    args = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, **settings}.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc-per-node={nproc}", "-m", "lstm_forecast", "train", str(BOKEH)]
    cmd += ["--series-col", "Ticker", "--target", "Close", "--model", str(model), *args]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_training(model: Path, job: subprocess.Popen) -> None:
    """Until rank 0 holds the model's lock (data loaded), plus time to reach the epochs."""
    lock = Path(f"{model}.lock")
    deadline = time.monotonic() + 60
    while not lock.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)


def workers(job: subprocess.Popen) -> list[int]:
    """Process ids of torchrun's ranks (its children)."""
    children = Path(f"/proc/{job.pid}/task/{job.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_two_ranks_train_the_model_one_process_would(tmp_path):
    model = tmp_path / "two.lstm"
    job = torchrun(model)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err
    assert err.count("trained 3 epochs") == 1  # rank 0 alone reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.lstm", "two.lstm.lock"]
    single = tmp_path / "one.lstm"
    options = LoadOptions(series_col="Ticker", target="Close")
    api.train(BOKEH, single, TrainConfig(**TINY), options, threads=1)
    two, _ = artifacts.load_model(model)
    one, _ = artifacts.load_model(single)
    assert two.training.processes == 2 and one.training.processes == 1
    assert two.training.best_val_loss == pytest.approx(one.training.best_val_loss, rel=0.05)
    fc_two = api.predict(BOKEH, model, options=LoadOptions(series_col="Ticker"))
    fc_one = api.predict(BOKEH, single, options=LoadOptions(series_col="Ticker"))
    assert list(fc_two["series"]) == list(fc_one["series"])
    np.testing.assert_allclose(fc_two["forecast"], fc_one["forecast"], rtol=0.05)


def test_a_killed_rank_ends_the_job_with_an_error(tmp_path):
    model = tmp_path / "killed.lstm"
    job = torchrun(model, epochs=500, patience=500)
    wait_for_training(model, job)
    assert job.poll() is None, job.communicate()[1]
    started = time.monotonic()
    os.kill(workers(job)[-1], signal.SIGKILL)
    _, err = job.communicate(timeout=90)
    assert job.returncode != 0
    assert time.monotonic() - started < 90
    assert "Signal 9 (SIGKILL)" in err or "lost another training process" in err
    assert not model.exists()


def test_sigterm_checkpoints_and_one_process_resumes(tmp_path):
    model = tmp_path / "resumed.lstm"
    job = torchrun(model, epochs=60, patience=60)
    wait_for_training(model, job)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=90)
    assert job.returncode != 0
    checkpoint = artifacts.checkpoint_path(model)
    assert checkpoint.exists(), err
    assert artifacts.load_checkpoint(checkpoint)[0]["loop"]["epoch"] >= 1
    config = TrainConfig(**{**TINY, "epochs": 60, "patience": 60})
    options = LoadOptions(series_col="Ticker", target="Close")
    result = api.train(BOKEH, model, config, options, resume=True, threads=1)
    assert result.meta["training"]["epochs_run"] == 60
    assert model.exists() and not checkpoint.exists()


def test_nproc_relaunches_the_command_under_torchrun(tmp_path):
    model = tmp_path / "n.lstm"
    args = [f"--{k}={v}" for k, v in {**TINY, "epochs": 1}.items()]
    cmd = [sys.executable, "-m", "lstm_forecast", "train", str(BOKEH), "--series-col", "Ticker"]
    cmd += ["--model", str(model), "--nproc", "2", *args]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert artifacts.load_model(model)[0].training.processes == 2
