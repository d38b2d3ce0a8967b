"""Volatility bands every interval forecast must be set beside: GARCH(1,1)-t and RiskMetrics.

On daily stock prices the honest point forecast is the random walk, so a model's worth is in its
intervals, and the intervals to beat are those of a volatility model. Both bands here forecast
the same origins and steps as the model, from training rows only:

- GARCH(1,1) with a constant mean and Student-t innovations, fitted by `arch` on 100x log
  returns of the training rows ONCE; the variance is then filtered forward over the whole series
  with those fixed parameters, so each origin's band uses only the returns up to it.
- RiskMetrics EWMA(0.94) with a zero mean and normal innovations (no parameters to fit).

The h-step band is for the cumulative log return over steps 1..h: its variance is the sum of the
analytic per-step variance forecasts (returns are uncorrelated), and its quantiles are that
standard deviation times the standardised innovation quantile (Student-t with the fitted degrees
of freedom for GARCH, normal for EWMA), plus h times the constant mean for GARCH. At h = 1 this
is exact; for h > 1 a sum of t innovations is not t, so the tails are approximate. Quantiles map
to prices as price[origin] * exp(quantile of the cumulative log return).

`arch` (which pulls in statsmodels) is imported only when a GARCH model is fitted.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

SCALE = 100.0  # arch fits best on returns in percent
MIN_FIT_RETURNS = 100  # fewer training returns than this: no GARCH band (NaN)
BACKCAST_ROWS = 75  # arch's backcast: an EWMA(0.94) of the first 75 squared residuals
RISKMETRICS_LAMBDA = 0.94
MAX_SERIES = 50
BASELINES = ("garch", "ewma")  # the interval baselines, by their model names


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1)-t parameters on 100x log returns, and the variance that starts the filter."""

    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float
    backcast: float


def log_returns(prices: np.ndarray) -> np.ndarray:
    """100x log returns; element i is the return from row i to row i + 1."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1 or not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise ValueError("volatility bands need a 1-d array of finite, positive prices")
    return SCALE * np.diff(np.log(prices))


def backcast(resids: np.ndarray) -> float:
    """arch's starting variance: EWMA(0.94) weights over the first 75 squared residuals."""
    head = resids[:BACKCAST_ROWS]
    w = 0.94 ** np.arange(len(head))
    return float(np.sum(head**2 * w) / np.sum(w))


def filter_variance(
    resids: np.ndarray, omega: float, alpha: float, beta: float, start: float
) -> np.ndarray:
    """sigma2[t] = omega + alpha * resid[t-1]^2 + beta * sigma2[t-1], with resid[-1]^2 and
    sigma2[-1] both `start` (arch's convention). Returns len(resids) + 1 values: element t is
    the variance of return t given returns before it; the last is the one after the data."""
    from scipy.signal import lfilter

    x = omega + alpha * np.concatenate([[start], resids**2])
    return lfilter([1.0], [1.0, -beta], x, zi=[beta * start])[0]


def fit_garch(prices: np.ndarray, n_train: int) -> GarchFit | None:
    """GARCH(1,1)-t fitted by arch on the first `n_train` prices (None if too short or the
    optimiser does not converge to finite parameters)."""
    # arch imports matplotlib, which writes a font cache into the user's home unless told
    # otherwise; this tool writes only where the user says and in the temp folder (as `plots`)
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "lstm-forecast-mpl"))
    from arch import arch_model

    returns = log_returns(prices[:n_train])
    if len(returns) < MIN_FIT_RETURNS:
        return None
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, not printed
        res = model.fit(disp="off")
    p = res.params
    values = [p["mu"], p["omega"], p["alpha[1]"], p["beta[1]"], p["nu"]]
    if res.convergence_flag != 0 or not np.all(np.isfinite(values)):
        return None
    mu, omega, alpha, beta, nu = map(float, values)
    # arch starts its filter from the residuals about the sample mean, not about mu
    return GarchFit(mu, omega, alpha, beta, nu, backcast(returns - returns.mean()))


def _path_variance(s1: np.ndarray, omega: float, persistence: float, horizon: int) -> np.ndarray:
    """Per-step analytic variance forecasts (origins, H) from each origin's one-step variance:
    sigma2[h] = omega * (1 + p + ... + p^(h-2)) + p^(h-1) * sigma2[1], p = alpha + beta."""
    powers = persistence ** np.arange(horizon)
    carry = np.concatenate([[0.0], np.cumsum(powers[:-1])])
    return omega * carry[None, :] + powers[None, :] * s1[:, None]


