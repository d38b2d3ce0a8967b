"""Running sums of evaluation frames, so that a universe of series is scored in bounded memory.

`evaluation` scores a long frame of forecasts (its docstring gives the columns). A `Tally` takes
such frames a group of whole series at a time (`add`) and keeps only what the scores are made
of:

- per series, model and horizon step, the sum and count of every metric's per-point terms
  (every metric is a mean of such terms, or a ratio or root of means);
- the Diebold-Mariano loss differentials, one number per origin and step, in order of series,
  then origin: the model against the random walk, and the model's interval against each other
  band;
- the coverage tests' violation and transition counts, per model.

Scores built from the sums equal one pass over the whole frame up to the order of floating-point
additions. Each frame must hold its series whole (its coverage panels and per-series tests need
every origin); frames may come in any order (the differentials are put in order of series name
when read). A model's quantile metrics are those of the quantile columns it fills.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstm_forecast import coverage, intervals, metrics
from lstm_forecast.intervals import KEYS

MODEL, RANDOM_WALK = "lstm", "naive"
GROUP = ["series", "model", "horizon"]
QUANTILE_COLUMN = re.compile(r"q(\d+(?:\.\d+)?)")


def quantile_columns(frame: pd.DataFrame) -> dict[str, float]:
    """{column: quantile level} of the frame's quantile columns (q10, q50, ...), by level."""
    found = {}
    for col in frame.columns:
        if match := QUANTILE_COLUMN.fullmatch(col):
            found[col] = float(match.group(1)) / 100
    return dict(sorted(found.items(), key=lambda item: item[1]))


@dataclass
class Differentials:
    """Loss differentials of one comparison at one horizon step: runs of one series each, in
    order of origin (`names`, `counts`), read back in order of series name."""

    names: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    parts: list[np.ndarray] = field(default_factory=list)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    ordered: np.ndarray | None = field(default=None, repr=False)

    def add(self, series: pd.Series, d: np.ndarray) -> None:
        """Append the differentials of some whole series (sorted by series, then origin),
        `series` naming each one's series."""
        names, counts = np.unique(series.to_numpy(dtype=object), return_counts=True)
        self.names += [str(n) for n in names]
        self.counts += counts.tolist()
        self.parts.append(np.asarray(d, dtype=float))
        self.ordered = None

    def all(self) -> np.ndarray:
        """Every differential, in order of series name, then origin."""
        if self.ordered is None:
            raw = self._raw()
            runs = sorted(range(len(self.names)), key=self.names.__getitem__)
            spans = self._spans()
            slices = [raw[slice(*spans[self.names[i]])] for i in runs]
            self.ordered = np.concatenate(slices) if slices else np.empty(0)
        return self.ordered

    def of(self, name: str) -> np.ndarray:
        """The differentials of one series (empty when it has none)."""
        first, last = self._spans().get(name, (0, 0))
        return self._raw()[first:last]

    def _raw(self) -> np.ndarray:
        """The differentials in the order they were added."""
        if len(self.parts) != 1:
            self.parts = [np.concatenate(self.parts) if self.parts else np.empty(0)]
        return self.parts[0]

    def _spans(self) -> dict[str, tuple[int, int]]:
        if len(self.spans) != len(self.names):
            if len(set(self.names)) != len(self.names):
                raise ValueError("a series was added twice: each frame must hold its series whole")
            last = np.cumsum(self.counts)
            spans = zip((last - self.counts).tolist(), last.tolist(), strict=True)
            self.spans = dict(zip(self.names, spans, strict=True))
        return self.spans


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["series", "origin"], kind="stable")


