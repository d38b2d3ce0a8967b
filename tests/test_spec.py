"""The typed model card and network spec: the JSON header both ways, version-1 and -2 files,
the stored trading calendar, and refusal of what this version cannot read."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save as st_save

from helpers import BOKEH, DATA, GOOG
from lstm_forecast import api, artifacts
from lstm_forecast.errors import ModelFileError
from lstm_forecast.loading import LoadOptions
from lstm_forecast.spec import FORMAT_VERSION, ModelCard, ModelSpec

# Made with the code of format version 1 (tests/data/PROVENANCE.md), with their forecasts.
VERSION_1 = [
    ("model_v1", GOOG, None, "2017-12-01"),
    ("model_v1_global", BOKEH, LoadOptions(series_col="Ticker"), "2013-02-01"),
]


def header_of(path) -> dict:
    """The JSON header of a model file, as stored."""
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    return json.loads(json.loads(blob[8 : 8 + n])["__metadata__"]["lstm_forecast"])


def write_header(path, header: dict, weights: dict) -> None:
    blob = st_save(weights, metadata={"lstm_forecast": json.dumps(header)})
    path.write_bytes(blob)


def test_the_header_round_trips_to_an_equal_card(walk_model):
    path, result = walk_model
    header = header_of(path)
    assert header["format"] == "lstm-forecast/model" and header["format_version"] == 3
    assert header["network"] == {
        "n_inputs": 2,
        "hidden": 16,
        "layers": 1,
        "horizon": 3,
        "quantiles": [0.1, 0.5, 0.9],
        "n_series": 1,
        "dropout": 0.1,
    }
    assert "n_inputs" not in header
    card = ModelCard.from_header(header, str(path))
    saved = result.card
    assert card.network == saved.network and card.config == saved.config
    assert card.series == saved.series and card.training == saved.training
    assert card.to_header() == ModelCard.from_header(card.to_header(), "again").to_header()
    assert header["exchange"] == "weekdays"  # every weekday has a row: no exchange's holidays
    assert header["calendar"] == {"code": "weekdays", "weekmask": "1111100", "tz": None}


def test_an_exchange_calendar_is_stored_as_tensors_beside_the_weights(global_model):
    path, result = global_model
    header = header_of(path)
    assert header["exchange"] == "XNYS" and header["calendar"]["code"] == "XNYS"
    card, weights = artifacts.load_model(path)
    assert not any(k.startswith("calendar.") for k in weights)  # the engine never sees them
    cal = card.calendar
    assert np.array_equal(cal.sessions, result.card.calendar.sessions)
    assert cal.hours is None  # daily data: the sessions' hours are not needed
    assert str(cal.start) == header["calendar"]["start"] == "2000-03-01"  # the data's first day
    assert cal.end >= np.datetime64("2018-03-01")  # five years past the data's last (2013-03-01)
    assert np.datetime64("2012-11-22") not in cal.sessions  # Thanksgiving
    assert api.info(path)["calendar"]["code"] == "XNYS"


def test_a_version_2_file_with_the_old_calendar_setting_still_reads(walk_model, tmp_path):
    path, result = walk_model
    header = copy.deepcopy(header_of(path))
    header["format_version"] = 2
    header["config"]["calendar"] = header["config"].pop("date_features")
    del header["exchange"], header["calendar"]
    old = tmp_path / "v2.lstm"
    write_header(old, header, result.weights)
    card, _ = artifacts.load_model(old)
    assert card.format_version == 2 and card.config == result.card.config
    assert card.exchange is None and card.calendar is None


@pytest.mark.parametrize(("name", "data", "options", "since"), VERSION_1)
def test_a_version_1_file_still_predicts_identically(name, data, options, since):
    path = DATA / f"{name}.lstm"
    expected = pd.read_csv(DATA / f"{name}_forecast.csv")
    got = api.predict(data, path, since=since, options=options, engine="numpy")
    # the same to the last bits or two: BLAS kernels add in another order on other CPUs
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-14, atol=0)
    torch_fc = api.predict(data, path, since=since, options=options, engine="torch")
    np.testing.assert_allclose(torch_fc["forecast"], expected["forecast"], rtol=2e-5)


def test_a_version_1_file_gets_its_network_from_its_settings():
    card, weights = artifacts.load_model(DATA / "model_v1_global.lstm")
    assert card.format_version == 1
    assert card.network == ModelSpec(
        n_inputs=2,
        hidden=8,
        layers=1,
        horizon=4,
        quantiles=(0.05, 0.25, 0.5, 0.75, 0.95),
        n_series=5,
        dropout=0.1,
    )
    assert weights["embed.weight"].shape == (5, 5)
    single, _ = artifacts.load_model(DATA / "model_v1.lstm")
    assert single.network.n_inputs == 2 + 4 + 4 and single.network.n_series == 1  # + dates
    assert single.network.layers == 2 and single.feature_names == ["Open", "High", "Low", "Volume"]
    info = api.info(DATA / "model_v1.lstm")
    assert info["format_version"] == 1 and info["config"]["date_features"] is True
    assert "calendar" not in info["config"] and info["calendar"] is None
    assert info["network"]["n_inputs"] == 10 and "history" not in info["training"]


def test_a_version_1_model_saved_again_is_version_3_and_predicts_the_same(tmp_path):
    card, weights = artifacts.load_model(DATA / "model_v1_global.lstm")
    again = tmp_path / "again.lstm"
    artifacts.save_model(again, weights, card)
    assert header_of(again)["format_version"] == FORMAT_VERSION == 3
    options = LoadOptions(series_col="Ticker")
    a = api.predict(BOKEH, DATA / "model_v1_global.lstm", since="2013-02-01", options=options)
    b = api.predict(BOKEH, again, since="2013-02-01", options=options)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_info_keeps_its_keys(walk_model):
    path, _ = walk_model
    info = api.info(path)
    assert set(info) >= {
        "path",
        "format_version",
        "package_version",
        "torch_version",
        "created",
        "source",
        "data_hash",
        "target",
        "transform",
        "frequency",
        "calendar",
        "features",
        "series",
        "config",
        "parameters",
        "training",
        "evaluation",
    }
    assert set(info["series"][0]) == {"name", "rows", "n_train", "first", "last"}
    shapes = ModelSpec(**info["network"]).weight_shapes().values()
    assert info["parameters"] == sum(int(np.prod(shape)) for shape in shapes)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda h: h.update(sharpness=3), "unknown model keys in the model file: sharpness"),
        (lambda h: h["network"].update(heads=4), "unknown network keys in the model file: heads"),
        (lambda h: h["config"].update(warmup=5), "unknown config keys in the model file: warmup"),
        (lambda h: h["series"][0].update(beta=1), "unknown series keys"),
        (lambda h: h["training"].update(gpu_hours=1), "unknown training keys"),
        (lambda h: h.pop("calibration"), "calibration is missing"),
        (lambda h: h["network"].pop("hidden"), "network lacks hidden"),
        (lambda h: h.pop("target"), "model lacks target"),
        (lambda h: h.update(format_version=4), "format version 4 is not supported"),
        (lambda h: h["calendar"].pop("weekmask"), "stored calendar is damaged"),
        (lambda h: h["config"].update(lookback=0), "settings the model file cannot have"),
    ],
)
def test_what_this_version_cannot_read_is_a_clear_model_file_error(
    walk_model, tmp_path, change, words
):
    path, result = walk_model
    header = copy.deepcopy(header_of(path))
    change(header)
    bad = tmp_path / "bad.lstm"
    write_header(bad, header, result.weights)
    with pytest.raises(ModelFileError, match=words) as caught:
        artifacts.load_model(bad)
    assert str(bad) in str(caught.value)
