"""The backtest report's plots, as PNG bytes: the one module that draws with matplotlib.

matplotlib is imported inside the functions that draw, so importing this module (and the report
built on it) costs nothing until a plot is made, and `--help` or `predict` never pay for it.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstm_forecast.evaluation import MODEL, RANDOM_WALK
from lstm_forecast.formats import MODEL_LABELS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LATEST_FOLDS = 2
MAX_PLOTTED_SERIES = 3
OFF_SCALE = 3.0  # models whose MAE exceeds this multiple of the random walk's are not drawn


def _figure(width: float, height: float) -> Figure:
    """A figure drawn off screen (Agg), whatever the user's matplotlib backend."""
    # matplotlib keeps a font cache in the user's home unless told otherwise; this tool writes
    # only where the user says and in the system temp folder.
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "lstm-forecast-mpl"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _axis(values: pd.Series) -> pd.Series:
    """Dates as timestamps for the x axis; row numbers stay numbers."""
    return values if pd.api.types.is_numeric_dtype(values) else pd.to_datetime(values)


def forecast_plot(forecasts: pd.DataFrame, interval: list[float]) -> bytes:
    """One-step forecasts with interval bands against the actuals, over the latest folds."""
    lo, hi = _quantile_columns(forecasts)
    latest = forecasts["fold"] > forecasts["fold"].max() - LATEST_FOLDS
    step1 = forecasts[latest & (forecasts["horizon"] == 1)]
    names = list(step1["series"].unique())[:MAX_PLOTTED_SERIES]
    fig = _figure(10, 3.2 * len(names))
    for i, name in enumerate(names):
        ax = fig.add_subplot(len(names), 1, i + 1)
        rows = step1[step1["series"] == name]
        model, rw = rows[rows["model"] == MODEL], rows[rows["model"] == RANDOM_WALK]
        x = _axis(model["date"])
        ax.plot(x, model["actual"], color="black", lw=1.2, label="actual")
        ax.plot(x, model["forecast"], color="tab:blue", lw=1, label="LSTM median")
        ax.fill_between(x, model[lo], model[hi], color="tab:blue", alpha=0.2, label="LSTM band")
        ax.plot(x, rw[lo], color="tab:orange", lw=0.8, ls="--", label="random-walk band")
        ax.plot(x, rw[hi], color="tab:orange", lw=0.8, ls="--")
        garch = rows[rows["model"] == "garch"]
        if len(garch) == len(model):
            ax.plot(x, garch[lo], color="tab:green", lw=0.8, ls=":", label="GARCH(1,1)-t band")
            ax.plot(x, garch[hi], color="tab:green", lw=0.8, ls=":")
        for start in model.groupby("fold")["date"].min().iloc[1:]:
            ax.axvline(_axis(pd.Series([start])).iloc[0], color="grey", ls=":", lw=1)
        ax.set_title(
            f"{name}: one step ahead, latest folds "
            f"(band {interval[0]:g}-{interval[1]:g}; dotted lines: refit points)",
            fontsize=10,
        )
        ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def error_plot(metrics: dict) -> bytes:
    """MAE by horizon step for every model near the random walk's scale."""
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    rw = metrics["models"][RANDOM_WALK]["mae"]
    off = []
    for name, m in metrics["models"].items():
        steps = [h["horizon"] for h in m["by_horizon"]]
        if m["mae"] > OFF_SCALE * rw:
            off.append(f"{MODEL_LABELS.get(name, name)} (rel. MAE {m['rel_mae']:.3g})")
            continue
        ax.plot(
            steps, [h["mae"] for h in m["by_horizon"]], marker="o", label=MODEL_LABELS.get(name)
        )
    ax.set_xlabel("horizon step")
    ax.set_ylabel("MAE")
    ax.set_xticks(steps)
    title = "Error by horizon step"
    if off:
        title += "\nnot drawn, far worse: " + ", ".join(off)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def direction_plot(forecasts: pd.DataFrame) -> bytes:
    """Cumulative one-step directional hits in excess of a coin flip, in time order."""
    step1 = forecasts[forecasts["horizon"] == 1].sort_values(["date", "series"], kind="stable")
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    for name, rows in step1.groupby("model", sort=False):
        move = np.sign(rows["forecast"] - rows["origin_value"]).to_numpy()
        if not move.any():  # the naive forecast never predicts a move
            continue
        hits = move == np.sign(rows["actual"] - rows["origin_value"]).to_numpy()
        ax.plot(np.cumsum(hits - 0.5), label=MODEL_LABELS.get(name, name))
    rows = step1[step1["model"] == MODEL]
    ups = (rows["actual"] > rows["origin_value"]).to_numpy()
    ax.plot(np.cumsum(ups - 0.5), color="grey", ls="--", label='always "up"')
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("one-step origins in time order")
    ax.set_ylabel("hits minus half the origins")
    ax.set_title("Cumulative directional hits (rising: better than a coin flip)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def loss_plot(forecasts: pd.DataFrame) -> bytes:
    """Cumulative squared-error difference LSTM - random walk at step 1 (falling: LSTM better)."""
    step1 = forecasts[forecasts["horizon"] == 1].sort_values(["date", "series"], kind="stable")
    err = {
        name: (rows["actual"] - rows["forecast"]).to_numpy() ** 2
        for name, rows in step1.groupby("model", sort=False)
    }
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    ax.plot(np.cumsum(err[MODEL] - err[RANDOM_WALK]), color="tab:blue")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("one-step origins in time order")
    ax.set_ylabel("cumulative (LSTM² - RW²) error")
    ax.set_title(
        "Cumulative loss differential vs the random walk (below 0: LSTM ahead)", fontsize=10
    )
    return _png(fig)


def _quantile_columns(forecasts: pd.DataFrame) -> tuple[str, str]:
    cols = [c for c in forecasts.columns if c.startswith("q") and c[1:].replace(".", "").isdigit()]
    return cols[0], cols[-1]


def trials_plot(table: list[dict]) -> bytes:
    """Each trial's score against its number (pruned ones at their last folds' mean), with the
    best so far as a step line."""
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    done = [(r["number"], r["value"]) for r in table if r["state"] == "complete"]
    pruned = [(r["number"], r["last_fold_mean"]) for r in table if r["state"] == "pruned"]
    if done:
        x, y = zip(*sorted(done), strict=True)
        ax.scatter(x, y, color="tab:blue", s=18, label="complete")
        ax.step(x, np.minimum.accumulate(y), where="post", color="black", lw=1, label="best so far")
    if pruned:
        x, y = zip(*pruned, strict=True)
        ax.scatter(x, y, color="tab:orange", marker="x", s=18, label="pruned (folds so far)")
    failed = [r["number"] for r in table if r["state"] == "fail"]
    for number in failed:
        ax.axvline(number, color="tab:red", lw=0.6, alpha=0.4)
    ax.set_xlabel("trial number")
    ax.set_ylabel("mean scaled CRPS over the folds")
    title = "Score against trial number (lower is better)"
    if failed:
        title += f"\nred lines: {len(failed)} failed trial(s)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def importance_plot(importances: dict[str, float]) -> bytes:
    """Parameter importances as horizontal bars, the most important on top."""
    names = list(importances)[::-1]
    fig = _figure(7, 0.4 * len(names) + 1.2)
    ax = fig.add_subplot()
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (PED-ANOVA)")
    ax.set_title("Which settings mattered to the score", fontsize=10)
    return _png(fig)
