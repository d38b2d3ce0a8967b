"""The report's plots: PNG images of the right size, and matplotlib nowhere else."""

from __future__ import annotations

import re
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT
from lstm_forecast import plots

PNG = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR, the first chunk)."""
    assert png.startswith(PNG) and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def forecasts(n_series: int = 1, folds: int = 3, origins: int = 20) -> pd.DataFrame:
    """One-step and two-step forecasts of a random walk: the LSTM (noisy) and the naive one."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(n_series):
        prices = 100 + np.cumsum(rng.normal(0, 1, folds * origins + 3))
        dates = pd.bdate_range("2020-01-01", periods=len(prices)).strftime("%Y-%m-%d")
        for o in range(folds * origins):
            for h in (1, 2):
                actual = prices[o + h]
                for model, forecast in (
                    ("lstm", prices[o] + rng.normal(0, 1)),
                    ("naive", prices[o]),
                ):
                    rows.append(
                        {
                            "series": f"S{s}",
                            "fold": o // origins + 1,
                            "origin": dates[o],
                            "date": dates[o + h],
                            "horizon": h,
                            "model": model,
                            "origin_value": prices[o],
                            "actual": actual,
                            "forecast": forecast,
                            "q10": forecast - 1.5,
                            "q90": forecast + 1.5,
                        }
                    )
    return pd.DataFrame(rows)


def metrics(drift_mae: float) -> dict:
    def model(mae: float) -> dict:
        return {
            "mae": mae,
            "rel_mae": mae / 1.0,
            "by_horizon": [{"horizon": 1, "mae": mae * 0.8}, {"horizon": 2, "mae": mae * 1.2}],
        }

    return {"models": {"lstm": model(1.1), "naive": model(1.0), "drift": model(drift_mae)}}


def test_forecast_plot_is_a_png_one_panel_per_series_up_to_three():
    one = size(plots.forecast_plot(forecasts(1), [0.1, 0.9]))
    two = size(plots.forecast_plot(forecasts(2), [0.1, 0.9]))
    five = size(plots.forecast_plot(forecasts(5), [0.1, 0.9]))
    assert 800 < one[0] <= 1000 and 250 < one[1] <= 320  # 10 x 3.2 inches at 100 dpi, trimmed
    assert two[0] == one[0] and two[1] > 1.7 * one[1]
    assert five == size(plots.forecast_plot(forecasts(3), [0.1, 0.9]))


def test_error_plot_names_the_models_left_out_in_a_second_title_line():
    drawn = size(plots.error_plot(metrics(drift_mae=1.2)))
    off_scale = size(plots.error_plot(metrics(drift_mae=5.0)))
    assert 640 < drawn[0] <= 800 and 320 < drawn[1] <= 400  # 8 x 4 inches at 100 dpi, trimmed
    assert off_scale[0] == drawn[0] and off_scale[1] > drawn[1]


@pytest.mark.parametrize("draw", [plots.direction_plot, plots.loss_plot])
def test_direction_and_loss_plots_are_pngs(draw):
    width, height = size(draw(forecasts(2)))
    assert 640 < width <= 800 and 320 < height <= 400


def test_plots_is_the_only_module_that_imports_matplotlib():
    importing = [
        path.name
        for path in sorted((ROOT / "lstm_forecast").glob("*.py"))
        if re.search(r"^\s*(import|from)\s+matplotlib", path.read_text(), re.M)
    ]
    assert importing == ["plots.py"]


def test_matplotlib_is_loaded_only_to_draw():
    code = (
        "import sys; import lstm_forecast.report, lstm_forecast.plots; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
