"""The plain Python API behind every command, usable from a notebook.

    from lstm_forecast import api
    result = api.train("prices.csv", "aapl.lstm", api.TrainConfig(epochs=20))
    frame = api.predict("prices.csv", "aapl.lstm")

Each function composes the single-purpose modules (loading -> windows -> training ->
artifacts -> forecasting -> evaluation) and raises only ForecastError subclasses for bad input.
`train` and `update` return a `TrainResult` (`.card`, `.meta`, `.record` for a run record),
`backtest` a `BacktestResult` (`.metrics`, `.forecasts`, `.record`), `predict` a DataFrame.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstm_forecast import artifacts, forecasting
from lstm_forecast.errors import ConfigError, DataError, ForecastError
from lstm_forecast.formats import timestamp
from lstm_forecast.loading import Dataset, LoadOptions, load
from lstm_forecast.settings import TrainConfig, differences, loader_features
from lstm_forecast.spec import ModelCard

if TYPE_CHECKING:
    from lstm_forecast.backtest import BacktestConfig, BacktestResult
    from lstm_forecast.conversion import Conversion
    from lstm_forecast.sql_source import Source
    from lstm_forecast.training import TrainResult
    from lstm_forecast.tune_outcome import TuneResult
    from lstm_forecast.tuning import TunePlan

    # What the functions read: a file path ('-' for stdin; a Parquet file or dataset folder
    # too), a database table or query (`sql_source.Source`), or a Dataset loaded already.
    Data = str | Path | Dataset | Source

__all__ = [
    "LoadOptions",
    "TrainConfig",
    "convert",
    "info",
    "inspect",
    "load_data",
    "predict",
    "predict_groups",
    "train",
    "tune",
    "update",
]


def load_data(data: str | Path | Source, options: LoadOptions | None = None) -> Dataset:
    """Load a data file, dataset folder or database table the way every command does."""
    return load(data, options)


def _train_options(options: LoadOptions | None, config: TrainConfig) -> LoadOptions:
    """The caller's options (left unchanged) with what training needs of the data."""
    opts = options or LoadOptions()
    return replace(
        opts,
        features=loader_features(config.features) or opts.features,
        min_rows=config.lookback + config.horizon + 1,
        transform=config.transform,
    )


def train(
    data: Data,
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
    interval_baselines: bool = False,
    checkpoint_every: int | None = None,
) -> TrainResult:
    """Train on `data` and write the model to `model_path` atomically, under its lock.

    With `keep_better`, an existing model is replaced only when the new one does at least as
    well on the new model's validation tail (`result.card.kept` says which was kept). Under
    torchrun each rank reads only its share of the series of a Parquet dataset (`shards`), and
    only rank 0 takes the lock and writes. `checkpoint_every` steps a checkpoint is written
    beside the model (also when a signal stops training); `resume` continues from it.
    `interval_baselines` sets GARCH(1,1)-t and EWMA bands beside the model's intervals in the
    validation table (it imports arch and scipy: about 2 s).
    """
    from lstm_forecast import distributed, training

    config = config or TrainConfig()
    artifacts.check_writable(model_path)  # before the work, not after it
    writer = distributed.rank() == 0
    with distributed.process_group(training.resolve_device(device)):
        if isinstance(data, Dataset):
            dataset = data
        else:
            dataset = _load_shard(data, options, config, notify if writer else None)
        ckpt_path = artifacts.checkpoint_path(model_path)
        with artifacts.model_lock(model_path, wait) if writer else contextlib.nullcontext():
            resume_from = _resume_state(ckpt_path, config) if resume else None
            result = training.train(
                dataset,
                config,
                device=device,
                threads=threads,
                progress=progress,
                checkpoint=partial(artifacts.save_checkpoint, ckpt_path),
                checkpoint_every=checkpoint_every,
                resume_from=resume_from,
            )
            scored = replace(dataset, series=result.scored)
            _score(result, scored, interval_baselines)
            if writer:
                _store(result, scored, data, model_path, keep_better, notify)
                ckpt_path.unlink(missing_ok=True)
    return result


