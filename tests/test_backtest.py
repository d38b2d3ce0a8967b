"""Walk-forward backtests: folds, leakage, metrics.json recomputed independently, the report."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, close, long_prices, random_walk_prices, reference_dm, write_prices
from lstm_forecast import api, backtest, outputs, report
from lstm_forecast.backtest import BacktestConfig
from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.settings import TrainConfig

TINY = dict(lookback=20, horizon=3, hidden=8, layers=1, epochs=2, patience=5, seed=0)
PLAN = dict(folds=2, step=30)
BASELINES = ["naive", "drift", "mean", "seasonal_naive", "garch", "ewma"]
BANDED = ("lstm", "naive", "garch", "ewma")  # the models with quantile columns
N = 400


def run(path, plan: dict | None = None, **train) -> api.BacktestResult:
    config = TrainConfig(**{**TINY, **train})
    return api.backtest(path, config, BacktestConfig(**(plan or PLAN)), threads=1)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A pure random walk, backtested once, with its report folder."""
    folder = tmp_path_factory.mktemp("walk")
    values = random_walk_prices(N, seed=11)
    path = write_prices(folder / "walk.csv", values)
    result = run(path)
    report.write(folder / "report", result.metrics, result.forecasts)
    outputs.write_backtest(folder / "report", result)
    return values, result, folder / "report"


@pytest.fixture(scope="module")
def saved(walk):
    """metrics.json and forecasts.csv as written."""
    _, _, folder = walk
    metrics = json.loads((folder / "metrics.json").read_text())
    return metrics, pd.read_csv(folder / "forecasts.csv")


def test_metrics_json_has_the_documented_schema(saved):
    metrics, _ = saved
    assert {"models", "series", "dm_test", "verdict", "skill", "folds", "settings"} <= set(metrics)
    assert set(metrics["models"]) == {"lstm", *BASELINES}
    point = {"n", "mae", "rmse", "mape", "smape", "mase", "rel_mae", "directional_accuracy"}
    for name, m in metrics["models"].items():
        assert point | {"up_rate", "by_horizon"} <= set(m)
        assert [h["horizon"] for h in m["by_horizon"]] == [1, 2, 3]
        has_interval = {"coverage", "pinball", "interval_score", "crps", "intervals"} <= set(m)
        assert has_interval == (name in BANDED)
    assert metrics["models"]["naive"]["directional_accuracy"] is None
    assert {"statistic", "p_value", "n", "horizon", "by_horizon"} <= set(metrics["dm_test"])
    assert set(metrics["series"]["Close"]["models"]) == set(metrics["models"])
    assert metrics["settings"]["train"]["lookback"] == TINY["lookback"]
    assert metrics["settings"]["backtest"]["folds"] == PLAN["folds"]
    assert [f["fold"] for f in metrics["folds"]] == [1, 2]


def test_metrics_json_has_the_interval_half_of_the_verdict(saved):
    metrics, _ = saved
    assert isinstance(metrics["interval_skill"], bool)
    assert metrics["interval_verdict"].startswith("Intervals: ")
    assert isinstance(metrics["coverage_tests_pass"], bool)
    assert set(metrics["coverage_tests"]) == set(BANDED)
    own = metrics["coverage_tests"]["lstm"]
    assert own["pass"] is metrics["coverage_tests_pass"]
    assert len(own["tests"]) == 2 * TINY["horizon"] + 2  # Kupiec per tail and step, cc at h=1
    keys = {"test", "quantile", "horizon", "statistic", "p_value", "holm_p_value", "n"}
    assert all(keys | {"violations", "expected_rate"} == set(t) for t in own["tests"])
    test = metrics["interval_test"]
    assert test["baseline"] in {"naive", "garch", "ewma"} and test["loss"] == "interval score"
    assert test["ratio"] == max(test["ratios"].values())
    assert set(test["ratios"]) == {"naive", "garch", "ewma"}
    assert [h["horizon"] for h in test["by_horizon"]] == [1, 2, 3]
    lstm = metrics["models"]["lstm"]
    assert set(lstm["pinball_by_quantile"]) == {"q10", "q50", "q90"}
    assert lstm["crps"] == pytest.approx(2 * lstm["pinball"])
    assert [i["level"] for i in lstm["intervals"]] == [0.8]
    assert lstm["intervals"][0]["interval_score"] == lstm["interval_score"]
    vol = metrics["settings"]["interval_baselines"]
    assert vol == {
        "models": ["garch", "ewma"],
        "series": ["Close"],
        "of_series": 1,
        "max_series": 50,
    }
    assert metrics["settings"]["backtest"]["recalibrate"] is False
    assert "interval_test" in metrics["series"]["Close"]


