"""Backtest reports: metrics.json, metrics.csv, plots, report.md and report.html.

(The forecasts files beside them are `outputs.backtest_sink`'s, written as the backtest runs.)

The report is built once as a list of blocks (headings, paragraphs, tables, images) and rendered
twice, to Markdown (plots beside it as PNG files) and to one self-contained HTML file (plots
embedded as base64 PNG; `plots` draws them). Every file is written atomically. The terminal
gets the headline table and the verdict on stderr.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from lstm_forecast import plots
from lstm_forecast.artifacts import atomic_write
from lstm_forecast.errors import ConfigError
from lstm_forecast.evaluation import MODEL, RANDOM_WALK
from lstm_forecast.formats import MODEL_LABELS, number
from lstm_forecast.render import stderr_console

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
    "crps",
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
    ("crps", "CRPS"),
    ("interval_score", "interval score"),
]
TERMINAL = ["mae", "rmse", "mase", "rel_mae", "directional_accuracy", "coverage"]  # 80 columns


@dataclass
class Block:
    """One piece of the report: kind is h1, h2, p, table, image or code."""

    kind: str
    text: str = ""
    columns: list[str] | None = None
    rows: list[list[str]] | None = None
    png: bytes = b""


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
    labels = MODEL_LABELS if labels is None else labels
    rows = [
        [labels.get(model, model), *(number(m.get(k)) for k, _ in cols)]
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
        [MODEL_LABELS.get(name, name), *(number(h.get(key)) for h in m["by_horizon"])]
        for name, m in metrics["models"].items()
    ]
    return ["model", *(f"h={h}" for h in steps)], rows


def _dm_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    rows = [
        [str(d["horizon"]), number(d["statistic"], 3), number(d["p_value"], 3), str(d["n"])]
        for d in metrics["dm_test"]["by_horizon"]
    ]
    return ["horizon", "DM statistic", "p-value", "n"], rows


def _interval_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Per model with quantiles: coverage and interval score of each central interval, the
    mean pinball loss and CRPS."""
    banded = {n: m for n, m in metrics["models"].items() if m.get("intervals")}
    levels = [i["level"] for i in next(iter(banded.values()))["intervals"]] if banded else []
    cols = ["model"]
    for level in levels:
        cols += [f"{level:.0%} cover", f"{level:.0%} int. score"]
    rows = []
    for name, m in banded.items():
        row = [MODEL_LABELS.get(name, name)]
        for i in m["intervals"]:
            row += [number(i["coverage"], 3), number(i["interval_score"])]
        rows.append([*row, number(m["pinball"]), number(m["crps"])])
    return [*cols, "pinball", "CRPS"], rows


def _pinball_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    banded = {n: m for n, m in metrics["models"].items() if m.get("pinball_by_quantile")}
    levels = list(next(iter(banded.values()))["pinball_by_quantile"]) if banded else []
    rows = [
        [MODEL_LABELS.get(n, n), *(number(m["pinball_by_quantile"].get(q)) for q in levels)]
        for n, m in banded.items()
    ]
    return ["model", *levels], rows


def _interval_dm_table(test: dict) -> tuple[list[str], list[list[str]]]:
    rows = [
        [
            str(d["horizon"]),
            number(d["ratio"], 4),
            number(d["coverage"], 3),
            number(d["baseline_coverage"], 3),
            number(d["statistic"], 3),
            number(d["p_value"], 3),
            str(d["n"]),
        ]
        for d in test["by_horizon"]
    ]
    name = MODEL_LABELS.get(test["baseline"], test["baseline"])
    cols = ["horizon", f"score / {name}'s", "LSTM cover", f"{name} cover", "DM", "p", "n"]
    return cols, rows


def _coverage_table(report: dict) -> tuple[list[str], list[list[str]]]:
    rows = [
        [
            "Kupiec" if t["test"] == "kupiec" else "Christoffersen (cc)",
            f"q{t['quantile'] * 100:g}",
            str(t["horizon"]),
            f"{t['violations']} / {t['n']}",
            number(t["violations"] / t["n"] if t["n"] else None, 3),
            number(t["expected_rate"], 3),
            number(t["statistic"], 3),
            number(t["p_value"], 3),
            number(t["holm_p_value"], 3),
        ]
        for t in report["tests"]
    ]
    cols = ["test", "quantile", "step", "violations", "rate", "expected", "LR", "p", "Holm p"]
    return cols, rows


def _interval_blocks(metrics: dict) -> list[Block]:
    """The intervals section: verdict, scores, the DM test against the strongest band and the
    coverage tests."""
    st, test = metrics["settings"], metrics.get("interval_test")
    vol = st.get("interval_baselines") or {}
    bands = ", ".join(MODEL_LABELS.get(m, m) for m in vol.get("models", [])) or "none"
    out = [
        Block("h2", "Intervals"),
        Block("p", metrics["interval_verdict"]),
        Block("table", "", *_interval_table(metrics)),
        Block(
            "p",
            f"Interval baselines: {bands}, refitted at every fit on that fit's training rows "
            f"only, for {len(vol.get('series', []))} of {vol.get('of_series', 0)} series (positive "
            f"series, at most {vol.get('max_series')} sampled by a hash of their names); the "
            f"random walk's band uses empirical quantiles of past changes. Recalibration "
            f"between refits: {'on' if st['backtest'].get('recalibrate') else 'off'}.",
        ),
        Block("p", "Pinball loss per quantile level:"),
        Block("table", "", *_pinball_table(metrics)),
    ]
    if test:
        name = MODEL_LABELS.get(test["baseline"], test["baseline"])
        out += [
            Block("p", f"Diebold-Mariano on the interval score, LSTM vs {name} (the strongest):"),
            Block("table", "", *_interval_dm_table(test)),
        ]
    own = metrics["coverage_tests"].get(MODEL)
    if own:
        verdicts = ", ".join(
            f"{MODEL_LABELS.get(n, n)} {'pass' if r['pass'] else 'FAIL'}"
            for n, r in metrics["coverage_tests"].items()
        )
        out += [
            Block("h2", "Coverage tests (LSTM)"),
            Block(
                "p",
                "Kupiec's proportion of failures per tail quantile and step (on every h-th "
                "origin, so that outcomes do not overlap), Christoffersen's conditional coverage "
                f"at step 1; Holm's correction over the family at 5%. Every band: {verdicts}.",
            ),
            Block("table", "", *_coverage_table(own)),
        ]
    return out


