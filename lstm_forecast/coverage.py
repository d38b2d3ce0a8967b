"""Backtests of interval coverage: Kupiec, Christoffersen, and one decision over all of them.

A violation is an outcome outside a quantile: below a lower quantile q (expected rate q) or
above an upper quantile q (expected rate 1 - q). The tests are likelihood ratios with
chi-square p-values:

- Kupiec's proportion of failures (POF): is the violation rate the nominal one? chi2(1).
- Christoffersen's independence: does a violation make the next one likelier (first-order
  Markov chain against independence)? chi2(1). Conditional coverage: rate and independence
  together, chi2(2).

Each test assumes violations independent under the null. The h-step outcomes of consecutive
origins overlap (origins one row apart share h - 1 of their steps), so their violations are
dependent by construction for h > 1, and a test on all of them rejects a correct band far too
often. coverage_tests therefore runs Kupiec at step h on every h-th origin only (outcomes that
do not overlap, whose violations are independent under a correct band, at the cost of power),
and the Christoffersen tests at h = 1 only.

Violation arrays may be (..., T) for several series: counts pool over all of them, transitions
are counted along the last axis within each series, and NaN entries (outcome not known yet)
drop out together with the transitions into and out of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.05


@dataclass(frozen=True)
class LRTest:
    """One likelihood-ratio test: statistic, p-value, and the observations it used."""

    statistic: float
    pvalue: float
    n: int
    violations: int


def _xlogy(x: float, y: float) -> float:
    """x * log(y), with 0 * log(0) = 0 (the limit every likelihood here needs)."""
    return 0.0 if x == 0 else x * math.log(y)


def _bernoulli_ll(failures: float, successes: float, p: float) -> float:
    """Log-likelihood of counts under a failure probability p."""
    return _xlogy(failures, p) + _xlogy(successes, 1 - p)


def _chi2_sf(statistic: float, df: int) -> float:
    from scipy.special import chdtrc  # what scipy.stats.chi2.sf computes, without scipy.stats

    return float(chdtrc(df, max(statistic, 0.0)))


def kupiec(violations: np.ndarray, rate: float) -> LRTest:
    """Kupiec's POF test of a violation rate against the nominal `rate` (0 < rate < 1).

    LR = -2 [x log p + (n - x) log(1 - p)] + 2 [x log(x/n) + (n - x) log(1 - x/n)]; no
    violations gives -2 n log(1 - p), all violations -2 n log(p). NaN without observations.
    """
    v = np.asarray(violations, dtype=float)
    v = v[np.isfinite(v)]
    return kupiec_counts(len(v), int(v.sum()), rate)


def kupiec_counts(n: int, x: int, rate: float) -> LRTest:
    """`kupiec` from the count of observations n and of violations x."""
    if n == 0:
        return LRTest(math.nan, math.nan, 0, 0)
    stat = -2 * (_bernoulli_ll(x, n - x, rate) - _bernoulli_ll(x, n - x, x / n))
    return LRTest(stat, _chi2_sf(stat, 1), n, x)


def transitions(violations: np.ndarray) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): counts of i -> j between consecutive known observations."""
    v = np.asarray(violations, dtype=float)
    prev, curr = v[..., :-1], v[..., 1:]
    ok = np.isfinite(prev) & np.isfinite(curr)
    p, c = prev[ok] == 1, curr[ok] == 1
    return (
        int(np.sum(~p & ~c)),
        int(np.sum(~p & c)),
        int(np.sum(p & ~c)),
        int(np.sum(p & c)),
    )


def _markov_ll(n00: int, n01: int, n10: int, n11: int) -> float:
    """Log-likelihood of the transitions at their fitted first-order Markov probabilities."""
    from_0, from_1 = n00 + n01, n10 + n11
    ll0 = _bernoulli_ll(n01, n00, n01 / from_0) if from_0 else 0.0
    ll1 = _bernoulli_ll(n11, n10, n11 / from_1) if from_1 else 0.0
    return ll0 + ll1


