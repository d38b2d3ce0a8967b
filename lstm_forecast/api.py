"""The plain Python API behind every command, usable from a notebook.

    from lstm_forecast import api
    result = api.train("prices.csv", "aapl.lstm", api.TrainConfig(epochs=20))
    frame = api.predict("prices.csv", "aapl.lstm")

Each function composes the single-purpose modules (loading -> windows -> training ->
artifacts -> forecasting) and raises only ForecastError subclasses for bad input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from lstm_forecast import artifacts, forecasting
from lstm_forecast.errors import ConfigError
from lstm_forecast.loading import Dataset, LoadOptions, load
from lstm_forecast.settings import TrainConfig

__all__ = ["LoadOptions", "TrainConfig", "inspect", "load_data", "predict", "train"]


def load_data(data: str | Path, options: LoadOptions | None = None) -> Dataset:
    """Load a data file the way every command does."""
    return load(data, options)


def _train_options(options: LoadOptions | None, config: TrainConfig) -> LoadOptions:
    opts = options or LoadOptions()
    opts.features = config.features or opts.features
    opts.min_rows = config.lookback + config.horizon + 1
    opts.positive = config.transform == "log-return"
    return opts


def train(
    data: str | Path | Dataset,
    model_path: str | Path,
    config: TrainConfig | None = None,
    options: LoadOptions | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: Callable | None = None,
    resume: bool = False,
    wait: float = 0.0,
    notify: Callable[[str], None] | None = None,
):
    """Train on `data` and write the model to `model_path` atomically, under its lock."""
    from lstm_forecast import training

    config = config or TrainConfig()
    dataset = data if isinstance(data, Dataset) else load(data, _train_options(options, config))
    ckpt_path = artifacts.checkpoint_path(model_path)
    with artifacts.model_lock(model_path, wait):
        resume_from = None
        if resume:
            saved, tensors = artifacts.load_checkpoint(ckpt_path)
            if saved.get("data_hash") != training.data_hash(dataset):
                raise ConfigError(f"{ckpt_path}: the checkpoint was made on other data")
            if TrainConfig.from_dict(saved["config"]) != config:
                raise ConfigError(
                    f"{ckpt_path}: the checkpoint was made with other settings; "
                    f"resume with the same options"
                )
            resume_from = (tensors, saved)

        def save_ckpt(tensors: dict, state: dict) -> None:
            state["data_hash"] = training.data_hash(dataset)
            artifacts.save_checkpoint(ckpt_path, tensors, state)
            if notify:
                notify(f"checkpoint saved to {ckpt_path}")

        result = training.train(
            dataset,
            config,
            device=device,
            threads=threads,
            progress=progress,
            checkpoint=save_ckpt,
            resume_from=resume_from,
        )
        result.meta["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        result.meta["source"] = {
            "path": str(data if not isinstance(data, Dataset) else data.source),
            **dataset.details,
        }
        artifacts.save_model(model_path, result.weights, result.meta)
        ckpt_path.unlink(missing_ok=True)
    return result


def predict(
    data: str | Path | Dataset,
    model_path: str | Path,
    *,
    since: str | None = None,
    series: list[str] | None = None,
    options: LoadOptions | None = None,
    engine: str = "auto",
    notify: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Forecast the horizon after the data's last row (or from every origin since `since`)."""
    meta, weights = artifacts.load_model(model_path)
    dataset = data if isinstance(data, Dataset) else load(data, _predict_options(options, meta))
    for warning in forecasting.check_compatible(meta, dataset):
        if notify:
            notify(f"warning: {warning}")
    return forecasting.forecast(
        meta, weights, dataset, since=since, series=series, engine_name=engine
    )


def _predict_options(options: LoadOptions | None, meta: dict) -> LoadOptions:
    opts = options or LoadOptions()
    if opts.target is None:
        opts.target = meta["target"]
    opts.features = meta["feature_names"]
    opts.min_rows = 1
    opts.positive = meta["transform"] == "log-return"
    return opts


def inspect(data: str | Path, options: LoadOptions | None = None) -> dict:
    """What the loader found in a file, as a JSON-ready dict.

    Series `start`/`end` are ISO 8601: dates (YYYY-MM-DD) when every timestamp is a midnight,
    timestamps otherwise; row numbers for a plain sequence. `first`/`last` are target values
    after cleaning; `filled` counts forward-filled values, `gaps` lists unusual date gaps.
    """
    ds = load(data, options)
    details = dict(ds.details)
    per_series = details.pop("per_series", {})
    daily = ds.dated and all(
        (pd.DatetimeIndex(s.index).normalize() == pd.DatetimeIndex(s.index)).all()
        for s in ds.series
    )

    def stamp(v) -> str | int:
        if not ds.dated:
            return int(v)
        t = pd.Timestamp(v)
        return t.date().isoformat() if daily else t.isoformat()

    return {
        "source": ds.source,
        **details,
        "target": ds.target,
        "date_column": ds.date_column,
        "frequency": ds.frequency,
        "features": ds.feature_names,
        "series": [
            {
                "name": s.name,
                "rows": len(s),
                "start": stamp(s.index[0]),
                "end": stamp(s.index[-1]),
                "first": float(s.values[0]),
                "last": float(s.values[-1]),
                "filled": per_series.get(s.name, {}).get("filled", 0),
                "gaps": per_series.get(s.name, {}).get("gaps", []),
            }
            for s in ds.series
        ],
        "notes": ds.notes,
        "warnings": ds.warnings,
    }
