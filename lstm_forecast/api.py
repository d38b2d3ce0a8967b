"""The plain Python API behind every command, usable from a notebook.

    from lstm_forecast import api
    result = api.train("prices.csv", "aapl.lstm", api.TrainConfig(epochs=20))
    frame = api.predict("prices.csv", "aapl.lstm")

Each function composes the single-purpose modules (loading -> windows -> training ->
artifacts -> forecasting) and raises only ForecastError subclasses for bad input.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstm_forecast import artifacts, forecasting
from lstm_forecast.errors import ConfigError, DataError, ForecastError
from lstm_forecast.loading import Dataset, LoadOptions, load
from lstm_forecast.settings import TrainConfig

if TYPE_CHECKING:
    from lstm_forecast.backtest import BacktestConfig, BacktestResult

__all__ = [
    "LoadOptions",
    "TrainConfig",
    "info",
    "inspect",
    "load_data",
    "predict",
    "train",
    "update",
]


def load_data(data: str | Path, options: LoadOptions | None = None) -> Dataset:
    """Load a data file the way every command does."""
    return load(data, options)


def _train_options(options: LoadOptions | None, config: TrainConfig) -> LoadOptions:
    opts = options or LoadOptions()
    opts.features = config.features or opts.features
    opts.min_rows = config.lookback + config.horizon + 1
    opts.transform = config.transform
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
    keep_better: bool = False,
    wait: float = 0.0,
    notify: Callable[[str], None] | None = None,
):
    """Train on `data` and write the model to `model_path` atomically, under its lock.

    With `keep_better`, an existing model is replaced only when the new one does at least as
    well on the new model's validation tail (`result.meta["kept"]` says which was kept). Under
    torchrun only rank 0 takes the lock and writes; the other ranks just train.
    """
    from lstm_forecast import distributed, training

    config = config or TrainConfig()
    artifacts.check_writable(model_path)  # before the work, not after it
    dataset = data if isinstance(data, Dataset) else load(data, _train_options(options, config))
    ckpt_path = artifacts.checkpoint_path(model_path)
    writer = distributed.rank() == 0
    if writer and dataset is not data:
        _warn(notify, dataset.warnings)
    with artifacts.model_lock(model_path, wait) if writer else contextlib.nullcontext():
        resume_from = _resume_state(ckpt_path, dataset, config) if resume else None

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
        if writer:
            _store(result, dataset, data, model_path, keep_better, notify)
            ckpt_path.unlink(missing_ok=True)
    return result


def update(
    data: str | Path,
    model_path: str | Path,
    *,
    epochs: int = 5,
    lr_scale: float = 0.1,
    options: LoadOptions | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: Callable | None = None,
    keep_better: bool = False,
    wait: float = 0.0,
    notify: Callable[[str], None] | None = None,
):
    """Fine-tune a model on data that runs past its training cutoff (warm start).

    The model's transforms, scalers and settings are kept; only the weights move, for `epochs`
    epochs at `lr_scale` times the original learning rate. Data of other columns or frequency,
    or with nothing newer than the cutoff, is refused.
    """
    from lstm_forecast import training

    with artifacts.model_lock(model_path, wait):  # read the model only once it is ours
        meta, weights = artifacts.load_model(model_path)
        dataset = load(data, _predict_options(options, meta))
        _warn(notify, dataset.warnings)
        forecasting.check_compatible(meta, dataset)
        _require_new_rows(meta, dataset)
        settings = {**meta["config"], "epochs": epochs, "lr": meta["config"]["lr"] * lr_scale}
        config = TrainConfig.from_dict(settings)
        result = training.train(
            dataset,
            config,
            device=device,
            threads=threads,
            progress=progress,
            init_weights=weights,
            init_meta=meta,
        )
        result.meta["updated_from"] = meta.get("data_hash")
        _store(result, dataset, data, model_path, keep_better, notify)
    return result


def _warn(notify: Callable[[str], None] | None, warnings: list[str]) -> None:
    """Pass the loader's warnings (odd values, gaps, short series) on to the caller."""
    if notify:
        for warning in warnings:
            notify(f"warning: {warning}")


def _resume_state(ckpt_path: Path, dataset: Dataset, config: TrainConfig) -> tuple[dict, dict]:
    from lstm_forecast import training

    saved, tensors = artifacts.load_checkpoint(ckpt_path)
    if saved.get("data_hash") != training.data_hash(dataset):
        raise ConfigError(f"{ckpt_path}: the checkpoint was made on other data")
    if TrainConfig.from_dict(saved["config"]) != config:
        raise ConfigError(
            f"{ckpt_path}: the checkpoint was made with other settings; "
            f"resume with the same options"
        )
    return tensors, saved


