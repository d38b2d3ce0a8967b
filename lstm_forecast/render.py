"""Terminal and file output: progress, summary tables on stderr, data on stdout or a file.

Data goes to stdout (or an atomically written file); everything meant for people goes to
stderr, with colour and live progress only on a terminal (rich honours NO_COLOR).
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from lstm_forecast.artifacts import atomic_file, atomic_write
from lstm_forecast.errors import OutputClosed
from lstm_forecast.formats import number

if TYPE_CHECKING:
    from lstm_forecast.backtest import Fit
    from lstm_forecast.training import Progress as Epoch

BLOCK = 1 << 16


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def _epoch_step(p: Epoch) -> tuple[int, int | None, str]:
    return (
        p.epoch,
        p.epochs,
        f"train {p.train_loss:.4f}  val {p.val_loss:.4f}  best @{p.best_epoch}",
    )


def _fit_step(fit: Fit | None, done: int, total: int) -> tuple[int, int | None, str]:
    note = f"fold {fit.folds[0] + 1} fitted in {fit.seconds:.1f} s" if fit else ""
    return done, total, note


def _counted(done: int, total: int | None, note: str) -> tuple[int, int | None, str]:
    return done, total, note


# Progress bar label -> the api's progress callback arguments as (done, total, note).
STEPS: dict[str, Callable[..., tuple[int, int | None, str]]] = {
    "epoch": _epoch_step,  # api.train and api.update: one call per epoch
    "backtest fits": _fit_step,  # api.backtest: one call per fitted fold
    "trials": _counted,  # api.tune: finished trials of the study, after each trial
    "convert": _counted,  # api.convert: rows read, then files written
    "groups": _counted,  # api.predict_groups: groups of series forecast
}


@contextmanager
def progress(quiet: bool, label: str) -> Iterator[Callable[..., None] | None]:
    """The progress callback for an api call: a transient rich bar on a TTY; None elsewhere.

    `label` names the bar and, through STEPS, how the call reports its steps.
    """
    console = stderr_console()
    if quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    step = STEPS[label]
    bar = Progress(
        TextColumn(label),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=True,
    )
    task = bar.add_task(label, total=None, note="")

    def update(*args: object) -> None:
        done, total, note = step(*args)
        bar.update(task, completed=done, total=total, note=note)

    with bar:
        yield update


def evaluation_table(evaluation: dict, title: str) -> Table:
    """Model beside baselines per horizon step: MAE, RMSE, MASE, direction, coverage and
    interval score of the interval (where a model has one)."""
    lo, hi = evaluation["interval"]
    table = Table(title=title, title_justify="left")
    cols = ("model", "h", "MAE", "RMSE", "MASE", "dir. acc.", f"cover {lo:g}-{hi:g}", "int. score")
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in evaluation["models"].items():
        cover, score = m.get("coverage"), m.get("interval_score")
        for i, h in enumerate(evaluation["horizon"]):
            table.add_row(
                name if i == 0 else "",
                str(h),
                number(m["mae"][i]),
                number(m["rmse"][i]),
                number(m["mase"][i], 3),
                number(m["directional_accuracy"][i], 3),
                number(cover[i], 3) if cover else "",
                number(score[i]) if score else "",
            )
        table.add_section()
    return table


def verdict_line(evaluation: dict) -> str:
    """Plain sentences: does the model beat tomorrow = today (and the trend) on the tail?"""
    shrink = evaluation.get("shrink", [1.0])
    models = evaluation["models"]
    if evaluation["beats_naive"]:
        text = "The model beats the naive forecast (tomorrow = today) on the validation tail"
        lstm, drift = np.mean(models["lstm"]["mase"]), np.mean(models["drift"]["mase"])
        if lstm >= 0.995 * drift:
            return text + ", but not the drift forecast (the trend alone): little skill beyond it."
        return text + "."
    note = (
        (f" Its median was shrunk towards the naive forecast (factor {min(shrink):.2f}).")
        if min(shrink) < 1
        else ""
    )
    return (
        "The model does NOT beat the naive forecast (tomorrow = today) on the validation "
        "tail: treat its point forecasts as no better than the last value." + note
    )


def _print_verdicts(console: Console, evaluation: dict) -> None:
    """The point verdict, then the interval verdict (models made before it have none)."""
    console.print(verdict_line(evaluation))
    if "interval_verdict" in evaluation:
        console.print(evaluation["interval_verdict"])


def print_training_summary(meta: dict, model_path: str) -> None:
    console = stderr_console()
    ev, tr = meta["evaluation"], meta["training"]
    console.print(
        evaluation_table(
            ev,
            f"Validation tail ({ev['origins']} origins, never trained on; scores cross-fitted: "
            f"each half calibrated on the other)",
        )
    )
    _print_verdicts(console, ev)
    outcome = (
        f"new model discarded, {model_path} unchanged"
        if meta.get("kept") == "old"
        else f"model written to {model_path}"
    )
    console.print(
        f"trained {tr['epochs_run']} epochs (best {tr['best_epoch']}) in "
        f"{tr['seconds']:.1f} s, {tr['windows_per_s']:,.0f} windows/s on "
        f"{tr['device']}; {outcome}"
    )


def write_table(frame: pd.DataFrame, output: Path | None, fmt: str) -> None:
    """CSV or JSON records to stdout, or atomically to `output`."""
    if fmt == "json":
        text = json.dumps(json.loads(frame.to_json(orient="records", double_precision=10)))
        text += "\n"
    else:
        text = _csv(frame)
    if output is None:
        emit(text)
    else:
        atomic_write(output, text)


def write_tables(frames: Iterable[pd.DataFrame], output: Path | None, fmt: str) -> int:
    """Frames of one table to stdout, or atomically to `output`: CSV as each frame comes (the
    header once), JSON as one array at the end; rows written."""
    if fmt == "json":
        frame = joined(frames)
        write_table(frame, output, fmt)
        return len(frame)
    rows = 0
    with ExitStack() as stack:
        sink = stack.enter_context(atomic_file(output)) if output is not None else None
        for i, frame in enumerate(frames):
            text = _csv(frame, header=i == 0)
            if sink is None:
                emit(text)
            else:
                sink.write(text.encode())
            rows += len(frame)
    return rows


def _csv(frame: pd.DataFrame, header: bool = True) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=header, float_format="%.10g", lineterminator="\n")
    return buf.getvalue()


def joined(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The frames of one table as one frame."""
    return pd.concat(list(frames), ignore_index=True)


