"""The hyperparameter search space of `tune`: defaults fitted to the data, a TOML file to change
them, and the TrainConfig of one sampled point.

Each parameter is a TrainConfig field, searched over a `Range` (numbers, optionally on a log
scale) or a `Choice` (a list of values); a parameter with one value is fixed, not searched.
`--space FILE.toml` changes some of them:

    lookback = 30                      # fixed
    [hidden]
    choices = [16, 32]                 # searched among these
    [lr]
    low = 1e-4                         # the default range, with a new lower bound
    [features]
    choices = ["", "Volume", "Open,Volume"]   # subsets of --features, comma-separated

An unknown parameter or key, a value of the wrong type or one that `train` would refuse is an
error naming it. Nothing here imports optuna: `suggest` takes any object with optuna's
`suggest_int`, `suggest_float` and `suggest_categorical`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lstm_forecast.errors import ConfigError, ForecastError
from lstm_forecast.settings import TRANSFORMS, TrainConfig, parse_list

KINDS: dict[str, type] = {
    "lookback": int,
    "hidden": int,
    "layers": int,
    "dropout": float,
    "lr": float,
    "weight_decay": float,
    "batch_size": int,
    "chunk": int,
    "transform": str,
    "features": str,
    "date_features": bool,
}
LOOKBACK = (8, 256)
MAX_FEATURE_SUBSETS = 4  # up to this many --features: every subset; more: all or none
RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Range:
    """Numbers from low to high (ints for an int parameter), uniform or on a log scale."""

    low: float
    high: float
    log: bool = False
    step: float | None = None


@dataclass(frozen=True)
class Choice:
    """One of these values (a single value: the parameter is fixed)."""

    values: tuple


Space = dict[str, Range | Choice]


def default_space(
    base: TrainConfig, features: list[str], dated: bool, positive: bool, max_lookback: int
) -> Space:
    """The search space for this data: `features` are the --features columns, `dated` whether
    it has dates (for --date-features), `positive` whether log returns are possible, and
    `max_lookback` the longest lookback the shortest training part can hold."""
    high = min(LOOKBACK[1], max_lookback)
    if high < LOOKBACK[0]:
        high = LOOKBACK[0]  # let the trials fail with the numbers rather than guess
    subsets = (
        [",".join(c) for r in range(len(features) + 1) for c in itertools.combinations(features, r)]
        if len(features) <= MAX_FEATURE_SUBSETS
        else ["", ",".join(features)]
    )
    return {
        "lookback": Range(LOOKBACK[0], high, log=True),
        "hidden": Choice((16, 32, 64, 128)),
        "layers": Range(1, 3),
        "dropout": Range(0.0, 0.4),
        "lr": Range(3e-4, 1e-2, log=True),
        "weight_decay": Range(1e-6, 1e-2, log=True),
        "batch_size": Choice((8, 16, 32, 64)),
        "chunk": Choice((16, 32, 64)),  # windows per segment: long lookbacks need more
        "transform": Choice(("log-return", "diff", "none") if positive else ("diff", "none")),
        "features": Choice(tuple(subsets[::-1])),  # all first: the first trials see them
        "date_features": Choice((False, True)) if dated else Choice((base.date_features,)),
    }


def read_space(path: str | Path) -> dict[str, Any]:
    """The raw contents of a --space file (checked for what it says, not yet for the data)."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such space file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    for name, value in data.items():
        if name not in KINDS:
            raise ConfigError(
                f"{path}: unknown parameter '{name}' (the space has {', '.join(KINDS)})"
            )
        if isinstance(value, dict):
            unknown = set(value) - RANGE_KEYS - {"choices"}
            if unknown:
                raise ConfigError(
                    f"{path}: [{name}] has no setting '{sorted(unknown)[0]}' "
                    f"(use choices, or low, high, log, step)"
                )
    return data


def merge(defaults: Space, changes: dict[str, Any], base: TrainConfig, where: str) -> Space:
    """The default space with a --space file's changes, every value checked as `train` would."""
    space = dict(defaults)
    for name, value in changes.items():
        space[name] = _entry(name, defaults[name], value, where)
    for name, entry in space.items():
        _check(name, entry, base, where)
    return space


