"""A trial: scored on walk-forward folds before the untouched stretch only, features searched as
subsets of --features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import optuna
import pandas as pd

from helpers import (
    MSFT,
    TUNE_BASE,
    TUNE_PLAN,
    tune_setup,
)
from lstm_forecast import backtest, tuning
from lstm_forecast.loading import LoadOptions, load
from lstm_forecast.settings import TrainConfig, loader_features, parse_list

BASE = TrainConfig(**TUNE_BASE)
POINT = {"lookback": 10, "hidden": 4, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-4}


def test_the_search_never_reads_the_untouched_stretch(tune_inputs):
    data, space = tune_inputs
    dataset = load(data, LoadOptions())
    setup = tune_setup(dataset, space)
    s, cut = dataset.series[0], setup.span.series[0]
    holdout_origins = backtest.fold_origins(len(s), BASE, setup.holdout)[0]
    assert len(cut) == holdout_origins[0] + 1  # the span ends at the stretch's first origin
    inner = backtest.fold_origins(len(cut), BASE, setup.inner)
    assert inner.max() + BASE.horizon <= holdout_origins[0]  # every target before the stretch
    # Changing the stretch changes nothing the search sees or scores.
    values = s.values.copy()
    values[holdout_origins[0] + 1 :] = values[holdout_origins[0] + 1 :] * 3 + 50
    other = replace(dataset, series=[replace(s, values=values)])
    other_setup = tune_setup(other, space)
    assert other_setup.fingerprint() == setup.fingerprint()
    trial_a = optuna.trial.FixedTrial({**POINT, "transform": "diff"}, number=4)
    trial_b = optuna.trial.FixedTrial({**POINT, "transform": "diff"}, number=4)
    a = tuning.objective(setup, lambda: None)(trial_a)
    b = tuning.objective(other_setup, lambda: None)(trial_b)
    assert a == b and np.isfinite(a) and a > 0
    assert trial_a.user_attrs["config"]["seed"] == BASE.seed + 4
    assert len(trial_a.user_attrs["fold_scores"]) == TUNE_PLAN["folds"]
    assert trial_a.user_attrs["rel_mae"] > 0


def test_features_are_searched_as_subsets_of_the_features_given(tmp_path):
    data = tmp_path / "prices.csv"
    pd.read_csv(MSFT).tail(300).to_csv(data, index=False)
    features = ["Volume", "parkinson"]
    options = LoadOptions(target="Close", features=loader_features(features))
    setup = tune_setup(load(data, options), None, features=features)
    assert set(setup.space["features"].values) == {"Volume,parkinson", "Volume", "parkinson", ""}
    scores = {}
    for features in ("", "parkinson", "Volume,parkinson"):
        point = {**POINT, "hidden": 16, "transform": "diff", "layers": 1, "batch_size": 16}
        point |= {"chunk": 16, "features": features, "date_features": False}
        trial = optuna.trial.FixedTrial(point)
        scores[features] = tuning.objective(setup, lambda: None)(trial)
        assert trial.user_attrs["config"]["features"] == parse_list(features)
    assert all(np.isfinite(v) for v in scores.values()) and len(set(scores.values())) == 3