def test_garch_band_is_an_independent_arch_fit_on_each_fits_training_rows(walk, saved):
    from arch import arch_model
    from scipy.stats import t

    values, _, _ = walk
    metrics, fc = saved
    dates = pd.bdate_range("2010-01-04", periods=N).strftime("%Y-%m-%d")
    row = {d: i for i, d in enumerate(dates)}
    returns = 100 * np.diff(np.log(values))
    for fold in metrics["folds"]:
        n_train = fold["train_rows"]  # rows 0 .. the fold's first origin
        garch = fc[(fc["model"] == "garch") & (fc["fold"] == fold["fold"])]
        garch = garch.sort_values(["origin", "horizon"])
        origins = np.unique(garch["origin"].map(row).to_numpy())
        model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        res = model.fit(disp="off", last_obs=n_train - 1)
        # arch's forecast made at return index o - 1 is the one from price row o
        ahead = res.forecast(horizon=3, start=int(origins[0]) - 1, reindex=False, align="origin")
        mean = ahead.mean.to_numpy()[: len(origins)].cumsum(axis=1)
        sd = np.sqrt(ahead.variance.to_numpy()[: len(origins)].cumsum(axis=1))
        nu = res.params["nu"]
        for col, level in (("q10", 0.1), ("q50", 0.5), ("q90", 0.9)):
            z = t.ppf(level, nu) * np.sqrt((nu - 2) / nu)
            want = values[origins][:, None] * np.exp((mean + sd * z) / 100)
            got = garch[col].to_numpy().reshape(len(origins), 3)
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_metrics_csv_has_a_row_per_model_and_step_plus_all(walk):
    _, _, folder = walk
    table = pd.read_csv(folder / "metrics.csv")
    assert len(table) == 7 * 4  # 7 models x (3 steps + all)
    lstm = table[(table["model"] == "lstm") & (table["horizon"] == "all")]
    assert lstm["mae"].iloc[0] == pytest.approx(
        json.loads((folder / "metrics.json").read_text())["models"]["lstm"]["mae"]
    )


def test_forecasts_csv_is_long_with_quantiles_where_a_model_has_them(saved):
    _, fc = saved
    assert {"series", "origin", "date", "horizon", "model", "actual", "forecast"} <= set(fc)
    n_points = PLAN["folds"] * PLAN["step"] * TINY["horizon"]
    assert fc["model"].value_counts().to_dict() == {m: n_points for m in ["lstm", *BASELINES]}
    for model in BANDED:
        rows = fc[fc["model"] == model]
        assert rows[["q10", "q50", "q90"]].notna().all().all()
        assert (rows["q10"] <= rows["q90"]).all()
    assert fc.loc[fc["model"] == "drift", "q10"].isna().all()