def _entry(name: str, default: Range | Choice, value: Any, where: str) -> Range | Choice:
    kind, label = KINDS[name], f"{where}: [{name}]"
    if not isinstance(value, dict):
        return Choice((_typed(value, name, label),))
    if "choices" in value:
        if set(value) & RANGE_KEYS:
            raise ConfigError(f"{label}: give either choices or low/high, not both")
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{label}: choices must be a non-empty list")
        return Choice(tuple(dict.fromkeys(_typed(v, name, label) for v in choices)))
    if kind not in (int, float):
        raise ConfigError(f"{label}: a {kind.__name__} parameter takes choices, not a range")
    start = default if isinstance(default, Range) else None
    if start is None and not {"low", "high"} <= set(value):
        raise ConfigError(f"{label}: a range needs both low and high")
    low = _typed(value.get("low", start.low if start else None), name, label)
    high = _typed(value.get("high", start.high if start else None), name, label)
    log = value.get("log", start.log if start else False)
    step = value.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"{label}: log must be true or false")
    if step is not None:
        step = _typed(step, name, label)
        if step <= 0 or log:
            raise ConfigError(f"{label}: step must be positive, and cannot go with log = true")
    if low > high:
        raise ConfigError(f"{label}: low {low} is above high {high}")
    if log and low <= 0:
        raise ConfigError(f"{label}: a log range needs low above 0")
    return Range(low, high, log, step)


def _typed(value: Any, name: str, label: str) -> Any:
    """`value` as the parameter's type; ConfigError when it is not one."""
    kind = KINDS[name]
    ok = (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is not float
        else isinstance(value, (int, float)) and not isinstance(value, bool)
    )
    if not ok:
        raise ConfigError(f"{label}: {value!r} is not a {kind.__name__}")
    return ",".join(parse_list(value)) if name == "features" else kind(value)


def _check(name: str, entry: Range | Choice, base: TrainConfig, where: str) -> None:
    """Every extreme value of an entry must be one `train` accepts."""
    values = entry.values if isinstance(entry, Choice) else (entry.low, entry.high)
    for value in values:
        if name == "transform" and value not in TRANSFORMS:
            raise ConfigError(
                f"{where}: [transform] {value!r} is not one of {', '.join(TRANSFORMS)}"
            )
        if name == "features":
            unknown = [f for f in parse_list(value) if f not in base.features]
            if unknown:
                given = ", ".join(base.features) or "none"
                raise ConfigError(
                    f"{where}: [features] '{unknown[0]}' is not among --features ({given})"
                )
            continue
        try:
            replace(base, **{name: value})
        except ForecastError as exc:
            raise ConfigError(f"{where}: [{name}] {value!r}: {exc}") from None


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """One point of the space: {parameter: value}, searched ones drawn by `trial`."""
    out = {}
    for name, entry in space.items():
        if isinstance(entry, Choice):
            values = list(entry.values)
            out[name] = values[0] if len(values) == 1 else trial.suggest_categorical(name, values)
        elif KINDS[name] is int:
            out[name] = trial.suggest_int(
                name, int(entry.low), int(entry.high), step=int(entry.step or 1), log=entry.log
            )
        else:
            out[name] = trial.suggest_float(
                name, entry.low, entry.high, step=entry.step, log=entry.log
            )
    return out


def config_for(base: TrainConfig, point: dict[str, Any], seed: int) -> TrainConfig:
    """The TrainConfig of one point of the space, trained with `seed`."""
    values = dict(point)
    if "features" in values:
        values["features"] = parse_list(values["features"])
    return replace(base, **values, seed=seed)


def to_dict(space: Space) -> dict[str, dict]:
    """JSON-ready form (for the study's record of its settings and the report)."""
    out = {}
    for name, entry in space.items():
        if isinstance(entry, Choice):
            out[name] = {"choices": list(entry.values)}
        else:
            out[name] = {"low": entry.low, "high": entry.high, "log": entry.log}
            if entry.step is not None:
                out[name]["step"] = entry.step
    return out


def longest_lookback(train_rows: int, horizon: int) -> int:
    """The longest lookback a training part of `train_rows` rows holds (see backtest)."""
    return max(1, math.floor(train_rows / 2) - horizon)
