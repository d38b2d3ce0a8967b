"""The tuning report: the untouched stretch's table, the trials, importances, as HTML and JSON."""

from __future__ import annotations

import json

import pandas as pd


def test_the_report_shows_the_untouched_stretch_and_every_trial(tuned):
    folder = tuned["report"]
    for name in ("report.html", "report.md", "tune.json", "trials.csv", "trials.png"):
        assert (folder / name).stat().st_size > 0, name
    summary = json.loads((folder / "tune.json").read_text())
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text()
    for label in ("LSTM (tuned)", "LSTM (defaults)", "naive (random walk)", "seasonal naive"):
        assert label in html and label in md
    assert "The best of 5 trials is optimistic" in md
    assert summary["holdout"]["verdict"] in md
    assert summary["holdout"]["versus_defaults"]["text"] in md
    assert set(summary["holdout"]["models"]) >= {"lstm", "defaults", "naive", "drift", "mean"}
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["number"]) == list(range(len(trials)))
    assert (trials["state"].isin(["complete", "pruned"])).sum() == 5
    assert {"lookback", "hidden", "lr"} <= set(trials.columns)
    assert "data:image/png;base64," in html
