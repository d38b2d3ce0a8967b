"""One evaluation for every path: metrics by hand on a tiny frame, the DM test against a
reference, and the same verdict from the validation table, --keep-better and the backtest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import random_walk_prices, reference_dm
from lstm_forecast import evaluation

LEVELS = (0.1, 0.5, 0.9)


def tiny() -> pd.DataFrame:
    """One series, origins 0 and 1, two steps, scale 2: the model and the random walk.

    model errors 1, -1, 0, 4; random walk errors 2, -1, 1, 3; model interval +-1.5.
    """
    lstm = np.array([11.0, 10.0, 13.0, 11.0])
    base = {
        "series": "A",
        "origin": [0, 0, 1, 1],
        "horizon": [1, 2, 1, 2],
        "origin_value": [10.0, 10.0, 12.0, 12.0],
        "actual": [12.0, 9.0, 13.0, 15.0],
        "scale": 2.0,
    }
    model = pd.DataFrame(
        {
            **base,
            "model": "lstm",
            "forecast": lstm,
            "q10": lstm - 1.5,
            "q50": lstm,
            "q90": lstm + 1.5,
        }
    )
    naive = pd.DataFrame({**base, "model": "naive", "forecast": base["origin_value"]})
    return pd.concat([model, naive], ignore_index=True)


def test_metrics_of_a_tiny_frame_by_hand():
    got = evaluation.score(tiny())["models"]
    lstm, naive = got["lstm"], got["naive"]
    assert lstm["n"] == 4
    assert lstm["mae"] == pytest.approx(6 / 4) and naive["mae"] == pytest.approx(7 / 4)
    assert lstm["rmse"] == pytest.approx(math.sqrt(18 / 4))
    assert naive["rmse"] == pytest.approx(math.sqrt(15 / 4))
    assert lstm["mase"] == pytest.approx(1.5 / 2)
    assert lstm["rel_mae"] == pytest.approx(6 / 7) and naive["rel_mae"] == pytest.approx(1.0)
    assert lstm["mape"] == pytest.approx(100 * (1 / 12 + 1 / 9 + 0 + 4 / 15) / 4)
    assert lstm["directional_accuracy"] == pytest.approx(2 / 3)  # no call at (0, 2); a miss
    assert math.isnan(naive["directional_accuracy"])
    assert lstm["up_rate"] == naive["up_rate"] == pytest.approx(3 / 4)
    assert lstm["coverage"] == pytest.approx(3 / 4)  # the error of 4 is outside +-1.5
    # pinball losses per point over q10, q50, q90: 0.8, 0.8, 0.3, 4.8
    assert lstm["pinball"] == pytest.approx(6.7 / 12)
    # widths 3; 15 is 2.5 above 12.5: + 2/0.2 * 2.5
    assert lstm["interval_score"] == pytest.approx((4 * 3 + 25) / 4)
    assert "coverage" not in naive and "pinball" not in naive
    assert [h["mae"] for h in lstm["by_horizon"]] == pytest.approx([0.5, 2.5])
    assert [h["n"] for h in lstm["by_horizon"]] == [2, 2]


def test_the_validation_table_of_a_tiny_frame():
    table = evaluation.validation_table(tiny(), shrink=[1.0, 0.5])
    assert table["horizon"] == [1, 2] and table["origins"] == 2
    assert table["interval"] == [0.1, 0.9] and table["shrink"] == [1.0, 0.5]
    assert table["models"]["lstm"]["mae"] == pytest.approx([0.5, 2.5])
    assert table["models"]["naive"]["mae"] == pytest.approx([1.5, 2.0])
    assert table["models"]["lstm"]["mase"] == pytest.approx([0.25, 1.25])
    assert table["models"]["lstm"]["coverage"] == pytest.approx([1.0, 0.5])
    assert set(table["models"]["naive"]) == {"mae", "rmse", "mase", "directional_accuracy"}
    assert table["beats_naive"] is False  # two origins: nothing to test


def frame_of(skill: bool, seed: int = 0) -> pd.DataFrame:
    """Two random-walk series, 150 origins, 3 steps, built as every evaluation builds its
    frame; with `skill`, the model's median knows half of the coming move."""
    parts = []
    for k, name in enumerate(["B", "A"]):
        values = random_walk_prices(200, seed=seed + k)
        origins = np.arange(40, 190)
        target = values[origins[:, None] + np.arange(1, 4)]
        move = (target - values[origins, None]) * (0.5 if skill else 0.0)
        noise = np.random.default_rng(seed + 10 + k).normal(0, 0.3, target.shape)
        median = values[origins, None] + move + (0 if skill else noise)
        q = median[..., None] + np.array([-1.0, 0.0, 1.0])
        scale = float(np.mean(np.abs(np.diff(values[:41]))))
        parts.append(
            evaluation.series_frame(
                name,
                values,
                origins,
                q,
                LEVELS,
                scale,
                names=evaluation.BACKTEST_BASELINES,
                season=5,
                interval=True,
                log=True,
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("skill", [True, False])
def test_every_path_gives_the_same_verdict(skill):
    frame = frame_of(skill)
    backtest = evaluation.summarise(frame)
    table = evaluation.validation_table(frame, shrink=[1.0, 1.0, 1.0])
    better = evaluation.compare(frame, frame.copy())
    assert backtest["skill"] is table["beats_naive"] is better.new_skill is better.old_skill
    assert backtest["skill"] is skill
    assert backtest["verdict"] == table["verdict"]
    assert backtest["dm_test"] == table["dm_test"]
    assert better.kept == "new" and better.new_mase == better.old_mase
    assert table["models"]["lstm"]["mase"] == pytest.approx(
        [h["mase"] for h in backtest["models"]["lstm"]["by_horizon"]], rel=1e-12
    )


def test_the_dm_test_of_a_frame_matches_the_reference():
    frame = frame_of(skill=False)
    dm = evaluation.summarise(frame)["dm_test"]
    for entry in dm["by_horizon"]:
        h = entry["horizon"]
        errors = {}
        for model in ("lstm", "naive"):
            rows = frame[(frame["model"] == model) & (frame["horizon"] == h)]
            rows = rows.sort_values(["series", "origin"])  # A before B, then by origin
            errors[model] = (rows["actual"] - rows["forecast"]).to_numpy()
        stat, p = reference_dm(errors["lstm"], errors["naive"], h)
        assert entry["statistic"] == pytest.approx(stat, rel=1e-9)
        assert entry["p_value"] == pytest.approx(p, rel=1e-9)
        assert entry["n"] == 2 * 150
    assert (dm["horizon"], dm["statistic"]) == (1, dm["by_horizon"][0]["statistic"])


@pytest.mark.parametrize(
    ("mae", "stat", "p", "skill", "start"),
    [
        (12.0, -2.5, 0.01, True, "Evidence of skill"),
        (12.0, -1.2, 0.2, False, "No evidence of skill over the random walk"),
        (14.0, 3.0, 0.001, False, "No evidence of skill: significantly WORSE"),
        (14.0, -2.5, 0.01, False, "No evidence of skill over the random walk"),  # MAE higher
    ],
)
def test_verdict_needs_a_lower_mae_and_a_significant_dm_test(mae, stat, p, skill, start):
    models = {"lstm": {"mae": mae}, "naive": {"mae": 13.0}}
    dm = {"statistic": stat, "p_value": p, "horizon": 1, "n": 250}
    got, text = evaluation.verdict(models, dm)
    assert got is skill and text.startswith(start) and f"p = {p:g}" in text


def test_a_model_with_quantile_columns_is_scored_like_the_others():
    frame = frame_of(skill=False)
    naive = frame[frame["model"] == "naive"]
    band = naive.assign(model="ewma", q10=naive["forecast"] - 2.0, q90=naive["forecast"] + 2.0)
    band = band.assign(q50=np.nan)  # only an interval
    got = evaluation.summarise(pd.concat([frame, band], ignore_index=True))["models"]
    assert list(got) == ["lstm", "naive", "drift", "mean", "seasonal_naive", "ewma"]
    ewma = got["ewma"]
    a = band["actual"].to_numpy()
    lo, hi = band["q10"].to_numpy(), band["q90"].to_numpy()
    assert ewma["coverage"] == pytest.approx(np.mean((a >= lo) & (a <= hi)))
    assert ewma["interval_score"] == pytest.approx(
        np.mean(4.0 + 10 * (lo - a) * (a < lo) + 10 * (a - hi) * (a > hi))
    )
    assert ewma["mae"] == got["naive"]["mae"] and ewma["rel_mae"] == 1.0
    assert {"coverage", "pinball", "interval_score"} <= set(got["naive"])  # its own interval
    assert "coverage" not in got["drift"]


def test_series_frame_lays_out_the_model_and_the_baselines():
    frame = frame_of(skill=True)
    assert list(frame.columns) == [*evaluation.COLUMNS, "q10", "q50", "q90"]
    assert frame["model"].unique().tolist() == ["lstm", "naive", "drift", "mean", "seasonal_naive"]
    lstm = frame[frame["model"] == "lstm"]
    assert (lstm["forecast"] == lstm["q50"]).all()
    assert frame.loc[frame["model"] == "drift", "q10"].isna().all()
    assert frame.loc[frame["model"] == "naive", "q10"].notna().all()
    assert evaluation.quantile_columns(frame) == {"q10": 0.1, "q50": 0.5, "q90": 0.9}


def test_compare_keeps_the_lower_mase_and_needs_the_same_points():
    good, bad = frame_of(skill=True), frame_of(skill=False)
    assert evaluation.compare(bad, good).kept == "old"
    assert evaluation.compare(good, bad).kept == "new"
    with pytest.raises(ValueError, match="same points"):
        evaluation.compare(good, good[good["horizon"] < 3])
