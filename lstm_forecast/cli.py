"""The command-line interface: the commands and their options; each parses, calls `api`, renders.

Importing this module must stay cheap: torch, pandas and numpy are imported inside commands,
so `--help` and `--version` start fast. The process around a command (global flags, config
file, signals, exit codes, the run record) is `process`; every user-facing failure is a
ForecastError that it turns into one line on stderr and an exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import Enum, StrEnum
from inspect import Parameter, signature
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from lstm_forecast import __version__, process
from lstm_forecast.process import GLOBAL_HELP, say
from lstm_forecast.settings import TrainConfig

if TYPE_CHECKING:
    from lstm_forecast.training import TrainResult

R = TypeVar("R")

app = typer.Typer(
    name="lstm-forecast",
    help="Forecast prices and numeric sequences with LSTM networks, set beside naive baselines.",
    epilog=GLOBAL_HELP,
    no_args_is_help=True,
    add_help_option=False,  # _root declares it, with a default, so it costs nothing unused
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Format(StrEnum):
    csv = "csv"
    json = "json"


class Engine(StrEnum):
    auto = "auto"
    numpy = "numpy"
    torch = "torch"


# Options shared by every command that reads data.
Data = Annotated[
    str | None,
    typer.Argument(
        help="CSV or Parquet file, or folder of Parquet files ('-' for stdin); or a database "
        "URL (postgresql://user@host/db, sqlite:///file.db, duckdb:///file.duckdb) with "
        "--table or --query; omitted with --table or --query: LSTM_FORECAST_DATABASE_URL.",
        show_default=False,
    ),
]
Table = Annotated[
    str | None,
    typer.Option(
        help="Read this table (or schema.table) of the database DATA.", show_default=False
    ),
]
Query = Annotated[
    str | None,
    typer.Option(help="Read the rows of this SELECT (run read-only) from the database DATA."),
]
ConnectTimeout = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        help="Seconds to wait for a database server (then exit 75).",
        min=0,
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (atomically; Parquet for a .parquet name) instead of stdout, "
        "or into a table of this database URL.",
        show_default=False,
    ),
]


def _output_table(default: str) -> object:
    """The --output-table option, naming its default (the option itself defaults to None)."""
    return Annotated[
        str | None,
        typer.Option(
            "--output-table",
            help=f"Table (or schema.table) of the --output database (without --output: of "
            f"LSTM_FORECAST_DATABASE_URL's) [default: {default}].",
            show_default=False,
        ),
    ]


Target = Annotated[
    str | None,
    typer.Option(
        help="Target column (default: adjusted close, else close, else the only numeric column)."
    ),
]
DateCol = Annotated[
    str | None, typer.Option("--date-col", help="Date column (default: found by name or content).")
]
DateFormat = Annotated[
    str | None, typer.Option("--date-format", help="strftime format of the dates, e.g. %d-%m-%y.")
]
DayFirst = Annotated[
    bool | None,
    typer.Option(
        "--dayfirst/--monthfirst",
        help="Read ambiguous dates as D/M/Y or M/D/Y.",
        show_default=False,
    ),
]
SeriesCol = Annotated[
    str | None, typer.Option("--series-col", help="Ticker column of a long multi-series file.")
]
SeriesSel = Annotated[
    str | None, typer.Option("--series", help="Comma-separated series to use (default: all).")
]
MaxGap = Annotated[
    int,
    typer.Option(
        "--max-gap", help="Forward-fill at most this many missing values in a row.", min=0
    ),
]
Exchange = Annotated[
    str,
    typer.Option(
        help="Trading calendar for forecast dates and gap checks: an exchange's ISO 10383 MIC "
        "(XNYS, XNAS, XETR, XLON, XPAR, XWAR, XTKS, ...), weekdays, daily, none (the data's "
        "own steps) or auto (the exchange whose holidays the data skips). predict and update "
        "follow the model's.",
        envvar="LSTM_FORECAST_EXCHANGE",
    ),
]
ModelPath = Annotated[Path, typer.Option("--model", "-m", help="Model file.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]
Wait = Annotated[
    float,
    typer.Option(
        help="Seconds to wait for another run's lock on the model (default: fail at once, "
        "exit 75).",
        min=0,
    ),
]
KeepBetter = Annotated[
    bool,
    typer.Option(
        help="Replace an existing model only if the new one does at least as well on "
        "the same validation tail."
    ),
]
PrintConfig = Annotated[
    bool, typer.Option("--print-config", help="Print the resolved settings as TOML and exit.")
]
RECALIBRATE = False  # measured: see README, "How it forecasts"
Recalibrate = Annotated[
    bool,
    typer.Option(
        "--recalibrate/--no-recalibrate",
        help="Adapt the intervals online to the misses of the origins after the model's "
        "training cutoff (the median is left as it is).",
    ),
]
DeviceOpt = Annotated[Device, typer.Option(help="Where to train.", envvar="LSTM_FORECAST_DEVICE")]
Threads = Annotated[
    int | None,
    typer.Option(help="CPU threads for torch.", envvar="LSTM_FORECAST_THREADS", min=1),
]


# Options that were renamed: the old name is a usage error saying what to use instead.
RENAMED = {
    "calendar": "--calendar was renamed to --date-features; for trading calendars use --exchange"
}

# Options of every command that trains: one per TrainConfig field, with its default.
TRAIN_OPTIONS: dict[str, tuple[type, str]] = {
    "features": (str | None, "Comma-separated covariate columns, e.g. Open,High,Low,Volume."),
    "date_features": (bool, "Add day-of-week and month inputs."),
    "lookback": (int, "Rows of history per window."),
    "horizon": (int, "Steps ahead to forecast."),
    "hidden": (int, "LSTM units per layer."),
    "layers": (int, "LSTM layers."),
    "dropout": (float, "Dropout rate."),
    "epochs": (int, "Most epochs to train."),
    "patience": (int, "Stop after this many epochs without a better validation loss."),
    "val_size": (float, "Validation tail: fraction of rows, or a row count."),
    "batch_size": (int, "Segments per optimiser step."),
    "chunk": (int, "Training windows per segment."),
    "steps_per_epoch": (
        int | None,
        "Optimiser steps per epoch at most, drawn across all series (default: every segment).",
    ),
    "val_origins": (
        int,
        "Validation origins scored at most: beyond it, a seeded sample of whole series.",
    ),
    "lr": (float, "Peak learning rate (cosine schedule)."),
    "weight_decay": (float, "AdamW weight decay."),
    "seed": (int, "Random seed."),
    "transform": (str, "auto, log-return, diff or none."),
    "quantiles": (str, "Comma-separated quantiles."),
}


def _parameters(group: dict[str, tuple[object, object]]) -> list[Parameter]:
    """Keyword-only parameters {name: (annotation, default)} to add to commands."""
    return [
        Parameter(name, Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in group.items()
    ]


def _train_defaults() -> dict[str, tuple[object, object]]:
    defaults = TrainConfig()
    group = {}
    for name, (kind, text) in TRAIN_OPTIONS.items():
        default = getattr(defaults, name)
        if isinstance(default, list):
            default = ",".join(map(str, default)) or None
        group[name] = (Annotated[kind, typer.Option(help=text)], default)
    return group


# Options of every command that reads data: each is the LoadOptions field of the same name.
LOAD_PARAMETERS = _parameters(
    {
        "target": (Target, None),
        "date_col": (DateCol, None),
        "date_format": (DateFormat, None),
        "dayfirst": (DayFirst, None),
        "series_col": (SeriesCol, None),
        "max_gap": (MaxGap, 5),
        "exchange": (Exchange, "auto"),
    }
)
TRAIN_PARAMETERS = _parameters(_train_defaults())
# Options of every command that reads data, for a database DATA.
SOURCE_PARAMETERS = _parameters(
    {"table": (Table, None), "query": (Query, None), "connect_timeout": (ConnectTimeout, 10.0)}
)


def with_options(*groups: list[Parameter]):
    """Give a command that takes `**opts` these shared options (typer reads __signature__)."""

    def decorate(command):
        sig = signature(command, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not Parameter.VAR_KEYWORD]
        added = [p for group in groups for p in group]
        command.__signature__ = sig.replace(parameters=[*own, *added])
        return command

    return decorate


def _train_config(settings: dict) -> TrainConfig:
    """A TrainConfig from the training options (the list options arrive as text)."""
    from lstm_forecast.settings import parse_list, parse_quantiles

    return TrainConfig.from_dict(
        {
            **settings,
            "quantiles": parse_quantiles(settings["quantiles"]),
            "features": parse_list(settings["features"]),
        }
    )


def _load_options(opts: dict, series: str | None = None):
    """LoadOptions from the shared data options (and a --series selection, where it applies)."""
    from lstm_forecast.loading import LoadOptions
    from lstm_forecast.settings import parse_list

    fields = ("target", "date_col", "date_format", "dayfirst", "series_col", "max_gap", "exchange")
    return LoadOptions(**{k: opts[k] for k in fields}, series=parse_list(series) or None)


def _data(data: str | None, opts: dict, wait: float = 0.0):
    """DATA as the api reads it: a path, or a database table or query (--table, --query)."""
    table, query = opts["table"], opts["query"]
    if data is not None and "://" not in data and table is None and query is None:
        return data  # a file: nothing more to import
    from lstm_forecast.db_url import is_url

    if data is not None and not is_url(data):
        if table is not None or query is not None:
            from lstm_forecast.errors import ConfigError

            raise ConfigError(f"--table and --query read a database: {data} is not a database URL")
        return data
    if data is None and table is None and query is None:
        import click

        raise click.UsageError("Missing argument 'DATA'.", ctx=click.get_current_context())
    from lstm_forecast.db_url import Database, database_url
    from lstm_forecast.sql_source import Source

    return Source(Database(database_url(data), opts["connect_timeout"], wait), table, query)


def _output(output: str | None, table: str | None, default: str, opts: dict, wait: float, **kw):
    """Where --output and --output-table send the rows (checked before any work)."""
    from lstm_forecast import outputs

    return outputs.output_for(
        output, table, default, connect_timeout=opts["connect_timeout"], wait=wait, **kw
    )


def _version(value: bool) -> None:
    if value:
        print(f"lstm-forecast {__version__}")
        raise typer.Exit()


def _help(ctx: typer.Context, value: bool) -> None:
    if value:
        print(ctx.get_help())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    show_help: Annotated[
        bool,
        typer.Option(
            "--help",
            "-h",
            callback=_help,
            is_eager=True,
            expose_value=False,
            help="Show this message and exit.",
        ),
    ] = False,
) -> None:
    """Forecast prices and numeric sequences with LSTM networks, set beside naive baselines.

    Exit codes: 0 ok, 1 bad data, model or settings, 2 usage, 70 internal error, 75 busy (model
    locked by another run), 130 Ctrl-C, 141 output pipe closed, 143 SIGTERM.
    """


@app.command(
    epilog="Example: lstm-forecast train prices.csv --target Close --model aapl.lstm --epochs 20"
)
@with_options(LOAD_PARAMETERS, SOURCE_PARAMETERS, TRAIN_PARAMETERS)
def train(
    model: ModelPath,
    data: Data = None,
    series: SeriesSel = None,
    device: DeviceOpt = Device.auto,
    threads: Threads = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the checkpoint beside the model.")
    ] = False,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            help="Also write the checkpoint every this many optimiser steps, so a lost process "
            "or node costs at most that much work (--resume continues from it).",
            min=1,
        ),
    ] = None,
    keep_better: KeepBetter = False,
    wait: Wait = 0.0,
    nproc: Annotated[
        int, typer.Option(help="Train with this many processes on this machine (torchrun).", min=1)
    ] = 1,
    interval_baselines: Annotated[
        bool,
        typer.Option(
            "--interval-baselines",
            help="Set GARCH(1,1)-t and EWMA bands beside the model's intervals in the "
            "validation table (imports arch: about 2 s more).",
        ),
    ] = False,
    quiet: Quiet = False,
    print_config: PrintConfig = False,
    **opts: object,
) -> dict | None:
    """Train an LSTM on a CSV, Parquet or database table and write the model file (atomically)."""
    if print_config:
        _print_config({**locals(), **opts})
        return None
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from lstm_forecast.distributed import launch

        raise typer.Exit(launch(nproc, sys.argv[1:]))
    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun rank 0 alone reports
    from lstm_forecast import api

    config, options = _train_config(opts), _load_options(opts, series)
    source = _data(data, opts, wait)
    return _fit_run(
        "epoch",
        lambda progress: api.train(
            source,
            model,
            config,
            options,
            device=device.value,
            threads=threads,
            progress=progress,
            resume=resume,
            keep_better=keep_better,
            wait=wait,
            notify=None if quiet else say,
            interval_baselines=interval_baselines,
            checkpoint_every=checkpoint_every,
        ),
        lambda result: _trained(result, model, quiet),
        quiet,
    )


@app.command(epilog="Example (weekly cron): lstm-forecast update prices.csv --model aapl.lstm")
@with_options(LOAD_PARAMETERS, SOURCE_PARAMETERS)
def update(
    model: ModelPath,
    data: Data = None,
    epochs: Annotated[int, typer.Option(help="Epochs of fine-tuning.")] = 5,
    lr_scale: Annotated[
        float, typer.Option(help="Learning rate as a fraction of the original one.")
    ] = 0.1,
    device: DeviceOpt = Device.auto,
    threads: Threads = None,
    keep_better: KeepBetter = False,
    wait: Wait = 0.0,
    quiet: Quiet = False,
    print_config: PrintConfig = False,
    **opts: object,
) -> dict | None:
    """Fine-tune a model on data newer than its training cutoff (same transforms, warm start)."""
    if print_config:
        _print_config({**locals(), **opts})
        return None
    from lstm_forecast import api

    options, source = _load_options(opts), _data(data, opts, wait)
    return _fit_run(
        "epoch",
        lambda progress: api.update(
            source,
            model,
            epochs=epochs,
            lr_scale=lr_scale,
            options=options,
            device=device.value,
            threads=threads,
            progress=progress,
            keep_better=keep_better,
            wait=wait,
            notify=None if quiet else say,
        ),
        lambda result: _trained(result, model, quiet),
        quiet,
    )


@app.command(epilog="Example: lstm-forecast info aapl.lstm --json")
def info(
    model: Annotated[Path, typer.Argument(help="Model file.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Show what a model is: its data, settings, validation metrics and training figures."""
    from lstm_forecast import api, render

    render.print_info(api.info(model), as_json)


