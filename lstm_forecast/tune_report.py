"""The tuning report: tune.json, trials.csv, plots, report.md and report.html (every file
written atomically, with the backtest report's machinery), and the summary on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lstm_forecast import plots
from lstm_forecast.formats import MODEL_LABELS, number
from lstm_forecast.render import stderr_console
from lstm_forecast.report import Block, clean, csv_text, headline, terminal_table, write_files
from lstm_forecast.tuning import DEFAULTS, TUNED

LABELS = {**MODEL_LABELS, TUNED: "LSTM (tuned)", DEFAULTS: "LSTM (defaults)"}
TERMINAL = ["mae", "rmse", "mase", "rel_mae", "coverage"]


def holdout_table(summary: dict, keys: list[str] | None = None) -> tuple[list[str], list[list]]:
    """Every model on the untouched stretch, with its scaled CRPS where it has quantiles."""
    h = summary["holdout"]
    columns, rows = headline({"models": h["models"], "settings": h}, keys, LABELS)
    for row, name in zip(rows, h["models"], strict=True):
        row.append(number(h["scaled_crps"].get(name)))
    return [*columns, "scaled CRPS"], rows


def _stretch(summary: dict) -> str:
    h = summary["holdout"]
    parts = [
        f"{s['series']}: {s['first_origin']} .. {s['last_origin']} (fitted on {s['train_rows']} "
        f"rows up to {s['train_end']})"
        for s in h["stretch"]
    ]
    return (
        f"The last {h['origins_per_series']} origins of each series, never seen by the search: "
        f"the tuned and the default settings each fitted once on the rows before the stretch, "
        f"forecasting every origin of it without refit; the baselines from the same origins. "
        + "; ".join(parts)
        + "."
    )


def _trials_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    names = sorted({k for r in summary["table"] for k in r["params"]})
    columns = ["trial", "state", "score", "rel. MAE", "s", *names, "reason"]
    rows = [
        [
            str(r["number"]),
            r["state"],
            number(r["value"] if r["value"] is not None else r["last_fold_mean"]),
            number(r["rel_mae"], 3),
            number(r["seconds"], 3),
            *(number(r["params"].get(n)) for n in names),
            r["error"] or "",
        ]
        for r in summary["table"]
    ]
    return columns, rows


def blocks(summary: dict) -> list[Block]:
    """The report, top to bottom."""
    h, best = summary["holdout"], summary["best"]
    doc = [
        Block("h1", f"Tuning: {summary['settings']['data']}"),
        Block("h2", "The untouched stretch"),
        Block("p", _stretch(summary)),
        Block("table", "", *holdout_table(summary)),
        Block("p", h["versus_defaults"]["text"]),
        Block("p", h["verdict"]),
        Block("p", summary["optimism"]),
        Block("h2", "Score against trial number"),
        Block("image", "trials", png=plots.trials_plot(summary["table"])),
        Block("h2", "Parameter importances (PED-ANOVA)"),
    ]
    if summary["importances"]:
        imp = summary["importances"]
        rows = [[k, number(v, 3)] for k, v in imp.items()]
        doc += [
            Block("table", "", ["parameter", "importance"], rows),
            Block("image", "importances", png=plots.importance_plot(imp)),
        ]
    else:
        doc.append(Block("p", "Too few complete trials to tell which settings mattered."))
    doc += [
        Block("h2", f"Best settings (trial {best['trial']})"),
        Block("code", json.dumps(clean(best["config"]), indent=2)),
        Block("p", f"Written to {summary['files']['settings']} (for train --config)."),
        Block("h2", "Trials"),
        Block("table", "", *_trials_rows(summary)),
        Block("h2", "Settings"),
        Block("code", json.dumps(clean(summary["settings"]), indent=2)),
    ]
    return doc


def write(folder: str | Path, summary: dict) -> list[Path]:
    """Write the report files into `folder` (created if needed); returns their paths."""
    rows = [
        {**{k: v for k, v in r.items() if k != "params"}, **r["params"]} for r in summary["table"]
    ]
    files = {
        "tune.json": json.dumps(clean(summary), indent=2, allow_nan=False) + "\n",
        "trials.csv": csv_text(pd.DataFrame(rows)),
    }
    return write_files(folder, files, blocks(summary))


def print_summary(summary: dict, report: Path | None) -> None:
    """The untouched stretch's table, the verdicts and the files, on stderr."""
    console = stderr_console()
    columns, rows = holdout_table(summary, TERMINAL)
    h = summary["holdout"]
    title = (
        f"Untouched stretch: {h['origins_per_series']} origins per series, never seen by "
        "the search (pooled)"
    )
    console.print(terminal_table(title, columns, rows))
    for text in (h["versus_defaults"]["text"], h["verdict"], summary["optimism"]):
        console.print(text)
    failed = [r for r in summary["table"] if r["state"] == "fail"]
    if failed:
        console.print(
            f"{len(failed)} trial(s) failed (not counted); trial {failed[0]['number']}: "
            f"{failed[0]['error']}"
        )
    files = summary["files"]
    if summary["written"]:
        console.print(f"settings written to {files['settings']}, model written to {files['model']}")
    else:
        console.print(
            f"{files['model']} and {files['settings']} already hold trial "
            f"{summary['best']['trial']}'s settings; nothing rewritten"
        )
    if report is not None:
        console.print(f"report written to {report}/report.html")