def _terms(rows: pd.DataFrame, present: dict[str, dict[str, float]]) -> metrics.Terms:
    """Each row's term of every metric (`metrics.point_terms`; `metrics.quantile_terms` of the
    quantile columns each model fills, `present`: {model: {column: level}})."""
    terms = metrics.point_terms(
        *(rows[c].to_numpy(float) for c in ("actual", "forecast", "origin_value", "scale", "_rw"))
    )
    model, actual = rows["model"].to_numpy(), rows["actual"].to_numpy(float)
    for name, cols in present.items():
        at = model == name
        levels = list(cols.values())
        pairs = [(0, len(levels) - 1), *intervals.central(levels)]
        q = rows.loc[at, list(cols)].to_numpy(float)
        for term, (ok, value) in metrics.quantile_terms(actual[at], q, levels, pairs).items():
            counts, values = terms.setdefault(
                term, (np.zeros(len(rows), bool), np.zeros(len(rows)))
            )
            counts[at], values[at] = ok, value
    return terms


def _mean(t: Mapping[str, float], term: str) -> float:
    n = t[f"n:{term}"]
    return float(t[f"x:{term}"] / n) if n else math.nan


def _finish(t: Mapping[str, float], qcols: dict[str, float]) -> dict:
    """One model's scores from its summed terms (see evaluation.score)."""
    rw = _mean(t, "rwe")
    out = {
        "n": int(t["n:n"]),
        "mae": _mean(t, "ae"),
        "rmse": math.sqrt(_mean(t, "se")) if t["n:se"] else math.nan,
        "mase": _mean(t, "ase"),
        "directional_accuracy": _mean(t, "dir"),
        "mape": _mean(t, "ape"),
        "smape": _mean(t, "sape"),
        "rel_mae": _mean(t, "ae") / rw if rw and math.isfinite(rw) else math.nan,
        "up_rate": _mean(t, "up"),
    }
    if not qcols or not t["n:q"]:
        return out
    levels = list(qcols.values())
    by_level = [_mean(t, f"pinball{j}") for j in range(len(levels))]
    n_pinball = sum(t[f"n:pinball{j}"] for j in range(len(levels)))
    x_pinball = sum(t[f"x:pinball{j}"] for j in range(len(levels)))
    pairs = intervals.central(levels)
    out |= {
        "coverage": _mean(t, "cover0"),
        "pinball": float(x_pinball / n_pinball) if n_pinball else math.nan,
        "interval_score": _mean(t, "is0"),
        "crps": _mean(t, "crps"),
        "pinball_by_quantile": dict(zip(qcols, by_level, strict=True)),
        "intervals": [
            {
                "level": round(levels[j] - levels[i], 6),
                "lower": levels[i],
                "upper": levels[j],
                "coverage": _mean(t, f"cover{k + 1}"),
                "interval_score": _mean(t, f"is{k + 1}"),
            }
            for k, (i, j) in enumerate(pairs)
        ],
    }
    return out


def _rows(table: pd.DataFrame) -> list[dict[str, float]]:
    """The table's rows as plain {column: value} dicts (fast to read, unlike pandas rows)."""
    columns = list(table.columns)
    return [dict(zip(columns, row, strict=True)) for row in table.to_numpy(dtype=float).tolist()]


def _band_summary(t: Mapping[str, float]) -> dict:
    """A comparison of interval scores from its sums: the model's and the band's mean score
    (each over the points where it is defined), their ratio and coverages, over `n` points."""
    n = int(t["n"])
    loss = t["loss"] / t["n_loss"] if t["n_loss"] else math.nan
    base = t["loss_base"] / t["n_base"] if t["n_base"] else math.nan
    return {
        "n": n,
        "score": float(loss),
        "baseline_score": float(base),
        "ratio": float(loss / base) if base > 0 else math.nan,
        "coverage": float(t["inside"] / n),
        "baseline_coverage": float(t["inside_base"] / n),
    }


