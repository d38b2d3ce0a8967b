"""Post-hoc calibration fitted on the validation tail: median shrinkage and interval widths.

Both are fitted on normalised validation forecasts (data the weights never trained on) and
stored in the model. Shrinkage pulls the median towards "no change" (the naive forecast) as far
as the validation tail says it should, so a model without skill falls back on the random walk
instead of adding noise to it. Interval factors stretch or shrink each quantile's distance from
the median until it covers its nominal share of validation outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SAMPLES = 30
GRID = np.linspace(0.0, 1.0, 21)


@dataclass
class Calibration:
    """Per horizon step: the median's shrink factor, and each quantile's width factor."""

    shrink: list[float]  # [H], 1 keeps the median, 0 is "no change"
    width: list[list[float]]  # [H][Q], 1 keeps a quantile's distance from the median


def fit(pred: np.ndarray, target: np.ndarray, quantiles: list[float], mid: int) -> Calibration:
    """pred (n, H, Q) and target (n, H) normalised -> the calibration (identity below
    MIN_SAMPLES origins)."""
    n, horizon, nq = pred.shape
    shrink = np.ones(horizon)
    width = np.ones((horizon, nq))
    if n < MIN_SAMPLES:
        return Calibration(shrink.tolist(), width.tolist())
    for h in range(horizon):
        ok = np.isfinite(target[:, h])
        t, p = target[ok, h], pred[ok, h]
        errors = [np.mean(np.abs(t - a * p[:, mid])) for a in GRID]
        shrink[h] = GRID[int(np.argmin(errors))]
        m = shrink[h] * p[:, mid]
        for j, q in enumerate(quantiles):
            dist = p[:, j] - p[:, mid]
            if j == mid or np.all(dist == 0):
                continue
            ratio = (t - m) / dist  # how far out, in units of this quantile's distance
            if j > mid:
                width[h, j] = np.quantile(ratio, q)
            else:
                width[h, j] = np.quantile(ratio, 1 - q)
            width[h, j] = float(np.clip(width[h, j], 0.05, 20.0))
    return Calibration(shrink.tolist(), width.tolist())


def apply(pred: np.ndarray, calib: Calibration, mid: int) -> np.ndarray:
    """Calibrated normalised quantiles (..., H, Q), sorted so that they never cross."""
    shrink = np.asarray(calib.shrink)[:, None]
    width = np.asarray(calib.width)
    median = pred[..., mid : mid + 1]
    out = shrink * median + (pred - median) * width
    return np.sort(out, axis=-1)


def cross_fitted(
    preds: list[np.ndarray], truths: list[np.ndarray], quantiles: list[float], mid: int
) -> list[np.ndarray]:
    """Each series' validation forecasts calibrated out of sample: the late half of every
    series' tail with the calibration fitted on the early halves, and the other way round.

    This is how a calibrated model is scored on the tail it was calibrated on.
    """
    late = [np.arange(len(p)) >= len(p) // 2 for p in preds]
    early_fit, late_fit = (
        fit(
            np.concatenate([p[m == half] for p, m in zip(preds, late, strict=True)]),
            np.concatenate([t[m == half] for t, m in zip(truths, late, strict=True)]),
            quantiles,
            mid,
        )
        for half in (False, True)
    )
    return [
        np.where(m[:, None, None], apply(p, early_fit, mid), apply(p, late_fit, mid))
        for p, m in zip(preds, late, strict=True)
    ]
