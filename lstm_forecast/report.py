"""Backtest reports: metrics.json, metrics.csv, forecasts.csv, plots, report.md and report.html.

The report is built once as a list of blocks (headings, paragraphs, tables, images) and rendered
twice, to Markdown (plots beside it as PNG files) and to one self-contained HTML file (plots
embedded as base64 PNG). Every file is written atomically. The terminal gets the headline table
and the verdict on stderr.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# matplotlib keeps a font cache in the user's home unless told otherwise; this tool writes
# only where the user says and in the system temp folder.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "lstm-forecast-mpl"))

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.table import Table

from lstm_forecast.artifacts import atomic_write
from lstm_forecast.errors import ConfigError
from lstm_forecast.render import progress_bar, stderr_console

MODEL, RANDOM_WALK = "lstm", "naive"
LABELS = {
    "lstm": "LSTM",
    "naive": "naive (random walk)",
    "drift": "drift",
    "seasonal_naive": "seasonal naive",
    "mean": "historical mean",
}
METRIC_COLUMNS = [
    "n",
    "mae",
    "rmse",
    "mape",
    "smape",
    "mase",
    "rel_mae",
    "directional_accuracy",
    "up_rate",
    "coverage",
    "pinball",
    "interval_score",
]
HEADLINE = [
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("mape", "MAPE %"),
    ("smape", "sMAPE %"),
    ("mase", "MASE"),
    ("rel_mae", "rel. MAE"),
    ("directional_accuracy", "dir. acc."),
    ("coverage", "coverage"),
    ("pinball", "pinball"),
    ("interval_score", "interval score"),
]
TERMINAL = ["mae", "rmse", "mase", "rel_mae", "directional_accuracy", "coverage"]
LATEST_FOLDS = 2
MAX_PLOTTED_SERIES = 3
OFF_SCALE = 3.0  # models whose MAE exceeds this multiple of the random walk's are not drawn


@dataclass
class Block:
    """One piece of the report: kind is h1, h2, p, table, image or code."""

    kind: str
    text: str = ""
    columns: list[str] | None = None
    rows: list[list[str]] | None = None
    png: bytes = b""


def fmt(x: object, digits: int = 4) -> str:
    """A number for people: 4 significant digits, '-' where missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(x)
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}g}"
    return str(x)


def clean(value: object) -> object:
    """JSON-ready copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------
# tables


def headline(
    metrics: dict, keys: list[str] | None = None, labels: dict | None = None
) -> tuple[list[str], list[list[str]]]:
    """Model by model, pooled over series and horizon steps (all HEADLINE columns by default)."""
    lo, hi = metrics["settings"]["interval"]
    cols = [(k, name) for k, name in HEADLINE if keys is None or k in keys]
    names = [name if k != "coverage" else f"cover {lo:g}-{hi:g}" for k, name in cols]
    labels = LABELS if labels is None else labels
    rows = [
        [labels.get(model, model), *(fmt(m.get(k)) for k, _ in cols)]
        for model, m in metrics["models"].items()
    ]
    return ["model", *names], rows


def metrics_frame(metrics: dict) -> pd.DataFrame:
    """metrics.csv: one row per model and horizon step, then the model's 'all' row."""
    rows = []
    for name, m in metrics["models"].items():
        for h in m["by_horizon"]:
            rows.append({"model": name, "horizon": h["horizon"], **h})
        rows.append({"model": name, **m, "horizon": "all"})
    frame = pd.DataFrame(rows)
    return frame[["model", "horizon", *(c for c in METRIC_COLUMNS if c in frame.columns)]]


def _by_horizon_table(metrics: dict, key: str) -> tuple[list[str], list[list[str]]]:
    steps = [h["horizon"] for h in metrics["models"][MODEL]["by_horizon"]]
    rows = [
        [LABELS.get(name, name), *(fmt(h.get(key)) for h in m["by_horizon"])]
        for name, m in metrics["models"].items()
    ]
    return ["model", *(f"h={h}" for h in steps)], rows


def _dm_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    rows = [
        [str(d["horizon"]), fmt(d["statistic"], 3), fmt(d["p_value"], 3), str(d["n"])]
        for d in metrics["dm_test"]["by_horizon"]
    ]
    return ["horizon", "DM statistic", "p-value", "n"], rows


