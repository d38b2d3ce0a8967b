"""The installed `lstm-forecast` command end to end: data on stdout, messages and exit codes."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from helpers import cli_path, random_walk_prices, run_cli, write_dayfirst_sample, write_prices

pytestmark = pytest.mark.slow

TRAIN = "--lookback 30 --horizon 5 --hidden 16 --layers 1 --epochs 3 --seed 0".split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The day-first sample (like sp500.csv) trained once through the command line."""
    folder = tmp_path_factory.mktemp("cli")
    data = write_dayfirst_sample(folder / "prices.csv")
    model = folder / "prices.lstm"
    proc = run_cli("train", data, "--target", "Close", "--model", model, *TRAIN)
    assert proc.returncode == 0, proc.stderr
    return data, model, proc


def test_train_reports_on_stderr_only(trained):
    _, model, proc = trained
    assert proc.stdout == ""
    assert "naive" in proc.stderr and "windows/s" in proc.stderr
    assert "\x1b[" not in proc.stderr  # not a terminal: no escape codes, no progress frames
    assert model.stat().st_size > 1000


def test_predict_continues_with_business_days_and_sane_prices(trained):
    data, model, _ = trained
    proc = run_cli("predict", data, "--model", model)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(pd.io.common.StringIO(proc.stdout))
    # the sample ends on Friday 2017-11-10
    assert frame["date"].tolist() == [
        "2017-11-13",
        "2017-11-14",
        "2017-11-15",
        "2017-11-16",
        "2017-11-17",
    ]
    assert frame["horizon"].tolist() == [1, 2, 3, 4, 5]
    last_close = pd.read_csv(data)["Close"].iloc[-1]
    assert np.all(np.isfinite(frame["forecast"])) and (frame["forecast"] > 0).all()
    assert np.all(np.abs(frame["forecast"] / last_close - 1) < 0.1)
    assert proc.stderr == ""


def test_predict_json_and_stdin_and_output_file(trained, tmp_path):
    data, model, _ = trained
    as_json = run_cli("predict", data, "--model", model, "--format", "json")
    records = json.loads(as_json.stdout)
    assert len(records) == 5 and {"date", "horizon", "forecast", "q10", "q90"} <= set(records[0])
    from_stdin = run_cli("predict", "-", "--model", model, stdin=data.read_bytes())
    plain = run_cli("predict", data, "--model", model)
    assert from_stdin.returncode == 0 and from_stdin.stdout == plain.stdout
    out = tmp_path / "fc.csv"
    to_file = run_cli("predict", data, "--model", model, "--output", out)
    assert to_file.stdout == "" and out.read_text() == plain.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["fc.csv"]  # no temporary file left behind


def test_python_dash_m_and_version():
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_forecast", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lstm-forecast ")


def test_help_does_not_import_torch_or_pandas():
    code = (
        "import sys; sys.argv = ['lstm-forecast', '--help']\n"
        "from lstm_forecast.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))"
    )
    for argv in ("'--help'", "'predict', '--help'", "'train', '--help'"):
        proc = subprocess.run(
            [sys.executable, "-c", code.replace("'--help'", argv, 1)],
            capture_output=True,
            text=True,
        )
        assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (pickle.dumps({"weights": [1, 2, 3]}), "not a lstm-forecast model"),
        (os.urandom(5000), "not a lstm-forecast model"),
        (b"", "too short"),
    ],
)
def test_foreign_model_files_are_refused(trained, tmp_path, content, words):
    data, _, _ = trained
    bad = tmp_path / "bad.lstm"
    bad.write_bytes(content)
    proc = run_cli("predict", data, "--model", bad)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(bad) in proc.stderr and words in proc.stderr


class _Boom:
    def __reduce__(self):
        return (open, (os.environ["MARKER"], "w"))


def test_a_pickle_is_never_executed(trained, tmp_path):
    data, _, _ = trained
    marker = tmp_path / "executed"
    os.environ["MARKER"] = str(marker)
    bad = tmp_path / "evil.lstm"
    bad.write_bytes(pickle.dumps(_Boom()))
    proc = run_cli("predict", data, "--model", bad)
    assert proc.returncode == 1 and not marker.exists()


def test_truncated_model_is_refused(trained, tmp_path):
    data, model, _ = trained
    cut = tmp_path / "cut.lstm"
    cut.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    proc = run_cli("predict", data, "--model", cut)
    assert (proc.returncode == 1 and "damaged" in proc.stderr) or "not a" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_data_and_usage_exit_codes(trained, tmp_path):
    _, model, _ = trained
    missing = run_cli("predict", tmp_path / "nope.csv", "--model", model)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    usage = run_cli("train", "x.csv")  # no --model
    assert usage.returncode == 2 and "--model" in usage.stderr
    html = tmp_path / "page.csv"
    html.write_text("<!DOCTYPE html><html><body>Rate limited</body></html>\n")
    proc = run_cli("train", html, "--model", tmp_path / "m.lstm")
    assert proc.returncode == 1 and "HTML" in proc.stderr and "Traceback" not in proc.stderr


def test_reader_closing_the_pipe_ends_quietly(trained, tmp_path):
    data, model, _ = trained
    log = tmp_path / "runs.jsonl"
    cmd = (
        f"'{cli_path()}' predict '{data}' --model '{model}' --since 2010-01-01 "
        f"--log-file '{log}' | head -n 2; echo $PIPESTATUS >&2"
    )
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert proc.stdout.count("\n") == 2
    assert proc.stderr.strip() == "141"  # SIGPIPE's status, and nothing else on stderr
    assert json.loads(log.read_text())["exit_status"] == 141


def test_kill_9_during_train_leaves_the_old_model_intact(trained, tmp_path):
    data, model, _ = trained
    target = tmp_path / "kept.lstm"
    target.write_bytes(model.read_bytes())
    before = target.read_bytes()
    for delay in (1.5, 3.0):
        proc = subprocess.Popen(
            [
                cli_path(),
                "train",
                data,
                "--model",
                target,
                *TRAIN[:-4],
                "--epochs",
                "200",
                "--patience",
                "500",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert target.read_bytes() == before
    ok = run_cli("predict", data, "--model", target)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 6


def test_busy_model_exits_75(tmp_path):
    from filelock import FileLock

    data = write_prices(tmp_path / "p.csv", random_walk_prices(300, seed=1))
    model = tmp_path / "m.lstm"
    with FileLock(f"{model}.lock"):
        proc = run_cli("train", data, "--model", model, *TRAIN)
    assert proc.returncode == 75 and "another run" in proc.stderr
    assert not model.exists()


def test_written_files_get_ordinary_permissions(trained, tmp_path):
    data, model, _ = trained
    out = tmp_path / "fc.csv"
    assert run_cli("predict", data, "--model", model, "--output", out).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    out.chmod(0o640)
    assert run_cli("predict", data, "--model", model, "--output", out).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o640


def test_paths_that_cannot_take_a_file_are_refused_before_any_work(trained, tmp_path):
    data, model, _ = trained
    folder = tmp_path / "a-folder"
    folder.mkdir()
    cases = [
        (["train", data, "--model", folder, *TRAIN], "is a directory"),
        (["train", data, "--model", tmp_path / "nope" / "m.lstm", *TRAIN], "does not exist"),
        (["predict", data, "--model", model, "--output", folder], "is a directory"),
    ]
    for args, words in cases:
        started = time.monotonic()
        proc = run_cli(*args)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and time.monotonic() - started < 5
    assert list(folder.iterdir()) == []
