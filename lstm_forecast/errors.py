"""The one exception family for user-facing failures.

The CLI maps each to a one-line message and an exit code.
"""

from __future__ import annotations


class ForecastError(Exception):
    """A failure the user can act on. `exit_code` is what the command exits with."""

    exit_code = 1


class DataError(ForecastError):
    """The input data cannot be used (unreadable, malformed, too short, ambiguous)."""


class ModelFileError(ForecastError):
    """A model or checkpoint file is missing, foreign, damaged or of an unsupported version."""


class ConfigError(ForecastError):
    """Settings that contradict each other or the model (reported like bad input)."""


class BusyError(ForecastError):
    """Another run holds a lock (the model's, or a database file's writer lock): try again
    later (EX_TEMPFAIL)."""

    exit_code = 75


class Unavailable(ForecastError):
    """A database server cannot be reached now (refused, timed out, shutting down): try again
    later (EX_TEMPFAIL)."""

    exit_code = 75


class OutputClosed(ForecastError):
    """The reader of stdout went away (`| head`): stop quietly with 141, as SIGPIPE would."""

    exit_code = 141


class Interrupted(ForecastError):
    """Training stopped by a signal after saving a checkpoint: exit 130 (SIGINT) or 143 (TERM)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self) -> tuple:  # crosses process boundaries (backtest --jobs)
        return (Interrupted, (str(self), self.exit_code))
