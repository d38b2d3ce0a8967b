"""Forecasts from a saved model: the horizon after the last row, or from every past origin.

Prediction runs the numpy engine by default (no torch import: a nightly `predict` is mostly
start-up), or torch for GPUs and very large batches. Both read the same stored statistics and
calibration, so they give the same numbers to float32 precision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lstm_forecast import calendars, calibration, conformal, engine, windows
from lstm_forecast.calendars import Calendar, Future
from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.formats import timestamp
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.spec import ModelCard

ENGINES = ("auto", "numpy", "torch")
BATCH = 512  # windows per forward pass (of any series): keeps the per-step arrays in cache
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (windows, series ids) -> quantiles
# One series' forecast job: (series, id, origins, row to recalibrate from or None, inputs)
Job = tuple[Series, int, np.ndarray, int | None, windows.Prepared]


def check_compatible(card: ModelCard, dataset: Dataset) -> list[str]:
    """Refuse data unlike the training data; return warnings (such as a stale model)."""
    src = dataset.source
    if card.target != dataset.target:
        raise DataError(
            f"{src}: the model forecasts column '{card.target}', not '{dataset.target}'"
        )
    if card.feature_names != dataset.feature_names:
        raise DataError(
            f"{src}: the model uses features {card.feature_names or 'none'}, the "
            f"data has {dataset.feature_names or 'none'}"
        )
    if (card.date_column is None) != (dataset.date_column is None):
        kind = "dated rows" if card.date_column else "a plain sequence"
        raise DataError(f"{src}: the model was trained on {kind}, this data is not")
    if card.frequency != dataset.frequency:
        raise DataError(
            f"{src}: data frequency {dataset.frequency} differs from the model's {card.frequency}"
        )
    warnings = []
    known = {s.name: s for s in card.series}
    unknown = [s.name for s in dataset.series if s.name not in known]
    if unknown:
        warnings.append(f"series {', '.join(unknown)} not in the model; not forecast")
    for s in dataset.series:
        if s.name in known and dataset.date_column:
            cutoff = str(known[s.name].last)
            newer = int((s.index > np.datetime64(cutoff)).sum())
            if newer > card.config.lookback:
                warnings.append(
                    f"series '{s.name}': {newer} rows after the model's training "
                    f"cutoff {cutoff[:10]}; retraining is advised"
                )
    return warnings


def forecast(
    card: ModelCard,
    weights: dict[str, np.ndarray],
    dataset: Dataset,
    *,
    since: str | int | None = None,
    series: list[str] | None = None,
    engine_name: str = "auto",
    recalibrate: bool = False,
    notify: Callable[[str], None] | None = None,
    with_origin: bool = False,
) -> pd.DataFrame:
    """One row per series, origin and horizon step: quantiles in the target's own units.

    Without `since`, the only origin is each series' last row. With it, every origin from
    `since` to the last row, each using only the history up to that origin; a target the data
    holds is dated by its row. Dates past the data's end are sessions of the dataset's
    calendar (`future_index`); what they rest on is said through `notify`. `recalibrate`
    adapts the intervals online from the origins after the training cutoff (see
    `quantile_forecasts`). With `since` or `with_origin`, each row also has its `origin` and
    `actual` (NaN past the data).
    """
    lookback = card.config.lookback
    ids = card.series_ids()
    wanted = series or [s.name for s in dataset.series if s.name in ids]
    by_name = {s.name: s for s in dataset.series}
    for name in wanted:
        if name not in ids:
            raise DataError(
                f"{dataset.source}: the model has no series '{name}' (it knows {', '.join(ids)})"
            )
        if name not in by_name:
            raise DataError(f"{dataset.source}: no series '{name}' in the data")
    if not wanted:
        raise DataError(
            f"{dataset.source}: none of the data's series is in the model "
            f"(it knows {', '.join(ids)})"
        )
    run = runner(card, weights, engine_name)
    chosen = [by_name[name] for name in wanted]
    short = [s for s in chosen if len(s) < lookback]
    if short and (series is not None or len(short) == len(chosen)):
        s = short[0]
        raise DataError(
            f"{dataset.source}: series '{s.name}' has {len(s)} rows, fewer than the "
            f"model's lookback {lookback}"
        )
    for s in short if notify else ():
        notify(
            f"warning: series '{s.name}' has {len(s)} rows, fewer than the model's lookback "
            f"{lookback}; no forecast"
        )
    chosen = [s for s in chosen if len(s) >= lookback]
    stats = [card.series[ids[s.name]].stats for s in chosen]
    preps = windows.prepare_many(chosen, stats, card.transform, card.config.date_features)
    jobs = [
        (
            s,
            ids[s.name],
            _origins(s, since, lookback, dataset.source),
            cutoff_row(card, ids[s.name], s) if recalibrate else None,
            prep,
        )
        for s, prep in zip(chosen, preps, strict=True)
    ]
    parts, notes = [], []
    for (s, _, origins, _, _), q in zip(
        jobs, many_quantile_forecasts(card, run, jobs), strict=True
    ):
        future = future_index(
            s.index, card.frequency, q.shape[1], dataset.exchange, dataset.calendar, dataset.clock
        )
        if future.note and future.note not in notes:
            notes.append(future.note)
        parts.append(_columns(s, origins, q, card, future.index, since is not None or with_origin))
    for note in notes if notify else ():
        notify(f"note: {note}")
    return pd.DataFrame({c: np.concatenate([part[c] for part in parts]) for c in parts[0]})


def quantile_forecasts(
    card: ModelCard,
    run: Runner,
    series: Series,
    sid: int,
    origins: np.ndarray,
    recalibrate_from: int | None = None,
    prep: windows.Prepared | None = None,
) -> np.ndarray:
    """Calibrated quantile forecasts (origins, horizon, quantiles) in the target's units
    (`prep`: the series' inputs, when prepared already); see `many_quantile_forecasts`."""
    if prep is None:
        stats = card.series[sid].stats
        prep = windows.prepare(series, stats, card.transform, card.config.date_features)
    return many_quantile_forecasts(card, run, [(series, sid, origins, recalibrate_from, prep)])[0]


def many_quantile_forecasts(card: ModelCard, run: Runner, jobs: list[Job]) -> list[np.ndarray]:
    """Calibrated quantile forecasts (origins, horizon, quantiles) in the target's units, a job
    (one series) at a time, the windows of all of them batched through the network together.

    With a job's row to recalibrate from (the training cutoff: see `cutoff_row`), the quantiles of
    every origin from that row on are recalibrated online (`conformal.adaptive_tails`, on the
    normalised scale): the tracker starts at that row, runs over every origin after it, and
    moves only on outcomes known by each origin's own row, so an origin's forecast depends
    neither on later data nor on which origins were asked for. The median is left as it is.
    """
    rows, adapt = [], []
    for _, _, origins, start, _ in jobs:
        at = np.asarray(origins)
        adapt.append(start is not None and len(at) > 0 and at.max() >= start)
        rows.append(np.union1d(at, np.arange(start, at.max() + 1)) if adapt[-1] else at)
    norms = raw_many(
        card, run, [(prep, sid, at) for (_, sid, _, _, prep), at in zip(jobs, rows, strict=True)]
    )
    out = []
    for (series, _, origins, start, prep), at, norm, adapting in zip(
        jobs, rows, norms, adapt, strict=True
    ):
        origins = np.asarray(origins)
        norm = calibration.apply(norm, card.calibration, card.network.median_index)
        if adapting:
            after = at >= start
            truth = windows.targets(prep, card.network.horizon)[at[after]]
            levels = list(card.network.quantiles)
            norm[after] = conformal.adaptive_tails(norm[after], truth, levels, at[after])
            norm = norm[np.searchsorted(at, origins)]
        out.append(
            windows.denormalise(norm, series.values[origins], prep.sigma[origins], card.transform)
        )
    return out


def cutoff_row(card: ModelCard, sid: int, series: Series) -> int:
    """The row of `series` holding the model's last training row (its training cutoff), or
    the first row with a full lookback when the data starts after it."""
    last = card.series[sid].last
    key = np.datetime64(last, "ns") if isinstance(last, str) else last
    row = int(np.searchsorted(series.index, key, side="right")) - 1
    return max(row, card.config.lookback - 1)


def raw_many(
    card: ModelCard, run: Runner, jobs: list[tuple[windows.Prepared, int, np.ndarray]]
) -> list[np.ndarray]:
    """The model's uncalibrated normalised quantiles at each job's origins (a job: a series'
    inputs, its id, origins), BATCH windows of any series per forward pass: a universe of
    one-origin forecasts takes a pass per BATCH series, not one per series. `run` is what
    `runner` returns. With the numpy engine a row does not depend on the other rows of its
    batch; with torch's it may, in its last digits."""
    if not jobs:
        return []
    lookback, out = card.config.lookback, []
    held: list[tuple[windows.Prepared, int, np.ndarray]] = []  # waiting for a pass
    size = 0

    def flush() -> None:
        if held:
            x = np.concatenate([windows.windows(p.x, o, lookback) for p, _, o in held])
            out.append(run(x, np.concatenate([np.full(len(o), sid) for _, sid, o in held])))
            held.clear()

    for prep, sid, origins in jobs:
        for i in range(0, len(origins), BATCH):
            chunk = origins[i : i + BATCH]
            if size + len(chunk) > BATCH:
                flush()
                size = 0
            held.append((prep, sid, chunk))
            size += len(chunk)
    flush()
    shape = (0, card.network.horizon, card.network.n_quantiles)
    flat = np.concatenate(out) if out else np.zeros(shape)
    return np.split(flat, np.cumsum([len(origins) for _, _, origins in jobs])[:-1])


def tail_forecasts(
    card: ModelCard, weights: dict[str, np.ndarray], dataset: Dataset, reference: ModelCard
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A model's forecasts over the `reference` model's validation origins, as that model's
    own table scores them: {series: (origins, quantiles (origins, H, Q) in target units)},
    each half of the tail calibrated on the other (`calibration.cross_fitted`)."""
    run = runner(card, weights)
    ids = card.series_ids()
    by_name = {s.name: s for s in dataset.series}
    for ref in reference.series:
        if ref.name not in ids:
            raise DataError(f"{dataset.source}: the model has no series '{ref.name}'")
    chosen = [by_name[ref.name] for ref in reference.series]
    stats = [card.series[ids[s.name]].stats for s in chosen]
    preps = windows.prepare_many(chosen, stats, card.transform, card.config.date_features)
    horizon, lookback = reference.network.horizon, card.config.lookback
    rows = [
        (s, np.arange(max(ref.n_train - 1, lookback - 1), len(s) - horizon), prep)
        for ref, s, prep in zip(reference.series, chosen, preps, strict=True)
    ]
    preds = raw_many(card, run, [(prep, ids[s.name], o) for s, o, prep in rows])
    truths = [windows.targets(prep, card.network.horizon)[o] for _, o, prep in rows]
    levels, mid = list(card.network.quantiles), card.network.median_index
    crossed = calibration.cross_fitted(preds, truths, levels, mid)
    return {
        s.name: (o, windows.denormalise(q, s.values[o], prep.sigma[o], card.transform))
        for (s, o, prep), q in zip(rows, crossed, strict=True)
    }


def runner(card: ModelCard, weights: dict[str, np.ndarray], engine_name: str = "auto") -> Runner:
    """A function (windows, series ids) -> normalised quantiles: the network of `card.network`
    on the chosen engine. The one place a stored network is rebuilt."""
    spec = card.network
    if engine_name not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}")
    if engine_name in ("auto", "numpy"):

        def run(x: np.ndarray, ids: np.ndarray) -> np.ndarray:
            return engine.forward(spec, weights, x, ids)

        return run
    import torch

    from lstm_forecast.model import LSTMForecaster

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = LSTMForecaster(spec).to(device)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    model.eval()

    def run_torch(x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(device)
            at = torch.from_numpy(ids).to(device)
            return model(t, at, first=-1)[:, 0].double().cpu().numpy()

    return run_torch


def _origins(s: Series, since: str | int | None, lookback: int, source: str) -> np.ndarray:
    last = len(s) - 1
    if since is None:
        return np.array([last])
    if np.issubdtype(s.index.dtype, np.datetime64):
        try:
            start = np.datetime64(pd.Timestamp(str(since)).to_datetime64(), "ns")
        except ValueError:
            raise ConfigError(f"--since: not a date: {since!r}") from None
        first = int(np.searchsorted(s.index, start, side="left"))
    else:
        try:
            first = int(np.searchsorted(s.index, int(since), side="left"))
        except ValueError:
            raise ConfigError(f"--since: not a row number: {since!r}") from None
    first = max(first, lookback - 1)
    if first > last:
        raise DataError(
            f"{source}: series '{s.name}': no origin on or after --since {since} "
            f"with a full lookback of history"
        )
    return np.arange(first, last + 1)


def future_index(
    index: np.ndarray,
    frequency: str | None,
    steps: int,
    exchange: str | None = None,
    stored: Calendar | None = None,
    clock: str | None = None,
) -> Future:
    """The `steps` timestamps after the last one (row numbers for plain sequences).

    Daily and intraday data step through the sessions of calendar `exchange` (see
    `calendars.future_index`; `stored` is a model's calendar, `clock` the zone of naive
    stamps when not the exchange's). Where the calendar has no say (`none`, weekly or coarser
    data, intraday `weekdays`), steps continue the data's own arithmetic: business days for
    "B", and intraday steps only on the weekdays and times of day the data shows, so a bar
    after Friday's close is Monday's opening bar.
    """
    if frequency is None:
        return Future(index[-1] + np.arange(1, steps + 1))
    if exchange is not None:
        found = calendars.future_index(index, frequency, steps, exchange, stored, clock)
        if found is not None:
            return found
    offset = pd.tseries.frequencies.to_offset(frequency)
    start = pd.Timestamp(index[-1])
    if not calendars.is_intraday(frequency):
        stepped = pd.date_range(start, periods=steps + 1, freq=offset)[1:]
        return Future(stepped.to_numpy("datetime64[ns]"))
    stamps = pd.DatetimeIndex(index)
    times, days = set(stamps.time), set(stamps.day_of_week)
    week = int(pd.Timedelta(days=8) / pd.Timedelta(offset))  # the longest gap to the next bar
    candidates = pd.date_range(start, periods=steps * week + 1, freq=offset)[1:]
    ok = candidates.day_of_week.isin(list(days)) & np.isin(candidates.time, list(times))
    return Future(candidates[ok][:steps].to_numpy("datetime64[ns]"))


def format_index(values: np.ndarray, frequency: str | None) -> np.ndarray:
    """ISO dates for daily and coarser data, ISO timestamps for intraday, ints for sequences."""
    if frequency is None:
        return values.astype("int64")
    return timestamp(values, date_only=not calendars.is_intraday(frequency))


def _columns(
    s: Series,
    origins: np.ndarray,
    q: np.ndarray,
    card: ModelCard,
    future: np.ndarray,
    with_origin: bool,
) -> dict[str, np.ndarray]:
    """The forecast columns of one series; a target inside the data is dated by its own row,
    one past the data's end by `future` (the timestamps after the last row)."""
    horizon, frequency = q.shape[1], card.frequency
    extended = np.concatenate([s.index, future])
    target_rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    cols: dict[str, np.ndarray] = {"series": np.full(target_rows.size, s.name, dtype=object)}
    if with_origin:
        cols["origin"] = format_index(np.repeat(s.index[origins], horizon), frequency)
    cols["date"] = format_index(extended[target_rows].ravel(), frequency)
    cols["horizon"] = np.tile(np.arange(1, horizon + 1), len(origins))
    cols["forecast"] = q[..., card.network.median_index].ravel()
    for j, level_q in enumerate(card.network.quantiles):
        cols[quantile_column(level_q)] = q[..., j].ravel()
    if with_origin:
        padded = np.concatenate([s.values, np.full(horizon, np.nan)])
        cols["actual"] = padded[target_rows].ravel()
    return cols


def quantile_column(q: float) -> str:
    """Column name for a quantile: 0.1 -> q10, 0.5 -> q50, 0.025 -> q2.5."""
    pct = round(q * 100, 4)
    return f"q{int(pct)}" if pct == int(pct) else f"q{pct:g}"