@app.command(epilog="Example: lstm-forecast predict prices.csv --model aapl.lstm > forecast.csv")
@with_options(LOAD_PARAMETERS, SOURCE_PARAMETERS)
def predict(
    model: ModelPath,
    data: Data = None,
    output: Output = None,
    output_table: _output_table("forecasts") = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.csv,
    since: Annotated[
        str | None,
        typer.Option(
            help="Forecast from every origin on or after this date (row number for sequences)."
        ),
    ] = None,
    series: SeriesSel = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="numpy (no torch import) or torch; auto picks numpy.",
            envvar="LSTM_FORECAST_ENGINE",
        ),
    ] = Engine.auto,
    recalibrate: Recalibrate = RECALIBRATE,
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for another writer of a DuckDB or SQLite file.", min=0),
    ] = 0.0,
    quiet: Quiet = False,
    **opts: object,
) -> None:
    """Forecast the steps after the data's last row; CSV on stdout."""
    from lstm_forecast import api, outputs, render
    from lstm_forecast.settings import parse_list

    out = None
    if output is not None or output_table is not None:
        out = _output(output, output_table, "forecasts", opts, wait)
    on_screen = out is None and sys.stdout.isatty()  # a bar would overwrite the rows shown
    with render.progress(quiet or on_screen, "groups") as progress:
        frames = api.predict_groups(
            _data(data, opts, wait),
            model,
            since=since,
            series=parse_list(series) or None,
            options=_load_options(opts),
            engine=engine.value,
            notify=None if quiet else say,
            recalibrate=recalibrate,
            identify=out is not None and out.db is not None,
            progress=progress,
        )
        rows = outputs.write_forecasts(frames, out or outputs.Output(), fmt.value)
    if out is not None and out.db is not None and not quiet:
        say(f"wrote {rows} forecast rows to {out}")