def _series_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for name, s in metrics["series"].items():
        lstm, dm = s["models"][MODEL], s["dm_test"]
        rows.append(
            [
                name,
                fmt(lstm["mae"]),
                fmt(s["models"][RANDOM_WALK]["mae"]),
                fmt(lstm["rel_mae"], 3),
                fmt(lstm["directional_accuracy"], 3),
                fmt(lstm["up_rate"], 3),
                fmt(dm["statistic"], 3),
                fmt(dm["p_value"], 3),
            ]
        )
    cols = ["series", "LSTM MAE", "RW MAE", "rel. MAE", "dir. acc.", "up rate", "DM", "p"]
    return cols, rows


def _fold_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    cols = ["fold", "series", "origins", "trained on", "rows", "refit", "epochs (best)", "s"]
    rows = [
        [
            str(f["fold"]),
            f["series"],
            f"{f['first_origin']} .. {f['last_origin']}",
            f"{f['train_start']} .. {f['train_end']}",
            str(f["train_rows"]),
            fmt(f["refit"]),
            f"{f['epochs_run']} ({f['best_epoch']})",
            fmt(f["fit_seconds"], 3),
        ]
        for f in metrics["folds"]
    ]
    return cols, rows


# ---------------------------------------------------------------------------------------------
# plots


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
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
    fig = Figure(figsize=(10, 3.2 * len(names)))
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
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    rw = metrics["models"][RANDOM_WALK]["mae"]
    off = []
    for name, m in metrics["models"].items():
        steps = [h["horizon"] for h in m["by_horizon"]]
        if m["mae"] > OFF_SCALE * rw:
            off.append(f"{LABELS.get(name, name)} (rel. MAE {m['rel_mae']:.3g})")
            continue
        ax.plot(steps, [h["mae"] for h in m["by_horizon"]], marker="o", label=LABELS.get(name))
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
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    for name, rows in step1.groupby("model", sort=False):
        move = np.sign(rows["forecast"] - rows["origin_value"]).to_numpy()
        if not move.any():  # the naive forecast never predicts a move
            continue
        hits = move == np.sign(rows["actual"] - rows["origin_value"]).to_numpy()
        ax.plot(np.cumsum(hits - 0.5), label=LABELS.get(name, name))
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
    fig = Figure(figsize=(8, 4))
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


# ---------------------------------------------------------------------------------------------
# the document


def blocks(metrics: dict, forecasts: pd.DataFrame) -> list[Block]:
    """The report, top to bottom."""
    st = metrics["settings"]
    lo, hi = st["interval"]
    n_series = forecasts["series"].nunique()
    up_rate = metrics["models"][MODEL]["up_rate"]
    out = [
        Block("h1", f"Backtest: {st.get('data', 'data')}"),
        Block("h2", "Verdict"),
        Block("p", metrics["verdict"]),
        Block(
            "p",
            f"Walk-forward over {st['backtest']['folds']} folds of {st['backtest']['step']} "
            f"origins per series ({n_series} series), horizon 1-{st['train']['horizon']}, "
            f"{st['backtest']['window']} training window, refit every "
            f"{st['backtest']['refit_every']} fold(s); each fit starts from scratch (no warm "
            f"start) on rows up to its fold's first origin only.",
        ),
        Block("h2", "Headline (pooled over series and horizon steps)"),
        Block("table", "", *headline(metrics)),
        Block(
            "p",
            f"Base rate of up-moves: {fmt(up_rate, 3)} (the directional accuracy of always "
            f'saying "up"). The naive forecast predicts no move, so it has no directional '
            f"accuracy. Intervals: LSTM quantiles {lo:g}-{hi:g}; the naive row's interval is "
            f"the random walk with empirical quantiles of past changes.",
        ),
        Block("h2", "Diebold-Mariano test: LSTM vs random walk (squared error, HLN-corrected)"),
        Block("table", "", *_dm_table(metrics)),
        Block("h2", "Forecasts against actuals"),
        Block("image", "forecast", png=forecast_plot(forecasts, [lo, hi])),
        Block("h2", "Error by horizon step"),
        Block("image", "error_by_horizon", png=error_plot(metrics)),
        Block("table", "", *_by_horizon_table(metrics, "mae")),
        Block("p", "Relative MAE (MAE / random walk's MAE on the same points) by step:"),
        Block("table", "", *_by_horizon_table(metrics, "rel_mae")),
        Block("h2", "Direction and cumulative loss"),
        Block("image", "directional_hits", png=direction_plot(forecasts)),
        Block("image", "loss_differential", png=loss_plot(forecasts)),
    ]
    if n_series > 1:
        out += [Block("h2", "Per series"), Block("table", "", *_series_table(metrics))]
    out += [
        Block("h2", "Folds"),
        Block("table", "", *_fold_table(metrics)),
        Block("h2", "Settings (to repeat this run)"),
        Block("code", st.get("command") or ""),
        Block("code", json.dumps(clean(st), indent=2)),
    ]
    return [b for b in out if b.kind != "code" or b.text]


