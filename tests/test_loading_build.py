"""The loader as a whole: any Table to a Dataset, inspect, one-line errors, damaged files, and
stages that import only earlier stages."""

from __future__ import annotations

import ast
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import PRICES_CSV, ROOT, days_of, load_fails, loader_settings, write_data
from lstm_forecast import api
from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, Table, from_table, load

STAGES = [  # the order stated in the package docstring: each imports only those before it
    "messages", "dataset", "table", "source", "text", "numbers", "dates", "roles", "stores",
    "checks", "cleaning", "frequency", "sessions", "build",
]  # fmt: skip


def test_stages_import_only_earlier_stages():
    folder = ROOT / "lstm_forecast" / "loading"
    assert sorted(STAGES) == sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    for i, stage in enumerate(STAGES):
        tree = ast.parse((folder / f"{stage}.py").read_text())
        imported = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("lstm_forecast.loading.")
        }
        assert imported <= set(STAGES[:i]), (stage, imported - set(STAGES[:i]))
        assert "lstm_forecast.loading" not in {
            n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
        }


def test_a_table_from_any_source_reads_like_a_file():
    """Typed columns are used as they are; text, Decimal and date objects as a CSV's cells."""
    from decimal import Decimal

    frame = pd.DataFrame(
        {
            "Date": [dt.date(2020, 1, d) for d in range(1, 7)],
            "Symbol": ["A", "A", "A", "B", "B", "B"],
            "Close": [Decimal("1.5"), Decimal("2.5"), None, Decimal("3"), Decimal("4"), None],
            "Volume": pd.array([10, 20, None, 30, 40, 50], dtype="Int64"),
        }
    )
    table = Table("query 'prices'", frame, details={"format": "sql"})
    ds = from_table(table, LoadOptions(features=["volume"]))
    assert [s.name for s in ds.series] == ["A", "B"] and ds.details["format"] == "sql"
    assert ds.series[0].values.tolist() == [1.5, 2.5] and days_of(ds, 1)[0] == "2020-01-04"
    assert ds.series[1].features[:, 0].tolist() == [30, 40]
    assert ds.details["date_format"] == "typed timestamps"
    assert any("dropped 1 trailing row" in w for w in ds.warnings)


def test_a_table_keeps_the_sources_messages():
    frame = pd.DataFrame({"Date": ["2020-01-01", "2020-01-02", "bad"], "Close": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"^query: line 7: cannot read 'bad' in column 'Date'"):
        from_table(Table("query", frame, lines=np.array([5, 6, 7])))
    stamps = pd.Series(pd.to_datetime(["2020-01-02", "2020-01-01"]).tz_localize("Asia/Tokyo"))
    ds = from_table(Table("q", pd.DataFrame({"ts": stamps, "y": [1.0, 2.0]})))
    assert days_of(ds) == ["2020-01-01", "2020-01-02"] and ds.series[0].values.tolist() == [2, 1]
    assert "time-zone offsets dropped: daily data kept on its local calendar dates" in ds.notes


def test_inspect_json_schema(tmp_path):
    found = api.inspect(write_data(tmp_path, PRICES_CSV))
    assert found["target"] == "Close" and found["date_column"] == "Date"
    assert found["frequency"] == "B" or found["frequency"] == "D"
    (series,) = found["series"]
    assert series["name"] == "Close" and series["rows"] == 10
    assert series["start"] == "2020-01-01" and series["end"] == "2020-01-10"
    assert series["first"] == 102.0 and series["last"] == 111.0
    found = api.inspect(write_data(tmp_path, "v\n1\n2\n3\n"))
    assert found["date_column"] is None and found["series"][0]["start"] == 0


def test_inspect_prints_whole_dates_and_repairs(tmp_path, capsys, monkeypatch):
    from lstm_forecast import cli

    rows = "".join(f"2020-01-{d:02d},{'' if d == 7 else d}\n" for d in range(1, 11))
    path = write_data(tmp_path, "Date,Close\n" + rows)
    monkeypatch.setattr(sys, "argv", ["lstm-forecast", "inspect", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "2020-01-01" in out and "2020-01-10" in out and "…" not in out
    assert "date_format" in out and "frequency" in out
    assert "warning:" in out and "forward-filled 1 missing 'Close' value " in out


def test_every_failure_is_one_line_for_the_cli(tmp_path, capsys, monkeypatch):
    from lstm_forecast import cli

    path = write_data(tmp_path, b"<html>oops</html>")
    monkeypatch.setattr("sys.argv", ["lstm-forecast", "inspect", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_messages_stay_on_one_line_and_short(tmp_path):
    names = ",".join(f"c{i}" for i in range(500))
    path = write_data(tmp_path, f"Date,{names}\n2020-01-01{',1' * 500}\n")
    assert len(load_fails(path, "(490 more)", target="nope")) < 400
    path = write_data(tmp_path, 'Date,"Clo\nse"\n2020-01-01,1\n2020-01-02,x\n')
    load_fails(path, "Clo se")


BASES = [
    "Date,Open,Close,Volume\n"
    + "".join(f"2020-01-{d:02d},{100 + d},{101 + d},{1000 * d}\n" for d in range(1, 25)),
    "Ticker,Date,Close,Adj Close,Volume\n"
    + "".join(
        f"{t},{d:02d}/01/2020,{101 + d},{50 + d},{1000 * d}\n" for t in "AB" for d in range(1, 25)
    ),
    "Datum;Schluss;Vol\n" + "".join(f"{d:02d}.01.2020;1.{d:03d},5;{d}\n" for d in range(1, 25)),
    "Date,Time,Close\n"
    + "".join(f"2020-01-02,{h}:{m:02d},{h + m}\n" for h in range(9, 12) for m in (0, 30)),
    "timestamp,price\n" + "".join(f"{1577836800 + 60 * i},{i}\n" for i in range(20)),
    "v\n" + "".join(f"{i * 0.5}\n" for i in range(20)),
    "Date,AAPL,MSFT\n"
    + "".join(f"2020-02-{d:02d},{d},{'' if d % 5 == 0 else d * 2}\n" for d in range(1, 28)),
    "Date,Close\n" + "".join(f"2020-03-{d:02d}T10:00:00+01:00,{d}\n" for d in range(1, 28)),
]
JUNK = [*"0123456789-/.:,;\t|\"' \n\rabcxyz$%eE+()kMB#\x00", "\u20ac", "nan", "inf", "1e400", "-5"]
TRANSFORMS = ["auto", "log-return", "diff"]
edits = st.lists(
    st.tuples(
        st.integers(0, 2000), st.sampled_from(["insert", "delete", "cut"]), st.sampled_from(JUNK)
    ),
    min_size=1,
    max_size=6,
)


@loader_settings()
@given(base=st.sampled_from(BASES), edits=edits, transform=st.sampled_from(TRANSFORMS))
def test_damaged_files_load_or_fail_with_a_data_error(tmp_path_factory, base, edits, transform):
    text = base
    for at, op, junk in edits:
        at %= len(text) + 1
        text = {"insert": text[:at] + junk + text[at:], "delete": text[:at] + text[at + 1 :]}.get(
            op, text[:at]
        )
    path = Path(tmp_path_factory.mktemp("fuzz")) / "f.csv"
    path.write_text(text, encoding="utf-8")
    try:
        ds = load(path, LoadOptions(transform=transform))
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        return
    for s in ds.series:
        assert len(s) >= 2 and np.isfinite(s.values).all()
        assert transform != "log-return" or (s.values > 0).all()
