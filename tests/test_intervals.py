"""Interval scoring in the long frame: scores by hand, the test against the strongest band,
coverage tests on the frame, and the interval half of the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_forecast import coverage, evaluation, intervals, metrics
from lstm_forecast.tally import Tally


def test_central_intervals_are_the_symmetric_pairs_narrowest_first():
    levels = [0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99]
    assert intervals.central(levels) == [(2, 4), (1, 5), (0, 6)]
    assert intervals.central([0.05, 0.5, 0.9]) == []  # no symmetric pair


def test_quantile_scores_by_hand():
    a = np.array([10.0, 0.0])
    q = np.array([[8.0, 9.0, 10.0, 11.0, 12.0], [1.0, 1.5, 2.0, 2.5, 3.0]])
    cols = {"q5": 0.05, "q10": 0.1, "q50": 0.5, "q90": 0.9, "q95": 0.95}
    rows = {"series": "s", "origin": [0, 1], "horizon": 1, "origin_value": 5.0, "actual": a}
    frame = pd.concat(
        [
            pd.DataFrame({**rows, "model": "lstm", "scale": 1.0, "forecast": q[:, 2]}).join(
                pd.DataFrame(q, columns=list(cols))
            ),
            pd.DataFrame({**rows, "model": "naive", "scale": 1.0, "forecast": 5.0}),
        ],
        ignore_index=True,
    )
    got = evaluation.score(frame)["models"]["lstm"]
    loss = metrics.pinball_loss(a, q, list(cols.values()))
    assert got["pinball"] == pytest.approx(loss.mean())
    assert got["crps"] == pytest.approx(2 * loss.mean())
    assert got["pinball_by_quantile"]["q10"] == pytest.approx((0.1 * 1 + 0.9 * 1.5) / 2)
    assert got["coverage"] == 0.5  # 10 inside 8-12, 0 below 1
    # the 90% band 8-12 and 1-3: widths 4 and 2, 0 is 1 below: + 2/0.1 * 1
    assert got["interval_score"] == pytest.approx((4 + 2 + 20) / 2)
    (eighty, ninety) = got["intervals"]
    assert (eighty["level"], eighty["lower"], eighty["upper"]) == (0.8, 0.1, 0.9)
    assert eighty["interval_score"] == pytest.approx((2 + 1 + 10 * 1.5) / 2)
    assert ninety["level"] == 0.9 and ninety["coverage"] == 0.5


def band_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two series, n origins one row apart, 2 steps; normal outcomes with sd 1 about 0.

    lstm: the right 80% band; wide: 1.5x as wide; narrow: 0.5x (covers far too little)."""
    rng = np.random.default_rng(seed)
    z = 1.2815515655446004
    parts = []
    for name in ("A", "B"):
        actual = rng.standard_normal((n, 2))
        base = {
            "series": name,
            "origin": np.repeat(np.arange(n), 2),
            "horizon": np.tile([1, 2], n),
            "origin_value": 0.0,
            "actual": actual.ravel(),
            "scale": 1.0,
            "forecast": 0.0,
            "q50": 0.0,
        }
        for model, k in (("lstm", 1.0), ("naive", None), ("wide", 1.5), ("narrow", 0.5)):
            band = {"q10": np.nan, "q90": np.nan} if k is None else {"q10": -k * z, "q90": k * z}
            q50 = np.nan if k is None else 0.0
            parts.append(pd.DataFrame({**base, "model": model, **band, "q50": q50}))
    return pd.concat(parts, ignore_index=True)


def test_interval_test_picks_the_strongest_band_and_tests_its_differentials():
    frame = band_frame()
    test = Tally.of(frame).interval_test()
    assert set(test["ratios"]) == {"wide", "narrow"}  # the naive rows have no interval here
    assert all(r < 1 for r in test["ratios"].values())  # the true quantiles score best
    assert test["baseline"] == max(test["ratios"], key=test["ratios"].get)
    base = test["baseline"]
    rows = frame[frame["horizon"] == 1].sort_values(["series", "origin"], kind="stable")
    loss = {
        m: metrics.interval_score_loss(r["actual"].to_numpy(), r["q10"], r["q90"], 0.2)
        for m, r in rows.groupby("model")
        if m in ("lstm", base)
    }
    stat, p = metrics.diebold_mariano_loss(loss["lstm"], loss[base])
    assert (test["statistic"], test["p_value"]) == pytest.approx((stat, p), rel=1e-12)
    assert test["n"] == 2 * 300 * 2 and test["series"] == 2
    assert test["by_horizon"][0]["n"] == 600
    assert test["interval"] == [0.1, 0.9]


