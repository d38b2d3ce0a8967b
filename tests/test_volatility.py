"""GARCH(1,1)-t and EWMA bands: checked against arch's own filter, forecasts and quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.univariate import EWMAVariance, StudentsT, ZeroMean
from scipy.stats import norm

from helpers import GOOG
from lstm_forecast import volatility

N_TRAIN = 2500
LEVELS = [0.1, 0.5, 0.9]


@pytest.fixture(scope="module")
def goog() -> np.ndarray:
    return pd.read_csv(GOOG)["Close"].to_numpy()


@pytest.fixture(scope="module")
def fitted(goog):
    """Our fit, and arch's fit of the same model on the full series' training rows."""
    y = volatility.log_returns(goog)
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = model.fit(disp="off", last_obs=N_TRAIN - 1)
    return volatility.fit_garch(goog, N_TRAIN), res


def simulate_garch_t(n: int, seed: int, mu=0.05, omega=0.02, alpha=0.08, beta=0.9, nu=6.0):
    """Prices from a GARCH(1,1) with unit-variance Student-t shocks on 100x log returns."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu)
    r, s2 = np.empty(n), omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = mu + np.sqrt(s2) * z[t]
        s2 = omega + alpha * (r[t] - mu) ** 2 + beta * s2
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(r / 100)]))


def test_fit_is_arch_fit_on_training_rows(fitted):
    ours, res = fitted
    got = [ours.mu, ours.omega, ours.alpha, ours.beta, ours.nu]
    np.testing.assert_allclose(got, res.params.to_numpy(), rtol=1e-12)


def test_filter_matches_arch_conditional_volatility(fitted, goog):
    ours, res = fitted
    y = volatility.log_returns(goog)
    s2 = volatility.filter_variance(y - ours.mu, ours.omega, ours.alpha, ours.beta, ours.backcast)
    assert len(s2) == len(y) + 1
    cv = res.conditional_volatility[: N_TRAIN - 1]
    np.testing.assert_allclose(np.sqrt(s2[: N_TRAIN - 1]), cv, rtol=1e-8)


def test_multi_step_variance_matches_arch_forecast_out_of_sample(fitted, goog):
    ours, res = fitted
    origins = np.arange(N_TRAIN, len(goog))  # origin row o = arch's forecast index o - 1
    fc = res.forecast(horizon=5, start=N_TRAIN - 1, reindex=False, align="origin")
    arch_cum = np.cumsum(fc.variance.to_numpy(), axis=1)
    q = volatility.garch_quantiles(goog, N_TRAIN, origins, 5, LEVELS, ours)
    z = StudentsT().ppf(np.array(LEVELS), np.array([ours.nu]))
    log_q = (fc.mean.to_numpy().cumsum(axis=1)[..., None] + np.sqrt(arch_cum)[..., None] * z) / 100
    np.testing.assert_allclose(q, goog[origins][:, None, None] * np.exp(log_q), rtol=1e-8)


def test_ewma_matches_arch_riskmetrics(goog):
    y = volatility.log_returns(goog)
    arch_vol = ZeroMean(y, volatility=EWMAVariance(0.94)).fix([]).conditional_volatility
    start = volatility.backcast(y[: N_TRAIN - 1])
    s2 = volatility.filter_variance(y, 0.0, 0.06, 0.94, start)
    np.testing.assert_allclose(np.sqrt(s2[:-1]), arch_vol, rtol=1e-8)
    origins = np.array([N_TRAIN, len(goog) - 1])
    q = volatility.ewma_quantiles(goog, N_TRAIN, origins, 4, [0.1, 0.9])
    sd = np.sqrt(s2[origins][:, None] * np.arange(1, 5)) / 100
    np.testing.assert_allclose(np.log(q[..., 1] / goog[origins][:, None]), norm.ppf(0.9) * sd)
    np.testing.assert_allclose(q[..., 0] * q[..., 1], np.repeat(goog[origins, None] ** 2, 4, 1))