def _load_shard(
    data: str | Path | Source,
    options: LoadOptions | None,
    config: TrainConfig,
    notify: Callable[[str], None] | None,
) -> Dataset:
    """The data as this process trains on it: under torchrun, a Parquet dataset's series of
    this rank's shard alone (`shards`); the whole data otherwise. The ranks' loader decisions
    (frequency, calendar) must agree; every rank's warnings, and what each read, are told."""
    from lstm_forecast import distributed, shards

    opts = _train_options(options, config)
    plan = shards.shard_options(data, opts, distributed.rank(), distributed.world_size())
    if plan is None:
        dataset = load(data, opts)
        _warn(notify, dataset.warnings)
        return dataset
    dataset = load(data, plan[0])
    rows = sum(len(s) for s in dataset.series)
    found = distributed.gather(
        (dataset.frequency, dataset.exchange, dataset.warnings, len(dataset.series), rows)
    )
    if len({(frequency, exchange) for frequency, exchange, *_ in found}) > 1:
        seen = "; ".join(f"rank {r}: {f[0]} on {f[1]}" for r, f in enumerate(found))
        raise DataError(
            f"{dataset.source}: the shards of the series differ in frequency or trading "
            f"calendar ({seen}); give --exchange to settle it"
        )
    _warn(notify, [w for _, _, held, _, _ in found for w in held])
    if notify:
        read = "; ".join(f"rank {r}: {f[3]:,} series, {f[4]:,} rows" for r, f in enumerate(found))
        notify(f"{len(found)} processes each read only their share of {plan[1]:,} series ({read})")
    return replace(dataset, details={**dataset.details, "rows": sum(f[4] for f in found)})


def update(
    data: str | Path | Source,
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
) -> TrainResult:
    """Fine-tune a model on data that runs past its training cutoff (warm start).

    The model's transforms, scalers and settings are kept; only the weights move, for `epochs`
    epochs at `lr_scale` times the original learning rate. Data of other columns or frequency,
    or with nothing newer than the cutoff, is refused.
    """
    from lstm_forecast import training

    with artifacts.model_lock(model_path, wait):  # read the model only once it is ours
        card, weights = artifacts.load_model(model_path)
        # the model's calendar, computed afresh to reach past the new data
        dataset = load(data, replace(_predict_options(options, card), calendar=None))
        _warn(notify, dataset.warnings)
        forecasting.check_compatible(card, dataset)
        _require_new_rows(card, dataset)
        config = replace(card.config, epochs=epochs, lr=card.config.lr * lr_scale)
        result = training.train(
            dataset,
            config,
            device=device,
            threads=threads,
            progress=progress,
            init_weights=weights,
            init_card=card,
        )
        result.card.updated_from = card.data_hash
        _score(result, dataset)
        _store(result, dataset, data, model_path, keep_better, notify)
    return result


def _warn(notify: Callable[[str], None] | None, warnings: list[str]) -> None:
    """Pass the loader's warnings (odd values, gaps, short series) on to the caller."""
    if notify:
        for warning in warnings:
            notify(f"warning: {warning}")


def _resume_state(ckpt_path: Path, config: TrainConfig) -> tuple[dict, dict]:
    """The checkpoint's tensors and state, when made with these settings (training checks
    that it was made on the same data)."""
    saved, tensors = artifacts.load_checkpoint(ckpt_path)
    if (stored := TrainConfig.from_dict(saved["config"])) != config:
        raise ConfigError(
            f"{ckpt_path}: the checkpoint was made with other settings "
            f"({differences(stored.to_dict(), config.to_dict())}); resume with the same options"
        )
    return tensors, saved


