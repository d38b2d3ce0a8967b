"""Hyperparameter search with Optuna that cannot fool itself, for `lstm-forecast tune`.

The data is cut in two. The untouched stretch (the last `holdout` origins of each series with
their horizon of actuals, one calendar cut-off for all series) is never seen by the search;
the tuning span is every row up to and including its first origin. Each trial scores one point
of the search space by walk-forward folds inside the tuning span (`backtest`'s own folds, every
fit from scratch on rows up to its fold's first origin): the objective is the mean over folds
of the scaled CRPS (`evaluation.scaled_crps`), with the point MAE against the random walk kept
beside it. The folds' origins depend only on the horizon, never on a trial's settings, so each
fold's running mean is reported as an intermediate value that the pruner compares across
trials. When the search ends, the chosen settings alone are scored once on the untouched
stretch, beside the default settings and the baselines (`tune_outcome`). Trial k trains with
seed `seed + k`, so no two trials (in any process) replay the same training. Where the trials
live and who runs them is `tune_study`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstm_forecast import backtest, evaluation, search_space
from lstm_forecast.backtest import BacktestConfig
from lstm_forecast.errors import ConfigError, DataError, ForecastError, Interrupted
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.settings import TrainConfig

if TYPE_CHECKING:
    pass

DEFAULT_FOLDS = 3
TUNED = "lstm"  # the tuned model's rows keep the evaluation's model name; the defaults':
DEFAULTS = "defaults"


@dataclass
class TunePlan:
    """How the data is cut: `folds` x `step` origins inside the tuning span, and the last
    `holdout` origins of each series untouched (None: from the shortest series' length)."""

    folds: int = DEFAULT_FOLDS
    step: int | None = None
    holdout: int | None = None

    def __post_init__(self) -> None:
        for name in ("folds", "step", "holdout"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name} must be at least 1")


@dataclass
class Setup:
    """What every trial needs, in any process: the tuning span, its folds, the space."""

    span: Dataset  # every row up to and including the untouched stretch's first origin
    inner: BacktestConfig  # walk-forward folds inside the span
    holdout: BacktestConfig  # one fold: the untouched stretch, on the whole data
    base: TrainConfig  # the options given: the defaults, and what is not searched
    space: search_space.Space
    device: str
    threads: int

    def fingerprint(self) -> dict:
        """What a study's trials depend on; a study resumes only with the same."""
        from lstm_forecast.training import data_hash

        found = {
            "data": data_hash(self.span),
            "base": self.base.to_dict(),
            "space": search_space.to_dict(self.space),
            "folds": asdict(self.inner),
            "holdout": asdict(self.holdout),
        }
        return json.loads(json.dumps(found))


class TrialFailed(Exception):
    """A trial that could not be scored; its reason is the trial's `error` attribute."""


def with_features(dataset: Dataset, names: list[str]) -> Dataset:
    """The dataset for a config whose --features are `names`: as it is when there are some
    (training takes the inputs it names from the columns loaded for every candidate, see
    `windows.fit_stats`), without covariate columns when there are none."""
    if names or not dataset.feature_names:
        return dataset
    series = [Series(s.name, s.index, s.values, s.features[:, :0]) for s in dataset.series]
    return replace(dataset, feature_names=[], series=series)


def prepare(
    dataset: Dataset,
    base: TrainConfig,
    plan: TunePlan,
    space_file: str | Path | None,
    *,
    device: str,
    threads: int,
) -> Setup:
    """Cut the data, lay out the folds and build the search space (checked against the data)."""
    n = min(len(s) for s in dataset.series)
    h = base.horizon
    holdout = BacktestConfig(folds=1, step=plan.holdout or max(1, n // 5))
    inner = BacktestConfig(folds=plan.folds, step=plan.step or max(1, n // 10))
    least = backtest.min_train_rows(replace(base, lookback=search_space.LOOKBACK[0]))
    stretch = f"the untouched stretch (--holdout {holdout.step} origins + --horizon {h})"
    needs = [
        (
            holdout.step + h + inner.folds * inner.step + h + least,
            f"{stretch}, the folds inside the tuning span (--folds {inner.folds} x --step "
            f"{inner.step} origins + --horizon {h}) and a first training part of at least "
            f"{least} rows",
        ),
        (  # the default settings are fitted before the stretch too
            holdout.step + h + backtest.min_train_rows(base),
            f"{stretch} and the {backtest.min_train_rows(base)} training rows of the default "
            f"settings (--lookback {base.lookback}) before it",
        ),
    ]
    for need, what in needs:
        for s in dataset.series:
            if len(s) < need:
                raise DataError(
                    f"{dataset.source}: series '{s.name}' has {len(s)} rows; {what} need {need}"
                )
    cut = backtest.plan_fits(dataset, base, holdout)[0].rows
    span = backtest.rows_of(dataset, cut)
    first_rows = min(int(backtest.fold_origins(len(s), base, inner)[0, 0]) + 1 for s in span.series)
    defaults = search_space.default_space(
        base,
        base.features,
        dated=dataset.dated,
        positive=all((s.values > 0).all() for s in dataset.series),
        max_lookback=search_space.longest_lookback(first_rows, h),
    )
    changes = search_space.read_space(space_file) if space_file else {}
    space = search_space.merge(defaults, changes, base, str(space_file or "search space"))
    return Setup(span, inner, holdout, base, space, device, threads)


# ---------------------------------------------------------------------------------------------
# one trial


def objective(setup: Setup, stopping: Callable[[], int | None]) -> Callable[[Any], float]:
    """The function Optuna minimises: a trial's mean scaled CRPS over the folds.

    A trial that cannot be scored raises TrialFailed (recorded, the search goes on); a signal
    raises Interrupted (the trial is marked failed, the search stops)."""

    def run(trial: Any) -> float:
        import optuna

        started = time.perf_counter()
        try:
            return _score_trial(trial, setup, stopping)
        except optuna.TrialPruned:
            raise
        except Interrupted as exc:
            trial.set_user_attr("error", f"stopped by a signal (exit {exc.exit_code})")
            raise stopped(exc.exit_code) from None
        except Exception as exc:  # any failure is this trial's, not the search's
            reason = str(exc) if isinstance(exc, ForecastError) else f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("error", reason)
            raise TrialFailed(reason) from None
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))

    return run


def _score_trial(trial: Any, setup: Setup, stopping: Callable[[], int | None]) -> float:
    import optuna

    trial.set_user_attr("process", this_process())
    point = search_space.suggest(trial, setup.space)
    config = search_space.config_for(setup.base, point, setup.base.seed + trial.number)
    trial.set_user_attr("config", config.to_dict())
    data = with_features(setup.span, config.features)
    backtest.check_length(data, config, setup.inner)
    frames, scores = [], []
    for k, fit in enumerate(backtest.plan_fits(data, config, setup.inner)):
        if sig := stopping():
            raise Interrupted("stopped", 128 + sig)
        backtest.run_fits(
            data, config, [fit], device=setup.device, threads=setup.threads, jobs=1, progress=None
        )
        frame = backtest.forecast_frame(data, config, setup.inner, [fit], interval_baselines=False)
        frames.append(frame[frame["model"].isin([evaluation.MODEL, evaluation.RANDOM_WALK])])
        scores.append(evaluation.scaled_crps(frames[-1]))
        trial.set_user_attr("fold_scores", scores)
        trial.report(float(np.mean(scores)), k)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {k + 1}")
    models = evaluation.score(pd.concat(frames, ignore_index=True))["models"]
    lstm, naive = models[evaluation.MODEL], models[evaluation.RANDOM_WALK]
    trial.set_user_attr("mae", lstm["mae"])
    trial.set_user_attr("naive_mae", naive["mae"])
    trial.set_user_attr("rel_mae", lstm["rel_mae"])
    return float(np.mean(scores))


def stopped(code: int) -> Interrupted:
    """The error a signal ends the search with (exit 130 or 143)."""
    name = "Ctrl-C" if code == 130 else "SIGTERM"
    return Interrupted(
        f"tune stopped by {name}; the running trial is marked failed, run the same command "
        f"again to resume",
        code,
    )


def this_process() -> dict:
    """Where a trial runs: the machine (host name and boot) and the process id."""
    import os
    import socket

    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return {"host": socket.gethostname(), "boot": boot, "pid": os.getpid()}
