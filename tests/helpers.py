"""Test helpers: sample paths, generated series with known answers, the installed CLI."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lstm_forecast.loading import Dataset, Series

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MSFT = ROOT / "data" / "msft.csv"
BOKEH = DATA / "bokeh_stocks.csv.gz"
GOOG = DATA / "goog_yahoo.csv"

# The models the shared fixtures (conftest.py) train once per session.
WALK_CONFIG = dict(lookback=24, horizon=3, hidden=16, layers=1, epochs=4, patience=10, seed=0)
GLOBAL_CONFIG = dict(lookback=30, horizon=4, hidden=16, layers=2, epochs=2, seed=0)

# Two cores: one torch thread per process keeps parallel subprocesses from thrashing.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def cli_path() -> str:
    """The installed `lstm-forecast` command beside this interpreter."""
    found = Path(sys.executable).parent / "lstm-forecast"
    return str(found) if found.exists() else shutil.which("lstm-forecast") or "lstm-forecast"


def run_cli(
    *args: str, stdin: bytes | None = None, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the installed command; returns the completed process with text stdout/stderr."""
    full_env = {**os.environ, "LSTM_FORECAST_THREADS": "1", **(env or {})}
    proc = subprocess.run(
        [cli_path(), *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=full_env,
    )
    proc.stdout = proc.stdout.decode()  # type: ignore[assignment]
    proc.stderr = proc.stderr.decode()  # type: ignore[assignment]
    return proc


def write_dayfirst_sample(path: Path, rows: int = 800) -> Path:
    """The tail of the MSFT sample with dates rewritten as DD-MM-YY (like sp500.csv)."""
    frame = pd.read_csv(MSFT).tail(rows)
    frame["Date"] = pd.to_datetime(frame["Date"]).dt.strftime("%d-%m-%y")
    frame.drop(columns=["OpenInt"]).to_csv(path, index=False)
    return path


def sine(n: int = 1500, period: float = 50.0, phase: float = 0.0) -> np.ndarray:
    return np.sin(2 * np.pi * np.arange(n) / period + phase)


def random_walk_prices(n: int, seed: int, vol: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))


def write_prices(path: Path, values: np.ndarray, start: str = "2010-01-04") -> Path:
    dates = pd.bdate_range(start, periods=len(values))
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": values}).to_csv(path, index=False)
    return path


