"""Coverage backtests: values worked by hand on small sequences, edge cases, Holm's decision."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom, chi2

from lstm_forecast import coverage

SEQ = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])  # n00=4, n01=2, n10=2, n11=1


def test_kupiec_by_hand():
    v = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, 0])  # 2 of 10 against 10%
    expected = -2 * (2 * math.log(0.1) + 8 * math.log(0.9)) + 2 * (
        2 * math.log(0.2) + 8 * math.log(0.8)
    )
    r = coverage.kupiec(v, 0.1)
    assert r.statistic == pytest.approx(expected, rel=1e-12)
    assert (r.n, r.violations) == (10, 2)
    assert r.pvalue == pytest.approx(chi2.sf(expected, 1))
    lr_binom = 2 * (binom.logpmf(2, 10, 0.2) - binom.logpmf(2, 10, 0.1))
    assert r.statistic == pytest.approx(lr_binom, rel=1e-12)


def test_kupiec_edges_are_defined():
    none, every = coverage.kupiec(np.zeros(50), 0.05), coverage.kupiec(np.ones(50), 0.05)
    assert none.statistic == pytest.approx(-2 * 50 * math.log(0.95))
    assert every.statistic == pytest.approx(-2 * 50 * math.log(0.05))
    assert 0 < none.pvalue < 1 and every.pvalue < 1e-10
    assert coverage.kupiec(np.array([0.0, 1.0, np.nan]), 0.5).n == 2
    assert math.isnan(coverage.kupiec(np.array([]), 0.1).pvalue)


def test_exact_rate_gives_zero_statistic():
    r = coverage.kupiec(np.r_[np.ones(10), np.zeros(90)], 0.1)
    assert r.statistic == pytest.approx(0.0, abs=1e-12) and r.pvalue == pytest.approx(1.0)


def test_transitions_counted_within_each_series_and_around_gaps():
    assert coverage.transitions(SEQ) == (4, 2, 2, 1)
    assert coverage.transitions(np.array([[0, 1], [1, 0]])) == (0, 1, 1, 0)
    assert coverage.transitions(np.array([0, 1, np.nan, 1, 1])) == (0, 1, 0, 1)


def test_christoffersen_by_hand():
    n00, n01, n10, n11 = 4, 2, 2, 1
    pi01, pi11, pi = n01 / (n00 + n01), n11 / (n10 + n11), 3 / 9
    markov = (
        n00 * math.log(1 - pi01)
        + n01 * math.log(pi01)
        + n10 * math.log(1 - pi11)
        + n11 * math.log(pi11)
    )
    ind_expected = -2 * (6 * math.log(1 - pi) + 3 * math.log(pi) - markov)
    cc_expected = -2 * (6 * math.log(0.9) + 3 * math.log(0.1) - markov)
    ind, cc = coverage.christoffersen(SEQ, 0.1)
    assert ind.statistic == pytest.approx(ind_expected, rel=1e-12)
    assert cc.statistic == pytest.approx(cc_expected, rel=1e-12)
    assert ind.pvalue == pytest.approx(chi2.sf(ind_expected, 1))
    assert cc.pvalue == pytest.approx(chi2.sf(cc_expected, 2))
    # conditional coverage = independence + POF over the observations after the first
    pof = coverage.kupiec(SEQ[1:], 0.1).statistic
    assert cc.statistic == pytest.approx(ind.statistic + pof, rel=1e-12)


def test_christoffersen_markov_likelihood_by_direct_sum():
    """The count formula equals the chain's log-likelihood summed transition by transition."""
    rng = np.random.default_rng(3)
    v = (rng.random(300) < 0.2).astype(float)
    n00, n01, n10, n11 = coverage.transitions(v)
    p_after = {0: n01 / (n00 + n01), 1: n11 / (n10 + n11)}
    direct = sum(
        math.log(p_after[int(a)] if b else 1 - p_after[int(a)]) for a, b in itertools.pairwise(v)
    )
    x, n = n01 + n11, len(v) - 1
    iid = x * math.log(x / n) + (n - x) * math.log(1 - x / n)
    assert coverage.christoffersen(v, 0.2)[0].statistic == pytest.approx(-2 * (iid - direct))