def emit(text: str) -> None:
    """Data to stdout. A reader that went away (`| head`) is OutputClosed (exit 141).

    Written in blocks straight to the file descriptor: one huge buffered write to a pipe whose
    reader has gone can end short without any error, silently dropping the rest.
    """
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (a notebook, a test capture)
        sys.stdout.write(text)
        return
    data = memoryview(text.encode())
    try:
        while data:
            data = data[os.write(fd, data[:BLOCK]) :]
    except BrokenPipeError:
        raise OutputClosed from None


@contextmanager
def stdout_console() -> Iterator[Console]:
    """A console for human-readable output on stdout, emitted at the end of the block."""
    console = Console(highlight=False, soft_wrap=True)
    with console.capture() as captured:
        yield console
    emit(captured.get())


def print_inspection(found: dict, as_json: bool) -> None:
    """`inspect`'s output: one JSON object, or key lines, a series table, notes and warnings."""
    if as_json:
        emit(json.dumps(found, indent=2, default=str) + "\n")
        return
    with stdout_console() as console:  # soft wrap: notes and warnings stay one line each
        _inspection(console, found)


def _inspection(console: Console, found: dict) -> None:
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=True, width=160)  # piped: nothing cut
    shown = (
        "source",
        "format",
        "database",
        "table",
        "query",
        "rows",
        "columns",
        "compression",
        "encoding",
        "delimiter",
        "decimal",
        "date_column",
        "date_format",
        "timezone",
        "series_column",
        "layout",
        "target",
        "features",
        "frequency",
    )
    for key in shown:
        value = found.get(key)
        if key in ("delimiter", "decimal") and value is not None:
            value = repr(value)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if value not in (None, [], "") or (
            key in found and key in ("compression", "date_column", "frequency")
        ):
            console.print(f"{key:13} {value}")
    for line in calendar_lines(found.get("calendar")):
        console.print(line)
    extra = any(s.get("filled") or s.get("gaps") for s in found["series"])
    table = Table("series", "rows", "start", "end", "first", "last")
    if extra:
        table.add_column("filled", justify="right")
        table.add_column("gaps", justify="right")
    for col in table.columns:
        col.overflow = "fold"  # wrap rather than cut a value short
    for col in table.columns[2:4]:
        width = max(len(str(s[col.header])) for s in found["series"])
        col.min_width, col.no_wrap = max(width, len(str(col.header))), True
    for s in found["series"]:
        cells = [
            s["name"],
            str(s["rows"]),
            str(s["start"]),
            str(s["end"]),
            number(s["first"], 8),
            number(s["last"], 8),
        ]
        table.add_row(*cells, *([str(s["filled"]), str(len(s["gaps"]))] if extra else []))
    console.print(table)
    for line in found["notes"]:
        console.print(f"note: {line}")
    for line in found["warnings"]:
        console.print(f"warning: {line}")


