"""Turn cleaned series into model inputs and targets: transforms, scaling, and windows.

Everything here is numpy, shared by training (torch) and prediction (numpy engine), so both see
exactly the same inputs. Every fitted statistic comes from the training rows only and is kept in
a plain dict that the model file stores.

Targets are normalised cumulative changes: for origin t and step h the model learns
(y[t+h] - y[t]) / (sigma[t] * sqrt(h)), where y is the transformed level (log price for
log returns) and sigma a causal EWMA volatility of one-step changes. Every quantile maps back to
the target's units exactly and monotonically.

Covariates are inputs too: a column as it is (log of volume, log returns of prices, else
differences), or a range-based volatility estimate from the day's prices (`--features
parkinson` from High and Low, `garman-klass` from Open, High, Low and Close): the log of that
day's volatility estimate, standardised on the training rows. Row t's estimate uses row t's
prices only, known at its close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lstm_forecast.errors import ConfigError, DataError
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.loading.roles import key
from lstm_forecast.settings import RANGE_FEATURES, range_feature

EWMA_BLOCK = 256  # series whose volatility recursions run side by side
EWMA_FEW = 16  # fewer series than this run one at a time
EWMA_LAMBDA = 0.94  # RiskMetrics daily decay
CLIP = 10.0
PARKINSON = 1.0 / (4.0 * math.log(2.0))  # E[ln(H/L)^2] = 4 ln 2 sigma^2 for Brownian motion
GARMAN_KLASS = 2.0 * math.log(2.0) - 1.0


def choose_transform(requested: str, dataset: Dataset) -> str:
    """Resolve --transform auto: log returns for strictly positive series, differences otherwise."""
    if requested != "auto":
        return requested
    positive = all((s.values > 0).all() for s in dataset.series)
    return "log-return" if positive else "diff"


def level(values: np.ndarray, transform: str) -> np.ndarray:
    """The series on the scale where changes are modelled (log prices for log returns)."""
    if transform == "log-return":
        if (values <= 0).any():
            raise DataError("a log-return transform needs strictly positive values")
        return np.log(values)
    return values.astype("float64")


def feature_kind(name: str, train_values: np.ndarray) -> str:
    """A sensible transform for a covariate: log of volume, log returns of prices, else diffs."""
    if "vol" in name.lower():
        return "log1p"
    if (train_values > 0).all():
        return "log-diff"
    return "diff"


def split_point(n: int, val_size: float) -> int:
    """Rows before the validation tail: a fraction (0 < v < 1) or a row count (v >= 1)."""
    n_val = round(n * val_size) if val_size < 1 else int(val_size)
    return n - n_val


@dataclass
class Prepared:
    """Model inputs for one series: features per row and normalising volatility per row."""

    x: np.ndarray  # (rows, n_inputs) float32
    y: np.ndarray  # (rows,) transformed level, float64
    sigma: np.ndarray  # (rows,) float64, causal EWMA volatility of one-step changes


def fit_stats(
    series: Series,
    n_train: int,
    transform: str,
    feature_names: list[str],
    inputs: list[str] | None = None,
) -> dict:
    """Per-series statistics from the first `n_train` rows only.

    `inputs` are the --features names (columns of `feature_names`, or range features built
    from them); by default every feature column is one input.
    """
    y = level(series.values[:n_train], transform)
    dz = np.diff(y)
    scale = float(np.sqrt(np.mean(dz**2))) if len(dz) else 1.0
    if not math.isfinite(scale) or scale <= 0:
        scale = float(np.abs(y).mean() * 1e-3) or 1.0
    stats: dict = {
        "scale": scale,
        "level_mean": float(y.mean()),
        "level_std": float(y.std()) or 1.0,
        "features": [],
    }
    for name, columns in _inputs(inputs or feature_names, feature_names):
        entry: dict = {"name": name, "columns": columns}
        train = series.features[:n_train][:, columns]
        if kind := range_feature(name):
            vol = range_volatility(train, kind)
            positive = vol[vol > 0]
            entry |= {
                "kind": kind,
                "floor": 0.1 * float(np.median(positive)) if len(positive) else 1e-6,
            }
        else:
            entry["kind"] = feature_kind(name, train[:, 0])
        f = _input_raw(train, entry)
        stats["features"].append(
            entry | {"mean": float(np.mean(f[1:])), "std": float(np.std(f[1:])) or 1.0}
        )
    return stats


def _inputs(names: list[str], columns: list[str]) -> list[tuple[str, list[int]]]:
    """(input name, the feature columns it reads) for each --features name."""
    where = {key(c): j for j, c in enumerate(columns)}
    out = []
    for name in names:
        kind = range_feature(name)
        needed = RANGE_FEATURES[kind] if kind else (name,)
        missing = [c for c in needed if key(c) not in where]
        if missing:
            raise DataError(
                f"--features {name} needs the column(s) {', '.join(missing)}, which the data "
                f"does not have as features ({', '.join(columns) or 'none'})"
            )
        found = [where[key(c)] for c in needed]
        out.append((name if kind else columns[found[0]], found))
    return out


def range_volatility(prices: np.ndarray, kind: str) -> np.ndarray:
    """Each row's volatility estimate of log returns from its own prices (rows, columns as in
    RANGE_FEATURES[kind]): Parkinson's sqrt(ln(H/L)^2 / (4 ln 2)), or Garman-Klass's
    sqrt(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2), clipped at zero."""
    logged = np.log(np.maximum(prices, 1e-12))
    if kind == "parkinson":
        hl = logged[:, 0] - logged[:, 1]
        return np.sqrt(PARKINSON * hl**2)
    hl, co = logged[:, 1] - logged[:, 2], logged[:, 3] - logged[:, 0]
    return np.sqrt(np.maximum(0.5 * hl**2 - GARMAN_KLASS * co**2, 0.0))


def _feature_raw(col: np.ndarray, kind: str) -> np.ndarray:
    if kind == "log1p":
        return np.log1p(np.maximum(col, 0.0))
    if kind == "log-diff":
        logged = np.log(np.maximum(col, 1e-12))
        return np.concatenate([[0.0], np.diff(logged)])
    return np.concatenate([[0.0], np.diff(col)])


def _input_raw(columns: np.ndarray, entry: dict) -> np.ndarray:
    """One input before standardising, from the feature columns it reads."""
    if entry["kind"] in RANGE_FEATURES:
        return np.log(np.maximum(range_volatility(columns, entry["kind"]), entry["floor"]))
    return _feature_raw(columns[:, 0], entry["kind"])


def prepare(series: Series, stats: dict, transform: str, date_features: bool) -> Prepared:
    """Inputs for every row of `series` using stored statistics (causal: row t uses rows <= t)."""
    return prepare_many([series], [stats], transform, date_features)[0]


def prepare_many(
    series: list[Series], stats: list[dict], transform: str, date_features: bool
) -> list[Prepared]:
    """`prepare` for several series, their volatility recursions run side by side."""
    levels = [level(s.values, transform) for s in series]
    moves = [np.concatenate([[0.0], np.diff(y)]) for y in levels]
    scales = np.array([st["scale"] for st in stats], dtype=float)
    sigmas = ewma_volatility(moves, scales)
    out = []
    for s, st, y, dz, sigma in zip(series, stats, levels, moves, sigmas, strict=True):
        scale = st["scale"]
        cols = [np.clip(dz / scale, -CLIP, CLIP), np.log(sigma / scale)]
        if transform == "none":
            cols.append(np.clip((y - st["level_mean"]) / st["level_std"], -CLIP, CLIP))
        for j, f in enumerate(st["features"]):
            raw = _input_raw(s.features[:, f.get("columns", [j])], f)  # older files: column j
            cols.append(np.clip((raw - f["mean"]) / f["std"], -CLIP, CLIP))
        if date_features:
            cols.extend(date_inputs(s.index))
        out.append(Prepared(np.stack(cols, axis=1).astype("float32"), y, sigma))
    return out


def ewma_volatility(moves: list[np.ndarray], scales: np.ndarray) -> list[np.ndarray]:
    """RiskMetrics volatility after each row of each series: var[t] = l*var[t-1] +
    (1-l)*dz[t]^2, from scale^2, floored at (scale/20)^2. The recursion runs once over time
    with a vector over up to EWMA_BLOCK series (a series at a time costs a Python step per
    row); each element sees the same float operations either way, so a series' result does
    not depend on the company it keeps."""
    if len(moves) < EWMA_FEW:  # numpy's per-call cost outweighs a vector this short
        return [_ewma_one(d, float(s)) for d, s in zip(moves, scales, strict=True)]
    out = []
    for first in range(0, len(moves), EWMA_BLOCK):
        block, scale = moves[first : first + EWMA_BLOCK], scales[first : first + EWMA_BLOCK]
        squares = np.zeros((max(len(d) for d in block), len(block)))  # a row per step
        for j, d in enumerate(block):
            squares[: len(d), j] = d * d
        var = np.empty_like(squares)
        v = scale * scale
        for t in range(len(squares)):
            v = EWMA_LAMBDA * v + (1.0 - EWMA_LAMBDA) * squares[t]
            var[t] = v
        floors = (scale * 0.05) ** 2
        out.extend(np.sqrt(np.maximum(var[: len(d), j], floors[j])) for j, d in enumerate(block))
    return out


def _ewma_one(dz: np.ndarray, scale: float) -> np.ndarray:
    """`ewma_volatility` of one series, a step at a time in Python floats."""
    var = np.empty_like(dz)
    v = scale * scale
    for t, sq in enumerate((dz * dz).tolist()):
        v = EWMA_LAMBDA * v + (1.0 - EWMA_LAMBDA) * sq
        var[t] = v
    return np.sqrt(np.maximum(var, (scale * 0.05) ** 2))


def date_inputs(index: np.ndarray) -> list[np.ndarray]:
    """Day-of-week and month as points on the unit circle (empty for plain sequences)."""
    if not np.issubdtype(index.dtype, np.datetime64):
        raise ConfigError("--date-features needs a date column")
    days = index.astype("datetime64[D]").astype("int64")
    dow = (days + 3) % 7  # 1970-01-01 was a Thursday
    month = index.astype("datetime64[M]").astype("int64") % 12
    return [
        np.sin(2 * np.pi * dow / 7),
        np.cos(2 * np.pi * dow / 7),
        np.sin(2 * np.pi * month / 12),
        np.cos(2 * np.pi * month / 12),
    ]


def targets(prep: Prepared, horizon: int) -> np.ndarray:
    """Normalised cumulative changes (rows, horizon), NaN where t+h is past the end."""
    n = len(prep.y)
    out = np.full((n, horizon), np.nan)
    root = np.sqrt(np.arange(1, horizon + 1))
    for h in range(1, horizon + 1):
        out[: n - h, h - 1] = (prep.y[h:] - prep.y[: n - h]) / (prep.sigma[: n - h] * root[h - 1])
    return out


def denormalise(
    q: np.ndarray, value0: np.ndarray, sigma0: np.ndarray, transform: str
) -> np.ndarray:
    """Map normalised outputs (origins, horizon, quantiles) back to the target's units.

    The change is applied to the origin's own value (a ratio for log returns), so a change of
    zero gives back exactly that value: "no change" is exactly the naive forecast.
    """
    horizon = q.shape[1]
    root = np.sqrt(np.arange(1, horizon + 1))[None, :, None]
    change = q * sigma0[:, None, None] * root
    base = value0[:, None, None]
    return base * np.exp(change) if transform == "log-return" else base + change


def window_starts(origins: np.ndarray, lookback: int) -> np.ndarray:
    """First row of the lookback window ending at each origin."""
    return origins - lookback + 1


def windows(x: np.ndarray, origins: np.ndarray, lookback: int) -> np.ndarray:
    """(origins, lookback, n_inputs) windows ending at each origin, as a strided view gather."""
    view = np.lib.stride_tricks.sliding_window_view(x, lookback, axis=0)  # (rows-L+1, F, L)
    return view[window_starts(origins, lookback)].transpose(0, 2, 1)


def segments(first: int, last: int, lookback: int, chunk: int, offset: int) -> np.ndarray:
    """Training segments covering origins first..last of one series, as rows (start, lo, hi).

    A segment is `lookback - 1 + chunk` rows from `start`; position j in 0..chunk-1 is the origin
    start + lookback - 1 + j, and only positions lo <= j < hi count, so every origin appears once
    per epoch and every target still sees at least a full lookback of history. `offset` shifts the
    grid from epoch to epoch so that origins do not always sit at the same place in a segment.
    """
    return many_segments(np.array([first]), np.array([last]), lookback, chunk, offset)[:, :3]


def many_segments(
    first: np.ndarray, last: np.ndarray, lookback: int, chunk: int, offset: int
) -> np.ndarray:
    """`segments` of many series at once (origins first[i]..last[i] of series i), as rows
    (start, lo, hi, i); a series with no origin has none."""
    first, last = np.asarray(first, dtype="int64"), np.asarray(last, dtype="int64")
    n = last - first + 1
    keep = np.flatnonzero(n > 0)
    first, last, n = first[keep], last[keep], n[keep]
    c = np.minimum(chunk, n)
    cut0 = first + offset % c  # the grid's first cut; cuts every c rows up to `last`
    skip = (cut0 == first).astype("int64")  # a cut at `first` starts no extra segment
    count = (last - cut0) // c + 1 - skip + 1  # segments per series
    series = np.repeat(np.arange(len(keep)), count)
    k = np.arange(len(series)) - np.repeat(np.cumsum(count) - count, count)
    a = np.where(k == 0, first[series], cut0[series] + (skip[series] + k - 1) * c[series])
    is_last = k == count[series] - 1
    b = np.where(is_last, last[series] + 1, cut0[series] + (skip[series] + k) * c[series])
    first_pos = np.minimum(a, last[series] + 1 - c[series])  # the last range meets the end
    rows = [first_pos - lookback + 1, a - first_pos, b - first_pos, keep[series]]
    return np.stack(rows, axis=1).astype("int64")
