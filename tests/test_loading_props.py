"""Property tests: any frame written in any supported dialect reads back identical."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_forecast.errors import DataError
from lstm_forecast.loading import LoadOptions, load

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.csv", data)
    return buf.getvalue()


COMPRESS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zip": _zip,
}
# (strftime format, LoadOptions.dayfirst needed to read it when every day number is <= 12)
DATE_STYLES = [("%Y-%m-%d", None), ("%d.%m.%Y", True), ("%m/%d/%Y", False), ("%d-%m-%y", True)]

prices = st.floats(min_value=0.01, max_value=999_999, allow_nan=False).map(lambda x: round(x, 4))


@st.composite
def frames(draw) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One or more series of dated rows with a Close and a few other float columns."""
    tickers = draw(st.sampled_from([[""], ["AAA"], ["AAA", "BB"], ["X", "Y", "Z"]]))
    extra = draw(st.lists(st.sampled_from(["Open", "High", "Volume"]), unique=True, max_size=2))
    out = {}
    for t in tickers:
        n = draw(st.integers(3, 30))
        steps = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
        start = pd.Timestamp("1990-01-01") + pd.Timedelta(days=draw(st.integers(0, 12_000)))
        dates = start + pd.to_timedelta(np.cumsum(steps), unit="D")
        cols = {c: draw(st.lists(prices, min_size=n, max_size=n)) for c in ["Close", *extra]}
        out[t] = pd.DataFrame(cols, index=dates)
    return out, extra


def _cell(x: float, decimal: str, thousands: bool) -> str:
    text = f"{x:,}" if thousands else repr(x)
    if decimal == ",":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def _render(series: dict[str, pd.DataFrame], dialect: dict) -> bytes:
    delim, decimal, thousands = dialect["delimiter"], dialect["decimal"], dialect["thousands"]
    fmt = dialect["date_style"][0]
    long = list(series) != [""]
    first = next(iter(series.values()))
    header = (["Ticker"] if long else []) + ["Date", *first.columns]
    rows = []
    for t, frame in series.items():
        for when, values in frame.iterrows():
            cells = [_cell(v, decimal, thousands) for v in values]
            cells = [f'"{c}"' if delim in c else c for c in cells]
            rows.append(([t] if long else []) + [when.strftime(fmt), *cells])
    if dialect["newest_first"]:
        rows.reverse()
    text = dialect["newline"].join(delim.join(r) for r in [header, *rows])
    data = (text + (dialect["newline"] if dialect["final_newline"] else "")).encode("utf-8")
    if dialect["bom"]:
        data = b"\xef\xbb\xbf" + data
    return COMPRESS[dialect["compression"]](data)


@st.composite
def dialects(draw) -> dict:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    return {
        "delimiter": delimiter,
        "decimal": draw(st.sampled_from([".", ","])) if delimiter == ";" else ".",
        "thousands": draw(st.booleans()),
        "date_style": draw(st.sampled_from(DATE_STYLES)),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "final_newline": draw(st.booleans()),
        "bom": draw(st.booleans()),
        "newest_first": draw(st.booleans()),
        "compression": draw(st.sampled_from(list(COMPRESS))),
    }


@SETTINGS
@given(data=frames(), dialect=dialects())
def test_round_trip(tmp_path_factory, data, dialect):
    series, extra = data
    path = Path(tmp_path_factory.mktemp("rt")) / "prices.csv"
    path.write_bytes(_render(series, dialect))
    options = LoadOptions(dayfirst=dialect["date_style"][1], features=extra or None)
    ds = load(path, options)
    assert ds.target == "Close"
    loaded = {s.name: s for s in ds.series}
    assert sorted(loaded) == sorted(series if list(series) != [""] else ["Close"])
    for key, frame in series.items():
        s = loaded[key or "Close"]
        np.testing.assert_array_equal(s.index, frame.index.to_numpy("datetime64[ns]"))
        np.testing.assert_array_equal(s.values, frame["Close"].to_numpy())
        np.testing.assert_array_equal(s.features, frame[extra].to_numpy().reshape(len(frame), -1))


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
edits = st.lists(
    st.tuples(
        st.integers(0, 2000), st.sampled_from(["insert", "delete", "cut"]), st.sampled_from(JUNK)
    ),
    min_size=1,
    max_size=6,
)


@SETTINGS
@given(base=st.sampled_from(BASES), edits=edits, positive=st.booleans())
def test_damaged_files_load_or_fail_with_a_data_error(tmp_path_factory, base, edits, positive):
    text = base
    for at, op, junk in edits:
        at %= len(text) + 1
        text = {"insert": text[:at] + junk + text[at:], "delete": text[:at] + text[at + 1 :]}.get(
            op, text[:at]
        )
    path = Path(tmp_path_factory.mktemp("fuzz")) / "f.csv"
    path.write_text(text, encoding="utf-8")
    try:
        ds = load(path, LoadOptions(positive=positive))
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        return
    for s in ds.series:
        assert len(s) >= 2 and np.isfinite(s.values).all()
        assert not positive or (s.values > 0).all()
