"""One run as a process: global flags, config file, exit codes, signals and the run record."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import typer

from helpers import (
    CLI_TRAIN,
    cli_path,
    random_walk_prices,
    run_cli,
    train_dayfirst_sample,
    write_older_and_newer,
    write_prices,
)
from lstm_forecast import artifacts, process
from lstm_forecast.errors import BusyError, DataError, Interrupted

TRAIN = CLI_TRAIN
OPTS = (
    "--lookback 30 --horizon 3 --hidden 64 --layers 2 --epochs 60 --patience 500 --seed 0 "
    "--threads 1 --batch-size 8"
).split()
SMALL = "--lookback 20 --horizon 3 --hidden 8 --layers 1 --epochs 2 --threads 1".split()
UTC_SECOND = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"


# ---------------------------------------------------------------------------------------------
# in process, with a small app of its own: the plumbing knows nothing about the real commands


def small_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """A small app."""

    @app.command()
    def figures(n: int = 1, lr_scale: float = 0.5) -> dict:
        return {"n": n, "lr_scale": lr_scale}

    @app.command()
    def nothing() -> None:
        print("data")

    @app.command()
    def fail(kind: str) -> None:
        if kind == "term":
            signal.raise_signal(signal.SIGTERM)
        if kind == "exit":
            raise typer.Exit(3)
        raise {
            "data": DataError("x.csv: line 3: not a number"),
            "busy": BusyError("m.lstm: another run holds the lock"),
            "stopped": Interrupted("stopped; resume with --resume", 143),
            "ctrl-c": KeyboardInterrupt(),
            "bug": RuntimeError("boom"),
        }[kind]

    return app


RENAMED = {"calendar": "--calendar was renamed to --date-features; for trading calendars use "
           "--exchange"}  # fmt: skip


@pytest.fixture
def run_app(monkeypatch, capsys):
    """Run the small app as `lstm-forecast ARGS...`: (exit code, stdout, stderr)."""
    for name in ("LSTM_FORECAST_LOG_FILE", "LSTM_FORECAST_CONFIG", "LSTM_FORECAST_DEBUG"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: object) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["lstm-forecast", *map(str, args)])
        handler = signal.getsignal(signal.SIGTERM)
        try:
            with pytest.raises(SystemExit) as exit_info:
                process.run(small_app(), RENAMED)
        finally:
            signal.signal(signal.SIGTERM, handler)
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("data", 1, "lstm-forecast: error: x.csv: line 3: not a number\n"),
        ("busy", 75, "lstm-forecast: error: m.lstm: another run holds the lock\n"),
        ("stopped", 143, "lstm-forecast: error: stopped; resume with --resume\n"),
        ("ctrl-c", 130, "lstm-forecast: interrupted\n"),
        ("term", 143, "lstm-forecast: terminated\n"),
        ("exit", 3, ""),
        (
            "bug",
            70,
            "lstm-forecast: internal error: RuntimeError: boom "
            "(run with --debug for the traceback)\n",
        ),
    ],
)
def test_every_outcome_is_one_line_and_an_exit_code(run_app, kind, code, message):
    assert run_app("fail", kind) == (code, "", message)


def test_debug_shows_the_traceback_of_an_internal_error(run_app):
    code, _, err = run_app("fail", "bug", "--debug")
    assert code == 70 and err.startswith("Traceback (most recent call last):")
    assert err.endswith("lstm-forecast: internal error: RuntimeError: boom\n")


def test_usage_errors_exit_2_with_the_parsers_message_only(run_app):
    code, out, err = run_app("figures", "--n", "many")
    assert code == 2 and out == "" and "Invalid value for '--n'" in err
    assert "lstm-forecast:" not in err
    assert run_app("figures", "--config") == (
        2,
        "",
        "Usage: lstm-forecast [OPTIONS] COMMAND [ARGS]...\n\n"
        "Error: Option '--config' requires an argument.\n",
    )


def test_global_flags_are_taken_from_anywhere_on_the_line():
    flags = {"debug": False, "json_log": False, "log_file": None, "config": None}
    rest = process._global_flags(
        ["train", "--debug", "x.csv", "--config=c.toml", "--log-file", "runs.jsonl", "-q"], flags
    )
    assert rest == ["train", "x.csv", "-q"]
    assert flags == {"debug": True, "json_log": False, "log_file": "runs.jsonl", "config": "c.toml"}


def test_the_run_record_carries_what_the_command_returned(run_app, tmp_path):
    log = tmp_path / "runs.jsonl"
    code, out, err = run_app("figures", "--json-log", "--n", "3", "--log-file", log)
    assert code == 0 and out == ""
    record = json.loads(err)
    assert json.loads(log.read_text()) == record
    assert list(record) == [
        *("command", "argv", "start", "end", "seconds", "exit_status", "ok", "error", "metrics")
    ]
    assert record["command"] == "figures" and record["argv"] == ["figures", "--n", "3"]
    assert record["exit_status"] == 0 and record["ok"] is True and record["error"] is None
    assert record["metrics"] == {"n": 3, "lr_scale": 0.5}
    assert re.fullmatch(UTC_SECOND, record["start"]) and re.fullmatch(UTC_SECOND, record["end"])
    assert record["start"] <= record["end"] and 0 <= record["seconds"] < 60


def test_a_command_without_figures_leaves_them_out_of_the_record(run_app):
    code, out, err = run_app("--json-log", "nothing")
    assert code == 0 and out == "data\n"
    assert "metrics" not in json.loads(err)
    code, _, err = run_app("fail", "data", "--json-log")
    record = json.loads(err.splitlines()[-1])
    assert code == 1 and record["exit_status"] == 1 and record["ok"] is False
    assert record["error"] == "error: x.csv: line 3: not a number" and "metrics" not in record


def test_an_unwritable_log_file_is_a_warning_not_a_failure(run_app, tmp_path):
    code, _, err = run_app("figures", "--log-file", tmp_path)
    assert code == 0
    assert err == "lstm-forecast: warning: cannot write --log-file (Is a directory)\n"


def test_log_file_and_config_from_the_environment(run_app, monkeypatch, tmp_path):
    log, cfg = tmp_path / "env.jsonl", tmp_path / "c.toml"
    cfg.write_text("n = 4\n")
    monkeypatch.setenv("LSTM_FORECAST_LOG_FILE", str(log))
    monkeypatch.setenv("LSTM_FORECAST_CONFIG", str(cfg))
    assert run_app("figures") == (0, "", "")
    assert json.loads(log.read_text())["metrics"] == {"n": 4, "lr_scale": 0.5}


def test_config_file_keys_tables_and_global_settings(run_app, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("n = 4\njson_log = true\n[figures]\nlr-scale = 0.25\n")
    code, _, err = run_app("figures", "--config", cfg)
    assert code == 0 and json.loads(err)["metrics"] == {"n": 4, "lr_scale": 0.25}
    code, _, err = run_app("figures", "--config", cfg, "--n", "9")
    assert json.loads(err)["metrics"]["n"] == 9  # the command line wins over the file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\nn = 1\n", "c.toml: unknown section [nope]"),
        ("m = 1\n", "c.toml: unknown setting 'm'"),
        ("[figures]\nm = 1\n", "c.toml: [figures] has no setting 'm'"),
        ("n = \n", "c.toml: not a valid TOML file"),
    ],
)
def test_config_file_mistakes_are_named(run_app, tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, out, err = run_app("figures", "--config", cfg)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"lstm-forecast: error: {tmp_path}/{message}")
    code, _, err = run_app("figures", "--config", tmp_path / "none.toml")
    assert code == 1 and err == f"lstm-forecast: error: {tmp_path}/none.toml: no such config file\n"


@pytest.mark.parametrize(
    ("args", "env", "config", "where"),
    [
        (["figures", "--calendar"], {}, None, ""),
        (["figures", "--no-calendar"], {}, None, ""),
        (["figures", "--calendar=XNYS"], {}, None, ""),
        (["figures"], {"LSTM_FORECAST_CALENDAR": "1"}, None, "LSTM_FORECAST_CALENDAR: "),
        (["figures"], {}, "calendar = true\n", "c.toml: setting 'calendar': "),
        (["figures"], {}, "[figures]\ncalendar = true\n", "c.toml: setting 'calendar': "),
    ],
)
def test_a_renamed_option_is_a_usage_error_saying_what_to_use(
    run_app, monkeypatch, tmp_path, args, env, config, where
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config:
        (tmp_path / "c.toml").write_text(config)
        args = [*args, "--config", str(tmp_path / "c.toml")]
    code, out, err = run_app(*args)
    assert code == 2 and out == ""
    assert err.endswith(
        f"Error: {where.replace('c.toml', str(tmp_path / 'c.toml'))}{RENAMED['calendar']}\n"
    )


# ---------------------------------------------------------------------------------------------
# the installed command


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_dayfirst_sample(tmp_path_factory.mktemp("proc"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("u") / "p.csv", random_walk_prices(2500, seed=5))


@pytest.fixture(scope="module")
def older_and_newer(tmp_path_factory):
    """The same random walk twice: the first 1,200 rows, and all 1,300."""
    return write_older_and_newer(tmp_path_factory.mktemp("upd"))


@pytest.mark.slow
def test_python_dash_m_and_version():
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_forecast", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lstm-forecast ")


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_busy_model_exits_75(tmp_path):
    from lstm_forecast.artifacts import model_lock

    data = write_prices(tmp_path / "p.csv", random_walk_prices(300, seed=1))
    model = tmp_path / "m.lstm"
    with model_lock(model):
        proc = run_cli("train", data, "--model", model, *TRAIN)
    assert proc.returncode == 75 and "another run" in proc.stderr
    assert not model.exists()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(data, tmp_path):
    model = tmp_path / "m.lstm"
    # The first periodic checkpoint says training is under way, long before its last epoch (a
    # fixed wait outlasted the whole run on a fast machine). It is removed before the signal:
    # the checkpoint found after it is the one the signal saved, where the message says.
    proc = subprocess.Popen(
        [cli_path(), "train", data, "--model", model, *OPTS, "--checkpoint-every", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ckpt = artifacts.checkpoint_path(model)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.01)
    ckpt.unlink()
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 143, err
    assert ckpt.exists() and not model.exists(), err
    epoch, step = map(int, re.search(r"in epoch (\d+), step (\d+) of", err).groups())
    loop = artifacts.load_checkpoint(ckpt)[0]["loop"]
    assert (loop["epoch"], loop["step"]) == (epoch - 1, step - 1)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


FREED = """
import os, resource, sys
import numpy as np
from lstm_forecast import process
if sys.argv[1] == "keep":
    process.keep_heap()
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # 4 MB, a training step's activations, allocated and freed
    np.ones(4_000_000 // 8)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
blocks = [np.ones(100_000 // 8) for _ in range(300)]  # 30 MB in blocks kept on the heap
before = rss()
del blocks
print((before - rss()) / 2**20, faults)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's heap")
def test_the_heap_keeps_freed_memory_for_the_next_step():
    def run(mode: str) -> tuple[float, int]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
        env.pop("PYTHONMALLOC", None)
        done = subprocess.run([sys.executable, "-c", FREED, mode], capture_output=True, env=env)
        assert done.returncode == 0, done.stderr
        returned, faults = done.stdout.split()
        return float(returned), int(faults)

    assert run("plain")[0] > 15  # given back to the system at the free
    returned, faults = run("keep")
    assert returned < 2  # kept for the next allocations
    # The 4 MB blocks reuse their memory, not a fresh mapping (977 page faults) each time as
    # when the top pad alone is set at run time: that fixes glibc's mapping threshold at 128 KiB.
    assert faults < 5 * 977
