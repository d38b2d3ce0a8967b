"""Terminal and file output: the progress bar, summaries on stderr, data on stdout or a file."""

from __future__ import annotations

import json
import os
import re
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from rich.console import Console

from lstm_forecast import render
from lstm_forecast.errors import OutputClosed

EVALUATION = {
    "interval": [0.1, 0.9],
    "horizon": [1, 2],
    "origins": 120,
    "beats_naive": False,
    "shrink": [1.0, 1.0],
    "models": {
        "lstm": {
            "mae": [1.23456, 2.5],
            "rmse": [1.5, float("nan")],
            "mase": [0.98765, 1.01],
            "directional_accuracy": [0.5123, None],
            "coverage": [0.8, 0.7777],
            "interval_score": [5.4321, 7.25],
        },
        "naive": {
            "mae": [1.25, 2.4],
            "rmse": [1.6, 3.0],
            "mase": [1.0, 1.0],
            "directional_accuracy": [None, None],
        },
        "drift": {
            "mae": [1.3, 2.6],
            "rmse": [1.7, 3.1],
            "mase": [1.0, 1.0],
            "directional_accuracy": [0.49, 0.5],
        },
    },
}
TRAINING = {"epochs_run": 3, "best_epoch": 2, "seconds": 1.234, "windows_per_s": 12345.6}
META = {"evaluation": EVALUATION, "training": {**TRAINING, "device": "cpu"}}


def table_text(table) -> str:
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize(
    ("label", "calls", "shown"),
    [
        (
            "epoch",
            [
                (
                    SimpleNamespace(
                        epoch=3, epochs=10, train_loss=0.123456, val_loss=0.2, best_epoch=2
                    ),
                )
            ],
            ["epoch", "3/10", "train 0.1235  val 0.2000  best @2"],
        ),
        (
            "backtest fits",
            [(None, 0, 6), (SimpleNamespace(folds=[1, 2], seconds=1.46), 4, 6)],
            ["backtest fits", "4/6", "fold 2 fitted in 1.5 s"],
        ),
    ],
)
def test_progress_draws_a_bar_on_a_terminal(monkeypatch, capsys, label, calls, shown):
    monkeypatch.setenv("FORCE_COLOR", "1")
    with render.progress(False, label) as update:
        for args in calls:
            update(*args)
    err = capsys.readouterr().err
    assert all(text in err for text in shown), err


def test_progress_is_silent_when_quiet_or_not_on_a_terminal(monkeypatch, capsys):
    with render.progress(False, "epoch") as update:  # pytest's stderr is no terminal
        assert update is None
    monkeypatch.setenv("FORCE_COLOR", "1")
    with render.progress(True, "backtest fits") as update:
        assert update is None
    assert capsys.readouterr() == ("", "")


def test_evaluation_table_shows_every_model_and_step_with_formatted_numbers():
    text = table_text(render.evaluation_table(EVALUATION, "Validation tail"))
    lines = [re.split("[│┃]", line) for line in text.splitlines() if re.search("[│┃]", line)]
    cells = [[c.strip() for c in line[1:-1]] for line in lines]
    head = ["model", "h", "MAE", "RMSE", "MASE", "dir. acc.", "cover 0.1-0.9", "int. score"]
    assert cells[0] == head
    assert cells[1] == ["lstm", "1", "1.235", "1.5", "0.988", "0.512", "0.8", "5.432"]
    assert cells[2] == ["", "2", "2.5", "-", "1.01", "-", "0.778", "7.25"]
    assert cells[3] == ["naive", "1", "1.25", "1.6", "1", "-", "", ""]
    assert text.startswith("Validation tail")


def test_verdict_line_says_plainly_whether_there_is_skill():
    no_skill = render.verdict_line({**EVALUATION, "shrink": [0.5, 0.8]})
    assert no_skill == (
        "The model does NOT beat the naive forecast (tomorrow = today) on the validation tail: "
        "treat its point forecasts as no better than the last value. Its median was shrunk "
        "towards the naive forecast (factor 0.50)."
    )
    models = {**EVALUATION["models"], "drift": {**EVALUATION["models"]["drift"], "mase": [1.2]}}
    assert render.verdict_line({**EVALUATION, "beats_naive": True, "models": models}) == (
        "The model beats the naive forecast (tomorrow = today) on the validation tail."
    )
    assert render.verdict_line({**EVALUATION, "beats_naive": True}) == (
        "The model beats the naive forecast (tomorrow = today) on the validation tail, but not "
        "the drift forecast (the trend alone): little skill beyond it."
    )


def test_training_summary_names_the_model_written_or_kept(capsys):
    render.print_training_summary(META, "m.lstm")
    out, err = capsys.readouterr()
    words = " ".join(err.split())  # rich wraps at the width of the console
    assert out == "" and "Validation tail (120 origins, never trained on;" in words
    assert words.endswith(
        "trained 3 epochs (best 2) in 1.2 s, 12,346 windows/s on cpu; model written to m.lstm"
    )
    render.print_training_summary({**META, "kept": "old"}, "m.lstm")
    words = " ".join(capsys.readouterr().err.split())
    assert words.endswith("on cpu; new model discarded, m.lstm unchanged")