def test_coverage_report_runs_kupiec_per_tail_and_step_and_christoffersen_at_step_one():
    frame = band_frame()
    report = Tally.of(frame).coverage_tests()["narrow"]
    kinds = [(t["test"], t["quantile"], t["horizon"]) for t in report["tests"]]
    assert kinds == [
        ("kupiec", 0.1, 1),
        ("kupiec", 0.1, 2),
        ("christoffersen_cc", 0.1, 1),
        ("kupiec", 0.9, 1),
        ("kupiec", 0.9, 2),
        ("christoffersen_cc", 0.9, 1),
    ]
    assert report["pass"] is False  # a band half as wide as it should be
    first = report["tests"][0]
    lower = frame[(frame["model"] == "narrow") & (frame["horizon"] == 1)]
    assert first["violations"] == int((lower["actual"] < lower["q10"]).sum())
    assert first["n"] == 600 and first["expected_rate"] == 0.1
    got = coverage.kupiec((lower["actual"] < lower["q10"]).to_numpy(), 0.1)
    assert first["p_value"] == pytest.approx(got.pvalue)
    step2 = report["tests"][1]
    assert step2["n"] == 300  # every 2nd origin of each series: outcomes that do not overlap
    adjusted = coverage.holm([t["p_value"] for t in report["tests"]])
    assert [t["holm_p_value"] for t in report["tests"]] == pytest.approx(list(adjusted))
    assert Tally.of(frame).coverage_tests()["lstm"]["pass"] is True


def test_the_frame_gives_every_banded_model_its_coverage_tests():
    tests = Tally.of(band_frame()).coverage_tests()
    assert set(tests) == {"lstm", "wide", "narrow"}  # not the naive rows without quantiles


TEST = {
    "baseline": "garch",
    "interval": [0.1, 0.9],
    "score": 9.6,
    "baseline_score": 10.0,
    "ratio": 0.96,
    "coverage": 0.8,
    "baseline_coverage": 0.79,
    "n": 1250,
    "series": 1,
    "horizon": 1,
    "statistic": -2.2,
    "p_value": 0.03,
}
PASSED = {"pass": True, "level": 0.05, "tests": [{"holm_p_value": 0.5}] * 8}


def test_verdict_with_interval_skill_names_band_baseline_and_numbers():
    skill, text = intervals.verdict(TEST, PASSED)
    assert skill is True
    assert text == (
        "Intervals: evidence of interval skill over GARCH(1,1)-t: the 80% band's (q10-q90) "
        "interval score 9.6 is 4.0% below GARCH(1,1)-t's 10 at coverage 0.80 against 0.79 "
        "(1250 points, 1 series); Diebold-Mariano on the interval score at horizon 1: "
        "statistic -2.20, p = 0.03. Coverage tests pass (8 tests: Kupiec per tail and step, "
        "Christoffersen at step 1; Holm-corrected, 5%)."
    )


@pytest.mark.parametrize(
    ("change", "start"),
    [
        ({"p_value": 0.2, "statistic": -1.1}, "Intervals: no evidence of interval skill over"),
        ({"ratio": 1.02, "score": 10.2}, "Intervals: no evidence of interval skill over"),
        (
            {"ratio": 1.1, "score": 11.0, "statistic": 3.0, "p_value": 0.001},
            "Intervals: no evidence of interval skill, significantly WORSE than GARCH(1,1)-t",
        ),
    ],
)
def test_verdict_without_interval_skill_says_so_plainly(change, start):
    skill, text = intervals.verdict({**TEST, **change}, PASSED)
    assert skill is False and text.startswith(start)
    assert "Treat the LSTM's intervals as no better than GARCH(1,1)-t's." in text


def test_verdict_with_failed_coverage_tests_names_the_worst():
    failed = {
        "pass": False,
        "level": 0.05,
        "tests": [
            {"test": "kupiec", "quantile": 0.1, "horizon": 1, "n": 250, "violations": 40,
             "expected_rate": 0.1, "holm_p_value": 0.004},
            {"test": "christoffersen_cc", "quantile": 0.9, "horizon": 1, "n": 249,
             "violations": 25, "expected_rate": 0.1, "holm_p_value": 0.6},
        ],
    }  # fmt: skip
    _, text = intervals.verdict(TEST, failed)
    assert text.endswith(
        "Coverage tests FAIL: 1 of 2 reject (Kupiec per tail and step, Christoffersen at step "
        "1; Holm-corrected, 5%); worst: Kupiec at q10, step 1: 16.0% violations against 10%, "
        "adjusted p = 0.004."
    )


def test_verdict_without_a_baseline_says_there_is_no_evidence():
    skill, text = intervals.verdict(None, PASSED)
    assert skill is False
    assert text.startswith("Intervals: no evidence of interval skill: no interval baseline")
    assert text.endswith(
        "Coverage tests pass (8 tests: Kupiec per tail and step, Christoffersen at step 1; "
        "Holm-corrected, 5%)."
    )
