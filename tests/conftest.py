"""Shared fixtures: the installed CLI, and models trained once per session."""

from __future__ import annotations

import pytest

from helpers import (
    BOKEH,
    GLOBAL_CONFIG,
    WALK_CONFIG,
    random_walk_prices,
    run_cli,
    write_prices,
)
from lstm_forecast import api
from lstm_forecast.settings import TrainConfig


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def walk_file(tmp_path_factory):
    """900 business days of a random walk from 2010-01-04."""
    return write_prices(
        tmp_path_factory.mktemp("walk") / "walk.csv", random_walk_prices(900, seed=3)
    )


@pytest.fixture(scope="session")
def walk_model(walk_file, tmp_path_factory):
    """(model path, TrainResult) of a small model of `walk_file`."""
    model = tmp_path_factory.mktemp("model") / "walk.lstm"
    result = api.train(walk_file, model, TrainConfig(**WALK_CONFIG), threads=1)
    return model, result


@pytest.fixture(scope="session")
def global_model(tmp_path_factory):
    """(model path, TrainResult) of one model of the five tickers of the long sample."""
    path = tmp_path_factory.mktemp("global") / "stocks.lstm"
    result = api.train(BOKEH, path, TrainConfig(**GLOBAL_CONFIG), threads=1)
    return path, result