class Tally:
    """The running sums of one evaluation (see the module docstring)."""

    def __init__(self) -> None:
        self.qcols: dict[str, float] | None = None
        self.models: list[str] = []
        self.sums: list[pd.DataFrame] = []
        self.dm: dict[int, Differentials] = {}
        self.bands: dict[str, list[pd.DataFrame]] = {}
        self.band_d: dict[str, dict[int, Differentials]] = {}
        self.counts: dict[str, dict] = {}  # model -> its coverage tests' counts
        self.present: dict[str, list[str]] = {}  # model -> the quantile columns it fills
        self._series: list[str] = []

    @classmethod
    def of(cls, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> Tally:
        """A tally of one frame, or of frames each holding some whole series."""
        tally = cls()
        for frame in [frames] if isinstance(frames, pd.DataFrame) else frames:
            tally.add(frame)
        return tally

    # -------------------------------------------------------------------------------------
    # adding

    def add(self, frame: pd.DataFrame) -> None:
        """Take the long frame of some whole series (none of them added before)."""
        qcols = quantile_columns(frame)
        if self.qcols is None:
            self.qcols = qcols
        elif qcols != self.qcols:
            raise ValueError("every frame of a tally must have the same quantile columns")
        naive = frame.loc[frame["model"] == RANDOM_WALK, [*KEYS, "forecast"]]
        if naive.empty:
            raise ValueError("the frame has no random-walk (naive) rows to score against")
        rows = frame.merge(
            naive.rename(columns={"forecast": "_rw"}), on=KEYS, how="left", validate="many_to_one"
        )
        self.models += [m for m in rows["model"].unique() if m not in self.models]
        self._series += list(rows["series"].unique())
        present = {}
        for model in frame["model"].unique():
            if cols := self._present(frame, model):
                if self.present.setdefault(model, cols) != cols:
                    raise ValueError(f"model {model!r} fills other quantile columns than before")
                present[model] = {c: qcols[c] for c in cols}
        table = {c: rows[c].to_numpy() for c in GROUP}
        for term, (ok, value) in _terms(rows, present).items():
            table[f"n:{term}"] = ok  # booleans sum to counts
            table[f"x:{term}"] = np.where(ok, value, 0.0)
        self.sums.append(pd.DataFrame(table).groupby(GROUP, sort=False).sum())
        self._add_dm(frame)
        own = list(present.get(MODEL, {}))
        if len(own) >= 2:
            self._add_bands(frame, [own[0], own[-1]])
        for model, cols in present.items():
            self._add_counts(str(model), frame[frame["model"] == model], list(cols))

    def _present(self, frame: pd.DataFrame, model: str) -> list[str]:
        """The quantile columns a model fills in `frame`."""
        rows = frame.loc[frame["model"] == model, list(self.qcols or {})]
        return [c for c in rows.columns if rows[c].notna().any()]

    def _add_dm(self, frame: pd.DataFrame) -> None:
        model = _ordered(frame[frame["model"] == MODEL])
        base = _ordered(frame[frame["model"] == RANDOM_WALK])
        for h, at in base.groupby("horizon", sort=True):
            own = model[model["horizon"] == h]
            e_model = (own["actual"] - own["forecast"]).to_numpy()
            e_base = (at["actual"] - at["forecast"]).to_numpy()
            self.dm.setdefault(int(h), Differentials()).add(at["series"], e_model**2 - e_base**2)

    def _add_bands(self, frame: pd.DataFrame, cols: list[str]) -> None:
        """Pair the model's interval with every other model's on the points both have."""
        lo, hi = cols
        levels = [self.qcols[c] for c in cols]  # type: ignore[index]
        alpha = 1 - (levels[1] - levels[0])
        rows = frame.loc[
            np.isfinite(frame[lo]) & np.isfinite(frame[hi]), [*KEYS, "model", "actual", lo, hi]
        ]
        own = rows[rows["model"] == MODEL].drop(columns="model")
        for name, other in rows[rows["model"] != MODEL].groupby("model", sort=False):
            both = own.merge(other.drop(columns=["model", "actual"]), on=KEYS, suffixes=("", "_b"))
            if both.empty:
                continue
            a = both["actual"].to_numpy()
            loss = metrics.interval_score_loss(a, both[lo].to_numpy(), both[hi].to_numpy(), alpha)
            lo_b, hi_b = both[f"{lo}_b"].to_numpy(), both[f"{hi}_b"].to_numpy()
            loss_base = metrics.interval_score_loss(a, lo_b, hi_b, alpha)
            paired = pd.DataFrame(
                {
                    "series": both["series"].to_numpy(),
                    "origin": both["origin"].to_numpy(),
                    "horizon": both["horizon"].to_numpy(),
                    "n": 1,
                    "n_loss": np.isfinite(loss),
                    "n_base": np.isfinite(loss_base),
                    "loss": np.where(np.isfinite(loss), loss, 0.0),
                    "loss_base": np.where(np.isfinite(loss_base), loss_base, 0.0),
                    "inside": (a >= both[lo]) & (a <= both[hi]),
                    "inside_base": (a >= lo_b) & (a <= hi_b),
                }
            )
            sums = paired.drop(columns="origin").groupby(["series", "horizon"], sort=False).sum()
            self.bands.setdefault(str(name), []).append(sums)
            paired = _ordered(paired.assign(d=loss - loss_base))
            found = self.band_d.setdefault(str(name), {})
            for h, at in paired.groupby("horizon", sort=True):
                found.setdefault(int(h), Differentials()).add(at["series"], at["d"].to_numpy())

    def _add_counts(self, model: str, rows: pd.DataFrame, cols: list[str]) -> None:
        """The coverage tests' counts of one model's rows (series in panels, see
        intervals.panel)."""
        actual, q = intervals.panel(rows, cols)
        found = coverage.test_counts(actual, q, [self.qcols[c] for c in cols])  # type: ignore[index]
        held = self.counts.setdefault(model, {})
        for key, values in found.items():
            held[key] = tuple(np.add(held[key], values).tolist()) if key in held else values

    # -------------------------------------------------------------------------------------
    # scores

    def table(self) -> pd.DataFrame:
        """The summed terms per series, model and horizon step."""
        if len(self.sums) != 1:
            self.sums = [pd.concat(self.sums)]
        return self.sums[0]

    def score(self, series: str | None = None) -> dict:
        """evaluation.score of everything added (`series`: of that series alone)."""
        if series is None:
            (models,) = self._models(self.table(), []).values()
            return self._score(models, self._bands([]).get((), {}), None)
        table = self.table().xs(series, level="series", drop_level=False)
        (models,) = self._models(table, ["series"]).values()
        return self._score(models, self._bands(["series"], series).get((series,), {}), series)

    def each_series(self) -> Iterator[tuple[str, dict]]:
        """(name, score) of every series added, in order."""
        models, bands = self._models(self.table(), ["series"]), self._bands(["series"])
        for name in self._series:
            yield name, self._score(models[(name,)], bands.get((name,), {}), name)

    def _models(self, table: pd.DataFrame, by: list[str]) -> dict[tuple, dict]:
        """{key of the `by` levels: {model: scores, pooled and "by_horizon"}} from summed
        terms per series, model and step (one pass over the table, not one per key)."""
        levels = self.qcols or {}
        per_step = table.groupby(level=[*by, "model", "horizon"], sort=False).sum()
        pooled = per_step.groupby(level=[*by, "model"], sort=False).sum()
        out: dict[tuple, dict] = {}
        for idx, t in zip(pooled.index, _rows(pooled), strict=True):
            *key, model = idx if isinstance(idx, tuple) else (idx,)
            qcols = {c: levels[c] for c in self.present.get(model, [])}
            out.setdefault(tuple(key), {})[model] = {**_finish(t, qcols), "by_horizon": []}
        for idx, t in zip(per_step.index, _rows(per_step), strict=True):
            *key, model, h = idx
            qcols = {c: levels[c] for c in self.present.get(model, [])}
            out[tuple(key)][model]["by_horizon"].append({"horizon": int(h), **_finish(t, qcols)})
        for found in out.values():
            for scores in found.values():
                scores["by_horizon"].sort(key=lambda row: row["horizon"])
        order = {m: i for i, m in enumerate(self.models)}
        return {k: dict(sorted(v.items(), key=lambda m: order[m[0]])) for k, v in out.items()}

    def _bands(self, by: list[str], series: str | None = None) -> dict[tuple, dict]:
        """{key of the `by` levels: {band: (summary, {step: summary}, series)}} of the model's
        interval paired with every other band (`series`: that series' only)."""
        out: dict[tuple, dict] = {}
        for band, parts in self.bands.items():
            if len(parts) > 1:
                parts[:] = [pd.concat(parts)]  # once, not at every read
            table = parts[0]
            if series is not None:
                if series not in table.index.get_level_values("series"):
                    continue
                table = table.xs(series, level="series", drop_level=False)
            per_step = table.groupby(level=[*by, "horizon"], sort=False).sum()
            total = (
                per_step.groupby(level=by, sort=False).sum() if by else per_step.sum().to_frame().T
            )
            keys = [(k if isinstance(k, tuple) else (k,)) if by else () for k in total.index]
            for key, t in zip(keys, _rows(total), strict=True):
                n_series = 1 if by else table.index.get_level_values("series").nunique()
                out.setdefault(key, {})[band] = (_band_summary(t), {}, n_series)
            for idx, t in zip(per_step.index, _rows(per_step), strict=True):
                *key, h = idx if isinstance(idx, tuple) else (idx,)
                out[tuple(key)][band][1][int(h)] = _band_summary(t)
        return out

    def _score(self, models: dict, bands: dict, series: str | None) -> dict:
        return {
            "models": models,
            "dm_test": self.dm_test(series),
            "interval_test": self._interval_test(bands, series),
        }

    def dm_test(self, series: str | None = None) -> dict:
        """The Diebold-Mariano test of the model against the random walk on squared errors."""
        by_h = []
        for h, found in sorted(self.dm.items()):
            d = found.all() if series is None else found.of(series)
            if series is not None and not len(d):
                continue
            stat, p = metrics.diebold_mariano_differential(d, horizon=h)
            by_h.append({"horizon": h, "statistic": stat, "p_value": p, "n": len(d)})
        head = by_h[0]
        return {
            "model": MODEL,
            "baseline": RANDOM_WALK,
            "loss": "squared error",
            "horizon": head["horizon"],
            "statistic": head["statistic"],
            "p_value": head["p_value"],
            "n": head["n"],
            "by_horizon": by_h,
        }

    def interval_test(self, series: str | None = None) -> dict | None:
        """The model's interval against the strongest other band (see intervals'
        docstring); None when no other model has that interval on the model's points."""
        if series is None:
            return self._interval_test(self._bands([]).get((), {}), None)
        return self._interval_test(self._bands(["series"], series).get((series,), {}), series)

    def _interval_test(self, bands: dict, series: str | None) -> dict | None:
        if not bands:
            return None
        ratios = {name: total["ratio"] for name, (total, _, _) in bands.items()}
        best = max(ratios, key=lambda n: -math.inf if math.isnan(ratios[n]) else ratios[n])
        total, steps, n_series = bands[best]
        by_h = []
        for h, summary in sorted(steps.items()):
            found = self.band_d[best][h]
            d = found.all() if series is None else found.of(series)
            stat, p = metrics.diebold_mariano_differential(d, horizon=h)
            by_h.append({"horizon": h, **summary, "statistic": stat, "p_value": p})
        head = by_h[0]
        own = self.present[MODEL]
        return {
            "model": MODEL,
            "baseline": best,
            "loss": "interval score",
            "interval": [self.qcols[own[0]], self.qcols[own[-1]]],  # type: ignore[index]
            **total,
            "series": n_series,
            "horizon": head["horizon"],
            "statistic": head["statistic"],
            "p_value": head["p_value"],
            "by_horizon": by_h,
            "ratios": ratios,
        }

    def coverage_tests(self) -> dict[str, dict]:
        """{model: intervals.coverage_report} for every model with quantile columns."""
        return {
            model: intervals.coverage_report(coverage.tests_from_counts(held))
            for model, held in self.counts.items()
        }
