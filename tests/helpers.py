"""Test helpers: sample paths, generated series with known answers, the installed CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MSFT = ROOT / "data" / "msft.csv"
BOKEH = DATA / "bokeh_stocks.csv.gz"
GOOG = DATA / "goog_yahoo.csv"

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
