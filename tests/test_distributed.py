"""Two-rank training under torchrun on the CPU (gloo): same model as one process, clean failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import BOKEH, ROOT, long_prices, store_lake
from lstm_forecast import api, artifacts
from lstm_forecast.loading import LoadOptions
from lstm_forecast.settings import TrainConfig

pytestmark = pytest.mark.slow

TINY = dict(lookback=20, horizon=3, hidden=16, layers=1, epochs=3, patience=10, seed=0)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LSTM_FORECAST_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(model: Path, nproc: int = 2, **settings) -> subprocess.Popen:
    """Start `lstm-forecast train` on the multi-ticker sample as `nproc` ranks."""
    args = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, **settings}.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--log-dir=/dev/null"]
    cmd += [f"--nproc-per-node={nproc}", "-m", "lstm_forecast", "train", str(BOKEH)]
    cmd += ["--series-col", "Ticker", "--target", "Close", "--model", str(model), *args]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_training(model: Path, *jobs: subprocess.Popen) -> None:
    """Until the first periodic checkpoint is written (training runs: start with
    --checkpoint-every), or a job ends."""
    checkpoint = artifacts.checkpoint_path(model)
    deadline = time.monotonic() + 90
    while not checkpoint.exists() and time.monotonic() < deadline:
        assert all(job.poll() is None for job in jobs), jobs[0].communicate()[1]
        time.sleep(0.1)
    assert checkpoint.exists()


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
    job = torchrun(model, epochs=500, patience=500, checkpoint_every=5)
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
    job = torchrun(model, epochs=60, patience=60, checkpoint_every=5)
    wait_for_training(model, job)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=90)
    assert job.returncode != 0
    assert "training stopped by SIGTERM" in err, err
    checkpoint = artifacts.checkpoint_path(model)
    assert artifacts.load_checkpoint(checkpoint)[0]["loop"]["steps"] >= 5
    config = TrainConfig(**{**TINY, "epochs": 60, "patience": 60})
    options = LoadOptions(series_col="Ticker", target="Close")
    result = api.train(BOKEH, model, config, options, resume=True, threads=1)
    assert result.meta["training"]["epochs_run"] == 60
    assert model.exists() and not checkpoint.exists()


def lake_config(**settings) -> list[str]:
    """`train` options for the dataset of `lake` (tiny model, fixed seed)."""
    values = {**TINY, "steps_per_epoch": 6, **settings}
    return [f"--{k.replace('_', '-')}={v}" for k, v in values.items()]


@pytest.fixture
def lake(tmp_path) -> Path:
    """Six tickers of 300 days as a hive-partitioned Parquet dataset."""
    tickers = ("AAPL", "AMZN", "IBM", "MSFT", "NVDA", "ORCL")
    return store_lake(tmp_path / "lake", long_prices(tickers, days=300))


def changes(model: Path, lake: Path) -> np.ndarray:
    """The model's forecast minus each series' last value, for every series and step."""
    forecast = api.predict(lake, model)
    last = {s.name: s.values[-1] for s in api.load_data(lake).series}
    return forecast["forecast"].to_numpy() - forecast["series"].map(last).to_numpy()


def test_ranks_read_only_their_shard_and_train_the_model_one_process_would(tmp_path, lake):
    model = tmp_path / "two.lstm"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--log-dir=/dev/null"]
    cmd += ["--nproc-per-node=2"]
    cmd += ["-m", "lstm_forecast", "train", str(lake), "--model", str(model), *lake_config()]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert (
        "2 processes each read only their share of 6 series (rank 0: 3 series, 900 rows; "
        "rank 1: 3 series, 900 rows)" in " ".join(done.stderr.split())
    )
    single = tmp_path / "one.lstm"
    config = TrainConfig(**{**TINY, "steps_per_epoch": 6})
    api.train(lake, single, config, threads=1)
    two, one = artifacts.load_model(model)[0], artifacts.load_model(single)[0]
    assert [s.name for s in two.series] == [s.name for s in one.series]
    assert two.data_hash == one.data_hash and two.training.windows == one.training.windows
    np.testing.assert_allclose(changes(model, lake), changes(single, lake), rtol=0.05, atol=1e-3)


def node(model: Path, lake: Path, port: int, **settings) -> subprocess.Popen:
    """One torchrun "node" of two (one rank each), meeting the other by c10d on loopback."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1"]
    cmd += ["--log-dir=/dev/null"]
    cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=lake"]
    cmd += ["-m", "lstm_forecast", "train", str(lake), "--model", str(model)]
    cmd += lake_config(**settings)
    env = {**ENV, "LSTM_FORECAST_DIST_TIMEOUT": "20"}
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_train_one_model_and_survive_the_loss_of_one(tmp_path, lake):
    model, port = tmp_path / "nodes.lstm", free_port()
    first, second = node(model, lake, port), node(model, lake, port)
    outs = [job.communicate(timeout=180) for job in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert artifacts.load_model(model)[0].training.processes == 2
    model.unlink()

    port = free_port()
    first = node(model, lake, port, epochs=200, patience=200, checkpoint_every=3)
    second = node(model, lake, port, epochs=200, patience=200, checkpoint_every=3)
    wait_for_training(model, first, second)
    started = time.monotonic()
    for pid in [*workers(second), second.pid]:  # the node: its rank and its agent
        os.kill(pid, signal.SIGKILL)
    _, err = first.communicate(timeout=120)
    assert first.returncode != 0
    assert time.monotonic() - started < 120
    assert "lost another training process" in err or "failed" in err.lower()
    assert not model.exists()
    saved = artifacts.load_checkpoint(artifacts.checkpoint_path(model))[0]
    assert saved["loop"]["steps"] >= 3 and saved["loop"]["steps"] % 3 == 0
    config = TrainConfig(**{**TINY, "steps_per_epoch": 6, "epochs": 200, "patience": 200})
    result = api.train(lake, model, config, resume=True, threads=1)
    assert result.card.training.epochs_run == 200 and result.card.training.processes == 1
    assert model.exists() and not artifacts.checkpoint_path(model).exists()


def test_nproc_relaunches_the_command_under_torchrun(tmp_path):
    model = tmp_path / "n.lstm"
    args = [f"--{k}={v}" for k, v in {**TINY, "epochs": 1}.items()]
    cmd = [sys.executable, "-m", "lstm_forecast", "train", str(BOKEH), "--series-col", "Ticker"]
    cmd += ["--model", str(model), "--nproc", "2", *args]
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**ENV, "TMPDIR": str(temp), "PYTHONPROFILEIMPORTTIME": "1"}  # imports on stderr
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert artifacts.load_model(model)[0].training.processes == 2
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "torch.distributed" in imported  # each rank's imports were listed
    assert not [m for m in imported if m.startswith("torch._dynamo")]  # 2 s of every rank
    assert list(temp.glob("torchelastic_*")) == []  # torchrun's log folder is not left behind
