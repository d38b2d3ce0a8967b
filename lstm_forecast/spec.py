"""What a model file holds, typed: the network's shape, and everything else the model knows.

`ModelSpec` is the network's arguments: `model.LSTMForecaster(spec)` and the numpy engine are
built from it and nothing else. `ModelCard` is the rest: the settings, the data's columns and
frequency, per-series statistics, the calibration, the validation table, training figures,
versions. A card is written to and read back from the JSON header of the safetensors file
(`to_header` / `from_header`), the way a checkpoint's stored model arguments rebuild its
config. Reading is strict: a key this version does not know (a newer file) or a missing one
(a damaged file) is a ModelFileError naming it.

Format versions: 1 stored `n_inputs` at the top and left the rest of the network to the
settings and the weights' shapes; 2 stores the spec as `network`; 3 adds the trading calendar
(`exchange`, the code chosen, and `calendar`, where its sessions came from, with the sessions
themselves as `calendar.*` tensors) and names the day-of-week and month inputs
`date_features` (`calendar` before). All three are read; a file before 3 has no calendar, so
`predict` finds one in the data as `train` does.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING

from lstm_forecast import __version__
from lstm_forecast.calibration import Calibration
from lstm_forecast.errors import ConfigError, ModelFileError
from lstm_forecast.settings import TrainConfig, renamed

if TYPE_CHECKING:
    import numpy as np

    from lstm_forecast.calendars import Calendar

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
OPTIONAL = ("kept", "updated_from")  # written only when set
CALENDAR_TENSORS = "calendar."  # prefix of the tensors that hold the calendar's sessions


@dataclass(frozen=True)
class ModelSpec:
    """The network's arguments: input width, LSTM size, outputs, series embedding."""

    n_inputs: int
    hidden: int
    layers: int
    horizon: int
    quantiles: tuple[float, ...]
    n_series: int = 1
    dropout: float = 0.0  # training only; inference runs without it

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(self.quantiles))

    @classmethod
    def for_training(cls, config: TrainConfig, n_inputs: int, n_series: int) -> ModelSpec:
        return cls(
            n_inputs,
            config.hidden,
            config.layers,
            config.horizon,
            tuple(config.quantiles),
            n_series,
            config.dropout,
        )

    @property
    def n_quantiles(self) -> int:
        return len(self.quantiles)

    @property
    def median_index(self) -> int:
        return self.quantiles.index(0.5)

    @property
    def embedding_dim(self) -> int:
        """Width of the learned series-identity vector (none for a single series)."""
        return 0 if self.n_series <= 1 else min(8, self.n_series)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The tensors a network of this spec has, with their shapes (PyTorch's names)."""
        gates = 4 * self.hidden
        shapes: dict[str, tuple[int, ...]] = {}
        if self.embedding_dim:
            shapes["embed.weight"] = (self.n_series, self.embedding_dim)
        for k in range(self.layers):
            width = self.n_inputs + self.embedding_dim if k == 0 else self.hidden
            shapes[f"lstm.weight_ih_l{k}"] = (gates, width)
            shapes[f"lstm.weight_hh_l{k}"] = (gates, self.hidden)
            shapes[f"lstm.bias_ih_l{k}"] = (gates,)
            shapes[f"lstm.bias_hh_l{k}"] = (gates,)
        shapes["head.weight"] = (self.horizon * self.n_quantiles, self.hidden)
        shapes["head.bias"] = (self.horizon * self.n_quantiles,)
        return shapes


@dataclass
class SeriesInfo:
    """One series the model was trained on: its rows, cutoff and fitted statistics."""

    name: str
    rows: int
    n_train: int  # rows before the validation tail
    first: str | int  # ISO timestamp, or row number for a plain sequence
    last: str | int  # the training cutoff
    stats: dict  # `windows.fit_stats`: scale, level mean and std, feature transforms


@dataclass
class TrainingFigures:
    """How training went."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    history: list  # [train loss, validation loss] per epoch
    seconds: float
    windows: int
    windows_per_s: float | None
    device: str
    threads: int
    processes: int


@dataclass
class ModelCard:
    """Everything in a model file except the weights."""

    network: ModelSpec
    config: TrainConfig
    transform: str
    target: str
    date_column: str | None
    feature_names: list[str]
    frequency: str | None
    series: list[SeriesInfo]
    calibration: Calibration
    data_hash: str
    training: TrainingFigures
    torch_version: str
    skipped_series: list[str] = field(default_factory=list)
    evaluation: dict = field(default_factory=dict)  # the validation table (`evaluation`)
    package_version: str | None = __version__
    created: str | None = None
    source: dict | None = None  # the data file and how it was read
    kept: str | None = None  # with --keep-better: "new" or "old"
    updated_from: str | None = None  # `update`: the data hash of the model fine-tuned
    exchange: str | None = None  # the trading calendar's code; None: a sequence, or before 3
    calendar: Calendar | None = None  # its sessions, as the data's first day to years ahead
    format_version: int = FORMAT_VERSION  # of the file this card was read from

    def series_ids(self) -> dict[str, int]:
        """Series name -> its row in the embedding."""
        return {s.name: i for i, s in enumerate(self.series)}

    def to_header(self) -> dict:
        """The JSON-ready header of a version-`FORMAT_VERSION` file (`tensors` holds the rest)."""
        out = asdict(replace(self, calendar=None))
        out["calendar"] = self._calendar_parts()[0]
        out["format_version"] = FORMAT_VERSION
        out["network"]["quantiles"] = list(self.network.quantiles)
        for key in OPTIONAL:
            if out[key] is None:
                del out[key]
        return out

    def tensors(self) -> dict[str, np.ndarray]:
        """The calendar's sessions (and, for intraday data, their hours) as named tensors."""
        return {CALENDAR_TENSORS + k: v for k, v in self._calendar_parts()[1].items()}

    def _calendar_parts(self) -> tuple[dict | None, dict[str, np.ndarray]]:
        if self.calendar is None:
            return None, {}
        from lstm_forecast.calendars import is_intraday

        return self.calendar.to_arrays(hours=is_intraday(self.frequency))

    @classmethod
    def from_header(
        cls, header: dict, source: str, tensors: dict[str, np.ndarray] | None = None
    ) -> ModelCard:
        """Rebuild a card from a file's header and its `calendar.*` tensors; ModelFileError
        for what this version can't read."""
        version = header.get("format_version")
        if version not in READABLE_VERSIONS:
            readable = " and ".join(map(str, READABLE_VERSIONS))
            raise ModelFileError(
                f"{source}: model format version {version} is not supported (this "
                f"lstm-forecast reads versions {readable})"
            )
        data = {k: v for k, v in header.items() if k != "format"}
        if version == 1:
            data = _from_version_1(data, source)
        if version < 3 and isinstance(data.get("config"), dict):
            data["config"] = renamed(data["config"])
        if data.get("calendar") is not None:
            from lstm_forecast.calendars import Calendar

            parts = {
                k.removeprefix(CALENDAR_TENSORS): v
                for k, v in (tensors or {}).items()
                if k.startswith(CALENDAR_TENSORS)
            }
            try:
                data["calendar"] = Calendar.from_arrays(data["calendar"], parts)
            except ModelFileError as exc:
                raise ModelFileError(f"{source}: {exc}") from None
        try:
            data["config"] = _build(TrainConfig, data.get("config"), "config", source)
        except ConfigError as exc:
            raise ModelFileError(f"{source}: settings the model file cannot have ({exc})") from None
        data["network"] = _build(ModelSpec, data.get("network"), "network", source)
        data["calibration"] = _build(Calibration, data.get("calibration"), "calibration", source)
        data["training"] = _build(TrainingFigures, data.get("training"), "training", source)
        if not isinstance(data.get("series"), list):
            raise ModelFileError(f"{source}: the model file lists no series")
        data["series"] = [_build(SeriesInfo, s, "series", source) for s in data["series"]]
        return _build(cls, data, "model", source)


def _from_version_1(data: dict, source: str) -> dict:
    """A version-1 header in version 2's layout: the network spec from its settings."""
    config = data.get("config")
    if not isinstance(config, dict) or "n_inputs" not in data:
        raise ModelFileError(f"{source}: the model file lacks its settings or input width")
    data = dict(data)
    data["network"] = {
        "n_inputs": data.pop("n_inputs"),
        "hidden": config.get("hidden"),
        "layers": config.get("layers"),
        "horizon": config.get("horizon"),
        "quantiles": config.get("quantiles"),
        "n_series": len(data.get("series") or []),  # version 1 embedded every series it lists
        "dropout": config.get("dropout", 0.0),
    }
    return data


def _build(cls: type, data: object, part: str, source: str):
    """cls(**data), refusing unknown keys (a newer file) and missing ones (a damaged file)."""
    if not isinstance(data, dict):
        raise ModelFileError(f"{source}: the model file's {part} is missing or not a table")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelFileError(
            f"{source}: unknown {part} keys in the model file: {', '.join(unknown)} "
            f"(written by a newer lstm-forecast? upgrade to read it)"
        )
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ModelFileError(
            f"{source}: the model file's {part} lacks {', '.join(missing)} (a damaged file?)"
        )
    return cls(**data)