def to_markdown(doc: list[Block]) -> str:
    """Markdown, with each image as a PNG file beside it."""
    parts = []
    for b in doc:
        if b.kind == "h1":
            parts.append(f"# {b.text}")
        elif b.kind == "h2":
            parts.append(f"## {b.text}")
        elif b.kind == "p":
            parts.append(b.text)
        elif b.kind == "table":
            lines = ["| " + " | ".join(b.columns) + " |", "|" + "---|" * len(b.columns)]
            lines += ["| " + " | ".join(row) + " |" for row in b.rows]
            parts.append("\n".join(lines))
        elif b.kind == "image":
            parts.append(f"![{b.text}]({b.text}.png)")
        else:
            parts.append(f"```\n{b.text}\n```")
    return "\n\n".join(parts) + "\n"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    "pre{background:#f4f4f4;padding:1em;overflow-x:auto}"
)


def to_html(doc: list[Block]) -> str:
    """One self-contained page: styles inline, images as base64 data URIs."""

    def esc(text: str) -> str:
        return html.escape(text, quote=False)

    title = next(b.text for b in doc if b.kind == "h1")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"]
    parts.append(f"<style>{STYLE}</style></head><body>")
    for b in doc:
        if b.kind in ("h1", "h2", "p"):
            parts.append(f"<{b.kind}>{esc(b.text)}</{b.kind}>")
        elif b.kind == "table":
            head = "".join(f"<th>{esc(c)}</th>" for c in b.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in b.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "image":
            data = base64.b64encode(b.png).decode()
            parts.append(
                f'<p><img src="data:image/png;base64,{data}" alt="{html.escape(b.text)}"></p>'
            )
        else:
            parts.append(f"<pre>{esc(b.text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(folder: str | Path, metrics: dict, forecasts: pd.DataFrame) -> list[Path]:
    """Write every report file into `folder` (created if needed); returns their paths."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--report {folder}: cannot create the folder ({exc})") from None
    doc = blocks(metrics, forecasts)
    files: dict[str, str | bytes] = {
        "metrics.json": json.dumps(clean(metrics), indent=2, allow_nan=False) + "\n",
        "metrics.csv": _csv(metrics_frame(metrics)),
        "forecasts.csv": _csv(forecasts),
        **{f"{b.text}.png": b.png for b in doc if b.kind == "image"},
        "report.md": to_markdown(doc),
        "report.html": to_html(doc),
    }
    for name, data in files.items():
        atomic_write(folder / name, data)
    return [folder / name for name in files]


def _csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")  # full precision: exact round trip
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# terminal


def print_summary(metrics: dict, folder: str | Path) -> None:
    """The headline table and the verdict on stderr."""
    console = stderr_console()
    columns, rows = headline(metrics, TERMINAL, {})
    st = metrics["settings"]
    table = Table(
        title=f"Backtest: {st['backtest']['folds']} folds x {st['backtest']['step']} origins, "
        f"horizon 1-{st['train']['horizon']} (pooled)",
        title_justify="left",
    )
    table.add_column(columns[0], no_wrap=True)
    for col in columns[1:]:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(metrics["verdict"])
    console.print(f"report written to {folder}/report.html")


@contextmanager
def fold_progress(quiet: bool) -> Iterator[Callable | None]:
    """A per-fit backtest progress callback (see `render.progress_bar`)."""
    with progress_bar(quiet, "backtest fits") as bar:
        if bar is None:
            yield None
            return

        def update(fit, done: int, total: int) -> None:
            note = f"fold {fit.folds[0] + 1} fitted in {fit.seconds:.1f} s" if fit else ""
            bar(done, total, note)

        yield update
