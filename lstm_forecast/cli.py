"""The command-line interface: parse options, call `api`, render results.

Importing this module must stay cheap: torch, pandas and numpy are imported inside commands,
so `--help` and `--version` start fast. Every user-facing failure is a ForecastError, turned
into one line on stderr and an exit code in `main`.
"""

from __future__ import annotations

import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from lstm_forecast import __version__
from lstm_forecast.errors import ForecastError

app = typer.Typer(
    name="lstm-forecast",
    help="Forecast prices and numeric sequences with LSTM networks, set beside naive baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

EXIT_INTERNAL, EXIT_SIGINT, EXIT_SIGTERM, EXIT_PIPE = 70, 130, 143, 141


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Format(str, Enum):
    csv = "csv"
    json = "json"


class Engine(str, Enum):
    auto = "auto"
    numpy = "numpy"
    torch = "torch"


# Options shared by every command that reads data.
Data = Annotated[str, typer.Argument(help="CSV file to read ('-' for stdin).", show_default=False)]
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
    int, typer.Option("--max-gap", help="Forward-fill at most this many missing values in a row.")
]
ModelPath = Annotated[Path, typer.Option("--model", "-m", help="Model file.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_options(target, date_col, date_format, dayfirst, series_col, series, max_gap):
    from lstm_forecast.loading import LoadOptions
    from lstm_forecast.settings import parse_list

    return LoadOptions(
        target=target,
        date_col=date_col,
        date_format=date_format,
        dayfirst=dayfirst,
        series_col=series_col,
        series=parse_list(series) or None,
        max_gap=max_gap,
    )


def _version(value: bool) -> None:
    if value:
        print(f"lstm-forecast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Forecast prices and numeric sequences with LSTM networks, set beside naive baselines.

    Exit codes: 0 ok, 1 bad data or model file, 2 usage, 70 internal error, 75 busy (model
    locked), 130 Ctrl-C, 143 SIGTERM. Add --debug to any command for tracebacks.
    """


@app.command(
    epilog="Example: lstm-forecast train prices.csv --target Close --model aapl.lstm --epochs 20"
)
def train(
    data: Data,
    model: ModelPath,
    target: Target = None,
    date_col: DateCol = None,
    date_format: DateFormat = None,
    dayfirst: DayFirst = None,
    series_col: SeriesCol = None,
    series: SeriesSel = None,
    max_gap: MaxGap = 5,
    features: Annotated[
        str | None,
        typer.Option(help="Comma-separated covariate columns, e.g. Open,High,Low,Volume."),
    ] = None,
    calendar: Annotated[bool, typer.Option(help="Add day-of-week and month inputs.")] = False,
    lookback: Annotated[int, typer.Option(help="Rows of history per window.")] = 60,
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast.")] = 5,
    hidden: Annotated[int, typer.Option(help="LSTM units per layer.")] = 64,
    layers: Annotated[int, typer.Option(help="LSTM layers.")] = 2,
    dropout: Annotated[float, typer.Option(help="Dropout rate.")] = 0.1,
    epochs: Annotated[int, typer.Option(help="Most epochs to train.")] = 40,
    patience: Annotated[
        int, typer.Option(help="Stop after this many epochs without a better validation loss.")
    ] = 6,
    val_size: Annotated[
        float, typer.Option(help="Validation tail: fraction of rows, or a row count.")
    ] = 0.2,
    batch_size: Annotated[int, typer.Option(help="Segments per optimiser step.")] = 32,
    chunk: Annotated[int, typer.Option(help="Training windows per segment.")] = 16,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine schedule).")] = 3e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 1e-4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    transform: Annotated[str, typer.Option(help="auto, log-return, diff or none.")] = "auto",
    quantiles: Annotated[str, typer.Option(help="Comma-separated quantiles.")] = "0.1,0.5,0.9",
    device: Annotated[Device, typer.Option(help="Where to train.")] = Device.auto,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the checkpoint beside the model.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for another run's lock on the "
            "model (default: fail at once, exit 75)."
        ),
    ] = 0.0,
    nproc: Annotated[
        int, typer.Option(help="Train with this many processes on this machine (torchrun).")
    ] = 1,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM on a CSV and write the model file (atomically)."""
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from lstm_forecast.distributed import launch

        raise typer.Exit(launch(nproc, sys.argv[1:]))
    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun rank 0 alone reports
    from lstm_forecast import api, render
    from lstm_forecast.settings import TrainConfig, parse_list, parse_quantiles

    config = TrainConfig(
        lookback=lookback,
        horizon=horizon,
        hidden=hidden,
        layers=layers,
        dropout=dropout,
        epochs=epochs,
        patience=patience,
        val_size=val_size,
        batch_size=batch_size,
        chunk=chunk,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        transform=transform,
        quantiles=parse_quantiles(quantiles),
        features=parse_list(features),
        calendar=calendar,
    )
    options = _load_options(target, date_col, date_format, dayfirst, series_col, series, max_gap)
    with render.progress_display(quiet) as progress:
        result = api.train(
            data,
            model,
            config,
            options,
            device=device.value,
            threads=threads,
            progress=progress,
            resume=resume,
            wait=wait,
            notify=None if quiet else _say,
        )
    if not quiet:
        render.print_training_summary(result.meta, str(model))


@app.command(epilog="Example: lstm-forecast predict prices.csv --model aapl.lstm > forecast.csv")
def predict(
    data: Data,
    model: ModelPath,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.csv,
    since: Annotated[
        str | None,
        typer.Option(
            help="Forecast from every origin on or after this date (row number for sequences)."
        ),
    ] = None,
    series: SeriesSel = None,
    engine: Annotated[
        Engine, typer.Option(help="numpy (no torch import) or torch; auto picks numpy.")
    ] = Engine.auto,
    target: Target = None,
    date_col: DateCol = None,
    date_format: DateFormat = None,
    dayfirst: DayFirst = None,
    series_col: SeriesCol = None,
    max_gap: MaxGap = 5,
    quiet: Quiet = False,
) -> None:
    """Forecast the steps after the data's last row; CSV on stdout."""
    from lstm_forecast import api, render
    from lstm_forecast.settings import parse_list

    options = _load_options(target, date_col, date_format, dayfirst, series_col, None, max_gap)
    frame = api.predict(
        data,
        model,
        since=since,
        series=parse_list(series) or None,
        options=options,
        engine=engine.value,
        notify=None if quiet else _say,
    )
    render.write_table(frame, output, fmt.value)


@app.command(epilog="Example: lstm-forecast inspect prices.csv --json")
def inspect(
    data: Data,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    target: Target = None,
    date_col: DateCol = None,
    date_format: DateFormat = None,
    dayfirst: DayFirst = None,
    series_col: SeriesCol = None,
    series: SeriesSel = None,
    max_gap: MaxGap = 5,
) -> None:
    """Show what the loader finds in a file: format, columns, series, frequency, repairs."""
    from lstm_forecast import api, render

    options = _load_options(target, date_col, date_format, dayfirst, series_col, series, max_gap)
    found = api.inspect(data, options)
    render.print_inspection(found, as_json)


class _Terminated(BaseException):
    """SIGTERM outside training: unwind (cleaning temporary files) and exit 143."""


def _on_sigterm(_signum: int, _frame: object) -> NoReturn:
    raise _Terminated


def main() -> None:
    """Entry point: run the app and map every outcome to an exit code."""
    argv = sys.argv[1:]
    debug = "--debug" in argv or bool(os.environ.get("LSTM_FORECAST_DEBUG"))
    argv = [a for a in argv if a != "--debug"]
    signal.signal(signal.SIGTERM, _on_sigterm)
    code = 0
    try:
        app(args=argv, prog_name="lstm-forecast", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _say("lstm-forecast: interrupted")
        code = EXIT_SIGINT
    except _Terminated:
        _say("lstm-forecast: terminated")
        code = EXIT_SIGTERM
    except ForecastError as exc:
        _say(f"lstm-forecast: error: {exc}")
        code = exc.exit_code
    except BrokenPipeError:
        code = EXIT_PIPE
    except Exception as exc:
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # a usage error from the option parser (exit 2)
            _exit(exc.exit_code)
        if debug:
            import traceback

            traceback.print_exc()
        _say(
            f"lstm-forecast: internal error: {type(exc).__name__}: {exc} "
            f"(run with --debug for the traceback)"
        )
        code = EXIT_INTERNAL
    _exit(code)


def _exit(code: int) -> NoReturn:
    """Flush and exit; a reader that went away (`| head`) is not an error worth a traceback."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or EXIT_PIPE
    if code == EXIT_PIPE:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)
