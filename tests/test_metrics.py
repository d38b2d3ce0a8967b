"""Accuracy and probabilistic scores on arrays small enough to check by hand, and the DM test
against a reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, t

from helpers import reference_dm
from lstm_forecast import metrics
from lstm_forecast.metrics import diebold_mariano

A = np.array([12.0, 9.0, 13.0, 15.0])  # actuals
F = np.array([11.0, 10.0, 13.0, 11.0])  # forecasts: errors 1, -1, 0, 4
ORIGIN = np.array([10.0, 10.0, 12.0, 12.0])  # origin values


def mean(terms: metrics.Terms, name: str) -> float:
    """A metric from its terms: the mean of the values that count (NaN when none does)."""
    ok, value = terms[name]
    return float(np.mean(value[ok])) if ok.any() else math.nan


def point(forecast: np.ndarray, actual: np.ndarray = A) -> metrics.Terms:
    return metrics.point_terms(actual, forecast, ORIGIN[: len(actual)], np.full(4, 2.0), ORIGIN)


def test_point_scores_by_hand():
    got = point(F)
    assert mean(got, "ae") == pytest.approx((1 + 1 + 0 + 4) / 4)
    assert math.sqrt(mean(got, "se")) == pytest.approx(math.sqrt((1 + 1 + 0 + 16) / 4))
    assert mean(got, "ase") == pytest.approx(1.5 / 2)
    # moves called: +1 (actual +2, hit), none (left out), +1 (+1, hit), -1 (+3, miss)
    assert mean(got, "dir") == pytest.approx(2 / 3)
    # the random walk (the origin values) errs by 2, 1, 1, 3: relative MAE 1.5 / 1.75
    assert mean(got, "ae") / mean(got, "rwe") == pytest.approx(1.5 / 1.75)


def test_percentage_errors_by_hand():
    got = point(F)
    assert mean(got, "ape") == pytest.approx(100 * (1 / 12 + 1 / 9 + 0 + 4 / 15) / 4)
    assert mean(got, "sape") == pytest.approx(100 * (2 / 23 + 2 / 19 + 0 + 8 / 26) / 4)
    zero = metrics.point_terms(
        np.array([0.0, 2.0]), np.array([1.0, 1.0]), np.ones(2), np.ones(2), np.ones(2)
    )
    assert mean(zero, "ape") == pytest.approx(50.0)  # the zero actual is left out


def test_missing_values_are_left_out():
    f = F.copy()
    f[3] = np.nan
    assert mean(point(f), "ae") == pytest.approx(2 / 3)
    assert mean(point(f), "n") == 1.0 and point(f)["n"][0].sum() == 3
    assert math.isnan(mean(point(np.full(4, np.nan)), "ae"))
    assert mean(point(f), "dir") == pytest.approx(1.0)


def test_naive_scale_is_the_in_sample_naive_mae():
    history = np.array([1.0, 3.0, 2.0, 6.0])
    assert metrics.naive_scale(history) == pytest.approx((2 + 1 + 4) / 3)
    assert metrics.naive_scale(history, season=2) == pytest.approx((1 + 3) / 2)
    assert math.isnan(metrics.naive_scale(history[:1]))


def test_a_forecast_that_calls_no_move_has_no_directional_accuracy():
    assert math.isnan(mean(point(ORIGIN), "dir"))
    assert mean(point(ORIGIN), "up") == pytest.approx(3 / 4)


def band(actual: np.ndarray, q: np.ndarray, levels: list[float]) -> metrics.Terms:
    """Quantile terms with the outermost levels as interval 0."""
    return metrics.quantile_terms(actual, q, levels, [(0, len(levels) - 1)])


def test_interval_measures_by_hand():
    lower, upper = np.array([0.0, 2.5, 3.0]), np.array([2.0, 3.0, 3.0])
    assert metrics.coverage(np.array([1.0, 2.0, 3.0]), lower, upper) == pytest.approx(2 / 3)
    # actual 1 against quantiles 0, 1, 3 at 0.1, 0.5, 0.9: losses 0.1, 0, 0.2
    got = band(np.array([1.0]), np.array([[0.0, 1.0, 3.0]]), [0.1, 0.5, 0.9])
    assert [mean(got, f"pinball{j}") for j in range(3)] == pytest.approx([0.1, 0.0, 0.2])
    assert mean(got, "crps") == pytest.approx(2 * 0.3 / 3)
    # width 2 each; 5 is 3 above (+ 2/0.2 * 3), -1 is 1 below (+ 2/0.2 * 1)
    q = np.stack([np.zeros(3), np.ones(3), np.full(3, 2.0)], axis=1)
    got = band(np.array([1.0, 5.0, -1.0]), q, [0.1, 0.5, 0.9])
    assert mean(got, "is0") == pytest.approx((2 + 32 + 12) / 3)
    assert mean(got, "cover0") == pytest.approx(1 / 3)


@pytest.mark.parametrize("h", [1, 2, 3])
def test_dm_statistic_matches_the_reference_on_generated_errors(h):
    rng = np.random.default_rng(h)
    base = rng.normal(0, 1.0, 300)
    model = 0.9 * base + rng.normal(0, 0.3, 300)
    stat, p = diebold_mariano(model, base, horizon=h)
    ref_stat, ref_p = reference_dm(model, base, h)
    assert stat == pytest.approx(ref_stat, rel=1e-12) and p == pytest.approx(ref_p, rel=1e-12)
    assert math.isfinite(stat) and 0 < p < 1


def test_dm_has_nothing_to_test_without_a_loss_differential():
    e = np.random.default_rng(0).normal(size=50)
    assert all(math.isnan(x) for x in diebold_mariano(e, e.copy()))  # identical forecasts
    assert all(math.isnan(x) for x in diebold_mariano(e[:2], e[:2] + 1))  # too few points


LEVELS = [0.1, 0.5, 0.9]


def test_pinball_loss_by_hand():
    actual = np.array([10.0, 0.0])
    q = np.array([[8.0, 10.0, 12.0], [1.0, 2.0, 3.0]])
    loss = metrics.pinball_loss(actual, q, LEVELS)
    # 10: above q10 by 2 -> 0.1 * 2; at q50; below q90 by 2 -> 0.1 * 2
    # 0: below all: (1 - tau) * distance = 0.9 * 1, 0.5 * 2, 0.1 * 3
    np.testing.assert_allclose(loss, [[0.2, 0.0, 0.2], [0.9, 1.0, 0.3]])
    got = band(actual, q, LEVELS)
    assert [mean(got, f"pinball{j}") for j in range(3)] == pytest.approx([0.55, 0.5, 0.25])


def test_pinball_terms_skip_nan_points():
    actual = np.array([10.0, np.nan])
    q = np.array([[8.0, 10.0, 12.0], [1.0, 2.0, 3.0]])
    got = band(actual, q, LEVELS)
    assert [mean(got, f"pinball{j}") for j in range(3)] == pytest.approx([0.2, 0.0, 0.2])
    assert got["crps"][0].tolist() == [True, False] and got["cover0"][0].tolist() == [True, False]


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
    q = np.stack([lo, np.zeros(200), np.ones(200)], axis=1)
    assert mean(band(a, q, LEVELS), "is0") == pytest.approx(loss.mean())
    np.testing.assert_allclose(
        metrics.interval_score_loss(np.array([0.0, 3.0, -2.0]), -1.0, 1.0, 0.2), [2, 22, 12]
    )


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
