"""The backtest report folder: its files, the Markdown and HTML documents, the terminal summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from helpers import random_walk_prices, write_prices
from lstm_forecast import api, outputs, report
from lstm_forecast.backtest import BacktestConfig
from lstm_forecast.errors import ConfigError
from lstm_forecast.formats import number
from lstm_forecast.settings import TrainConfig

TINY = dict(lookback=20, horizon=3, hidden=8, layers=1, epochs=2, patience=5, seed=0)
FILES = [
    "metrics.json",
    "metrics.csv",
    "forecast.png",
    "error_by_horizon.png",
    "directional_hits.png",
    "loss_differential.png",
    "report.md",
    "report.html",
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small walk-forward backtest of a random walk, and its report folder."""
    folder = tmp_path_factory.mktemp("report")
    path = write_prices(folder / "walk.csv", random_walk_prices(400, seed=11))
    plan = BacktestConfig(folds=2, step=30)
    result = api.backtest(path, TrainConfig(**TINY), plan, threads=1)
    paths = report.write(folder / "out", result.metrics, result.forecasts)
    outputs.write_backtest(folder / "out", result)
    return result, folder / "out", paths


def test_write_makes_every_file_and_nothing_else(written):
    _, folder, paths = written
    assert paths == [folder / name for name in FILES]
    forecasts = ["forecasts.csv", "forecasts.parquet"]  # outputs.write_backtest's
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES + forecasts)
    for name in FILES:
        if name.endswith(".png"):
            assert (folder / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_report_md_leads_with_the_verdict_and_the_headline_table(written):
    result, folder, _ = written
    metrics = result.metrics
    md = (folder / "report.md").read_text()
    assert md.startswith("# Backtest: ")
    assert f"## Verdict\n\n{metrics['verdict']}\n\n" in md
    assert (
        "| model | MAE | RMSE | MAPE % | sMAPE % | MASE | rel. MAE | dir. acc. | cover 0.1-0.9 "
        "| pinball | CRPS | interval score |"
    ) in md
    assert f"## Intervals\n\n{metrics['interval_verdict']}\n\n| model | 80% cover |" in md
    assert "## Coverage tests (LSTM)" in md and "| Kupiec | q10 | 1 |" in md
    assert "| Christoffersen (cc) | q90 | 1 |" in md
    lstm = metrics["models"]["lstm"]
    row = next(line for line in md.splitlines() if line.startswith("| LSTM |"))
    assert row.split(" | ")[1:3] == [number(lstm["mae"]), number(lstm["rmse"])]
    for image in ("forecast", "error_by_horizon", "directional_hits", "loss_differential"):
        assert f"![{image}]({image}.png)" in md
    assert "lstm-forecast backtest" not in md  # no command given: no command block


def test_report_html_is_one_page_with_the_verdict(written):
    result, folder, _ = written
    page = (folder / "report.html").read_text()
    assert page.startswith("<!doctype html><html><head><meta charset='utf-8'><title>Backtest")
    assert f"<p>{result.metrics['verdict']}</p>" in page
    assert f"<p>{result.metrics['interval_verdict']}</p>" in page
    assert page.count('<img src="data:image/png;base64,') == 4 and 'src="forecast.png' not in page


def test_metrics_files_hold_the_numbers_without_nan(written):
    result, folder, _ = written

    def no_nan(text: str) -> None:
        raise AssertionError(f"{text} in metrics.json")

    saved = json.loads((folder / "metrics.json").read_text(), parse_constant=no_nan)
    assert saved == report.clean(result.metrics)
    table = pd.read_csv(folder / "metrics.csv")
    assert list(table.columns[:4]) == ["model", "horizon", "n", "mae"]
    assert len(table) == len(result.metrics["models"]) * (TINY["horizon"] + 1)
    lstm_all = table[(table["model"] == "lstm") & (table["horizon"] == "all")]
    assert lstm_all["mae"].item() == result.metrics["models"]["lstm"]["mae"]
    back = pd.read_csv(folder / "forecasts.csv")
    pd.testing.assert_frame_equal(back, result.forecasts.reset_index(drop=True))


def test_print_summary_gives_the_table_the_verdict_and_the_report_path(written, capsys):
    result, folder, _ = written
    report.print_summary(result.metrics, folder)
    out, err = capsys.readouterr()
    words = " ".join(err.split())
    assert out == "" and "Backtest: 2 folds x 30 origins, horizon 1-3 (pooled)" in words
    assert " ".join(result.metrics["verdict"].split()) in words
    assert " ".join(result.metrics["interval_verdict"].split()) in words
    assert words.endswith(f"report written to {folder}/report.html")


def test_a_folder_that_cannot_be_made_is_a_config_error(written, tmp_path):
    result, _, _ = written
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^--report .*/file/out: cannot create the folder"):
        report.write(blocker / "out", result.metrics, result.forecasts)


DOC = [
    report.Block("h1", "Backtest: a<b"),
    report.Block("p", "x & y"),
    report.Block("table", "", ["model", "MAE"], [["LSTM", "1.5"]]),
    report.Block("image", "plot", png=b"\x89PNG"),
    report.Block("code", "lstm-forecast backtest p.csv"),
]


def test_markdown_of_each_kind_of_block():
    assert report.to_markdown(DOC) == (
        "# Backtest: a<b\n\nx & y\n\n| model | MAE |\n|---|---|\n| LSTM | 1.5 |\n\n"
        "![plot](plot.png)\n\n```\nlstm-forecast backtest p.csv\n```\n"
    )


def test_html_of_each_kind_of_block_is_escaped_and_self_contained():
    page = report.to_html(DOC)
    assert "<title>Backtest: a&lt;b</title>" in page and "<h1>Backtest: a&lt;b</h1>" in page
    assert "<p>x &amp; y</p>" in page
    assert "<thead><tr><th>model</th><th>MAE</th></tr></thead>" in page
    assert "<tbody><tr><td>LSTM</td><td>1.5</td></tr></tbody>" in page
    assert '<p><img src="data:image/png;base64,iVBORw==" alt="plot"></p>' in page
    assert "<pre>lstm-forecast backtest p.csv</pre>" in page and page.endswith("</html>\n")


def test_clean_makes_values_json_ready():
    value = {1: (np.float64(1.5), float("nan")), "b": [np.int64(2), math.inf, None]}
    assert report.clean(value) == {"1": [1.5, None], "b": [2, None, None]}
    assert type(report.clean(np.int64(2))) is int
