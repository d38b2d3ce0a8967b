"""What the trading-calendar path costs, so that where sessions come from is a measured choice.

Each figure is the median over fresh processes (pandas already imported, as in every command),
as wall-clock time and as the process's CPU time (steadier on a busy machine):

- importing exchange_calendars, and building one exchange's calendar over 1990-2030;
- `future_index` for a daily model: from the sessions a model file stores (nothing more to
  import) against computing them from the library (import + build);
- `infer` on 20 years of daily NYSE sessions and on the bundled 31-year sample (cold: the first
  call in a process; warm: the best of five more);
- the bytes a model file spends on its stored calendar.

    python bench/calendar_cost.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "msft.csv"

CLOCK = """
import time
def clock(run):
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu
"""

IMPORT = """
import pandas
print(*clock(lambda: __import__("exchange_calendars")))
"""

BUILD = """
import sys, pandas, exchange_calendars as xcals
print(*clock(lambda: xcals.get_calendar(sys.argv[1], start=sys.argv[2], end="2030-12-31")))
"""

FUTURE = """
import json, sys, numpy as np, pandas as pd

def forecast_dates():
    from lstm_forecast import calendars
    stored = None
    if sys.argv[1] == "stored":
        with np.load(sys.argv[2]) as parts:
            stored = calendars.Calendar.from_arrays(json.loads(sys.argv[3]), dict(parts))
    history = pd.bdate_range("2018-08-01", "2018-08-31")
    out = calendars.future_index(history, "B", 10, "XNYS", stored)
    assert str(out.index[0])[:10] == "2018-09-04", out

print(*clock(forecast_dates))
assert (sys.argv[1] == "stored") == ("exchange_calendars" not in sys.modules)
"""

INFER = """
import sys, pandas as pd, exchange_calendars
from lstm_forecast import calendar_inference, calendars
if sys.argv[1] == "sample":
    dates = pd.to_datetime(pd.read_csv(sys.argv[2], usecols=["Date"])["Date"])
else:
    xnys = calendars.resolve("XNYS", "2000-01-01", "2019-12-31")
    dates = xnys.sessions_between("2000-01-01", "2019-12-31")
found = []
times = [clock(lambda: found.append(calendar_inference.infer(dates))) for _ in range(6)]
assert found[0].code == "XNYS", found[0]
print(*times[0], min(t[0] for t in times[1:]), min(t[1] for t in times[1:]))
"""


def medians(runs: int, code: str, *args: str) -> list[float]:
    """Medians, over `runs` fresh processes, of the numbers `code` prints (in ms)."""
    rows = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CLOCK + code, *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        rows.append([1000 * float(x) for x in done.stdout.split()])
    return [statistics.median(col) for col in zip(*rows, strict=True)]


def show(what: str, wall: float, cpu: float, extra: str = "") -> None:
    print(f"{what:44} {wall:6.0f} ms wall {cpu:6.0f} ms CPU{extra}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from lstm_forecast import calendars

    show("import exchange_calendars (after pandas)", *medians(runs, IMPORT))
    for code, start in (("XNYS", "1990"), ("XETR", "1990"), ("XLON", "1990"), ("XTKS", "1997")):
        show(f"get_calendar({code}, {start}-2030)", *medians(runs, BUILD, code, start))
    cal = calendars.resolve("XNYS", "1988-01-01", "2018-08-31")
    meta, daily = cal.to_arrays(hours=False)
    _, intraday = cal.to_arrays(hours=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calendar.npz"
        np.savez(path, **daily)
        show(
            "future_index, stored sessions",
            *medians(runs, FUTURE, "stored", str(path), json.dumps(meta)),
        )
    show("future_index, from the library", *medians(runs, FUTURE, "library"))
    for label, args in (
        ("20 years of XNYS", ("20y",)),
        ("msft.csv, 31 years", ("sample", str(SAMPLE))),
    ):
        cold_wall, cold_cpu, warm_wall, warm_cpu = medians(runs, INFER, *args)
        show(f"infer, {label}, cold", cold_wall, cold_cpu)
        show(f"infer, {label}, warm", warm_wall, warm_cpu)
    print(
        f"stored calendar 1988-2023 ({len(cal.sessions)} sessions): "
        f"{sum(a.nbytes for a in daily.values()) / 1024:.0f} KiB daily, "
        f"{sum(a.nbytes for a in intraday.values()) / 1024:.0f} KiB with hours"
    )


if __name__ == "__main__":
    main()
