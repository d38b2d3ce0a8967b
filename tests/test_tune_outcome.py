"""After the search: the settings file reproduces the model with `train --config`, the
untouched stretch is scored for the chosen settings only, and a finished study writes nothing
twice."""

from __future__ import annotations

import json
import tomllib

from helpers import run_cli
from lstm_forecast import artifacts


def test_the_settings_file_reproduces_the_model_with_train_config(tuned, tmp_path):
    again = tmp_path / "again.lstm"
    proc = run_cli(
        "train", tuned["data"], "--model", again, "--config", tuned["settings"], "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    forecasts = [run_cli("predict", tuned["data"], "--model", m) for m in (tuned["model"], again)]
    assert forecasts[0].returncode == 0 and forecasts[0].stdout
    assert forecasts[0].stdout == forecasts[1].stdout  # byte for byte
    ours, theirs = (artifacts.load_model(m)[1] for m in (tuned["model"], again))
    assert all((ours[k] == theirs[k]).all() for k in ours)


def test_the_settings_file_holds_the_best_trial_and_what_decides_a_cpu_run(tuned):
    settings = tomllib.loads(tuned["settings"].read_text())["train"]
    summary = json.loads((tuned["report"] / "tune.json").read_text())
    best = summary["best"]
    assert settings["seed"] == best["config"]["seed"] == best["trial"]  # --seed 0 + number
    assert settings["threads"] == 1 and settings["device"] == "cpu"
    for key in ("lookback", "hidden", "lr", "weight_decay", "dropout", "transform"):
        assert settings[key] == best["config"][key]
    assert settings["quantiles"] == "0.1,0.5,0.9" and settings["horizon"] == 3
    card, _ = artifacts.load_model(tuned["model"])
    assert card.config.to_dict() == best["config"]


def test_the_run_record_and_the_terminal_state_the_outcome(tuned):
    record = json.loads(tuned["log"].read_text().splitlines()[-1])
    assert record["command"] == "tune" and record["exit_status"] == 0
    figures = record["metrics"]
    assert figures["finished"] == figures["complete"] + figures["pruned"] == 5
    assert figures["written"] is True and figures["skill"] in (True, False)
    for model in ("tuned", "defaults", "naive"):
        assert figures[f"holdout_crps_{model}"] > 0 and figures[f"holdout_mae_{model}"] > 0
    assert tuned["proc"].stdout == ""  # not a data-producing command


def test_a_finished_study_runs_no_trial_and_rewrites_nothing(tuned):
    before = tuned["model"].stat().st_mtime_ns, tuned["settings"].read_bytes()
    proc = run_cli(*[a for a in tuned["args"] if a != "--quiet"])
    assert proc.returncode == 0, proc.stderr
    assert "already hold trial" in proc.stderr and "nothing rewritten" in proc.stderr
    assert (tuned["model"].stat().st_mtime_ns, tuned["settings"].read_bytes()) == before
    record = json.loads(tuned["log"].read_text().splitlines()[-1])
    assert record["metrics"]["finished"] == 5 and record["metrics"]["written"] is False