def calendar_lines(cal: dict | None) -> list[str]:
    """inspect's trading calendar: the code, how it was chosen and why, and the evidence."""
    if cal is None:
        return []
    lines = [f"{'calendar':13} {cal['code']}, {cal['chosen']}: {cal['reason']}"]
    if "sessions" in cal:
        span = cal["sessions"]
        lines.append(
            f"{'sessions':13} {span['from']} to {span['to']} "
            f"(exchange_calendars {span['exchange_calendars']})"
        )
    labels = {"holidays_with_rows": "rows on closed days", "missing_sessions": "missing sessions"}
    for key, label in labels.items():
        if key in cal:
            found = cal[key]
            more = ", ..." if found["count"] > len(found["dates"]) else ""
            dates = f": {', '.join(found['dates'])}{more}" if found["dates"] else ""
            lines.append(f"{'':13} {label} {found['count']}{dates}")
    if "clock" in cal:
        lines.append(f"{'clock':13} {cal['clock']}")
    return lines


def print_info(found: dict, as_json: bool) -> None:
    """A model's description: JSON on stdout, or a readable summary."""
    if as_json:
        emit(json.dumps(found, indent=2, default=str) + "\n")
        return
    with stdout_console() as console:
        _info(console, found)


def _info(console: Console, found: dict) -> None:
    cfg, tr = found["config"], found["training"]
    console.print(
        f"model        {found['path']} (format {found['format_version']}, "
        f"lstm-forecast {found['package_version']}, torch {found['torch_version']})"
    )
    console.print(
        f"created      {found['created']} from {found['source']['path']} "
        f"(data hash {found['data_hash']})"
    )
    console.print(
        f"target       {found['target']} ({found['transform']}), frequency "
        f"{found['frequency']}, features {found['features'] or 'none'}"
    )
    if found["calendar"]:
        cal, span = found["calendar"], found["calendar"]["sessions"]
        stored = f", sessions {span['from']} to {span['to']} stored" if span else ""
        console.print(f"calendar     {cal['code']}{stored}")
    console.print(
        f"network      lookback {cfg['lookback']}, horizon {cfg['horizon']}, "
        f"{cfg['layers']}x{cfg['hidden']} LSTM, {found['parameters']:,} parameters, "
        f"quantiles {cfg['quantiles']}"
    )
    console.print(
        f"training     {tr['epochs_run']} epochs (best {tr['best_epoch']}), "
        f"{tr['seconds']} s, {tr['windows_per_s']} windows/s on {tr['device']}"
    )
    table = Table("series", "rows", "trained rows", "first", "last")
    for s in found["series"]:
        table.add_row(
            s["name"], str(s["rows"]), str(s["n_train"]), str(s["first"])[:19], str(s["last"])[:19]
        )
    console.print(table)
    console.print(evaluation_table(found["evaluation"], "Validation tail"))
    _print_verdicts(console, found["evaluation"])