def _to_prices(
    prices: np.ndarray, origins: np.ndarray, mean: np.ndarray, sd: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """price[origin] * exp(mean + sd * z) over (origins, H, Q), from percent log returns."""
    log_q = (mean[:, :, None] + sd[:, :, None] * z[None, None, :]) / SCALE
    return prices[origins][:, None, None] * np.exp(log_q)


def _check(prices: np.ndarray, origins: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    origins = np.asarray(origins, dtype=int)
    if origins.size and (origins.min() < 0 or origins.max() >= len(prices)):
        raise ValueError("origins must index the price array")
    if not all(0 < q < 1 for q in quantiles):
        raise ValueError("quantile levels must lie strictly between 0 and 1")
    return origins


def garch_quantiles(
    prices: np.ndarray,
    n_train: int,
    origins: np.ndarray,
    horizon: int,
    quantiles: Sequence[float],
    fit: GarchFit | None = None,
) -> np.ndarray:
    """GARCH(1,1)-t price quantiles (origins, H, Q) for steps 1..H after each origin row.

    Parameters come from `fit` or are estimated on the first `n_train` prices; every origin's
    variance is filtered with them through its own row only. NaN when GARCH cannot be fitted.
    """
    prices = np.asarray(prices, dtype=float)
    origins = _check(prices, origins, quantiles)
    returns = log_returns(prices)
    fit = fit or fit_garch(prices, n_train)
    if fit is None:
        return np.full((len(origins), horizon, len(quantiles)), np.nan)
    from scipy.stats import t

    sigma2 = filter_variance(returns - fit.mu, fit.omega, fit.alpha, fit.beta, fit.backcast)
    per_step = _path_variance(sigma2[origins], fit.omega, fit.alpha + fit.beta, horizon)
    steps = np.arange(1, horizon + 1, dtype=float)
    mean = np.broadcast_to(fit.mu * steps, per_step.shape)
    z = t.ppf(quantiles, fit.nu) * math.sqrt((fit.nu - 2) / fit.nu)  # unit-variance t
    return _to_prices(prices, origins, mean, np.sqrt(np.cumsum(per_step, axis=1)), z)


def ewma_quantiles(
    prices: np.ndarray,
    n_train: int,
    origins: np.ndarray,
    horizon: int,
    quantiles: Sequence[float],
    lam: float = RISKMETRICS_LAMBDA,
) -> np.ndarray:
    """RiskMetrics EWMA normal price quantiles (origins, H, Q): zero mean, the one-step
    variance lam * sigma2 + (1 - lam) * r^2 held flat, so the h-step variance is h * sigma2.

    The recursion starts from arch's backcast of the first training returns; `n_train` only
    has to cover those.
    """
    prices = np.asarray(prices, dtype=float)
    origins = _check(prices, origins, quantiles)
    returns = log_returns(prices)
    if n_train - 1 < BACKCAST_ROWS:
        return np.full((len(origins), horizon, len(quantiles)), np.nan)
    start = backcast(returns[: n_train - 1])
    sigma2 = filter_variance(returns, 0.0, 1.0 - lam, lam, start)
    steps = np.arange(1, horizon + 1, dtype=float)
    sd = np.sqrt(sigma2[origins][:, None] * steps[None, :])
    z = np.array([NormalDist().inv_cdf(q) for q in quantiles])
    return _to_prices(prices, origins, np.zeros_like(sd), sd, z)


def interval_baselines(
    prices: np.ndarray,
    n_train: int,
    origins: np.ndarray,
    horizon: int,
    quantiles: Sequence[float],
) -> dict[str, np.ndarray]:
    """{"garch": (O, H, Q), "ewma": (O, H, Q)} price quantiles of both bands, each fitted on
    the first `n_train` prices only; a band that cannot be made (too few training rows, GARCH
    not converging) is left out."""
    bands = {
        "garch": garch_quantiles(prices, n_train, origins, horizon, quantiles),
        "ewma": ewma_quantiles(prices, n_train, origins, horizon, quantiles),
    }
    return {name: q for name, q in bands.items() if np.isfinite(q).any()}


def sample_series(names: Sequence[str], max_series: int = MAX_SERIES) -> list[str]:
    """A deterministic sample of at most `max_series` names, in their given order.

    Names are ranked by a hash of the name itself, so a series is sampled or not whatever the
    order of the universe, and growing the universe displaces few of the chosen ones.
    """

    def rank(name: str) -> bytes:
        return hashlib.blake2b(name.encode(), digest_size=8).digest()

    chosen = set(sorted(names, key=rank)[:max_series])
    return [n for n in names if n in chosen]


def garch_quantiles_many(
    series: Mapping[str, tuple[np.ndarray, int, np.ndarray]],
    horizon: int,
    quantiles: Sequence[float],
    max_series: int | None = MAX_SERIES,
) -> dict[str, np.ndarray]:
    """GARCH bands for a universe: {name: (prices, n_train, origins)} -> {name: (O, H, Q)}.

    One fit costs ~0.05-0.1 s on 5,000 daily rows, so at universe scale the GARCH baseline is
    fitted on `sample_series(names, max_series)` only, and a comparison with it is made on those
    series; None fits every series.
    """
    names = list(series)
    if max_series is not None:
        names = sample_series(names, max_series)
    out = {}
    for name in names:
        prices, n_train, origins = series[name]
        out[name] = garch_quantiles(prices, n_train, origins, horizon, quantiles)
    return out
