"""One run of the command-line tool as a process: global flags, config file, signals, exit codes.

`run(app)` is the whole life of an `lstm-forecast` process: it takes the global flags out of the
command line, turns a --config file into the commands' defaults, runs the command, maps every
outcome to an exit code and a one-line message on stderr, and writes the run record
(--log-file, --json-log) with the figures the command returned. It knows nothing about what the
commands do. Importing it costs no more than typer itself. Whatever it shows or stores of the
command line or of an error has every database URL's password hidden (`db_url.redact`).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import NoReturn

import typer

from lstm_forecast.errors import ForecastError, OutputClosed
from lstm_forecast.formats import timestamp

GLOBAL_HELP = """\b
Global options, accepted anywhere on the command line:
  --config FILE.toml  settings for any command: top-level keys, or tables [train], [predict] ...
                      (key names as the options, with underscores: val_size = 0.1)
  --log-file FILE     append one JSON line per run (command, start, end, seconds, exit status,
                      error, metrics)
  --json-log          print that JSON record on stderr when the run ends
  --debug             show tracebacks of internal errors
Precedence: command-line options > LSTM_FORECAST_* environment variables > config file >
defaults. LSTM_FORECAST_CONFIG names a config file too.
"""

EXIT_INTERNAL, EXIT_SIGINT, EXIT_SIGTERM, EXIT_PIPE = 70, 130, 143, 141
GLOBAL_KEYS = ("log_file", "json_log", "debug")
# glibc's mallopt parameters, and what they are set to (see keep_heap)
M_TOP_PAD, M_MMAP_THRESHOLD = -2, -3
TOP_PAD, MMAP_THRESHOLD = 64 << 20, 32 << 20


def keep_heap() -> None:
    """Have glibc reuse freed memory instead of handing it back to the system at every free.

    Each training step allocates and frees its activations: glibc trimmed them off the top of
    its heap and the next step faulted the same pages in again (half the page faults of a
    `train` on sp500, a sixth of its training time). Now 64 MiB stay at the top, and blocks
    under 32 MiB (the most glibc's own adaptive threshold reaches) come from the heap, not
    from a fresh mapping each; larger ones are still mapped and returned when freed. For the
    commands that train (not at start-up: it imports ctypes); a no-op without glibc, and when
    the environment tunes malloc itself (MALLOC_*_ or GLIBC_TUNABLES).
    """
    tuned = any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ)
    tuned = tuned or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")
    if tuned or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TOP_PAD, TOP_PAD)


def say(message: str) -> None:
    """A message for people: one line on stderr, at once."""
    print(message, file=sys.stderr, flush=True)


class _Terminated(BaseException):
    """SIGTERM outside training: unwind (cleaning temporary files) and exit 143."""


def _on_sigterm(_signum: int, _frame: object) -> NoReturn:
    raise _Terminated


class _FlagError(Exception):
    """A global flag without its value, or a renamed option: a usage error (exit 2)."""

    exit_code = 2

    def show(self) -> None:
        say(f"Usage: lstm-forecast [OPTIONS] COMMAND [ARGS]...\n\nError: {self}")


def _global_flags(argv: list[str], flags: dict) -> list[str]:
    """Take the global flags out of argv (they may appear anywhere) into `flags`."""
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        name, _, inline = arg.partition("=")
        if arg in ("--debug", "--json-log"):
            flags[arg[2:].replace("-", "_")] = True
        elif name in ("--config", "--log-file"):
            value = inline or next(it, None)
            if value is None:
                raise _FlagError(f"Option '{name}' requires an argument.")
            flags[name[2:].replace("-", "_")] = value
        else:
            rest.append(arg)
    return rest


def _refuse_renamed(argv: list[str], renamed: dict[str, str]) -> None:
    """A renamed option on the command line or as LSTM_FORECAST_<NAME>: a usage error saying
    what to use instead (`renamed`: {old name with underscores: message})."""
    for arg in argv:
        name = arg.partition("=")[0]
        if name.startswith("--"):
            key = name[2:].removeprefix("no-").replace("-", "_")
            if key in renamed:
                raise _FlagError(renamed[key])
    for key, message in renamed.items():
        variable = f"LSTM_FORECAST_{key.upper()}"
        if variable in os.environ:
            raise _FlagError(f"{variable}: {message}")


def _default_map(
    app: typer.Typer, path: str | None, flags: dict, renamed: dict[str, str] | None = None
) -> dict:
    """Config-file settings as click's default_map: {command: {parameter: value}}.

    Keys are the options' long names (`val_size` or `val-size` for --val-size, `format` for
    --format); top-level keys apply to every command that has the option, tables `[train]`,
    `[predict]`, ... to one. An unknown section or key is an error naming it, a renamed one a
    usage error saying what to use. `log_file`, `json_log` and `debug` at the top level set
    the global flags not given otherwise.
    """
    if not path:
        return {}
    import tomllib

    from lstm_forecast.errors import ConfigError

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    for key in [*data, *(k for v in data.values() if isinstance(v, dict) for k in v)]:
        if (old := key.replace("-", "_")) in (renamed or {}):
            raise _FlagError(f"{path}: setting '{key}': {renamed[old]}")
    names = _option_names(app)
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    shared = {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}
    for key in GLOBAL_KEYS:
        if key in shared:
            value = shared.pop(key)
            flags[key] = flags[key] or value
    for section in tables:
        if section not in names:
            raise ConfigError(f"{path}: unknown section [{section}]")
    for key in shared:
        if not any(key in options for options in names.values()):
            raise ConfigError(f"{path}: unknown setting '{key}'")
    out = {}
    for cmd, options in names.items():
        out[cmd] = {options[k]: v for k, v in shared.items() if k in options}
        for key, value in tables.get(cmd, {}).items():
            key = key.replace("-", "_")
            if key not in options:
                raise ConfigError(f"{path}: [{cmd}] has no setting '{key}'")
            out[cmd][options[key]] = value
    return out


def _option_names(app: typer.Typer) -> dict[str, dict[str, str]]:
    """{command: {option name with underscores: parameter name}} for every command."""
    group = typer.main.get_command(app)
    names: dict[str, dict[str, str]] = {}
    for cmd_name, command in group.commands.items():
        table = names.setdefault(cmd_name, {})
        for param in command.params:
            for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if opt.startswith("--") and not opt.startswith("--no-"):
                    table[opt[2:].replace("-", "_")] = param.name
    return names


def redact(text: str) -> str:
    """`db_url.redact`, imported only when there is something to show or store."""
    from lstm_forecast.db_url import redact as hide

    return hide(text)


def _write_log(
    flags: dict,
    argv: list[str],
    started: float,
    code: int,
    error: str | None,
    metrics: dict | None,
) -> None:
    """The run record: one JSON line on stderr (--json-log) and/or appended to --log-file."""
    import json
    import time

    from lstm_forecast.db_url import redact

    record = {
        "command": argv[0] if argv else None,
        "argv": [redact(arg) for arg in argv],
        "start": timestamp(started),
        "end": timestamp(time.time()),
        "seconds": round(time.time() - started, 3),
        "exit_status": code,
        "ok": code == 0,
        "error": error,
        **({} if metrics is None else {"metrics": metrics}),
    }
    line = json.dumps(record, default=str)
    if flags["json_log"]:
        print(line, file=sys.stderr, flush=True)
    if flags["log_file"]:
        try:
            with open(flags["log_file"], "a", encoding="utf-8") as fh:
                fh.write(line + "\n")  # one short append: whole lines, even with several runs
        except OSError as exc:
            say(f"lstm-forecast: warning: cannot write --log-file ({exc.strerror})")


def run(app: typer.Typer, renamed: dict[str, str] | None = None) -> NoReturn:
    """Run `app` on sys.argv and exit with the code of its outcome.

    A command may return a dict of headline figures: they go to the run record as `metrics`.
    Click returns, rather than raises, the code of a typer.Exit raised inside a command.
    `renamed` maps options that were renamed (underscored) to the message their use gets, on
    the command line, in a config file or as an environment variable.
    """
    import time

    started = time.time()
    # A command's imports (torch, pandas, calendars) leave some 230,000 objects that live as
    # long as the process. At the default thresholds a `train` runs the collector 550 times,
    # 4 of them full passes over all of those (0.45 s); young passes 14 times rarer: 0.2 s.
    gc.set_threshold(10_000, 10, 10)
    had_torch = "torch" in sys.modules  # loaded by whoever called us, who will tear it down
    signal.signal(signal.SIGTERM, _on_sigterm)
    code, error, metrics = 0, None, None
    flags = {
        "debug": bool(os.environ.get("LSTM_FORECAST_DEBUG")),
        "json_log": False,
        "log_file": os.environ.get("LSTM_FORECAST_LOG_FILE"),
        "config": os.environ.get("LSTM_FORECAST_CONFIG"),
    }
    argv = sys.argv[1:]
    try:
        argv = _global_flags(argv, flags)
        _refuse_renamed(argv, renamed or {})
        outcome = app(
            args=argv,
            prog_name="lstm-forecast",
            standalone_mode=False,
            default_map=_default_map(app, flags["config"], flags, renamed),
        )
        if isinstance(outcome, int):  # a typer.Exit in a command; typer makes Ctrl-C Exit(130)
            code, error = outcome, "interrupted" if outcome == EXIT_SIGINT else None
        else:
            metrics = outcome if isinstance(outcome, dict) else None
    except (typer.Abort, KeyboardInterrupt):
        code, error = EXIT_SIGINT, "interrupted"
    except _Terminated:
        code, error = EXIT_SIGTERM, "terminated"
    except (OutputClosed, BrokenPipeError):
        code = EXIT_PIPE
    except ForecastError as exc:
        code, error = exc.exit_code, f"error: {exc}"
    except Exception as exc:
        code, error = _unexpected(exc, flags["debug"])
    error = redact(error) if error else error
    if error and code != 2:  # the option parser has already shown its usage error
        say(f"lstm-forecast: {error}")
    if flags["json_log"] or flags["log_file"]:
        _write_log(flags, argv, started, code, error, metrics)
    _exit(code, fast=not had_torch and "torch" in sys.modules)


def _unexpected(exc: Exception, debug: bool) -> tuple[int, str]:
    """The exit code and message of an exception outside the ForecastError family."""
    if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
        import contextlib
        import io

        shown = io.StringIO()  # a usage error from the option parser (exit 2), which may quote
        with contextlib.redirect_stderr(shown):  # an argument holding a URL
            exc.show()
        print(redact(shown.getvalue()), end="", file=sys.stderr, flush=True)
        return exc.exit_code, str(exc)
    if debug:
        import traceback

        print(redact(traceback.format_exc()), end="", file=sys.stderr, flush=True)
    error = f"internal error: {type(exc).__name__}: {exc}"
    return EXIT_INTERNAL, error + ("" if debug else " (run with --debug for the traceback)")


def _exit(code: int, fast: bool = False) -> NoReturn:
    """Flush and exit; a reader that went away (`| head`) is not an error worth a traceback.

    `fast` (the command loaded torch): interpreter teardown walks torch's object graph, 0.3-2 s
    after every `train`, so the exit handlers run and the process ends without it."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or EXIT_PIPE
    if code == EXIT_PIPE:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if fast:
        import atexit

        atexit._run_exitfuncs()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
