"""Checks: values that never pass (inf, beyond float32, non-positive under log returns) and
moves that look wrong (unadjusted splits)."""

from __future__ import annotations

import pytest

from helpers import BOKEH, MSFT, PRICES_CSV, load_fails, write_data
from lstm_forecast.loading import LoadOptions, load

BROKEN = {
    "inf": (PRICES_CSV.replace(",105,", ",inf,"), ["line 5", "2020-01-04", "inf", "finite"]),
    "beyond float32": (PRICES_CSV.replace(",105,", ",1e39,"), ["line 5", "too large", "float32"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file(tmp_path, case):
    data, words = BROKEN[case]
    load_fails(write_data(tmp_path, data), *words)


def test_positive_prices_pass_the_positive_check(tmp_path):
    path = write_data(tmp_path, PRICES_CSV)
    assert len(load(path, LoadOptions(positive=True, max_gap=5)).series[0]) == 10


@pytest.mark.parametrize(("value", "line"), [("0", 6), ("-3.5", 6)])
def test_non_positive_prices_when_positive_is_needed(tmp_path, value, line):
    path = write_data(tmp_path, PRICES_CSV.replace(",106,", f",{value},"))
    load_fails(path, f"line {line}", "2020-01-05", "not positive", "--transform", positive=True)
    assert len(load(path).series[0]) == 10


def test_bokeh_unadjusted_close_warns_about_splits():
    ds = load(BOKEH, LoadOptions(target="close"))
    splits = [w for w in ds.warnings if "split" in w]
    assert any("AAPL" in w and "2000-06-21" in w and "2005-02-28" in w for w in splits)
    assert any("MSFT" in w and "2003-02-18" in w for w in splits)
    assert not any("2000-09-29" in w for w in splits)  # a real crash, not a split


def test_msft_volume_does_not_flag_the_1987_crash():
    ds = load(MSFT)
    assert not any("split" in w for w in ds.warnings)
    assert not any("2001-09" in w for w in ds.warnings)  # NYSE closed after 9/11: no gap
    assert "column 'Close': 2 XNYS sessions without a row: 1998-10-29, 1999-11-16" in ds.warnings