@app.command(epilog="Example: lstm-forecast inspect prices.csv --json")
@with_options(LOAD_PARAMETERS, SOURCE_PARAMETERS)
def inspect(
    data: Data = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    series: SeriesSel = None,
    **opts: object,
) -> None:
    """Show what the loader finds in a file or table: format, columns, series, repairs."""
    from lstm_forecast import api, render

    options = _load_options(opts, series)
    found = api.inspect(_data(data, opts), options)
    render.print_inspection(found, as_json)


@app.command(epilog="Example (once): lstm-forecast convert universe.csv.gz --to universe/")
@with_options(LOAD_PARAMETERS)
def convert(
    data: Annotated[
        str,
        typer.Argument(
            help="Delimited text file of many series (gzip, bz2, xz or zip too; '-' for "
            "stdin), of any size.",
            show_default=False,
        ),
    ],
    to: Annotated[
        Path,
        typer.Option("--to", help="Folder to write the Parquet dataset to.", show_default=False),
    ],
    replace: Annotated[bool, typer.Option(help="Replace the folder if it exists.")] = False,
    quiet: Quiet = False,
    **opts: object,
) -> dict:
    """Turn a big CSV of many series into a Parquet dataset that train and predict read a part
    at a time: read in chunks, cleaned as every command cleans, bucketed by series."""
    from lstm_forecast import api, render
    from lstm_forecast.loading.messages import count

    with render.progress(quiet, "convert") as progress:
        result = api.convert(data, to, _load_options(opts), replace=replace, progress=progress)
    if not quiet:
        for note in result.notes:
            say(f"note: {note}")
        for warning in result.warnings:
            say(f"warning: {warning}")
        say(
            f"wrote {result.series:,} series, {result.rows:,} rows (from {result.source_rows:,}) "
            f"in {count(result.files, 'file')} to {result.path}"
        )
    return {"series": result.series, "rows": result.rows, "files": result.files}


