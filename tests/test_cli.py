"""The commands end to end through the installed `lstm-forecast`: what each reads and writes."""

from __future__ import annotations

import io
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

from helpers import (
    CLI_TRAIN,
    GOOG,
    cli_path,
    random_walk_prices,
    run_cli,
    train_dayfirst_sample,
    write_dayfirst_sample,
    write_older_and_newer,
    write_prices,
)
from lstm_forecast import artifacts

pytestmark = pytest.mark.slow

TRAIN = CLI_TRAIN
OPTS = (
    "--lookback 30 --horizon 3 --hidden 64 --layers 2 --epochs 60 --patience 500 --seed 0 "
    "--threads 1 --batch-size 8"
).split()
FIGURES = (
    "beats_naive",
    "interval_skill",
    "coverage_tests_pass",
    "lstm_mase",
    "naive_mase",
    "coverage",
    "windows_per_s",
    "epochs_run",
)
SMALL = "--lookback 20 --horizon 3 --hidden 8 --layers 1 --epochs 2 --threads 1".split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The day-first sample (like sp500.csv) trained once through the command line."""
    return train_dayfirst_sample(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("u") / "p.csv", random_walk_prices(2500, seed=5))


@pytest.fixture(scope="module")
def older_and_newer(tmp_path_factory):
    """The same random walk twice: the first 1,200 rows, and all 1,300."""
    return write_older_and_newer(tmp_path_factory.mktemp("upd"))


def test_train_reports_on_stderr_only(trained):
    _, model, proc = trained
    assert proc.stdout == ""
    assert "naive" in proc.stderr and "windows/s" in proc.stderr
    assert "\x1b[" not in proc.stderr  # not a terminal: no escape codes, no progress frames
    assert model.stat().st_size > 1000


def test_train_sets_no_interval_baselines_unless_asked(trained):
    _, model, proc = trained
    ev = json.loads(run_cli("info", model, "--json").stdout)["evaluation"]
    assert set(ev["models"]) == {"lstm", "naive", "drift", "seasonal_naive"}
    assert " ".join(ev["interval_verdict"].split()) in " ".join(proc.stderr.split())
    assert ev["interval_verdict"].startswith("Intervals: no evidence of interval skill: no ")
    assert ev["interval_skill"] is False and ev["interval_test"] is None
    assert [t["test"] for t in ev["coverage_tests"]["lstm"]["tests"]][-1] == "christoffersen_cc"


def test_train_with_tail_quantiles_and_interval_baselines(tmp_path):
    data = write_dayfirst_sample(tmp_path / "prices.csv")
    model = tmp_path / "tails.lstm"
    tails = "0.01,0.05,0.1,0.5,0.9,0.95,0.99"
    args = ["--target", "Close", "--model", model, *TRAIN, "--quantiles", tails]
    proc = run_cli("train", data, *args, "--interval-baselines")
    assert proc.returncode == 0, proc.stderr
    words = " ".join(proc.stderr.split())
    assert "0.01-0.99" in words and "│ garch " in words and "│ ewma " in words
    assert "Intervals: " in words and "98% band's (q1-q99)" in words
    ev = json.loads(run_cli("info", model, "--json").stdout)["evaluation"]
    assert set(ev["models"]) == {"lstm", "naive", "drift", "seasonal_naive", "garch", "ewma"}
    assert ev["interval_test"]["baseline"] in ("garch", "ewma")
    assert len(ev["coverage_tests"]["lstm"]["tests"]) == 6 * 5 + 6  # 6 tails, 5 steps, cc
    assert set(ev["coverage_tests"]) == {"lstm", "garch", "ewma"}
    out = run_cli("predict", data, "--model", model, "--recalibrate")
    assert out.returncode == 0, out.stderr
    fc = pd.read_csv(io.StringIO(out.stdout))
    cols = ["q1", "q5", "q10", "q50", "q90", "q95", "q99"]
    assert list(fc.columns) == ["series", "date", "horizon", "forecast", *cols]
    assert (np.diff(fc[cols].to_numpy(), axis=1) >= 0).all()


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
                "20000",  # far more than 3 s of work, however fast the machine
                "--patience",
                "20000",
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
    assert set(record["metrics"]) == set(FIGURES) and record["metrics"]["epochs_run"] == 2
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


def test_keep_better_scores_an_identical_model_identically(older_and_newer, tmp_path):
    _, new = older_and_newer
    model = tmp_path / "m.lstm"
    assert run_cli("train", new, "--model", model, *SMALL).returncode == 0
    again = run_cli("train", new, "--model", model, *SMALL, "--keep-better")
    line = next(x for x in again.stderr.splitlines() if x.startswith("keep-better"))
    new_score, old_score = (part.split()[-1].rstrip(")") for part in line.split(","))
    assert new_score == old_score and "new model replaces" in line


def test_commands_return_the_figures_for_the_run_record(older_and_newer, tmp_path, capfd):
    from lstm_forecast import cli

    _, new = older_and_newer
    model = tmp_path / "m.lstm"
    args = ["train", str(new), "--model", str(model), *SMALL, "-q", "--keep-better"]
    figures = cli.app(args=args, standalone_mode=False)
    card, _ = artifacts.load_model(model)
    ev = card.evaluation
    assert figures == {
        "beats_naive": ev["beats_naive"],
        "interval_skill": ev["interval_skill"],
        "coverage_tests_pass": ev["coverage_tests_pass"],
        "lstm_mase": ev["models"]["lstm"]["mase"],
        "naive_mase": ev["models"]["naive"]["mase"],
        "coverage": ev["models"]["lstm"]["coverage"],
        "windows_per_s": card.training.windows_per_s,
        "epochs_run": 2,
        "kept": "new",
    }
    capfd.readouterr()
    assert cli.app(args=["predict", str(new), "--model", str(model)], standalone_mode=False) is None
    out = capfd.readouterr().out
    assert (
        out.splitlines()[0].startswith("series,date,horizon,forecast")
        and len(out.splitlines()) == 4
    )


def test_nproc_exits_with_the_status_of_the_ranks(monkeypatch):
    from lstm_forecast import cli, distributed

    launched = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed, "launch", lambda *args: launched.append(args) or 3)
    argv = ["train", "x.csv", "--model", "m.lstm", "--nproc", "2"]
    monkeypatch.setattr(sys, "argv", ["lstm-forecast", *argv])
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert exit_info.value.code == 3 and launched == [(2, argv)]


# ---------------------------------------------------------------------------------------------
# dates on the exchange's own calendar

TINY = "--lookback 20 --horizon 3 --hidden 4 --layers 1 --epochs 1 --threads 1".split()


@pytest.fixture(scope="module")
def before_labor_day(tmp_path_factory):
    """GOOG's prices up to Friday 2017-09-01 (Monday 4 September was Labor Day), trained."""
    folder = tmp_path_factory.mktemp("nyse")
    data = folder / "goog.csv"
    frame = pd.read_csv(GOOG)
    frame[frame["Date"] <= "2017-09-01"].to_csv(data, index=False)
    model = folder / "goog.lstm"
    proc = run_cli("train", data, "--model", model, *TINY)
    assert proc.returncode == 0, proc.stderr
    return data, model