@pytest.mark.parametrize("band", ["garch", "ewma"])
def test_no_look_ahead(goog, fitted, band):
    """Changing prices after an origin leaves that origin's (and earlier origins') bands alone."""
    cut = N_TRAIN + 300
    origins = np.arange(N_TRAIN, len(goog))
    changed = goog.copy()
    changed[cut + 1 :] *= np.linspace(0.5, 2.0, len(goog) - cut - 1)

    def bands(prices):
        if band == "garch":
            return volatility.garch_quantiles(prices, N_TRAIN, origins, 5, LEVELS, fitted[0])
        return volatility.ewma_quantiles(prices, N_TRAIN, origins, 5, LEVELS)

    before, after = bands(goog), bands(changed)
    early = origins <= cut
    np.testing.assert_array_equal(before[early], after[early])
    assert not np.allclose(before[~early], after[~early])


def test_garch_refit_ignores_rows_after_training(goog):
    changed = goog.copy()
    changed[N_TRAIN:] = changed[N_TRAIN - 1]  # a flat test period
    assert volatility.fit_garch(goog, N_TRAIN) == volatility.fit_garch(changed, N_TRAIN)


def test_quantiles_ordered_and_widening(goog):
    origins = np.arange(N_TRAIN, len(goog), 50)
    for q in (
        volatility.garch_quantiles(goog, N_TRAIN, origins, 10, [0.05, 0.1, 0.5, 0.9, 0.95]),
        volatility.ewma_quantiles(goog, N_TRAIN, origins, 10, [0.05, 0.1, 0.5, 0.9, 0.95]),
    ):
        assert np.all(np.diff(q, axis=-1) > 0)
        assert np.all(np.diff(np.log(q[..., -1] / q[..., 0]), axis=1) > 0)


def test_short_training_gives_nan_not_an_error():
    prices = 100 * np.exp(np.cumsum(np.full(60, 0.01)))
    origins = np.array([30, 59])
    assert volatility.fit_garch(prices, 60) is None
    assert np.isnan(volatility.garch_quantiles(prices, 60, origins, 2, LEVELS)).all()
    assert np.isnan(volatility.ewma_quantiles(prices, 60, origins, 2, LEVELS)).all()


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="positive"):
        volatility.log_returns(np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="origins"):
        volatility.ewma_quantiles(np.linspace(1, 2, 200), 150, np.array([200]), 1, LEVELS)
    with pytest.raises(ValueError, match="quantile"):
        volatility.ewma_quantiles(np.linspace(1, 2, 200), 150, np.array([199]), 1, [0.0, 0.5])


def test_garch_t_band_covers_80_percent_of_simulated_garch_t():
    """On data from the model itself the 80% band covers 80% of outcomes (known answer)."""
    prices = simulate_garch_t(8001, seed=1)
    n_train, origins = 4000, np.arange(4000, 8000 - 5)
    q = volatility.garch_quantiles(prices, n_train, origins, 5, LEVELS)
    actual = prices[origins[:, None] + np.arange(1, 6)]
    covered = (actual >= q[..., 0]) & (actual <= q[..., 2])
    assert abs(covered[:, 0].mean() - 0.8) < 0.025  # binomial SE 0.0063
    assert abs(covered.mean() - 0.8) < 0.03
    below_median = (actual <= q[..., 1])[:, 0].mean()
    assert abs(below_median - 0.5) < 0.03


def test_sample_series_is_deterministic_and_order_free():
    names = [f"S{i:04d}" for i in range(1000)]
    chosen = volatility.sample_series(names, 50)
    assert len(chosen) == 50 and chosen == sorted(chosen)
    assert set(volatility.sample_series(names[::-1], 50)) == set(chosen)
    assert volatility.sample_series(names[:10], 50) == names[:10]
    grown = volatility.sample_series([*names, *[f"T{i}" for i in range(20)]], 50)
    assert len(set(grown) & set(chosen)) >= 30


def test_garch_quantiles_many_fits_the_sample_only():
    prices = simulate_garch_t(601, seed=2)
    universe = {f"S{i}": (prices * (1 + i), 400, np.arange(400, 600)) for i in range(6)}
    out = volatility.garch_quantiles_many(universe, 2, LEVELS, max_series=3)
    assert list(out) == volatility.sample_series(list(universe), 3)
    name = next(iter(out))
    assert out[name].shape == (200, 2, 3)
    np.testing.assert_allclose(out[name], volatility.garch_quantiles(*universe[name], 2, LEVELS))
    assert len(volatility.garch_quantiles_many(universe, 2, LEVELS, max_series=None)) == 6
