"""Running sums: scoring a long frame a group of series at a time gives what one pass gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import close
from lstm_forecast import evaluation, metrics
from lstm_forecast.tally import Tally

LEVELS = [0.1, 0.5, 0.9]


def universe(n_series: int = 7, origins: int = 40, horizon: int = 3) -> pd.DataFrame:
    """Random-walk series scored from consecutive origins: the model's noisy quantiles, every
    backtest baseline, and a GARCH-like band on every other series."""
    rng = np.random.default_rng(5)
    frames = []
    for k in range(n_series):
        values = 100 + np.cumsum(rng.standard_normal(origins + horizon + 60))
        at = np.arange(60, 60 + origins)
        mid = values[at][:, None] + rng.normal(0, 0.3, (origins, horizon))
        spread = np.arange(1, horizon + 1) ** 0.5 * 1.28
        q = np.stack([mid - spread, mid, mid + spread], axis=-1)
        bands = {"garch": q * 1.001 + 0.2} if k % 2 else None
        frames.append(
            evaluation.series_frame(
                f"s{k:02d}",
                values,
                at,
                q,
                LEVELS,
                float(np.mean(np.abs(np.diff(values[:60])))),
                names=evaluation.BACKTEST_BASELINES,
                season=5,
                interval=True,
                log=False,
                bands=bands,
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_groups_of_series_score_as_the_whole_frame():
    frame = universe()
    names = sorted(frame["series"].unique())
    groups = [frame[frame["series"].isin(names[i : i + 3])] for i in range(0, len(names), 3)]
    groups.reverse()  # any order: the differentials are read back in order of series name
    whole, parts = evaluation.summarise(frame), evaluation.summarise(Tally.of(groups))
    by_name = {k: dict(sorted(v.items())) if k == "series" else v for k, v in parts.items()}
    close(whole, by_name)
    assert list(parts["series"]) == names[6:] + names[3:6] + names[:3]  # in the order added
    assert parts["interval_test"]["baseline"] in {"naive", "garch"}
    assert parts["interval_test"]["series"] == len(names)
    assert parts["dm_test"]["n"] == len(names) * 40


def test_the_sums_are_the_metrics_by_hand():
    frame = universe(n_series=3)
    got = evaluation.score(Tally.of([frame[frame["series"] == s] for s in ("s00", "s01", "s02")]))
    lstm = frame[frame["model"] == "lstm"]
    naive = frame[frame["model"] == "naive"]
    error = (lstm["actual"] - lstm["forecast"]).to_numpy()
    model = got["models"]["lstm"]
    assert model["mae"] == pytest.approx(np.abs(error).mean(), rel=1e-12)
    assert model["rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-12)
    rw = np.abs(naive["actual"] - naive["forecast"]).mean()
    assert model["rel_mae"] == pytest.approx(np.abs(error).mean() / rw, rel=1e-12)
    inside = (lstm["actual"] >= lstm["q10"]) & (lstm["actual"] <= lstm["q90"])
    assert model["coverage"] == pytest.approx(inside.mean(), rel=1e-12)
    assert model["n"] == len(lstm) and model["by_horizon"][2]["n"] == len(lstm) // 3
    assert "coverage" not in got["models"]["drift"]  # no quantiles, no interval scores


def test_a_series_scored_alone_is_its_own_frame_scored():
    frame = universe(n_series=4)
    tally = Tally.of(frame)
    alone = frame[frame["series"] == "s01"]
    close(evaluation.score(alone), tally.score("s01"))
    assert tally.score("s02")["interval_test"]["baseline"] in {"naive"}  # no GARCH band there


def test_frames_must_agree_on_their_quantile_columns_and_hold_whole_series():
    frame = universe(n_series=2)
    tally = Tally.of(frame[frame["series"] == "s00"])
    with pytest.raises(ValueError, match="same quantile columns"):
        tally.add(frame[frame["series"] == "s01"].drop(columns="q10"))
    tally.add(frame[(frame["series"] == "s01") & (frame["origin"] < 80)])
    tally.add(frame[(frame["series"] == "s01") & (frame["origin"] >= 80)])
    with pytest.raises(ValueError, match="added twice"):
        tally.score()
    partial = frame.copy()
    partial.loc[partial["model"] == "lstm", "q10"] = np.nan
    tally = Tally.of(frame[frame["series"] == "s00"])
    with pytest.raises(ValueError, match="fills other quantile columns than before"):
        tally.add(partial[partial["series"] == "s01"])


def test_interval_scores_skip_points_without_a_score_as_one_pass_does():
    frame = universe(n_series=3)
    frame.loc[frame.index[::97], "actual"] = np.nan
    alone = {s: frame[frame["series"] == s] for s in ("s00", "s01", "s02")}
    got = evaluation.score(Tally.of(alone.values()))
    close(evaluation.score(frame), got)
    test = got["interval_test"]
    keys = ["series", "origin", "horizon"]
    own, other = (frame[frame["model"] == m] for m in ("lstm", test["baseline"]))
    both = own.merge(other[[*keys, "q10", "q90"]], on=keys, suffixes=("", "_b"))
    both = both.dropna(subset=["q10", "q90", "q10_b", "q90_b"])
    loss = metrics.interval_score_loss(both["actual"], both["q10"], both["q90"], 0.2)
    inside = (both["actual"] >= both["q10"]) & (both["actual"] <= both["q90"])
    assert test["n"] == len(both) and np.isnan(loss).any()
    assert test["score"] == pytest.approx(np.nanmean(loss), rel=1e-12)
    assert test["coverage"] == pytest.approx(inside.mean(), rel=1e-12)
