"""Online recalibration: steps by hand, the delay of h-step outcomes, no look-ahead, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_forecast.conformal import adaptive_quantiles

Z90 = 1.2815515655446004


def test_steps_by_hand():
    """tau = 0.9, model forecast 0, gamma 0.05; each step adds 0.05 * scale * (0.9 - hit)."""
    f = np.zeros((4, 1, 1))
    y = np.array([[1.0], [1.0], [-1.0], [0.0]])
    out = adaptive_quantiles(f, y, [0.9], gamma=0.05)
    # origin 0: nothing known; 1: y0 = 1 above 0 (scale 1) -> +0.045; 2: y1 above 0.045
    # (scale mean(1, 1) = 1) -> +0.045; 3: y2 = -1 at or below 0.09 (scale 1) -> -0.005
    np.testing.assert_allclose(out[:, 0, 0], [0.0, 0.045, 0.09, 0.085])


def test_h_step_outcomes_are_used_only_once_known():
    """Step 2's outcome of origin k is the value two rows on: first usable at origin k + 2."""
    f = np.zeros((5, 2, 1))
    y = np.ones((5, 2))
    out = adaptive_quantiles(f, y, [0.9], gamma=0.05)
    np.testing.assert_allclose(out[:, 0, 0], [0, 0.045, 0.09, 0.135, 0.18])
    np.testing.assert_allclose(out[:, 1, 0], [0, 0, 0.045, 0.09, 0.135])


def test_origins_with_gaps_decide_what_is_known():
    f = np.zeros((3, 2, 1))
    y = np.ones((3, 2))
    out = adaptive_quantiles(f, y, [0.9], origins=np.array([0, 1, 10]), gamma=0.05)
    # at row 10 both outcomes of origins 0 and 1 (rows 2 and 3) are known
    np.testing.assert_allclose(out[:, 1, 0], [0, 0, 0.09])
    with pytest.raises(ValueError, match="increasing"):
        adaptive_quantiles(f, y, [0.9], origins=np.array([0, 2, 1]))


def test_no_look_ahead():
    """Changing outcomes not yet observed at an origin leaves its quantiles unchanged."""
    rng = np.random.default_rng(0)
    n, h = 200, 4
    f = np.sort(rng.standard_normal((3, n, h, 3)), axis=-1)
    y = rng.standard_normal((3, n, h))
    base = adaptive_quantiles(f, y, [0.1, 0.5, 0.9])
    t0 = 120
    rows = np.arange(n)[:, None] + np.arange(1, h + 1)[None, :]  # row of each outcome
    changed = np.where(rows > t0, y + 10.0, y)
    after = adaptive_quantiles(f, changed, [0.1, 0.5, 0.9])
    np.testing.assert_array_equal(base[:, : t0 + 1], after[:, : t0 + 1])
    assert not np.allclose(base[:, t0 + 1 :], after[:, t0 + 1 :])


def test_series_are_independent_and_batched_like_one_by_one():
    rng = np.random.default_rng(1)
    f = np.sort(rng.standard_normal((4, 60, 2, 3)), axis=-1)
    y = rng.standard_normal((4, 60, 2))
    y[2, 30:] = np.nan  # one series stops reporting
    batch = adaptive_quantiles(f, y, [0.1, 0.5, 0.9])
    for s in range(4):
        np.testing.assert_allclose(batch[s], adaptive_quantiles(f[s], y[s], [0.1, 0.5, 0.9]))


def test_offsets_hold_while_outcomes_are_missing():
    f = np.zeros((5, 1, 1))
    y = np.array([[1.0], [np.nan], [np.nan], [np.nan], [1.0]])
    out = adaptive_quantiles(f, y, [0.9], gamma=0.05)
    np.testing.assert_allclose(out[:, 0, 0], [0, 0.045, 0.045, 0.045, 0.045])


def test_output_is_monotone_and_offsets_clipped():
    rng = np.random.default_rng(2)
    f = np.broadcast_to(np.array([-0.1, 0.0, 0.1]), (500, 1, 3))
    y = 100 + rng.standard_normal((500, 1))  # far above every quantile
    out = adaptive_quantiles(f, y, [0.1, 0.5, 0.9], gamma=1.0, clip=3.0)
    assert np.all(np.diff(out, axis=-1) >= 0)
    scale = np.abs(y[:, None, :] - f[..., [0]]).mean()  # about 100
    assert np.max(out - f) <= 3.0 * scale * 1.01


def test_too_narrow_band_is_restored_towards_nominal():
    rng = np.random.default_rng(4)
    n = 3000
    y = rng.standard_normal((n, 1))
    narrow = np.broadcast_to(np.array([-0.5 * Z90, 0.0, 0.5 * Z90]), (n, 1, 3))
    out = adaptive_quantiles(narrow, y, [0.1, 0.5, 0.9])

    def cover(q, start=0):
        a = y[start:, 0]
        return np.mean((a >= q[start:, 0, 0]) & (a <= q[start:, 0, 2]))

    assert cover(narrow) == pytest.approx(0.48, abs=0.03)
    assert cover(out, 500) == pytest.approx(0.80, abs=0.03)
    right = np.broadcast_to(np.array([-Z90, 0.0, Z90]), (n, 1, 3))
    assert cover(adaptive_quantiles(right, y, [0.1, 0.5, 0.9])) == pytest.approx(0.8, abs=0.03)