def test_baseline_metrics_recomputed_from_forecasts_csv_agree(saved):
    metrics, fc = saved
    naive = fc[fc["model"] == "naive"]
    for name in ["lstm", *BASELINES]:
        rows = fc[fc["model"] == name]
        err = (rows["actual"] - rows["forecast"]).to_numpy()
        m = metrics["models"][name]
        assert m["mae"] == pytest.approx(np.abs(err).mean(), rel=1e-9)
        assert m["rmse"] == pytest.approx(np.sqrt((err**2).mean()), rel=1e-9)
        assert m["mape"] == pytest.approx(100 * np.mean(np.abs(err / rows["actual"])), rel=1e-9)
        assert m["mase"] == pytest.approx(np.mean(np.abs(err) / rows["scale"]), rel=1e-9)
        rw_mae = np.abs(naive["actual"] - naive["forecast"]).mean()
        assert m["rel_mae"] == pytest.approx(np.abs(err).mean() / rw_mae, rel=1e-9)
        for h in m["by_horizon"]:
            at = rows["horizon"] == h["horizon"]
            assert h["mae"] == pytest.approx(np.abs(err[at.to_numpy()]).mean(), rel=1e-9)
    lstm = fc[fc["model"] == "lstm"]
    inside = (lstm["actual"] >= lstm["q10"]) & (lstm["actual"] <= lstm["q90"])
    assert metrics["models"]["lstm"]["coverage"] == pytest.approx(inside.mean())
    ups = lstm["actual"] > lstm["origin_value"]
    assert metrics["models"]["lstm"]["up_rate"] == pytest.approx(ups.mean())


def test_baselines_are_recomputed_from_the_raw_data(walk, saved):
    values, _, _ = walk
    metrics, fc = saved
    dates = pd.bdate_range("2010-01-04", periods=N).strftime("%Y-%m-%d")
    row = {d: i for i, d in enumerate(dates)}
    o = fc["origin"].map(row).to_numpy()
    t = fc["date"].map(row).to_numpy()
    h = fc["horizon"].to_numpy()
    np.testing.assert_array_equal(t - o, h)  # business days: the date is h rows on
    np.testing.assert_allclose(fc["actual"], values[t], rtol=1e-9)
    expected = {
        "naive": values[o],
        "drift": values[o] + h * (values[o] - values[0]) / o,
        "mean": np.array([values[: i + 1].mean() for i in o]),
        "seasonal_naive": values[o + h - 5 * np.ceil(h / 5).astype(int)],
    }
    for name, want in expected.items():
        at = (fc["model"] == name).to_numpy()
        np.testing.assert_allclose(fc.loc[at, "forecast"], want[at], rtol=1e-9)
    first_origin = row[metrics["folds"][0]["first_origin"]]
    scale = np.abs(np.diff(values[: first_origin + 1])).mean()
    assert fc.loc[fc["fold"] == 1, "scale"].to_numpy() == pytest.approx(scale, rel=1e-9)


def test_dm_statistic_matches_a_reference_on_the_errors_in_forecasts_csv(saved):
    metrics, fc = saved
    for entry in metrics["dm_test"]["by_horizon"]:
        h = entry["horizon"]

        def errors(model: str, h: int = h) -> np.ndarray:
            rows = fc[(fc["model"] == model) & (fc["horizon"] == h)].sort_values("origin")
            return (rows["actual"] - rows["forecast"]).to_numpy()

        stat, p = reference_dm(errors("lstm"), errors("naive"), h)
        if math.isnan(stat):  # the model fell back on the random walk: no loss differential
            assert entry["statistic"] is None and entry["p_value"] is None
            continue
        assert entry["statistic"] == pytest.approx(stat, rel=1e-9)
        assert entry["p_value"] == pytest.approx(p, rel=1e-9)
    head = metrics["dm_test"]["by_horizon"][0]
    assert (metrics["dm_test"]["statistic"], metrics["dm_test"]["p_value"]) == (
        head["statistic"],
        head["p_value"],
    )


def test_a_pure_random_walk_shows_no_evidence_of_skill(saved):
    metrics, _ = saved
    assert metrics["skill"] is False
    assert metrics["verdict"].startswith("No evidence of skill")


def test_the_run_record_carries_the_verdict_and_the_headline_figures(walk):
    _, result, _ = walk
    record, metrics = result.record, result.metrics
    assert record["skill"] is metrics["skill"] is False
    assert record["lstm_mae"] == metrics["models"]["lstm"]["mae"]
    assert record["naive_mae"] == metrics["models"]["naive"]["mae"]
    assert record["rel_mae"] == pytest.approx(record["lstm_mae"] / record["naive_mae"])
    assert record["dm_p_value"] is metrics["dm_test"]["p_value"]


