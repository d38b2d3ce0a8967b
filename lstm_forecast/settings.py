"""Training settings: one dataclass whose fields are the command-line options of `train`.

Kept free of heavy imports so that the CLI can build its help from it without torch or pandas.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from lstm_forecast.errors import ConfigError

TRANSFORMS = ("auto", "log-return", "diff", "none")
# Range-based volatility inputs `--features` may name, and the columns each is computed from.
RANGE_FEATURES = {
    "parkinson": ("High", "Low"),
    "garmanklass": ("Open", "High", "Low", "Close"),
}


@dataclass
class TrainConfig:
    """Everything that decides what `train` learns. Stored in the model file."""

    lookback: int = 60
    horizon: int = 5
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.1
    epochs: int = 40
    patience: int = 6
    val_size: float = 0.2
    batch_size: int = 8  # segments per step; each holds `chunk` training windows
    chunk: int = 64
    steps_per_epoch: int | None = None  # optimiser steps per epoch at most (None: every segment)
    val_origins: int = 50_000  # validation origins scored at most (whole series, sampled)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clip: float = 1.0
    seed: int = 0
    transform: str = "auto"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    features: list[str] = field(default_factory=list)
    date_features: bool = False  # day-of-week and month inputs

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Reject settings that cannot work, with the option's name."""
        checks = [
            (self.lookback >= 2, "--lookback must be at least 2"),
            (self.horizon >= 1, "--horizon must be at least 1"),
            (self.hidden >= 1, "--hidden must be at least 1"),
            (self.layers >= 1, "--layers must be at least 1"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.patience >= 1, "--patience must be at least 1"),
            (
                0 < self.val_size < 1
                or (self.val_size >= 1 and self.val_size == int(self.val_size)),
                "--val-size must be a fraction in (0, 1) or a row count",
            ),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.chunk >= 1, "--chunk must be at least 1"),
            (
                self.steps_per_epoch is None or self.steps_per_epoch >= 1,
                "--steps-per-epoch must be at least 1",
            ),
            (self.val_origins >= 1, "--val-origins must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.transform in TRANSFORMS, f"--transform must be one of {', '.join(TRANSFORMS)}"),
            (all(0 < q < 1 for q in self.quantiles), "--quantiles must lie strictly in (0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        qs = sorted({round(q, 6) for q in [*self.quantiles, 0.5]})
        self.quantiles = qs

    @property
    def median_index(self) -> int:
        return self.quantiles.index(0.5)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in renamed(data).items() if k in known})


def differences(stored: dict, current: dict) -> str:
    """The settings in which `current` differs from `stored`, with both values, for a message
    that says how to resume as a run was begun: "batch_size=16 (now 8), chunk=32 (now 64)"."""
    return ", ".join(
        f"{key}={stored.get(key)!r} (now {value!r})"
        for key, value in current.items()
        if stored.get(key) != value
    )


def renamed(config: dict) -> dict:
    """Stored settings with the names of this version: `calendar` (before format 3) is
    `date_features`, the day-of-week and month inputs."""
    if "calendar" not in config:
        return config
    out = {k: v for k, v in config.items() if k != "calendar"}
    out.setdefault("date_features", config["calendar"])
    return out


def parse_list(text: str | None) -> list[str]:
    """Comma-separated option value -> list of stripped, non-empty items."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def range_feature(name: str) -> str | None:
    """The RANGE_FEATURES key a --features name means ('Parkinson', 'garman-klass', ...)."""
    found = re.sub(r"[\s_\-]+", "", name.lower())
    return found if found in RANGE_FEATURES else None


def loader_features(features: list[str]) -> list[str]:
    """The columns the loader must read for `--features`: plain columns as named, and the
    price columns of each range feature (each column once)."""
    out: list[str] = []
    for name in features:
        kind = range_feature(name)
        for col in RANGE_FEATURES[kind] if kind else (name,):
            if col.lower() not in {c.lower() for c in out}:
                out.append(col)
    return out


def parse_quantiles(text: str) -> list[float]:
    try:
        return [float(t) for t in parse_list(text)]
    except ValueError:
        raise ConfigError(f"--quantiles: not a list of numbers: {text!r}") from None


def train_toml(config: TrainConfig, extra: dict, comments: list[str]) -> str:
    """A config file that `train --config` reads: a [train] table of every option that decides
    what it learns (lists written as the options take them), then `extra` options (threads,
    device, data options), each value exactly (floats round-trip)."""
    import json

    values = config.to_dict()
    if values["clip"] == TrainConfig().clip:  # not a command-line option
        del values["clip"]
    values["quantiles"] = ",".join(repr(q) for q in values["quantiles"])
    values["features"] = ",".join(values["features"])
    lines = [f"# {c}" for c in comments] + ["[train]"]
    for key, value in {**values, **extra}.items():
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