def test_training_summary_gives_the_interval_verdict_after_the_point_verdict(capsys):
    text = "Intervals: no evidence of interval skill over GARCH(1,1)-t: the 80% band's ..."
    render.print_training_summary(
        {**META, "evaluation": {**EVALUATION, "interval_verdict": text}}, "m"
    )
    words = " ".join(capsys.readouterr().err.split())
    point = render.verdict_line(EVALUATION)
    assert f"{point} {text} trained 3 epochs" in words


FRAME = pd.DataFrame({"date": ["2024-05-01"], "horizon": [1], "forecast": [1 / 3]})


def test_write_table_csv_and_json_to_stdout(capfd):
    render.write_table(FRAME, None, "csv")
    assert capfd.readouterr().out == "date,horizon,forecast\n2024-05-01,1,0.3333333333\n"
    render.write_table(FRAME, None, "json")
    out = capfd.readouterr().out
    assert out == '[{"date": "2024-05-01", "horizon": 1, "forecast": 0.3333333333}]\n'
    assert json.loads(out)[0]["horizon"] == 1


def test_write_table_to_a_file_leaves_nothing_else(tmp_path, capfd):
    out = tmp_path / "fc.csv"
    render.write_table(FRAME, out, "csv")
    assert out.read_text() == "date,horizon,forecast\n2024-05-01,1,0.3333333333\n"
    assert [p.name for p in tmp_path.iterdir()] == ["fc.csv"]
    assert capfd.readouterr().out == ""


def test_emit_writes_everything_and_a_closed_pipe_is_output_closed(tmp_path, monkeypatch):
    text = "".join(f"{i},{i * i}\n" for i in range(40_000))  # several blocks
    with open(tmp_path / "out.csv", "w") as fh:
        monkeypatch.setattr(sys, "stdout", fh)
        render.emit(text)
    assert (tmp_path / "out.csv").read_text() == text
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w") as fh:
        monkeypatch.setattr(sys, "stdout", fh)
        with pytest.raises(OutputClosed):
            render.emit(text)


FOUND = {
    "source": "p.csv",
    "format": "csv",
    "compression": None,
    "delimiter": ",",
    "date_column": "Date",
    "target": "Close",
    "features": [],
    "frequency": "B",
    "series": [
        {
            "name": "Close",
            "rows": 10,
            "start": "2020-01-01",
            "end": "2020-01-14",
            "first": 101.23456789,
            "last": float("nan"),
            "filled": 1,
            "gaps": [],
        }
    ],
    "notes": ["rows ran newest-first; sorted oldest-first"],
    "warnings": ["forward-filled 1 missing 'Close' value"],
}


def test_inspection_lists_keys_series_notes_and_warnings(capfd):
    render.print_inspection(FOUND, as_json=False)
    lines = capfd.readouterr().out.splitlines()
    assert lines[:6] == [
        "source        p.csv",
        "format        csv",
        "compression   None",
        "delimiter     ','",
        "date_column   Date",
        "target        Close",
    ]
    row = next(line for line in lines if "2020-01-01" in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        *("Close", "10", "2020-01-01", "2020-01-14", "101.23457", "-", "1", "0")
    ]
    assert lines[-2:] == [
        "note: rows ran newest-first; sorted oldest-first",
        "warning: forward-filled 1 missing 'Close' value",
    ]
    render.print_inspection(FOUND, as_json=True)
    assert json.loads(capfd.readouterr().out)["series"][0]["first"] == 101.23456789


def test_inspection_shows_the_trading_calendar_with_its_evidence(capfd):
    calendar = {
        "code": "XNYS",
        "chosen": "inferred",
        "reason": "the data skips 9 of its 9 holidays",
        "holidays_with_rows": {"count": 0, "dates": []},
        "missing_sessions": {"count": 12, "dates": [f"2018-03-{d:02d}" for d in range(1, 11)]},
        "sessions": {"from": "2018-01-02", "to": "2023-12-29", "exchange_calendars": "4.13.2"},
        "clock": "intraday times read as XNYS's local time (America/New_York)",
    }
    render.print_inspection({**FOUND, "calendar": calendar}, as_json=False)
    lines = capfd.readouterr().out.splitlines()
    at = lines.index("calendar      XNYS, inferred: the data skips 9 of its 9 holidays")
    assert lines[at + 1 : at + 5] == [
        "sessions      2018-01-02 to 2023-12-29 (exchange_calendars 4.13.2)",
        "              rows on closed days 0",
        "              missing sessions 12: "
        + ", ".join(calendar["missing_sessions"]["dates"])
        + ", ...",
        "clock         intraday times read as XNYS's local time (America/New_York)",
    ]


def test_frames_of_one_table_stream_as_csv_with_one_header(capfd):
    frames = [pd.DataFrame({"series": [s], "forecast": [v]}) for s, v in (("A", 1.5), ("B", 2.0))]
    assert render.write_tables(iter(frames), None, "csv") == 2
    assert capfd.readouterr().out == "series,forecast\nA,1.5\nB,2\n"
    render.write_tables(iter(frames), None, "json")
    assert json.loads(capfd.readouterr().out) == [
        {"series": "A", "forecast": 1.5},
        {"series": "B", "forecast": 2.0},
    ]
