"""Numbers: separators, currency, %, suffixes, decimal commas and missing-value markers."""

from __future__ import annotations

import pytest

from helpers import PRICES_CSV, broken_file_test, days_of, read_data

BROKEN = {
    "text target": (PRICES_CSV.replace(",107,", ",n/a?,"), ["line 7", "n/a?", "'Close'", "number"]),
}


test_broken_file = broken_file_test(BROKEN)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (['"1,234.50"', '"12,000"'], [1234.5, 12000.0]),
        (["$1234.50", "$ 12"], [1234.5, 12.0]),
        (["5%", "-2.5%"], [5.0, -2.5]),
        (["70.89M", "1.2B"], [70.89e6, 1.2e9]),
        (["3.5K", "(2)"], [3500.0, -2.0]),
        (["  12.5  ", " 13 "], [12.5, 13.0]),
    ],
)
def test_number_styles(tmp_path, cells, expected):
    text = "Date , Close \n" + "".join(f"2020-01-0{i + 1},{c}\n" for i, c in enumerate(cells))
    assert read_data(tmp_path, text).series[0].values.tolist() == expected


def test_decimal_commas(tmp_path):
    text = "Date;Close;Volume\n2020-01-02;1.234,56;1.000.000\n2020-01-03;1.240,5;2.000.000\n"
    ds = read_data(tmp_path, text)
    assert ds.series[0].values.tolist() == [1234.56, 1240.5] and ds.details["decimal"] == ","
    text = "Date\tClose\n2020-01-02\t1.234,56\n2020-01-03\t1.240,50\n"
    assert read_data(tmp_path, text).series[0].values.tolist() == [1234.56, 1240.5]
    text = 'Date,Close\n2020-01-02,"12,5"\n2020-01-03,"13,25"\n'
    assert read_data(tmp_path, text).series[0].values.tolist() == [12.5, 13.25]


@pytest.mark.parametrize("marker", ["", ".", "null", "NaN", "N/A", "#N/A", "-"])
def test_missing_markers_are_forward_filled_with_a_warning(tmp_path, marker):
    text = "Date,Close\n2020-01-01,1\n2020-01-02,{m}\n2020-01-03,{m}\n2020-01-06,4\n"
    ds = read_data(tmp_path, text.format(m=marker))
    assert ds.series[0].values.tolist() == [1, 1, 1, 4]
    assert any("forward-filled 2 missing" in w for w in ds.warnings)


def test_nasdaq_export(tmp_path):
    rows = [f"01/{d}/2020,${300 + d}.35,{1000 + d},${299 + d},$301,$298" for d in (14, 13, 10)]
    text = "Date,Close/Last,Volume,Open,High,Low\n" + "\n".join(rows) + "\n"
    ds = read_data(tmp_path, text)
    assert ds.target == "Close/Last" and days_of(ds) == ["2020-01-10", "2020-01-13", "2020-01-14"]
    assert ds.series[0].values.tolist() == [310.35, 313.35, 314.35]
    assert any("newest-first" in n for n in ds.notes)
