"""Windowing and transforms: shapes, coverage, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_forecast import windows
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