def test_christoffersen_edges():
    for v in (np.zeros(20), np.ones(20), np.r_[np.zeros(19), 1.0]):
        ind, cc = coverage.christoffersen(v, 0.1)
        assert ind.statistic == pytest.approx(0.0, abs=1e-12) and ind.pvalue == pytest.approx(1)
        assert cc.statistic == pytest.approx(coverage.kupiec(v[1:], 0.1).statistic)
    clustered = np.r_[np.zeros(40), np.ones(10), np.zeros(50)]
    assert coverage.christoffersen(clustered, 0.1)[0].pvalue < 1e-6
    ind, cc = coverage.christoffersen(np.array([1.0]), 0.1)
    assert math.isnan(ind.pvalue) and math.isnan(cc.pvalue) and ind.n == 0


def test_holm_by_hand_and_against_statsmodels():
    np.testing.assert_allclose(coverage.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    adjusted = coverage.holm([0.2, np.nan, 0.01])
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.2, 0.02])
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    p = np.random.default_rng(0).random(30) ** 3
    np.testing.assert_allclose(coverage.holm(p), multipletests(p, method="holm")[1])


def test_tests_pass_uses_the_corrected_level():
    assert coverage.tests_pass([0.03, 0.04])  # each under 5%, neither after Holm
    assert not coverage.tests_pass([0.01, 0.5])
    assert coverage.tests_pass([np.nan, 0.5])
    assert coverage.tests_pass([])


def test_coverage_tests_rows_for_tails_and_steps():
    rng = np.random.default_rng(5)
    n, h = 2000, 3
    actual = rng.standard_normal((n, h))
    q = np.broadcast_to(np.array([-1.2815515655, 0.0, 1.2815515655]), (n, h, 3))
    rows = coverage.coverage_tests(actual, q, [0.1, 0.5, 0.9])
    assert [(r["test"], r["quantile"], r["horizon"]) for r in rows] == [
        ("kupiec", 0.1, 1),
        ("kupiec", 0.1, 2),
        ("kupiec", 0.1, 3),
        ("christoffersen_cc", 0.1, 1),
        ("kupiec", 0.9, 1),
        ("kupiec", 0.9, 2),
        ("kupiec", 0.9, 3),
        ("christoffersen_cc", 0.9, 1),
    ]
    assert rows[0]["violations"] == int(np.sum(actual[:, 0] < q[0, 0, 0]))
    assert rows[4]["violations"] == int(np.sum(actual[:, 0] > q[0, 0, 2]))
    assert [r["n"] for r in rows[:3]] == [2000, 1000, 667]  # step h: every h-th origin
    assert coverage.tests_pass([r["pvalue"] for r in rows])
    narrow = coverage.coverage_tests(actual, q * 0.7, [0.1, 0.5, 0.9])
    assert not coverage.tests_pass([r["pvalue"] for r in narrow])


def test_violation_indicators_mark_unknown_outcomes_nan():
    v = coverage.violation_indicators(
        np.array([0.0, 5.0, np.nan]), np.array([[-1.0, 1.0]] * 3), [0.1, 0.9]
    )
    np.testing.assert_array_equal(v[:2], [[0, 0], [0, 1]])
    assert np.isnan(v[2]).all()


def test_kupiec_on_overlapping_steps_keeps_its_size():
    """A correct h-step band on a random walk: overlapping outcomes would reject far more often
    than 5%; on every h-th origin the test rejects at about its nominal rate."""
    rng = np.random.default_rng(7)
    n, h, rejections, rejections_all, family = 500, 5, [], [], []
    z = 1.2815515655 * np.sqrt(np.arange(1, h + 1))
    q = np.stack([-z, np.zeros(h), z], axis=-1)[None].repeat(n, 0)
    for _ in range(200):
        walk = np.cumsum(rng.standard_normal(n + h))
        actual = walk[np.arange(n)[:, None] + np.arange(1, h + 1)] - walk[:n, None]
        rows = coverage.coverage_tests(actual, q, [0.1, 0.5, 0.9])
        row = rows[4]
        assert row["horizon"] == 5
        family.append(not coverage.tests_pass([r["pvalue"] for r in rows]))
        rejections.append(row["pvalue"] < 0.05)
        overlapping = coverage.kupiec(actual[:, 4] < q[:, 4, 0], 0.1).pvalue
        rejections_all.append(overlapping < 0.05)
    assert np.mean(rejections) < 0.1
    assert np.mean(rejections_all) > 0.2
    assert np.mean(family) < 0.1  # Holm keeps the whole family near 5%
