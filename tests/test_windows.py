"""Windowing and transforms: shapes, coverage, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_forecast import windows
from lstm_forecast.errors import DataError
from lstm_forecast.loading import Series


@pytest.mark.parametrize("offset", [0, 3, 15])
def test_segments_cover_every_origin_once(offset):
    first, last, lookback, chunk = 59, 400, 60, 16
    segs = windows.segments(first, last, lookback, chunk, offset)
    covered = np.concatenate([s + lookback - 1 + np.arange(lo, hi) for s, lo, hi in segs])
    assert sorted(covered.tolist()) == list(range(first, last + 1))
    assert (segs[:, 0] >= 0).all()
    # every segment fits inside the rows it may read: warm-up + chunk positions, ending by `last`
    assert (segs[:, 0] + lookback - 1 + chunk - 1 <= last).all()


def test_windows_are_the_lookback_rows_ending_at_each_origin():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    w = windows.windows(x, np.array([4, 10, 19]), lookback=5)
    assert w.shape == (3, 5, 2)
    np.testing.assert_array_equal(w[1], x[6:11])
    np.testing.assert_array_equal(w[2], x[15:20])


def test_targets_map_back_to_the_future_values_exactly():
    values = np.array([10.0, 11.0, 12.1, 11.5, 13.0, 12.0, 12.5, 14.0])
    series = Series("s", np.arange(8), values, np.zeros((8, 0)))
    stats = windows.fit_stats(series, 6, "log-return", [])
    prep = windows.prepare(series, stats, "log-return", date_features=False)
    t = windows.targets(prep, horizon=3)
    origins = np.array([0, 2, 4])
    back = windows.denormalise(
        t[origins][..., None], values[origins], prep.sigma[origins], "log-return"
    )[..., 0]
    np.testing.assert_allclose(back, values[origins[:, None] + np.arange(1, 4)], rtol=1e-12)
    unchanged = windows.denormalise(
        np.zeros((3, 3, 1)), values[origins], prep.sigma[origins], "log-return"
    )[..., 0]
    assert (unchanged == values[origins][:, None]).all()  # no change is exactly the naive value
    assert np.isnan(t[-1]).all() and np.isfinite(t[4]).all()


def test_prepare_is_causal():
    rng = np.random.default_rng(2)
    values = 20 + np.cumsum(rng.normal(size=300))
    series = Series("s", np.arange(300), values, np.zeros((300, 0)))
    stats = windows.fit_stats(series, 200, "diff", [])
    a = windows.prepare(series, stats, "diff", date_features=False)
    changed = Series(
        "s", np.arange(300), np.concatenate([values[:250], values[250:] * 3]), np.zeros((300, 0))
    )
    b = windows.prepare(changed, stats, "diff", date_features=False)
    np.testing.assert_array_equal(a.x[:250], b.x[:250])
    np.testing.assert_array_equal(a.sigma[:250], b.sigma[:250])


OHLC = np.array(
    [  # Open, High, Low, Close
        [10.0, 11.0, 9.0, 10.5],
        [10.5, 12.0, 10.0, 11.0],
        [11.0, 11.0, 11.0, 11.0],  # no range at all: the floor
        [11.0, 12.1, 10.9, 12.0],
        [12.0, 12.5, 11.5, 11.6],
        [11.6, 13.0, 11.6, 12.9],
    ]
)


def ohlc_series() -> Series:
    return Series("s", np.arange(6), OHLC[:, 3].copy(), OHLC.copy())


def test_parkinson_input_by_hand():
    stats = windows.fit_stats(
        ohlc_series(), 4, "log-return", ["Open", "High", "Low", "Close"], ["Parkinson"]
    )
    (entry,) = stats["features"]
    assert (entry["name"], entry["kind"], entry["columns"]) == ("Parkinson", "parkinson", [1, 2])
    vol = np.abs(np.log(OHLC[:, 1] / OHLC[:, 2])) / np.sqrt(4 * np.log(2))
    assert vol[2] == 0 and entry["floor"] == pytest.approx(0.1 * np.median(vol[[0, 1, 3]]))
    raw = np.log(np.maximum(vol, entry["floor"]))
    assert entry["mean"] == pytest.approx(raw[1:4].mean())
    assert entry["std"] == pytest.approx(raw[1:4].std())
    x = windows.prepare(ohlc_series(), stats, "log-return", date_features=False).x
    assert x.shape == (6, 3)  # change, volatility, the range input
    want = np.clip((raw - entry["mean"]) / entry["std"], -windows.CLIP, windows.CLIP)
    np.testing.assert_allclose(x[:, 2], want, rtol=1e-6)


def test_garman_klass_input_by_hand():
    o, h, l, c = OHLC.T  # noqa: E741
    gk = 0.5 * np.log(h / l) ** 2 - (2 * np.log(2) - 1) * np.log(c / o) ** 2
    got = windows.range_volatility(OHLC, "garmanklass")
    np.testing.assert_allclose(got, np.sqrt(np.maximum(gk, 0)), rtol=1e-12)
    assert got[0] == pytest.approx(
        np.sqrt(0.5 * np.log(11 / 9) ** 2 - 0.3862944 * np.log(1.05) ** 2)
    )
    stats = windows.fit_stats(
        ohlc_series(), 4, "log-return", ["Open", "High", "Low", "Close"], ["garman-klass", "Close"]
    )
    assert [(f["kind"], f["columns"]) for f in stats["features"]] == [
        ("garmanklass", [0, 1, 2, 3]),
        ("log-diff", [3]),
    ]


def test_a_range_input_without_its_columns_is_a_data_error():
    with pytest.raises(DataError, match=r"--features parkinson needs the column.* Low"):
        windows.fit_stats(ohlc_series(), 4, "log-return", ["Open", "High"], ["parkinson"])


def test_the_loader_keeps_the_columns_a_range_input_needs(tmp_path):
    from helpers import GOOG
    from lstm_forecast import api
    from lstm_forecast.settings import loader_features

    assert loader_features(["parkinson", "Volume", "high"]) == ["High", "Low", "Volume"]
    assert loader_features(["Garman_Klass"]) == ["Open", "High", "Low", "Close"]
    data = api.load_data(GOOG, api.LoadOptions(features=loader_features(["parkinson"])))
    assert data.target == "Adj Close" and data.feature_names == ["High", "Low"]
    raw = np.genfromtxt(GOOG, delimiter=",", skip_header=1, usecols=(2, 3))
    np.testing.assert_array_equal(data.series[0].features, raw)


@pytest.mark.parametrize("n", [1, 15, 16, 300])
def test_volatility_of_series_side_by_side_is_bit_identical_to_one_at_a_time(n):
    rng = np.random.default_rng(n)
    moves = [rng.standard_t(4, int(m)) * 0.01 for m in rng.integers(0, 700, n)]
    moves[0] = np.zeros(0)  # an empty series among them
    scales = rng.uniform(0.004, 0.04, n)
    together = windows.ewma_volatility(moves, scales)
    for d, s, got in zip(moves, scales, together, strict=True):
        var, v = np.empty(len(d)), s * s
        for t, x in enumerate(d):  # the recursion as written down
            v = 0.94 * v + (1.0 - 0.94) * (x * x)
            var[t] = v
        np.testing.assert_array_equal(got, np.sqrt(np.maximum(var, (s * 0.05) ** 2)))