class Window(StrEnum):
    expanding = "expanding"
    sliding = "sliding"


@app.command(
    epilog="Example: lstm-forecast backtest prices.csv --folds 5 --step 50 --horizon 5 --report bt/"
)
@with_options(LOAD_PARAMETERS, SOURCE_PARAMETERS, TRAIN_PARAMETERS)
def backtest(
    report: Annotated[
        Path, typer.Option(help="Folder for metrics, forecasts and the report.", show_default=False)
    ],
    data: Data = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Also write the forecasts and metrics into tables of this database URL.",
            show_default=False,
        ),
    ] = None,
    output_table: _output_table("backtest") = None,
    folds: Annotated[int, typer.Option(help="Consecutive folds of origins.")] = 5,
    step: Annotated[int, typer.Option(help="Origins per fold.")] = 50,
    window: Annotated[
        Window, typer.Option(help="Train on everything before a fold, or a fixed-length window.")
    ] = Window.expanding,
    train_size: Annotated[
        int | None, typer.Option(help="Rows of a sliding window (default: the first fold's).")
    ] = None,
    refit_every: Annotated[int, typer.Option(help="Refit the model every N folds.")] = 1,
    season: Annotated[
        int | None, typer.Option(help="Seasonal naive's period (default: from the frequency).")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Fit folds in this many processes.")] = 1,
    recalibrate: Recalibrate = RECALIBRATE,
    series: SeriesSel = None,
    device: DeviceOpt = Device.auto,
    threads: Threads = None,
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for another writer of a DuckDB or SQLite file.", min=0),
    ] = 0.0,
    quiet: Quiet = False,
    print_config: PrintConfig = False,
    **opts: object,
) -> dict | None:
    """Walk-forward evaluation of the LSTM against naive baselines; writes a report folder."""
    if print_config:
        _print_config({**locals(), **opts})
        return None
    import shlex

    from lstm_forecast import api, outputs, render
    from lstm_forecast import report as report_files
    from lstm_forecast.backtest import BacktestConfig
    from lstm_forecast.db_url import redact

    config = _train_config(opts)
    plan = BacktestConfig(folds, step, window.value, train_size, refit_every, season, recalibrate)
    options = _load_options(opts, series)
    out = _output(output, output_table, "backtest", opts, wait, files=False)
    source = _data(data, opts, wait)
    folder = report_files.make_folder(report)
    process.keep_heap()
    fits = render.progress(quiet, "backtest fits")
    with outputs.backtest_sink(folder) as sink, fits as progress:
        result = api.backtest(
            source,
            config,
            plan,
            options,
            device=device.value,
            threads=threads,
            jobs=jobs,
            progress=progress,
            each=sink.add,
            command=redact(shlex.join(["lstm-forecast", *sys.argv[1:]])),
        )
    report_files.write(folder, result.metrics, result.forecasts)
    if out.db is not None:
        rows = outputs.write_backtest_tables(folder, result.metrics, out)
        if not quiet:
            say(f"wrote {rows} backtest rows to {out} and {out.table}{outputs.METRICS_SUFFIX}")
    if not quiet:
        report_files.print_summary(result.metrics, folder)
    return None


