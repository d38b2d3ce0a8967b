"""Interval forecasts in the long frame: what their scores are, their coverage report, and the
interval half of the verdict.

`evaluation` scores every model (`tally` sums the terms); a model with quantile columns (q10,
q50, q90, ...) also gets:

- the pinball loss (mean, and per level), CRPS from the quantiles (2 x the mean pinball loss over
  the levels), and for "the interval" (the outermost quantiles, as `settings.interval` names
  it) and for every central interval (`central`: levels tau and 1 - tau) its coverage and
  Gneiting-Raftery interval score;
- the interval test (`tally.Tally.interval_test`): the model's interval score against every
  other model with that interval (the random walk's empirical band, GARCH(1,1)-t, EWMA) on the
  points they share. The strongest baseline is the one the model compares worst with (highest
  ratio of the model's pooled interval score to the baseline's); the Diebold-Mariano test
  (HLN-corrected, h - 1 lags, Student's t) runs on the interval-score differentials at each
  step, in order of series, then origin;
- `coverage_report`: Kupiec per tail level and step (on every h-th origin) and Christoffersen's
  conditional coverage at step 1 (`coverage.coverage_tests`), with Holm's adjusted p-values;
  they pass when none rejects at 5% after the correction. Origins must be one row apart.
- `verdict`: interval skill, defined like the point verdict: the model's pooled interval score
  below the strongest baseline's AND the horizon-1 DM test in its favour at p < 0.05.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lstm_forecast import coverage
from lstm_forecast.formats import MODEL_LABELS

KEYS = ["series", "origin", "horizon"]
SKILL_P = 0.05


def central(levels: list[float]) -> list[tuple[int, int]]:
    """Index pairs (i, j) of the central intervals, levels[i] + levels[j] = 1, narrowest first."""
    pairs = [
        (i, j)
        for i, lo in enumerate(levels)
        for j, hi in enumerate(levels)
        if lo < 0.5 < hi and abs(lo + hi - 1) < 1e-9
    ]
    return sorted(pairs, key=lambda p: levels[p[1]] - levels[p[0]])


def label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def panel(rows: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes (S, T, H) and quantiles (S, T, H, Q) per series, origins in order, the
    shorter series padded with NaN at the end."""
    steps = rows["horizon"].nunique()
    parts = []
    for _, g in rows.groupby("series", sort=True):
        g = g.sort_values(["origin", "horizon"], kind="stable")
        t = len(g) // steps
        parts.append(
            (g["actual"].to_numpy().reshape(t, steps), g[cols].to_numpy().reshape(t, steps, -1))
        )
    longest = max(len(a) for a, _ in parts)
    actual = np.full((len(parts), longest, steps), np.nan)
    q = np.full((len(parts), longest, steps, len(cols)), np.nan)
    for k, (a, b) in enumerate(parts):
        actual[k, : len(a)], q[k, : len(b)] = a, b
    return actual, q


def coverage_report(tests: list[dict]) -> dict:
    """The coverage tests of a model's quantiles (`coverage.coverage_tests` rows), with Holm's
    adjusted p-values and `pass`."""
    adjusted = coverage.holm([t["pvalue"] for t in tests])
    out = []
    for t, adj in zip(tests, adjusted, strict=True):
        rate = t["quantile"] if t["quantile"] < 0.5 else 1 - t["quantile"]
        out.append(
            {
                "test": t["test"],
                "quantile": t["quantile"],
                "horizon": t["horizon"],
                "statistic": t["statistic"],
                "p_value": t["pvalue"],
                "holm_p_value": float(adj),
                "n": t["n"],
                "violations": t["violations"],
                "expected_rate": round(rate, 6),
            }
        )
    return {
        "pass": coverage.tests_pass([t["p_value"] for t in out]),
        "level": coverage.LEVEL,
        "tests": out,
    }


def _coverage_sentence(report: dict | None) -> str:
    if not report or not report["tests"]:
        return ""
    tests = report["tests"]
    what = "Kupiec per tail and step, Christoffersen at step 1; Holm-corrected, 5%"
    if report["pass"]:
        return f"Coverage tests pass ({len(tests)} tests: {what})."
    rejected = [t for t in tests if t["holm_p_value"] <= report["level"]]
    worst = min(rejected, key=lambda t: t["holm_p_value"])
    rate = worst["violations"] / worst["n"] if worst["n"] else math.nan
    name = "Kupiec" if worst["test"] == "kupiec" else "Christoffersen"
    return (
        f"Coverage tests FAIL: {len(rejected)} of {len(tests)} reject ({what}); worst: "
        f"{name} at q{worst['quantile'] * 100:g}, step {worst['horizon']}: {rate:.1%} "
        f"violations against {worst['expected_rate']:.0%}, adjusted p = "
        f"{worst['holm_p_value']:.3g}."
    )


def verdict(test: dict | None, report: dict | None) -> tuple[bool, str]:
    """(interval skill, plain sentences), from `interval_test` and the model's
    `coverage_report`."""
    cover = _coverage_sentence(report)
    if test is None:
        return False, (
            "Intervals: no evidence of interval skill: no interval baseline was set beside "
            "them (backtest does; train does with --interval-baselines). " + cover
        ).strip()
    lo, hi = test["interval"]
    name, r = label(test["baseline"]), test["ratio"]
    stat, p = test["statistic"], test["p_value"]
    side = "below" if r < 1 else "above"
    numbers = (
        f"the {hi - lo:.0%} band's (q{lo * 100:g}-q{hi * 100:g}) interval score "
        f"{test['score']:.4g} is {abs(r - 1):.1%} {side} {name}'s {test['baseline_score']:.4g} "
        f"at coverage {test['coverage']:.2f} against {test['baseline_coverage']:.2f} "
        f"({test['n']} points, {test['series']} series); Diebold-Mariano on the interval score "
        f"at horizon {test['horizon']}: statistic {stat:.2f}, p = {p:.3g}."
    )
    if not math.isfinite(stat):
        numbers = numbers.rsplit(";", 1)[0] + "; nothing to test at horizon 1."
    if r < 1 and stat < 0 and p < SKILL_P:
        return True, f"Intervals: evidence of interval skill over {name}: {numbers} {cover}".strip()
    if stat > 0 and p < SKILL_P:
        head = f"Intervals: no evidence of interval skill, significantly WORSE than {name}"
    else:
        head = f"Intervals: no evidence of interval skill over {name}"
    return False, (
        f"{head}: {numbers} Treat the LSTM's intervals as no better than {name}'s. {cover}"
    ).strip()
