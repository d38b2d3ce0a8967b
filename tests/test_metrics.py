"""Probabilistic scores: pinball, CRPS from quantiles, interval score, hit rates, DM on losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, t

from lstm_forecast import metrics

LEVELS = [0.1, 0.5, 0.9]


def test_pinball_loss_by_hand():
    actual = np.array([10.0, 0.0])
    q = np.array([[8.0, 10.0, 12.0], [1.0, 2.0, 3.0]])
    loss = metrics.pinball_loss(actual, q, LEVELS)
    # 10: above q10 by 2 -> 0.1 * 2; at q50; below q90 by 2 -> 0.1 * 2
    # 0: below all: (1 - tau) * distance = 0.9 * 1, 0.5 * 2, 0.1 * 3
    np.testing.assert_allclose(loss, [[0.2, 0.0, 0.2], [0.9, 1.0, 0.3]])
    np.testing.assert_allclose(metrics.pinball_by_quantile(actual, q, LEVELS), [0.55, 0.5, 0.25])
    assert metrics.pinball(actual, q, LEVELS) == pytest.approx(loss.mean())


def test_pinball_by_quantile_skips_nan_points():
    actual = np.array([[10.0, np.nan]])
    q = np.array([[[8.0, 10.0, 12.0], [1.0, 2.0, 3.0]]])
    np.testing.assert_allclose(metrics.pinball_by_quantile(actual, q, LEVELS), [0.2, 0.0, 0.2])
    assert np.isnan(metrics.pinball_by_quantile(np.array([np.nan]), q[0, :1], LEVELS)).all()


def test_crps_from_many_quantiles_approaches_the_normal_closed_form():
    levels = list(np.arange(1, 100) / 100)
    y = np.array([-2.0, -0.3, 0.0, 1.1])
    q = np.broadcast_to(norm.ppf(levels), (4, 99))
    exact = y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / math.sqrt(math.pi)
    np.testing.assert_allclose(metrics.crps_from_quantiles(y, q, levels), exact, rtol=0.02)


def test_interval_score_loss_is_the_summand_of_interval_score():
    rng = np.random.default_rng(0)
    a, lo = rng.standard_normal(200), -np.ones(200)
    loss = metrics.interval_score_loss(a, lo, np.ones(200), 0.2)
    assert metrics.interval_score(a, lo, np.ones(200), 0.2) == pytest.approx(loss.mean())
    np.testing.assert_allclose(
        metrics.interval_score_loss(np.array([0.0, 3.0, -2.0]), -1.0, 1.0, 0.2), [2, 22, 12]
    )


def test_quantile_hit_rate():
    actual = np.array([0.0, 1.0, 2.0, np.nan])
    q = np.broadcast_to(np.array([0.5, 1.0, 5.0]), (4, 3))
    np.testing.assert_allclose(metrics.quantile_hit_rate(actual, q), [1 / 3, 2 / 3, 1.0])


def test_dm_on_losses_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    base = rng.exponential(1.0, 300)
    model = base * rng.uniform(0.7, 1.1, 300)
    stat, p = metrics.diebold_mariano_loss(model, base, horizon=1)
    d = model - base
    n = len(d)
    direct = d.mean() / math.sqrt(d.var() / n) * math.sqrt((n - 1) / n)
    assert stat == pytest.approx(direct, rel=1e-10)
    assert p == pytest.approx(2 * t.sf(abs(direct), n - 1))
    assert stat < 0 and p < 1e-6
    with pytest.raises(ValueError, match="non-negative"):
        metrics.diebold_mariano_loss(-base, base)