@app.command(
    epilog="Example (nightly cron, resumes where it stopped): lstm-forecast tune prices.csv "
    "--model best.lstm --trials 50 --timeout 3000 --report tune/ -q"
)
@with_options(LOAD_PARAMETERS, TRAIN_PARAMETERS)
def tune(
    data: Data,
    model: ModelPath,
    trials: Annotated[
        int,
        typer.Option(help="Finished (complete or pruned) trials the study should hold in all."),
    ] = 20,
    timeout: Annotated[
        float | None, typer.Option(help="Start no new trial after this many seconds.")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Worker processes, one torch thread each.")] = 1,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL (default: sqlite:///MODEL.tune.db)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: the model's file name).")
    ] = None,
    space: Annotated[
        Path | None, typer.Option(help="TOML file changing the search space.", show_default=False)
    ] = None,
    best_config: Annotated[
        Path | None,
        typer.Option("--best-config", help="Settings file to write (default: MODEL.toml)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Folder for the tuning report.", show_default=False)
    ] = None,
    folds: Annotated[int, typer.Option(help="Walk-forward folds inside the tuning span.")] = 3,
    step: Annotated[
        int | None, typer.Option(help="Origins per fold (default: a tenth of the rows).")
    ] = None,
    holdout: Annotated[
        int | None,
        typer.Option(help="Origins of the untouched final stretch (default: a fifth of the rows)."),
    ] = None,
    series: SeriesSel = None,
    device: DeviceOpt = Device.auto,
    threads: Threads = None,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for the model's lock (another tune process on the study may "
            "be writing the same best model).",
            min=0,
        ),
    ] = 600.0,
    quiet: Quiet = False,
    print_config: PrintConfig = False,
    **opts: object,
) -> dict | None:
    """Search the training settings on walk-forward folds; score the best once on an untouched
    final stretch; write its settings (for train --config) and its model."""
    if print_config:
        _print_config({**locals(), **opts})
        return None
    from lstm_forecast import api
    from lstm_forecast.tuning import TunePlan

    if report is not None:
        from lstm_forecast.report import make_folder

        make_folder(report)
    config, options = _train_config(opts), _load_options(opts, series)
    return _fit_run(
        "trials",
        lambda progress: api.tune(
            data,
            model,
            config,
            options,
            plan=TunePlan(folds, step, holdout),
            space=space,
            trials=trials,
            timeout=timeout,
            jobs=jobs,
            storage=storage,
            study=study,
            settings_path=best_config,
            device=device.value,
            threads=threads or 1,
            wait=wait,
            progress=progress,
        ),
        lambda result: _tuned(result, report, quiet),
        quiet,
    )