@pytest.mark.parametrize("recalibrate", [False, True])
def test_data_after_an_origin_does_not_change_its_forecasts(tmp_path, recalibrate):
    values = random_walk_prices(300, seed=5)
    plan = dict(folds=1, step=30, recalibrate=recalibrate)
    first = 300 - 1 - TINY["horizon"] - 30 + 1
    cut = first + 10  # an origin inside the fold, after the training cutoff
    changed = values.copy()
    changed[cut + 1 :] *= np.linspace(1.2, 0.7, 300 - cut - 1)
    a = run(write_prices(tmp_path / "a.csv", values), plan).forecasts
    b = run(write_prices(tmp_path / "b.csv", changed), plan).forecasts
    dates = pd.bdate_range("2010-01-04", periods=300).strftime("%Y-%m-%d")
    before = (a["origin"] <= dates[cut]).to_numpy()
    assert before.sum() == 11 * TINY["horizon"] * (len(BASELINES) + 1)
    cols = ["forecast", "q10", "q50", "q90"]
    pd.testing.assert_frame_equal(a.loc[before, cols], b.loc[before, cols])
    assert not np.allclose(a.loc[~before, "forecast"], b.loc[~before, "forecast"])


def test_report_html_is_self_contained_with_plots_and_the_verdict(walk, saved):
    _, _, folder = walk
    metrics, _ = saved
    page = (folder / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 3
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n") for data in images)
    assert metrics["verdict"] in page
    md = (folder / "report.md").read_text()
    assert metrics["verdict"] in md and "![forecast](forecast.png)" in md
    for name in ("forecast.png", "error_by_horizon.png", "directional_hits.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")


TAILS = [0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99]


def test_tail_quantiles_end_to_end(tmp_path):
    """VaR levels: every band gets them, scores for the 80%, 90% and 98% intervals, coverage
    tests for each of the six tails, and the report shows them."""
    path = write_prices(tmp_path / "walk.csv", random_walk_prices(N, seed=4))
    result = run(path, quantiles=TAILS)
    metrics, fc = result.metrics, result.forecasts
    cols = ["q1", "q5", "q10", "q50", "q90", "q95", "q99"]
    for model in BANDED:
        rows = fc.loc[fc["model"] == model, cols]
        assert rows.notna().all().all() and (np.diff(rows.to_numpy(), axis=1) >= 0).all()
    lstm = metrics["models"]["lstm"]
    assert [i["level"] for i in lstm["intervals"]] == [0.8, 0.9, 0.98]
    assert metrics["settings"]["interval"] == [0.01, 0.99]
    assert metrics["interval_test"]["interval"] == [0.01, 0.99]
    assert "98% band's (q1-q99)" in metrics["interval_verdict"]
    tests = metrics["coverage_tests"]["lstm"]["tests"]
    assert len(tests) == 6 * TINY["horizon"] + 6
    assert {t["quantile"] for t in tests} == {0.01, 0.05, 0.1, 0.9, 0.95, 0.99}
    report.write(tmp_path / "out", metrics, fc)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| model | 80% cover | 80% int. score | 90% cover | 90% int. score | 98% cover |" in md
    assert "| Kupiec | q1 | 3 |" in md and "| Christoffersen (cc) | q99 | 1 |" in md


def test_sliding_window_and_refit_every(tmp_path):
    path = write_prices(tmp_path / "walk.csv", random_walk_prices(300, seed=2))
    plan = dict(folds=3, step=20, window="sliding", train_size=150, refit_every=2)
    folds = run(path, plan).metrics["folds"]
    assert [f["refit"] for f in folds] == [True, False, True]
    assert {f["train_rows"] for f in folds} == {150}
    assert folds[0]["train_end"] == folds[0]["first_origin"]
    assert folds[1]["train_end"] == folds[0]["first_origin"]  # no refit: the older model
    assert folds[2]["train_end"] == folds[2]["first_origin"]


def test_too_few_rows_is_a_data_error_with_the_numbers(tmp_path):
    path = write_prices(tmp_path / "short.csv", random_walk_prices(200, seed=1))
    with pytest.raises(DataError, match=r"200 rows.*5 x --step 50 = 250 origins.*need 303"):
        run(path, dict(folds=5, step=50))


@pytest.mark.parametrize(
    "plan", [dict(folds=0), dict(step=0), dict(window="rolling"), dict(refit_every=0)]
)
def test_bad_settings_are_config_errors(plan):
    with pytest.raises(ConfigError):
        BacktestConfig(**plan)


@pytest.mark.slow
def test_cli_end_to_end(tmp_path):
    path = write_prices(tmp_path / "walk.csv", random_walk_prices(N, seed=11))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, **PLAN}.items()]

    def cli(*extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "lstm_forecast", "backtest", str(path), *args, *extra]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    done = cli("--threads=1", "--report", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "No evidence of skill" in done.stderr and "rel. MAE" in done.stderr
    assert "Intervals: " in done.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["settings"]["command"].startswith("lstm-forecast backtest")
    parallel = cli("--jobs=2", "--quiet", "--report", str(tmp_path / "par"))
    assert parallel.returncode == 0, parallel.stderr
    assert parallel.stderr == ""
    again = json.loads((tmp_path / "par" / "metrics.json").read_text())
    assert again["models"]["naive"] == metrics["models"]["naive"]
    assert again["models"]["lstm"]["mae"] == pytest.approx(metrics["models"]["lstm"]["mae"])
    too_many = cli("--folds=20", "--report", str(tmp_path / "bad"))
    assert too_many.returncode == 1
    assert "error:" in too_many.stderr and "need" in too_many.stderr


def test_a_streamed_backtest_hands_on_each_group_and_scores_as_one_pass(tmp_path, monkeypatch):
    path = tmp_path / "universe.csv"
    long_prices(("E", "D", "C", "B", "A"), days=N).to_csv(path, index=False)
    config, plan = TrainConfig(**TINY), BacktestConfig(**PLAN)
    whole = api.backtest(path, config, plan, threads=1)
    points = PLAN["folds"] * PLAN["step"] * TINY["horizon"]
    monkeypatch.setattr(backtest, "GROUP_POINTS", 2 * points)  # two series a group
    monkeypatch.setattr(backtest, "PLOTTED_SERIES", 2)
    handed = []
    streamed = api.backtest(path, config, plan, threads=1, each=handed.append)
    assert [f["series"].unique().tolist() for f in handed] == [["A", "B"], ["C", "D"], ["E"]]
    keys = ["series", "fold", "origin", "horizon", "model"]
    every = pd.concat(handed).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(every, whole.forecasts.sort_values(keys).reset_index(drop=True))
    for key in ("models", "dm_test", "interval_test", "coverage_tests", "series", "verdict"):
        close(whole.metrics[key], streamed.metrics[key], key)
    shown = sorted(streamed.forecasts["series"].unique())
    assert len(shown) == 2 and set(shown) < {"A", "B", "C", "D", "E"}
    report.write(tmp_path / "bt", streamed.metrics, streamed.forecasts)
    assert "a fixed sample of 2 of the 5 series" in (tmp_path / "bt" / "report.md").read_text()


def test_series_ending_on_different_dates_share_one_calendar_cutoff():
    from lstm_forecast.backtest import BacktestConfig, plan_fits
    from lstm_forecast.loading import Dataset, Series

    dates = np.arange("2020-01-01", "2020-12-31", dtype="datetime64[D]").astype("datetime64[ns]")
    long = Series("A", dates, np.linspace(1, 2, len(dates)), np.zeros((len(dates), 0)))
    short = Series(
        "B", dates[:-30], np.linspace(1, 2, len(dates) - 30), np.zeros((len(dates) - 30, 0))
    )
    ds = Dataset("mem", "v", "Date", [], "D", [long, short])
    cfg = TrainConfig(lookback=10, horizon=2)
    (fit,) = plan_fits(ds, cfg, BacktestConfig(folds=1, step=40))
    end_a, end_b = fit.rows["A"][1], fit.rows["B"][1]
    assert long.index[end_a] == short.index[end_b]  # B's fold starts earlier: A stops there too
    assert end_b == len(short) - 1 - 2 - 40 + 1