def _series_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for name, s in metrics["series"].items():
        lstm, dm = s["models"][MODEL], s["dm_test"]
        rows.append(
            [
                name,
                number(lstm["mae"]),
                number(s["models"][RANDOM_WALK]["mae"]),
                number(lstm["rel_mae"], 3),
                number(lstm["directional_accuracy"], 3),
                number(lstm["up_rate"], 3),
                number(dm["statistic"], 3),
                number(dm["p_value"], 3),
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
            number(f["refit"]),
            f"{f['epochs_run']} ({f['best_epoch']})",
            number(f["fit_seconds"], 3),
        ]
        for f in metrics["folds"]
    ]
    return cols, rows


# ---------------------------------------------------------------------------------------------
# the document


def blocks(metrics: dict, forecasts: pd.DataFrame) -> list[Block]:
    """The report, top to bottom."""
    st = metrics["settings"]
    lo, hi = st["interval"]
    n_series = st["interval_baselines"]["of_series"]
    shown = forecasts["series"].nunique()
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
            f"Base rate of up-moves: {number(up_rate, 3)} (the directional accuracy of always "
            f'saying "up"). The naive forecast predicts no move, so it has no directional '
            f"accuracy. Intervals: LSTM quantiles {lo:g}-{hi:g}; the naive row's interval is "
            f"the random walk with empirical quantiles of past changes.",
        ),
        Block("h2", "Diebold-Mariano test: LSTM vs random walk (squared error, HLN-corrected)"),
        Block("table", "", *_dm_table(metrics)),
        *_interval_blocks(metrics),
        Block("h2", "Forecasts against actuals"),
        *(
            [Block("p", f"The plots show a fixed sample of {shown} of the {n_series} series.")]
            if shown < n_series
            else []
        ),
        Block("image", "forecast", png=plots.forecast_plot(forecasts, [lo, hi])),
        Block("h2", "Error by horizon step"),
        Block("image", "error_by_horizon", png=plots.error_plot(metrics)),
        Block("table", "", *_by_horizon_table(metrics, "mae")),
        Block("p", "Relative MAE (MAE / random walk's MAE on the same points) by step:"),
        Block("table", "", *_by_horizon_table(metrics, "rel_mae")),
        Block("h2", "Direction and cumulative loss"),
        Block("image", "directional_hits", png=plots.direction_plot(forecasts)),
        Block("image", "loss_differential", png=plots.loss_plot(forecasts)),
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
    """Write the metrics and the document into `folder` (created if needed), the plots drawn
    from `forecasts`; returns their paths. The forecasts files are `outputs.backtest_sink`'s."""
    files: dict[str, str | bytes] = {
        "metrics.json": json.dumps(clean(metrics), indent=2, allow_nan=False) + "\n",
        "metrics.csv": csv_text(metrics_frame(metrics)),
    }
    return write_files(folder, files, blocks(metrics, forecasts))


def make_folder(folder: str | Path) -> Path:
    """The report folder, created if needed (before the work, so a bad path fails at once)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--report {folder}: cannot create the folder ({exc})") from None
    return folder


def write_files(folder: str | Path, files: dict[str, str | bytes], doc: list[Block]) -> list[Path]:
    """Write `files` and the document (report.md with its PNGs, report.html) atomically."""
    folder = make_folder(folder)
    files = {
        **files,
        **{f"{b.text}.png": b.png for b in doc if b.kind == "image"},
        "report.md": to_markdown(doc),
        "report.html": to_html(doc),
    }
    for name, data in files.items():
        atomic_write(folder / name, data)
    return [folder / name for name in files]


def csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")  # full precision: exact round trip
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# terminal


def terminal_table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    """A table for the terminal: names on the left, figures right-aligned."""
    table = Table(title=title, title_justify="left")
    table.add_column(columns[0], no_wrap=True)
    for col in columns[1:]:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def print_summary(metrics: dict, folder: str | Path) -> None:
    """The headline table and the verdict on stderr."""
    console = stderr_console()
    columns, rows = headline(metrics, TERMINAL, {})
    st = metrics["settings"]
    title = (
        f"Backtest: {st['backtest']['folds']} folds x {st['backtest']['step']} origins, "
        f"horizon 1-{st['train']['horizon']} (pooled)"
    )
    console.print(terminal_table(title, columns, rows))
    console.print(metrics["verdict"])
    console.print(metrics["interval_verdict"])
    console.print(f"report written to {folder}/report.html")