def _fit_run(
    label: str, fit: Callable[[Callable | None], R], finish: Callable[[R], dict | None], quiet: bool
) -> dict | None:
    """The one path of train, update and tune to the end of a run.

    `fit(progress)` calls the api under a progress bar named `label` (render.STEPS); then
    `finish(result)` writes what is left and shows the summary, and returns the figures for the
    run record (see process.run).
    """
    from lstm_forecast import render

    process.keep_heap()
    with render.progress(quiet, label) as progress:
        result = fit(progress)
    return finish(result)


def _trained(result: TrainResult, model: Path, quiet: bool) -> dict:
    """After train or update: the summary on stderr; the model's headline figures."""
    from lstm_forecast import render

    if not quiet:
        render.print_training_summary(result.meta, str(model))
    return result.record


def _tuned(result, folder: Path | None, quiet: bool) -> dict:
    """After tune: the report folder, the summary on stderr; the run record's figures."""
    if folder is not None:
        from lstm_forecast import tune_report

        tune_report.write(folder, result.summary)
    if not quiet:
        from lstm_forecast import tune_report

        tune_report.print_summary(result.summary, folder)
    return result.record


def _print_config(params: dict) -> None:
    """The resolved settings (options > environment > config file > defaults) as TOML."""
    import json

    from lstm_forecast.db_url import redact

    for key, value in params.items():
        if key in ("print_config", "opts") or value is None:
            continue
        value = value.value if isinstance(value, Enum) else value
        value = str(value) if isinstance(value, Path) else value
        value = redact(value) if isinstance(value, str) else value
        print(f"{key} = {json.dumps(value)}")


def main() -> NoReturn:
    """The `lstm-forecast` command (the console script, `python -m lstm_forecast`, torchrun)."""
    process.run(app, RENAMED)
