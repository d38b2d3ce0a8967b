"""The baselines on series short enough to check by hand, and the random-walk interval
against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_forecast import baselines

V = np.array([10.0, 12.0, 11.0, 13.0, 16.0, 15.0])  # six points
ORIGINS = np.array([2, 4])


def test_naive_repeats_the_origin_value():
    np.testing.assert_array_equal(baselines.naive(V, ORIGINS, 2), [[11, 11], [16, 16]])


def test_drift_adds_the_average_change_so_far():
    # from origin 2: (11 - 10) / 2 = 0.5 a step; from origin 4: (16 - 10) / 4 = 1.5
    np.testing.assert_allclose(baselines.drift(V, ORIGINS, 2), [[11.5, 12.0], [17.5, 19.0]])


def test_historical_mean_uses_values_up_to_the_origin():
    np.testing.assert_allclose(
        baselines.historical_mean(V, ORIGINS, 2), [[11.0, 11.0], [12.4, 12.4]]
    )


def test_seasonal_naive_takes_the_value_one_season_before_each_target():
    # season 2: target 3 <- row 1, target 4 <- row 2; target 5 <- row 3, target 6 <- row 4
    got = baselines.seasonal_naive(V, ORIGINS, 2, season=2)
    np.testing.assert_array_equal(got, [[12.0, 11.0], [13.0, 16.0]])
    early = baselines.seasonal_naive(V, np.array([0]), 2, season=3)  # rows -2, -1: none
    assert np.isnan(early).all()


def test_random_walk_quantiles_match_a_direct_computation():
    rng = np.random.default_rng(4)
    values = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 60)))
    origins, levels = np.arange(0, 57), [0.1, 0.5, 0.9]
    for log in (True, False):
        got = baselines.random_walk_quantiles(values, origins, 3, levels, log)
        y = np.log(values) if log else values
        for i, o in enumerate(origins):
            for h in (1, 2, 3):
                past = (y[h:] - y[:-h])[: max(o - h + 1, 0)]  # changes that ended by o
                if len(past) < baselines.MIN_CHANGES:
                    assert np.isnan(got[i, h - 1]).all()
                    continue
                want = y[o] + np.quantile(past, levels)
                np.testing.assert_allclose(got[i, h - 1], np.exp(want) if log else want, rtol=1e-12)


def test_forecasts_gives_the_named_baselines_with_the_random_walk_interval():
    got = baselines.forecasts(V, ORIGINS, 2, season=None, quantiles=None)
    assert list(got) == ["naive", "drift", "mean"]  # no season: no seasonal naive
    assert all(bands is None for _, bands in got.values())
    with_all = baselines.forecasts(V, ORIGINS, 2, season=2, quantiles=[0.1, 0.9], log=True)
    assert list(with_all) == list(baselines.NAMES)
    points, bands = with_all["naive"]
    np.testing.assert_array_equal(points, baselines.naive(V, ORIGINS, 2))
    assert bands.shape == (2, 2, 2) and np.isnan(bands).all()  # fewer than 10 past changes
    only = baselines.forecasts(V, ORIGINS, 2, ("drift",))
    assert list(only) == ["drift"]


@pytest.mark.parametrize(
    ("frequency", "season"),
    [("B", 5), ("D", 7), ("W-FRI", 52), ("MS", 12), ("QE", 4), ("h", 24), ("5min", 288)],
)
def test_season_length_follows_the_frequency(frequency, season):
    assert baselines.season_length(frequency) == season
    assert baselines.season_length(None) is None and baselines.season_length("7min") is None