def rows_of(data) -> pd.DataFrame:
    """The data file's rows by date, with their position."""
    frame = pd.read_csv(data)
    return frame.assign(row=np.arange(len(frame))).set_index("Date")


def test_the_first_forecast_after_a_friday_before_a_monday_holiday_is_tuesday(before_labor_day):
    data, model = before_labor_day
    proc = run_cli("predict", data, "--model", model)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    frame = pd.read_csv(pd.io.common.StringIO(proc.stdout))
    assert frame["date"].tolist() == ["2017-09-05", "2017-09-06", "2017-09-07"]
    info = json.loads(run_cli("info", model, "--json").stdout)["calendar"]
    assert info["code"] == "XNYS" and info["sessions"]["from"] == "2004-08-19"
    assert info["sessions"]["to"] >= "2022-09-01"


def test_predict_since_dates_each_forecast_by_its_actual_row(before_labor_day):
    data, model = before_labor_day
    proc = run_cli("predict", data, "--model", model, "--since", "2017-06-20")
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(pd.io.common.StringIO(proc.stdout))
    rows = rows_of(data)
    inside = frame[frame["actual"].notna()]
    assert len(inside) > 150 and "2017-07-04" not in set(frame["date"])  # Independence Day
    np.testing.assert_array_equal(inside["actual"], rows.loc[inside["date"], "Adj Close"])
    steps = rows.loc[inside["date"], "row"].to_numpy() - rows.loc[inside["origin"], "row"]
    np.testing.assert_array_equal(steps, inside["horizon"])
    beyond = frame[frame["actual"].isna()]
    assert sorted(set(beyond["date"])) == ["2017-09-05", "2017-09-06", "2017-09-07"]