def _score(result: TrainResult, dataset: Dataset, interval_baselines: bool = False) -> None:
    """Fill the card's validation table from the model's validation forecasts."""
    from lstm_forecast import evaluation

    frame = evaluation.validation_frame(
        dataset, result.card, result.validation, interval_baselines=interval_baselines
    )
    result.card.evaluation = evaluation.validation_table(frame, result.card.calibration.shrink)
    if len(result.scored) < result.series_count:
        result.card.evaluation["sampled"] = {
            "series": len(result.scored),
            "of": result.series_count,
            "val_origins": result.card.config.val_origins,
        }


def _store(
    result: TrainResult,
    dataset: Dataset,
    data: Data,
    model_path: str | Path,
    keep_better: bool,
    notify: Callable[[str], None] | None,
) -> None:
    """Stamp the model with its origin and write it (unless --keep-better keeps the old one)."""
    card = result.card
    for name in card.skipped_series:
        if notify:
            notify(
                f"warning: series '{name}' is too short for a training and a validation part; "
                f"left out of the model"
            )
    card.created = timestamp(time.time())
    card.source = {"path": _shown(data, dataset), **dataset.details}
    if keep_better:
        card.kept = _keep_better(result, dataset, model_path, notify)
    if card.kept in (None, "new"):
        artifacts.save_model(model_path, result.weights, card)


def _shown(data: Data, dataset: Dataset) -> str:
    """How models and reports name the data: the path given, else the source's name (a
    database URL with its password hidden)."""
    return str(data) if isinstance(data, str | Path) else dataset.source


def _require_new_rows(card: ModelCard, dataset: Dataset) -> None:
    cutoffs = {s.name: s.last for s in card.series}
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
    result: TrainResult,
    dataset: Dataset,
    model_path: str | Path,
    notify: Callable[[str], None] | None,
) -> str:
    """Score the old and new models on the new model's validation tail; return the winner.

    Both are scored alike and out of sample: the same origins, the horizon steps they share,
    each model's quantiles cross-fitted on the tail (see `forecasting.tail_forecasts`), and
    the same `evaluation` as the validation table.
    """
    from lstm_forecast import evaluation

    path = Path(model_path)
    if not path.exists():
        return "new"
    old_card, old_weights = artifacts.load_model(path)
    new_card = result.card
    steps = min(old_card.network.horizon, new_card.network.horizon)

    def frame(card: ModelCard, weights: dict) -> pd.DataFrame:
        forecasts = forecasting.tail_forecasts(card, weights, dataset, new_card)
        return evaluation.validation_frame(dataset, new_card, forecasts, card, steps)

    try:
        forecasting.check_compatible(old_card, dataset)
        old = frame(old_card, old_weights)
    except ForecastError as exc:
        if notify:
            notify(f"the existing model cannot be scored on this data ({exc}); replacing it")
        return "new"
    better = evaluation.compare(frame(new_card, result.weights), old)
    if notify:
        winner = "new model replaces" if better.kept == "new" else "existing model kept over"
        notify(
            f"keep-better: {winner} the other (validation MASE new {better.new_mase:.4f}, "
            f"existing {better.old_mase:.4f})"
        )
    return better.kept


def predict(data: Data, model_path: str | Path, **options: Any) -> pd.DataFrame:
    """Forecast the horizon after the data's last row (or from every origin since `since`),
    as one frame; `options` are the keyword arguments of `predict_groups`."""
    return pd.concat(list(predict_groups(data, model_path, **options)), ignore_index=True)


PREDICT_GROUP_ROWS = 2_000_000  # rows of a Parquet dataset that `predict` holds at once