def write_sequence(path: Path, values: np.ndarray, name: str = "value") -> Path:
    pd.DataFrame({name: values}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# the loader: files written from text, loaded, or expected to fail with one precise line

PRICES_CSV = "Date,Open,Close,Volume\n" + "".join(
    f"2020-01-{d:02d},{100 + d},{101 + d},{1000 * d}\n" for d in range(1, 11)
)


def write_data(tmp_path: Path, data: str | bytes, name: str = "prices.csv") -> Path:
    """A data file with these contents (str as UTF-8)."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_data(tmp_path: Path, data: str | bytes, name: str = "prices.csv", **options):
    """The Dataset the loader makes of a file with these contents and LoadOptions."""
    from lstm_forecast.loading import LoadOptions, load

    return load(write_data(tmp_path, data, name), LoadOptions(**options))


def load_fails(path: Path | str, *words: str, **options) -> str:
    """Loading raises exactly DataError: one short line naming the file and every word given."""
    import pytest

    from lstm_forecast.errors import DataError
    from lstm_forecast.loading import LoadOptions, load

    with pytest.raises(DataError) as info:
        load(path, LoadOptions(**options))
    assert type(info.value) is DataError
    message = str(info.value)
    assert "\n" not in message and len(message) < 400 + len(str(path))
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def days_of(ds, i: int = 0) -> list[str]:
    """Series i's timestamps as YYYY-MM-DD."""
    return [str(d)[:10] for d in ds.series[i].index.astype("datetime64[D]")]


def stamps_of(ds, i: int = 0) -> list[str]:
    """Series i's timestamps as YYYY-MM-DDTHH:MM:SS."""
    return [str(d) for d in ds.series[i].index.astype("datetime64[s]")]


def loader_settings():
    """Hypothesis settings for the loader's properties: 50 examples, files in tmp folders."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def zipped(members: dict[str, bytes]) -> bytes:
    """A zip archive holding these files."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


CLI_TRAIN = "--lookback 30 --horizon 5 --hidden 16 --layers 1 --epochs 3 --seed 0".split()


def train_dayfirst_sample(folder: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The day-first sample (like sp500.csv) trained through the command line with CLI_TRAIN."""
    data = write_dayfirst_sample(folder / "prices.csv")
    model = folder / "prices.lstm"
    proc = run_cli("train", data, "--target", "Close", "--model", model, *CLI_TRAIN)
    assert proc.returncode == 0, proc.stderr
    return data, model, proc


def write_older_and_newer(folder: Path) -> tuple[Path, Path]:
    """The same random walk twice: the first 1,200 rows (old.csv), and all 1,300 (new.csv)."""
    prices = random_walk_prices(1300, seed=8)
    return write_prices(folder / "old.csv", prices[:1200]), write_prices(folder / "new.csv", prices)


def memory_dataset(values: np.ndarray, features: np.ndarray | None = None) -> Dataset:
    """A one-series plain sequence (row numbers for dates), with optional feature columns."""
    index = np.arange(len(values))
    feats = np.zeros((len(values), 0)) if features is None else features
    names = [] if features is None else [f"f{j}" for j in range(feats.shape[1])]
    return Dataset("mem", "value", None, names, None, [Series("value", index, values, feats)])


def reference_dm(e_model: np.ndarray, e_base: np.ndarray, h: int) -> tuple[float, float]:
    """Diebold-Mariano on squared errors, h-1 autocovariance lags, HLN correction, t(n-1)."""
    d = e_model**2 - e_base**2
    n = d.size
    u = d - d.mean()
    acov = np.array([np.dot(u[k:], u[: n - k]) / n for k in range(h)])
    long_run = acov[0] + 2 * acov[1:].sum()
    dm = d.mean() / math.sqrt(long_run / n)
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return hln, 2 * stats.t.sf(abs(hln), df=n - 1)


def run_sql(url: str, *statements: str) -> list[tuple]:
    """Run statements on a database with its own driver, committed; the last one's rows."""
    kind, _, rest = url.partition("://")
    if kind.startswith("postgresql"):
        import psycopg

        conn = psycopg.connect(url, autocommit=True)
    elif kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(rest[1:], isolation_level=None)
    else:
        import duckdb

        conn = duckdb.connect(rest[1:])
    try:
        rows: list[tuple] = []
        for statement in statements:
            cur = conn.execute(statement)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
        return rows
    finally:
        conn.close()


def forecast_rows(
    series: list[str], origins: int, horizon: int = 5, model: str = "m1", value: float = 0.0
) -> pd.DataFrame:
    """A predict-like frame: every series, `origins` daily origins, `horizon` steps each."""
    days = pd.bdate_range("2024-01-02", periods=origins + horizon)
    o = np.repeat(np.arange(origins), horizon)
    h = np.tile(np.arange(1, horizon + 1), origins)
    one = pd.DataFrame({"origin": days[o], "date": days[o + h], "horizon": h})
    one["forecast"] = value + h - 1.0
    one["q10"], one["q90"] = one["forecast"] - 1.0, one["forecast"] + 1.0
    frames = [one.assign(model=model, series=name) for name in series]
    columns = ["model", "series", "origin", "date", "horizon", "forecast", "q10", "q90"]
    return pd.concat(frames, ignore_index=True)[columns]


def hold_duckdb(path, seconds: float) -> subprocess.Popen:
    """Another process with the DuckDB file open for writing for `seconds`."""
    code = (
        "import duckdb, sys, time\n"
        "con = duckdb.connect(sys.argv[1])\nprint('open', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\ncon.close()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "open"
    return child


def long_prices(tickers=("MSFT", "AAPL"), days: int = 160, seed: int = 5) -> pd.DataFrame:
    """A long price file's rows (Date, Ticker, Close, Volume), one row per date and ticker,
    tickers interleaved and not in name order."""
    dates = pd.bdate_range("2021-03-01", periods=days).strftime("%Y-%m-%d")
    frames = [
        pd.DataFrame(
            {
                "Date": dates,
                "Ticker": ticker,
                "Close": random_walk_prices(days, seed=seed + i),
                "Volume": np.arange(days, dtype="int64") * 100 + i,
            }
        )
        for i, ticker in enumerate(tickers)
    ]
    return pd.concat(frames).sort_values("Date", kind="stable").reset_index(drop=True)


def store_prices(url: str, frame: pd.DataFrame, table: str = "prices") -> None:
    """The rows of `frame` (as `long_prices`) in a new typed table with lower-case columns:
    DATE (text in SQLite, which has no date type), TEXT, DOUBLE PRECISION, BIGINT."""
    date_type = "TEXT" if url.startswith("sqlite") else "DATE"
    values = ", ".join(
        f"('{d}', '{t}', {float(c)!r}, {int(v)})"
        for d, t, c, v in frame[["Date", "Ticker", "Close", "Volume"]].itertuples(index=False)
    )
    run_sql(
        url,
        f"CREATE TABLE {table} (date {date_type}, ticker TEXT, close DOUBLE PRECISION, "
        f"volume BIGINT)",
        f"INSERT INTO {table} VALUES {values}",
    )


def store_lake(root: Path, frame: pd.DataFrame) -> Path:
    """The rows of `frame` (as `long_prices`) as a hive-partitioned Parquet dataset
    root/Ticker=AAPL/..., dates as timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = frame.assign(Date=pd.to_datetime(frame["Date"]))
    pq.write_to_dataset(pa.Table.from_pandas(typed, preserve_index=False), root, ["Ticker"])
    return root


# ---------------------------------------------------------------------------------------------
# tune: a small seasonal series, a tiny search space, the study's trials

TUNE_SPACE = """\
lookback = {low = 8, high = 16}
hidden = {choices = [4, 8]}
layers = 1
chunk = 8
batch_size = 16
date_features = false
"""
# Tiny networks, one epoch, two folds of 30 origins, 40 untouched origins: as options, and as
# the defaults and plan of `tune_setup`.
TUNE_BASE = dict(horizon=3, lookback=12, hidden=8, layers=1, epochs=1, patience=1)
TUNE_PLAN = dict(folds=2, step=30, holdout=40)
TUNE_ARGS = (
    "--horizon 3 --lookback 12 --hidden 8 --layers 1 --epochs 1 --patience 1 --folds 2 "
    "--step 30 --holdout 40 --threads 1 --quiet"
).split()


def write_season(path: Path, n: int = 300, seed: int = 0) -> Path:
    """Daily values with a weekly and a monthly season and noise, all positive."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + 2 * np.sin(2 * np.pi * t / 7) + np.sin(2 * np.pi * t / 30) + rng.normal(0, 0.3, n)
    dates = pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d")
    pd.DataFrame({"Date": dates, "y": values}).to_csv(path, index=False)
    return path


def tune_setup(dataset: Dataset, space: Path | None, **base):
    """The tuning setup of TUNE_BASE (changed by `base`) and TUNE_PLAN on a dataset."""
    from lstm_forecast import tuning
    from lstm_forecast.settings import TrainConfig

    config = TrainConfig(**(TUNE_BASE | base))
    return tuning.prepare(
        dataset, config, tuning.TunePlan(**TUNE_PLAN), space, device="cpu", threads=1
    )


def tune_files(folder: Path) -> tuple[Path, Path]:
    """(data, space file) for a tune in `folder`."""
    space = folder / "space.toml"
    space.write_text(TUNE_SPACE)
    return write_season(folder / "season.csv"), space


def study_trials(url: str, name: str) -> list:
    """The frozen trials of a study (Optuna reads the storage)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=name, storage=url).get_trials()


def states(trials: list) -> dict[str, int]:
    """Trials by state name: {"COMPLETE": 3, "PRUNED": 1, ...}."""
    out: dict[str, int] = {}
    for t in trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def broken_file_test(cases: dict[str, tuple[str | bytes, list[str]]]):
    """A test over `cases` (name -> (file contents, words)): loading each fails with those words."""
    import pytest

    @pytest.mark.parametrize("case", list(cases))
    def test_broken_file(tmp_path, case):
        data, words = cases[case]
        load_fails(write_data(tmp_path, data), *words)

    return test_broken_file


def close(a: object, b: object, path: str = "") -> None:
    """Equal structure; floats equal to 1e-12 relative (sums in another order)."""
    if isinstance(a, dict):
        assert list(a) == list(b), path  # type: ignore[arg-type]
        for key in a:
            close(a[key], b[key], f"{path}/{key}")  # type: ignore[index]
    elif isinstance(a, list):
        assert len(a) == len(b), path  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-12), path
    else:
        assert a == b, path