def _store(
    result,
    dataset: Dataset,
    data: str | Path | Dataset,
    model_path: str | Path,
    keep_better: bool,
    notify: Callable[[str], None] | None,
) -> None:
    """Stamp the model with its origin and write it (unless --keep-better keeps the old one)."""
    for name in result.meta["skipped_series"]:
        if notify:
            notify(
                f"warning: series '{name}' is too short for a training and a validation part; "
                f"left out of the model"
            )
    result.meta["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path = data.source if isinstance(data, Dataset) else str(data)
    result.meta["source"] = {"path": path, **dataset.details}
    if keep_better:
        result.meta["kept"] = _keep_better(result, dataset, model_path, notify)
    if result.meta.get("kept", "new") == "new":
        artifacts.save_model(model_path, result.weights, result.meta)


def _require_new_rows(meta: dict, dataset: Dataset) -> None:
    cutoffs = {s["name"]: s["last"] for s in meta["series"]}
    for s in dataset.series:
        if s.name in cutoffs:
            last = cutoffs[s.name]
            cutoff = np.datetime64(last) if isinstance(last, str) else last
            if (s.index > cutoff).any():
                return
    raise DataError(
        f"{dataset.source}: no rows newer than the model's training cutoff; nothing to update with"
    )


def _keep_better(
    result, dataset: Dataset, model_path: str | Path, notify: Callable[[str], None] | None
) -> str:
    """Score the old and new models on the new model's validation tail; return the winner.

    Both are scored alike and out of sample: the same origins, the horizon steps they share,
    each model's quantiles cross-fitted on the tail (see `calibration.cross_fitted`).
    """
    path = Path(model_path)
    if not path.exists():
        return "new"
    old_meta, old_weights = artifacts.load_model(path)
    steps = min(old_meta["config"]["horizon"], result.meta["config"]["horizon"])
    try:
        forecasting.check_compatible(old_meta, dataset)
        old = _tail_score(old_meta, old_weights, dataset, result.meta, steps)
    except ForecastError as exc:
        if notify:
            notify(f"the existing model cannot be scored on this data ({exc}); replacing it")
        return "new"
    new = _tail_score(result.meta, result.weights, dataset, result.meta, steps)
    kept = "new" if new <= old else "old"
    if notify:
        winner = "new model replaces" if kept == "new" else "existing model kept over"
        notify(
            f"keep-better: {winner} the other (validation MASE new {new:.4f}, existing {old:.4f})"
        )
    return kept


def _tail_score(meta: dict, weights: dict, dataset: Dataset, reference: dict, steps: int) -> float:
    """MASE of a model over the reference model's validation origins, steps 1..`steps`."""
    from lstm_forecast import calibration, metrics, windows

    run = forecasting.runner(meta, weights)
    sids = {s["name"]: i for i, s in enumerate(meta["series"])}
    mid = meta["config"]["quantiles"].index(0.5)
    preds, truths, rows = [], [], []
    for s_ref in reference["series"]:
        s = next(x for x in dataset.series if x.name == s_ref["name"])
        first = max(s_ref["n_train"] - 1, meta["config"]["lookback"] - 1)
        origins = np.arange(first, len(s) - reference["config"]["horizon"])
        raw, prep = forecasting.raw_forecasts(meta, run, s, sids[s.name], origins)
        preds.append(raw)
        truths.append(windows.targets(prep, meta["config"]["horizon"])[origins])
        rows.append((s, s_ref, origins, prep))
    errors = []
    crossed = calibration.cross_fitted(preds, truths, meta["config"]["quantiles"], mid)
    for (s, s_ref, origins, prep), q in zip(rows, crossed, strict=True):
        point = windows.denormalise(q, s.values[origins], prep.sigma[origins], meta["transform"])
        actual = s.values[origins[:, None] + np.arange(1, steps + 1)[None, :]]
        scale = metrics.naive_scale(s.values[: s_ref["n_train"]])
        errors.append(np.abs(actual - point[:, :steps, mid]).ravel() / scale)
    return float(np.mean(np.concatenate(errors)))


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
    opts.transform = meta["transform"]
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


def info(model_path: str | Path) -> dict:
    """What a model file is: data, settings, validation metrics, training figures."""
    meta, weights = artifacts.load_model(model_path)
    return {
        "path": str(model_path),
        "format_version": meta["format_version"],
        "package_version": meta.get("package_version"),
        "torch_version": meta.get("torch_version"),
        "created": meta.get("created"),
        "source": meta.get("source"),
        "data_hash": meta.get("data_hash"),
        "target": meta["target"],
        "transform": meta["transform"],
        "frequency": meta["frequency"],
        "features": meta["feature_names"],
        "series": [
            {k: s[k] for k in ("name", "rows", "n_train", "first", "last")} for s in meta["series"]
        ],
        "config": meta["config"],
        "parameters": int(sum(v.size for v in weights.values())),
        "training": {k: v for k, v in meta["training"].items() if k != "history"},
        "evaluation": meta["evaluation"],
    }


def backtest(
    data: str | Path | Dataset,
    config: TrainConfig | None = None,
    plan: BacktestConfig | None = None,
    options: LoadOptions | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    jobs: int = 1,
    progress: Callable | None = None,
    command: str | None = None,
) -> BacktestResult:
    """Walk-forward evaluation against baselines (nothing is written).

    `plan` says how origins fall into folds; write the report with
    `report.write(folder, result.metrics, result.forecasts)`.
    """
    from lstm_forecast.backtest import BacktestConfig, walk_forward

    config = config or TrainConfig()
    opts = _train_options(options, config)
    dataset = data if isinstance(data, Dataset) else load(data, opts)
    result = walk_forward(
        dataset,
        config,
        plan or BacktestConfig(),
        device=device,
        threads=threads,
        jobs=jobs,
        progress=progress,
    )
    result.metrics["settings"].update(
        data=str(data if not isinstance(data, Dataset) else data.source),
        load=asdict(opts),
        command=command,
    )
    return result
