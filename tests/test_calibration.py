"""Calibration fitted on a validation tail small enough to work out by hand."""

from __future__ import annotations

import numpy as np

from lstm_forecast import calibration

LEVELS, MID = [0.1, 0.5, 0.9], 1


def tail() -> tuple[np.ndarray, np.ndarray]:
    """40 origins, 2 steps; outcomes alternate -1, +1 (normalised).

    Step 1: the median forecast is half the outcome, the interval +-1 around it.
    Step 2: the median forecast is 0 (no change), the interval +-1.
    """
    t = np.tile([-1.0, 1.0], 20)
    target = np.column_stack([t, t])
    pred = np.empty((40, 2, 3))
    pred[:, 0] = (0.5 * t)[:, None] + np.array([-1.0, 0.0, 1.0])
    pred[:, 1] = np.array([-1.0, 0.0, 1.0])
    return pred, target


def test_fit_by_hand():
    got = calibration.fit(*tail(), LEVELS, MID)
    # step 1: |t - a * t/2| is smallest at a = 1, the grid's top; the outcome then sits 0.5
    # from the median either way, so the 0.9 quantile of (t - m) / +-1 is 0.5 on both sides.
    # step 2: every shrink scores alike and the first (0) wins; outcomes sit 1 away: width 1.
    assert got.shrink == [1.0, 0.0]
    assert got.width == [[0.5, 1.0, 0.5], [1.0, 1.0, 1.0]]


def test_apply_by_hand():
    pred, _ = tail()
    calib = calibration.Calibration(shrink=[1.0, 0.0], width=[[0.5, 1.0, 0.5], [1.0, 1.0, 1.0]])
    out = calibration.apply(pred, calib, MID)
    np.testing.assert_allclose(out[:, 0], pred[:, 0, 1:2] + np.array([-0.5, 0.0, 0.5]))
    np.testing.assert_allclose(out[:, 1], np.tile([-1.0, 0.0, 1.0], (40, 1)))


def test_too_few_origins_leave_the_forecasts_as_they_are():
    pred, target = tail()
    few = calibration.fit(pred[: calibration.MIN_SAMPLES - 1], target[:29], LEVELS, MID)
    assert few.shrink == [1.0, 1.0] and few.width == [[1.0] * 3] * 2
    np.testing.assert_array_equal(calibration.apply(pred, few, MID), pred)


def test_widths_are_clipped_and_quantiles_never_cross():
    pred, target = tail()
    exact = pred.copy()
    exact[:, 0, MID] = target[:, 0]  # a perfect median: every outcome on it
    got = calibration.fit(exact, target, LEVELS, MID)
    assert got.width[0][0] == got.width[0][2] == 0.05
    flipped = calibration.Calibration([1.0, 1.0], [[-2.0, 1.0, 3.0], [1.0, 1.0, 1.0]])
    out = calibration.apply(pred, flipped, MID)
    assert (np.diff(out, axis=-1) >= 0).all()


def test_cross_fitting_calibrates_each_half_on_the_other():
    rng = np.random.default_rng(0)
    preds = [np.sort(rng.normal(size=(n, 2, 3)), axis=-1) for n in (60, 81)]
    truths = [rng.normal(size=(len(p), 2)) for p in preds]
    late = [np.arange(len(p)) >= len(p) // 2 for p in preds]

    def fitted(half: bool) -> calibration.Calibration:
        pick = [m == half for m in late]
        return calibration.fit(
            np.concatenate([p[m] for p, m in zip(preds, pick, strict=True)]),
            np.concatenate([t[m] for t, m in zip(truths, pick, strict=True)]),
            LEVELS,
            MID,
        )

    crossed = calibration.cross_fitted(preds, truths, LEVELS, MID)
    for p, m, c in zip(preds, late, crossed, strict=True):
        np.testing.assert_array_equal(c[m], calibration.apply(p[m], fitted(False), MID))
        np.testing.assert_array_equal(c[~m], calibration.apply(p[~m], fitted(True), MID))