def test_a_model_forecasts_on_its_own_calendar_only(before_labor_day):
    data, model = before_labor_day
    other = run_cli("predict", data, "--model", model, "--exchange", "XETR")
    assert other.returncode == 1 and "XETR" in other.stderr and "XNYS" in other.stderr
    alias = run_cli("predict", data, "--model", model, "--exchange", "nyse")
    assert alias.returncode == 0 and alias.stdout.splitlines()[1].split(",")[1] == "2017-09-05"
    renamed = run_cli("train", data, "--model", model, "--calendar")
    assert renamed.returncode == 2 and (
        "--calendar was renamed to --date-features; for trading calendars use --exchange"
        in renamed.stderr
    )


def test_predict_imports_no_calendar_library(before_labor_day):
    data, model = before_labor_day
    code = (
        f"import sys; sys.argv = ['lstm-forecast', 'predict', {str(data)!r}, '-m', "
        f"{str(model)!r}]\n"
        "from lstm_forecast.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "names = ('exchange_calendars', 'lstm_forecast.calendar_inference', 'torch')\n"
        "print(sorted(m for m in names if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_backtest_dates_every_forecast_by_the_row_of_its_actual(tmp_path):
    data = tmp_path / "goog.csv"
    pd.read_csv(GOOG).tail(300).to_csv(data, index=False)  # 2016-11 to 2018-01: many holidays
    folds = "--folds 2 --step 40 --season 5".split()
    proc = run_cli("backtest", data, "--report", tmp_path / "bt", *TINY, *folds)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(tmp_path / "bt" / "forecasts.csv")
    rows = rows_of(data)
    assert {"2017-11-24", "2017-12-26", "2018-01-02"} <= set(frame["date"])  # after holidays
    np.testing.assert_array_equal(frame["actual"], rows.loc[frame["date"], "Adj Close"])
    steps = rows.loc[frame["date"], "row"].to_numpy() - rows.loc[frame["origin"], "row"]
    np.testing.assert_array_equal(steps, frame["horizon"])


def test_intraday_forecasts_continue_the_bars_inside_the_sessions(tmp_path):
    import exchange_calendars as xcals

    cal = xcals.get_calendar("XNYS", start="2017-11-01", end="2018-09-30")
    days = cal.sessions[(cal.sessions >= "2017-11-01") & (cal.sessions <= "2018-08-31")]
    stamps = [d + pd.Timedelta(minutes=570 + 30 * k) for d in days for k in range(13)]
    closes = random_walk_prices(len(stamps), seed=2, vol=0.002)
    data = tmp_path / "bars.csv"
    pd.DataFrame({"Datetime": stamps, "Close": closes}).to_csv(data, index=False)
    model = tmp_path / "bars.lstm"
    trained = run_cli("train", data, "--model", model, *TINY, "--horizon", "15")
    assert trained.returncode == 0, trained.stderr
    proc = run_cli("predict", data, "--model", model)
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(pd.io.common.StringIO(proc.stdout))["date"].tolist()
    tuesday = [
        f"2018-09-04T{9 + (30 + 30 * k) // 60:02d}:{(30 + 30 * k) % 60:02d}:00" for k in range(13)
    ]
    assert got == [*tuesday, "2018-09-05T09:30:00", "2018-09-05T10:00:00"]  # after Labor Day
    assert "intraday times read as America/New_York time" in proc.stderr