def christoffersen(violations: np.ndarray, rate: float) -> tuple[LRTest, LRTest]:
    """Christoffersen's (independence, conditional coverage) tests, conditional on the first
    observation of each run, so that LR_cc = LR_ind + the POF statistic over the transitions.

    Independence: -2 log L(pi) + 2 log L(pi01, pi11), pi the pooled rate after any state.
    Conditional coverage: -2 log L(rate) + 2 log L(pi01, pi11). Without violations (or with
    violations only) the chain is degenerate and LR_ind = 0. NaN without any transition.
    """
    return christoffersen_counts(transitions(violations), rate)


def christoffersen_counts(counts: tuple[int, int, int, int], rate: float) -> tuple[LRTest, LRTest]:
    """`christoffersen` from the transition counts (n00, n01, n10, n11)."""
    n00, n01, n10, n11 = counts
    n, x = n00 + n01 + n10 + n11, n01 + n11
    if n == 0:
        empty = LRTest(math.nan, math.nan, 0, 0)
        return empty, empty
    markov = _markov_ll(n00, n01, n10, n11)
    ind = -2 * (_bernoulli_ll(x, n - x, x / n) - markov)
    cc = -2 * (_bernoulli_ll(x, n - x, rate) - markov)
    return LRTest(ind, _chi2_sf(ind, 1), n, x), LRTest(cc, _chi2_sf(cc, 2), n, x)


def holm(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def tests_pass(pvalues: list[float] | np.ndarray, level: float = LEVEL) -> bool:
    """True when no test of the family rejects at `level` after Holm's correction
    (the family-wise error rate is at most `level`)."""
    adjusted = holm(pvalues)
    return not bool(np.any(adjusted[np.isfinite(adjusted)] <= level))


def violation_indicators(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> np.ndarray:
    """1 where the outcome falls beyond a quantile forecast (..., Q), NaN where unknown:
    below it for levels under 0.5 (expected rate q), above it over 0.5 (rate 1 - q)."""
    actual = np.asarray(actual, dtype=float)[..., None]
    q = np.asarray(quantiles)
    out = np.where(q < 0.5, actual < quantile_forecasts, actual > quantile_forecasts)
    return np.where(np.isfinite(actual) & np.isfinite(quantile_forecasts), out, np.nan)


def coverage_tests(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> list[dict]:
    """Every coverage test for forecasts (..., T, H, Q) and outcomes (..., T, H), T the
    origins one row apart in time order: Kupiec per tail level and horizon step h (on every
    h-th origin), Christoffersen conditional coverage per tail level at h = 1. The median
    (0.5) is no tail and is skipped.

    Rows: {"test", "quantile", "horizon", "statistic", "pvalue", "n", "violations"}; pass their
    p-values to tests_pass for the decision.
    """
    return tests_from_counts(test_counts(actual, quantile_forecasts, quantiles))


def test_counts(
    actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles: list[float]
) -> dict[tuple[str, float, int], tuple[int, ...]]:
    """What `coverage_tests` needs, as counts that add up over groups of series:
    {(test, quantile, step): (n, violations) for Kupiec, (n00, n01, n10, n11) for
    Christoffersen}."""
    v = violation_indicators(actual, quantile_forecasts, quantiles)
    out: dict[tuple[str, float, int], tuple[int, ...]] = {}
    for j, q in enumerate(quantiles):
        if q == 0.5:
            continue
        for step in range(1, v.shape[-2] + 1):
            apart = v[..., ::step, step - 1, j]  # origins `step` rows apart share no step
            apart = apart[np.isfinite(apart)]
            out[("kupiec", q, step)] = (len(apart), int(apart.sum()))
        out[("christoffersen_cc", q, 1)] = transitions(v[..., 0, j])
    return out


def tests_from_counts(counts: dict[tuple[str, float, int], tuple[int, ...]]) -> list[dict]:
    """The rows of `coverage_tests` from (summed) `test_counts`."""
    rows = []
    for (test, q, step), found in counts.items():
        rate = q if q < 0.5 else 1 - q
        if test == "kupiec":
            result = kupiec_counts(*found, rate)
        else:
            result = christoffersen_counts(found, rate)[1]  # type: ignore[arg-type]
        rows.append({"test": test, "quantile": q, "horizon": step, **vars(result)})
    return rows
