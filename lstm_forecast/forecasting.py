"""Forecasts from a saved model: the horizon after the last row, or from every past origin.

Prediction runs the numpy engine by default (no torch import: a nightly `predict` is mostly
start-up), or torch for GPUs and very large batches. Both read the same stored statistics and
calibration, so they give the same numbers to float32 precision.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lstm_forecast import calibration, engine, windows
from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.loading import Dataset, Series

ENGINES = ("auto", "numpy", "torch")
BATCH = 512  # origins per forward pass: keeps the per-step arrays in cache


def check_compatible(meta: dict, dataset: Dataset) -> list[str]:
    """Refuse data unlike the training data; return warnings (such as a stale model)."""
    src = dataset.source
    if meta["target"] != dataset.target:
        raise DataError(
            f"{src}: the model forecasts column '{meta['target']}', not '{dataset.target}'"
        )
    if meta["feature_names"] != dataset.feature_names:
        raise DataError(
            f"{src}: the model uses features {meta['feature_names'] or 'none'}, the "
            f"data has {dataset.feature_names or 'none'}"
        )
    if (meta["date_column"] is None) != (dataset.date_column is None):
        kind = "dated rows" if meta["date_column"] else "a plain sequence"
        raise DataError(f"{src}: the model was trained on {kind}, this data is not")
    if meta["frequency"] != dataset.frequency:
        raise DataError(
            f"{src}: data frequency {dataset.frequency} differs from the model's "
            f"{meta['frequency']}"
        )
    warnings = []
    lookback = meta["config"]["lookback"]
    known = {s["name"]: s for s in meta["series"]}
    unknown = [s.name for s in dataset.series if s.name not in known]
    if unknown:
        warnings.append(f"series {', '.join(unknown)} not in the model; not forecast")
    for s in dataset.series:
        if s.name in known and dataset.date_column:
            cutoff = np.datetime64(known[s.name]["last"])
            newer = int((s.index > cutoff).sum())
            if newer > lookback:
                warnings.append(
                    f"series '{s.name}': {newer} rows after the model's training "
                    f"cutoff {known[s.name]['last'][:10]}; retraining is advised"
                )
    return warnings


def forecast(
    meta: dict,
    weights: dict[str, np.ndarray],
    dataset: Dataset,
    *,
    since: str | int | None = None,
    series: list[str] | None = None,
    engine_name: str = "auto",
) -> pd.DataFrame:
    """One row per series, origin and horizon step: quantiles in the target's own units.

    Without `since`, the only origin is each series' last row. With it, every origin from
    `since` to the last row, each using only the history up to that origin.
    """
    cfg = meta["config"]
    quantiles, mid = cfg["quantiles"], cfg["quantiles"].index(0.5)
    lookback, _horizon = cfg["lookback"], cfg["horizon"]
    known = {s["name"]: (i, s) for i, s in enumerate(meta["series"])}
    wanted = series or [s.name for s in dataset.series if s.name in known]
    by_name = {s.name: s for s in dataset.series}
    for name in wanted:
        if name not in known:
            raise DataError(
                f"{dataset.source}: the model has no series '{name}' (it knows {', '.join(known)})"
            )
        if name not in by_name:
            raise DataError(f"{dataset.source}: no series '{name}' in the data")
    if not wanted:
        raise DataError(
            f"{dataset.source}: none of the data's series is in the model "
            f"(it knows {', '.join(known)})"
        )
    run = runner(meta, weights, engine_name)
    frames = []
    for name in wanted:
        sid, _ = known[name]
        s = by_name[name]
        if len(s) < lookback:
            raise DataError(
                f"{dataset.source}: series '{name}' has {len(s)} rows, fewer than the "
                f"model's lookback {lookback}"
            )
        origins = _origins(s, since, lookback, dataset.source)
        norm, prep = raw_forecasts(meta, run, s, sid, origins)
        q = windows.denormalise(
            calibration.apply(norm, meta["calibration"], mid),
            s.values[origins],
            prep.sigma[origins],
            meta["transform"],
        )
        frames.append(
            _frame(
                name,
                s,
                origins,
                q,
                quantiles,
                mid,
                meta["frequency"],
                with_origin=since is not None,
            )
        )
    return pd.concat(frames, ignore_index=True)


def raw_forecasts(
    meta: dict, run, series: Series, sid: int, origins: np.ndarray
) -> tuple[np.ndarray, windows.Prepared]:
    """The model's uncalibrated normalised quantiles at `origins`, and the inputs they came
    from; `run` is what `runner` returns."""
    cfg = meta["config"]
    prep = windows.prepare(series, meta["series"][sid]["stats"], meta["transform"], cfg["calendar"])
    lookback = cfg["lookback"]
    parts = [
        run(windows.windows(prep.x, origins[i : i + BATCH], lookback), sid)
        for i in range(0, len(origins), BATCH)
    ]
    return np.concatenate(parts), prep


def runner(meta: dict, weights: dict[str, np.ndarray], engine_name: str = "auto"):
    """A function (windows, series id) -> normalised quantiles, on the chosen engine."""
    cfg = meta["config"]
    if engine_name not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}")
    n_q, mid = len(cfg["quantiles"]), cfg["quantiles"].index(0.5)
    if engine_name in ("auto", "numpy"):

        def run(x: np.ndarray, sid: int) -> np.ndarray:
            ids = np.full(len(x), sid)
            return engine.forward(weights, x, ids, cfg["layers"], cfg["horizon"], n_q, mid)

        return run
    import torch

    from lstm_forecast.model import LSTMForecaster

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n_series = weights["embed.weight"].shape[0] if "embed.weight" in weights else 1
    model = LSTMForecaster(
        meta["n_inputs"], cfg["hidden"], cfg["layers"], cfg["horizon"], n_q, mid, n_series
    ).to(device)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    model.eval()

    def run_torch(x: np.ndarray, sid: int) -> np.ndarray:
        with torch.no_grad():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(device)
            ids = torch.full((len(x),), sid, device=device)
            return model(t, ids)[:, -1].double().cpu().numpy()

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


def future_index(index: np.ndarray, frequency: str | None, steps: int) -> np.ndarray:
    """The `steps` timestamps after the last one (row numbers for plain sequences).

    Intraday steps stay inside the trading session the data shows: a step only lands on a
    weekday and a time of day that occur in the data, so a bar after Friday's close is
    Monday's opening bar, not Friday evening's.
    """
    if frequency is None:
        return index[-1] + np.arange(1, steps + 1)
    offset = pd.tseries.frequencies.to_offset(frequency)
    start = pd.Timestamp(index[-1])
    if not _intraday(frequency):
        return pd.date_range(start, periods=steps + 1, freq=offset)[1:].to_numpy("datetime64[ns]")
    stamps = pd.DatetimeIndex(index)
    times, days = set(stamps.time), set(stamps.day_of_week)
    week = int(pd.Timedelta(days=8) / pd.Timedelta(offset))  # the longest gap to the next bar
    candidates = pd.date_range(start, periods=steps * week + 1, freq=offset)[1:]
    ok = candidates.day_of_week.isin(list(days)) & np.isin(candidates.time, list(times))
    return candidates[ok][:steps].to_numpy("datetime64[ns]")


def _intraday(frequency: str) -> bool:
    return re.fullmatch(r"\d*(min|h|s)", frequency) is not None


def format_index(values: np.ndarray, frequency: str | None) -> np.ndarray:
    """ISO dates for daily and coarser data, ISO timestamps for intraday, ints for sequences."""
    if frequency is None:
        return values.astype("int64")
    if _intraday(frequency):
        return np.datetime_as_string(values, unit="s")
    return np.datetime_as_string(values, unit="D")


def _frame(
    name: str,
    s: Series,
    origins: np.ndarray,
    q: np.ndarray,
    quantiles: list[float],
    mid: int,
    frequency: str | None,
    with_origin: bool,
) -> pd.DataFrame:
    horizon = q.shape[1]
    extended = np.concatenate([s.index, future_index(s.index, frequency, horizon)])
    target_rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    cols: dict[str, np.ndarray] = {"series": np.full(target_rows.size, name, dtype=object)}
    if with_origin:
        cols["origin"] = format_index(np.repeat(s.index[origins], horizon), frequency)
    cols["date"] = format_index(extended[target_rows].ravel(), frequency)
    cols["horizon"] = np.tile(np.arange(1, horizon + 1), len(origins))
    cols["forecast"] = q[..., mid].ravel()
    for j, level_q in enumerate(quantiles):
        cols[quantile_column(level_q)] = q[..., j].ravel()
    if with_origin:
        padded = np.concatenate([s.values, np.full(horizon, np.nan)])
        cols["actual"] = padded[target_rows].ravel()
    return pd.DataFrame(cols)


def quantile_column(q: float) -> str:
    """Column name for a quantile: 0.1 -> q10, 0.5 -> q50, 0.025 -> q2.5."""
    pct = round(q * 100, 4)
    return f"q{int(pct)}" if pct == int(pct) else f"q{pct:g}"