def predict_groups(
    data: Data,
    model_path: str | Path,
    *,
    since: str | None = None,
    series: list[str] | None = None,
    options: LoadOptions | None = None,
    engine: str = "auto",
    notify: Callable[[str], None] | None = None,
    recalibrate: bool = False,
    identify: bool = False,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Forecast the horizon after the data's last row (or from every origin since `since`), a
    group of series at a time.

    `series` selects series (only their rows are read from a Parquet dataset or a database).
    `recalibrate` adapts the intervals online to the misses of the origins after the model's
    training cutoff (`forecasting.quantile_forecasts`); the median stays the model's. With
    `identify`, every row also says which model made it (`model`, a hash of the model file)
    and from which origin (`origin`, the last row's timestamp for a plain forecast).

    A Parquet dataset of more than PREDICT_GROUP_ROWS rows is read in groups of series of
    about that many rows (row counts from its metadata), so memory holds one group whatever
    the universe; its series the model does not know are named once and not read, and
    `progress(groups done, groups, what)` hears of each group. Any other data is one group.
    A message is told once, however many groups repeat it.
    """
    from lstm_forecast import shards

    notify = _once(notify)
    card, weights, model_id = artifacts.load_identified_model(model_path)
    opts = None if isinstance(data, Dataset) else _predict_options(options, card)
    plan = None
    if opts is not None:
        wanted = replace(opts, series=series or opts.series)
        plan = shards.groups(data, wanted, PREDICT_GROUP_ROWS, set(card.series_ids()), notify)
    if plan is None:
        dataset = data if opts is None else load(data, replace(opts, series=series or opts.series))
        yield _forecast(
            card, weights, model_id, dataset, since, series, engine, notify, recalibrate, identify
        )
        return
    done = 0
    for i, names in enumerate(plan):
        dataset = load(data, replace(opts, series=names))
        yield _forecast(
            card, weights, model_id, dataset, since, None, engine, notify, recalibrate, identify
        )
        done += len(names)
        if progress:
            progress(i + 1, len(plan), f"{done:,} series")


def _once(notify: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """`notify` passing each message on the first time only."""
    if notify is None:
        return None
    said: set[str] = set()

    def tell(message: str) -> None:
        if message not in said:
            said.add(message)
            notify(message)

    return tell


def _forecast(
    card: ModelCard,
    weights: dict,
    model_id: str,
    dataset: Dataset,
    since: str | None,
    series: list[str] | None,
    engine: str,
    notify: Callable[[str], None] | None,
    recalibrate: bool,
    identify: bool,
) -> pd.DataFrame:
    for warning in forecasting.check_compatible(card, dataset):
        if notify:
            notify(f"warning: {warning}")
    frame = forecasting.forecast(
        card,
        weights,
        dataset,
        since=since,
        series=series,
        engine_name=engine,
        recalibrate=recalibrate,
        notify=notify,
        with_origin=identify,
    )
    if identify:
        frame.insert(0, "model", model_id)
    return frame


def _predict_options(options: LoadOptions | None, card: ModelCard) -> LoadOptions:
    """The caller's options (left unchanged) with what the model needs of the data: its
    trading calendar too (a model from before calendars were stored finds one in the data)."""
    opts = options or LoadOptions()
    exchange, calendar = opts.exchange, None
    if card.exchange is not None:
        _check_exchange(opts.exchange, card.exchange)
        exchange, calendar = card.exchange, card.calendar
    return replace(
        opts,
        target=card.target if opts.target is None else opts.target,
        features=card.feature_names,
        min_rows=1,
        transform=card.transform,
        exchange=exchange,
        calendar=calendar,
    )


def _check_exchange(given: str, model: str) -> None:
    """A --exchange other than `auto` must name the model's calendar (aliases allowed)."""
    if given.strip().lower() in ("auto", model.lower()):
        return
    from lstm_forecast.calendars import check_code

    if check_code(given) != model:
        raise ConfigError(
            f"--exchange {given} differs from the model's calendar {model}: a model forecasts "
            f"on the calendar it was trained with (leave --exchange out, or train with "
            f"--exchange {given})"
        )


def inspect(data: str | Path | Source, options: LoadOptions | None = None) -> dict:
    """What the loader found in a file, dataset folder or database table, as a JSON-ready dict.

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
        return timestamp(pd.Timestamp(v), date_only=daily)

    return {
        "source": ds.source,
        **details,
        "target": ds.target,
        "date_column": ds.date_column,
        "frequency": ds.frequency,
        "calendar": ds.calendar_info,
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


def convert(
    data: str | Path,
    to: str | Path,
    options: LoadOptions | None = None,
    *,
    replace: bool = False,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> Conversion:
    """Write the series of a big delimited file as a Parquet dataset folder, read in chunks
    (no size bound) with the loader's cleaning and messages, bucketed by series with row counts
    in each footer: what sharded training and grouped prediction read a part at a time."""
    from lstm_forecast import conversion

    return conversion.convert(data, to, options, replace_existing=replace, progress=progress)


def info(model_path: str | Path) -> dict:
    """What a model file is: data, settings, network, validation metrics, training figures."""
    card, weights = artifacts.load_model(model_path)
    header = card.to_header()
    return {
        "path": str(model_path),
        "format_version": card.format_version,
        "package_version": card.package_version,
        "torch_version": card.torch_version,
        "created": card.created,
        "source": card.source,
        "data_hash": card.data_hash,
        "target": card.target,
        "transform": card.transform,
        "frequency": card.frequency,
        "calendar": _calendar_info(card),
        "features": card.feature_names,
        "series": [
            {k: s[k] for k in ("name", "rows", "n_train", "first", "last")}
            for s in header["series"]
        ],
        "config": header["config"],
        "network": header["network"],
        "parameters": int(sum(v.size for v in weights.values())),
        "training": {k: v for k, v in header["training"].items() if k != "history"},
        "evaluation": card.evaluation,
    }


def _calendar_info(card: ModelCard) -> dict | None:
    """The model's trading calendar for `info`: its code and the span of sessions stored."""
    if card.exchange is None:
        return None
    cal = card.calendar
    if cal is None or cal.sessions is None:
        return {"code": card.exchange, "sessions": None}
    span = {"from": str(cal.start), "to": str(cal.end), "exchange_calendars": cal.version}
    return {"code": card.exchange, "sessions": span, "hours": cal.hours is not None}


def backtest(
    data: Data,
    config: TrainConfig | None = None,
    plan: BacktestConfig | None = None,
    options: LoadOptions | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    jobs: int = 1,
    progress: Callable | None = None,
    each: Callable[[pd.DataFrame], None] | None = None,
    command: str | None = None,
) -> BacktestResult:
    """Walk-forward evaluation against baselines (nothing is written).

    `plan` says how origins fall into folds. The forecasts are made a group of series at a
    time: with `each`, each group's frame is handed to `each(frame)` as it is done and the
    result keeps only the series the report plots (a universe's forecasts need not fit in
    memory; `outputs.backtest_sink` writes them); without, `result.forecasts` holds them all.
    Write the report with `report.write(folder, result.metrics, result.forecasts)` and the
    forecasts files with `outputs.write_backtest`. `settings.run` in the metrics identifies
    the run: a hash of the data and of every setting that shapes the results.
    """
    from lstm_forecast.backtest import BacktestConfig, walk_forward

    config = config or TrainConfig()
    plan = plan or BacktestConfig()
    opts = _train_options(options, config)
    dataset = data if isinstance(data, Dataset) else load(data, opts)
    result = walk_forward(
        dataset,
        config,
        plan,
        device=device,
        threads=threads,
        jobs=jobs,
        progress=progress,
        each=each,
    )
    settings = result.metrics["settings"]
    settings.update(data=_shown(data, dataset), load=asdict(opts), command=command)
    settings["run"] = run_identity(dataset, config, plan, opts)
    return result


def run_identity(
    dataset: Dataset, config: TrainConfig, plan: BacktestConfig, options: LoadOptions
) -> str:
    """A backtest run's identity: a hash of its data and of the settings shaping its results
    (rerunning the same job gives the same identity; any other data or setting another)."""
    import hashlib
    import json

    from lstm_forecast.baselines import season_length
    from lstm_forecast.training import data_hash

    shaping = {
        "train": config.to_dict(),
        "backtest": asdict(plan),
        "season": plan.season or season_length(dataset.frequency),
        "load": asdict(options),
    }
    text = json.dumps({"data": data_hash(dataset), **shaping}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tune(
    data: str | Path,
    model_path: str | Path,
    config: TrainConfig | None = None,
    options: LoadOptions | None = None,
    *,
    plan: TunePlan | None = None,
    space: str | Path | None = None,
    trials: int = 20,
    timeout: float | None = None,
    jobs: int = 1,
    storage: str | None = None,
    study: str | None = None,
    settings_path: str | Path | None = None,
    device: str = "auto",
    threads: int = 1,
    wait: float = 0.0,
    progress: Callable[[int, int, str], None] | None = None,
) -> TuneResult:
    """Search the settings of `train` (`tuning`, `tune_study`), score the best once on the
    untouched stretch, and write its settings file (`settings_path`, default MODEL.toml, read by
    `train --config`) and its model trained like `train` on all of `data`, under the model's
    lock. `config` holds the defaults and what is not searched; `space` a --space file.

    Several processes or machines may run this on one `storage` and `study` (default: a
    SQLite file MODEL.tune.db and the model's file name): `trials` is their total, and only
    one writes the model for a given best trial.
    """
    from lstm_forecast.db_url import optional_module, redact

    optional_module("optuna", "tune", "tune needs")
    from lstm_forecast import tune_outcome, tune_study, tuning
    from lstm_forecast.training import resolve_device

    if str(data) == "-":
        raise ConfigError("tune reads DATA twice (to search, then to train the best): give a file")
    base = config or TrainConfig()
    model_path = Path(model_path)
    settings_path = Path(settings_path or f"{model_path}.toml")
    for path in (model_path, settings_path):
        artifacts.check_writable(path)
    opts = options or LoadOptions()
    dataset = load(data, _train_options(opts, base))
    dev = resolve_device(device).type
    setup = tuning.prepare(
        dataset, base, plan or tuning.TunePlan(), space, device=dev, threads=threads
    )
    url = tune_study.storage_url(storage, model_path)
    name = study or model_path.name
    tune_study.run(setup, url, name, trials=trials, timeout=timeout, jobs=jobs, progress=progress)

    def write_model(best: TrainConfig) -> None:
        from lstm_forecast import training

        full = load(data, _train_options(opts, best))  # exactly as `train` reads it
        result = training.train(full, best, device=dev, threads=threads)
        _score(result, full)
        _store(result, full, data, model_path, False, None)

    loaded = {k: v for k, v in asdict(opts).items() if k in _LOAD_SETTINGS and v is not None}
    if loaded.get("series"):
        loaded["series"] = ",".join(loaded["series"])
    with artifacts.model_lock(model_path, wait), _stopped_while("writing the best model"):
        return tune_outcome.conclude(
            tune_study.open_study(url, name, setup, trials),
            setup,
            dataset,
            url=url,
            trials=trials,
            model_path=model_path,
            settings_path=settings_path,
            settings_extra={"device": dev, "threads": threads, **loaded},
            data_name=redact(str(data)),
            write_model=write_model,
        )


# The data options a settings file repeats, so that `train --config` reads the same data.
_LOAD_SETTINGS = (
    "target",
    "date_col",
    "date_format",
    "dayfirst",
    "series_col",
    "series",
    "max_gap",
    "exchange",
)


@contextlib.contextmanager
def _stopped_while(doing: str):
    """A signal while `doing`: say that nothing was written (training's message speaks of a
    checkpoint, which only `train` saves)."""
    from lstm_forecast.errors import Interrupted

    try:
        yield
    except Interrupted as exc:
        raise Interrupted(
            f"tune stopped by a signal while {doing}; nothing was written, run the same "
            f"command again to finish",
            exc.exit_code,
        ) from None
