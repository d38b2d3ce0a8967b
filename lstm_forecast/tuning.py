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
stretch, beside the default settings and the baselines (`conclude`).

The trials live in Optuna's RDB storage (a SQLite file by default, any URL it accepts):
processes and machines on one study share the work, `trials` is the study's total of finished
(complete or pruned) trials whoever runs them, a killed run resumes, and a trial left running by
a dead process is marked failed: at once when that process ran on this machine, otherwise once
its heartbeat is GRACE_S seconds old. Trial k trains with
seed `seed + k`, so no two trials (in any process) replay the same training.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstm_forecast import backtest, evaluation, search_space
from lstm_forecast.backtest import BacktestConfig
from lstm_forecast.db_url import is_url, redact
from lstm_forecast.errors import ConfigError, DataError, ForecastError, Interrupted, Unavailable
from lstm_forecast.loading import Dataset, Series
from lstm_forecast.settings import TrainConfig

if TYPE_CHECKING:
    import optuna

HEARTBEAT_S, GRACE_S = 2, 8  # a running trial's heartbeat; stale (its process dead) after GRACE_S
POLL_S = 1.0
PRUNE_PERCENTILE = 75.0  # a trial is pruned when its folds so far rank in the worst quarter
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
    """The dataset with only these covariate columns (of those it has), in its own order."""
    if list(names) == dataset.feature_names:
        return dataset
    keep = [j for j, name in enumerate(dataset.feature_names) if name in names]
    series = [Series(s.name, s.index, s.values, s.features[:, keep]) for s in dataset.series]
    names = [dataset.feature_names[j] for j in keep]
    return replace(dataset, feature_names=names, series=series)


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
        dataset.feature_names,
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
            raise _stopped(exc.exit_code) from None
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


def _stopped(code: int) -> Interrupted:
    name = "Ctrl-C" if code == 130 else "SIGTERM"
    return Interrupted(
        f"tune stopped by {name}; the running trial is marked failed, run the same command "
        f"again to resume",
        code,
    )


# ---------------------------------------------------------------------------------------------
# the study


def storage_url(storage: str | None, model_path: str | Path) -> str:
    """--storage as Optuna's RDB storage takes it; by default a SQLite file beside the model."""
    if storage is None:
        return f"sqlite:///{Path(f'{model_path}.tune.db').resolve()}"
    if not is_url(storage):
        raise ConfigError(
            f"--storage {redact(storage)}: not a database URL (sqlite:///FILE, "
            f"postgresql://USER@HOST/DB, ...)"
        )
    scheme, rest = storage.split("://", 1)
    if scheme.lower() in ("postgresql", "postgres"):  # the driver this package installs
        return f"postgresql+psycopg://{rest}"
    return storage


def shown(url: str) -> str:
    """A storage URL as it may be shown or stored: without its password."""
    return redact(url)


def _hide(url: str, text: str) -> str:
    """A driver's message, safe to show: URLs redacted, the password itself removed."""
    import sqlalchemy as sa

    text = redact(text)
    try:
        password = sa.make_url(url).password
    except sa.exc.ArgumentError:
        return text
    return text.replace(str(password), "***") if password else text


def open_study(url: str, name: str, setup: Setup, trials: int) -> optuna.Study:
    """The study `name` in the storage at `url`, created if new; refused when it was made with
    other data or settings (its trials would score something else)."""
    import warnings

    import optuna
    import sqlalchemy as sa

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    startup = min(10, max(3, trials // 3))
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    if url.startswith("postgresql"):
        engine = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    for attempt in range(4):  # processes creating the same new storage at once may collide
        try:
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
            )
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction="minimize",
                # No sampler seed: each process draws from its own entropy, so workers and
                # restarts never replay one another's points (trials seed training by number).
                sampler=optuna.samplers.TPESampler(n_startup_trials=startup),
                pruner=optuna.pruners.PercentilePruner(
                    PRUNE_PERCENTILE, n_startup_trials=startup, n_min_trials=startup
                ),
                load_if_exists=True,
            )
            break
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise ConfigError(f"--storage {shown(url)}: {_hide(url, str(exc))}") from None
        except sa.exc.SQLAlchemyError as exc:
            if attempt == 3:
                raise Unavailable(
                    f"--storage {shown(url)}: cannot open the study ({_hide(url, str(exc))})"
                ) from None
            time.sleep(0.5 * (attempt + 1))
    found, saved = setup.fingerprint(), study.user_attrs.get("settings")
    if saved is None:
        study.set_user_attr("settings", found)
    elif saved != found:
        differ = ", ".join(k for k in found if saved.get(k) != found[k])
        raise ConfigError(
            f"study '{name}' in {shown(url)} was made with other {differ}; resume it with the "
            f"same data and options, or start another with --study NAME"
        )
    return study


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state: complete, pruned, failed, running, and finished (complete + pruned)."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    out = {
        name: states.count(state)
        for name, state in (
            ("complete", TrialState.COMPLETE),
            ("pruned", TrialState.PRUNED),
            ("failed", TrialState.FAIL),
            ("running", TrialState.RUNNING),
        )
    }
    return {**out, "finished": out["complete"] + out["pruned"]}


def search(
    setup: Setup,
    url: str,
    name: str,
    trials: int,
    timeout: float | None,
    on_trial: Callable[[optuna.Study, Any], None] | None = None,
) -> None:
    """Run trials in this process until the study holds `trials` finished ones, `timeout`
    seconds have passed, or 2 x `trials` trials have failed in this process.

    A process stops starting trials once finished plus running ones reach `trials`; it then
    waits for those running elsewhere, and goes on if some of them failed (or their process
    died), so the study ends with exactly `trials` finished unless processes start their last
    trials at the same moment (at most one more per extra process)."""
    import optuna
    from optuna.trial import TrialState

    from lstm_forecast.training import catch_signals

    study = open_study(url, name, setup, trials)
    deadline = None if timeout is None else time.monotonic() + timeout
    failures = 0
    with catch_signals() as caught:

        def after(study: optuna.Study, trial: Any) -> None:
            nonlocal failures
            failures += trial.state == TrialState.FAIL
            if caught() or failures >= 2 * trials:
                study.stop()
            if on_trial:
                on_trial(study, trial)

        limit = optuna.study.MaxTrialsCallback(
            trials, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        )
        run = objective(setup, caught)
        while not caught() and failures < 2 * trials:
            fail_abandoned(study)
            found = counts(study)
            left = None if deadline is None else deadline - time.monotonic()
            if found["finished"] >= trials or (left is not None and left <= 0):
                break
            if found["finished"] + found["running"] >= trials:
                wait_for_running(study, caught)
                continue
            # another process may take this one's trial for dead and fail it: go on
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                study.optimize(
                    run, timeout=left, callbacks=[limit, after], catch=(TrialFailed,),
                    gc_after_trial=False,
                )  # fmt: skip
        if sig := caught():
            raise _stopped(128 + sig)


def wait_for_running(study: optuna.Study, stop: Callable[[], int | None] = lambda: None) -> None:
    """Wait until the trials running now have finished, or been marked failed because their
    process died (see `fail_abandoned`)."""
    from optuna.trial import TrialState

    def running() -> set[int]:
        return {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}

    waiting = running()
    while waiting and not stop():
        time.sleep(POLL_S)
        fail_abandoned(study)
        waiting &= running()


def this_process() -> dict:
    """Where a trial runs: the machine (host name and boot) and the process id."""
    import os
    import socket

    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return {"host": socket.gethostname(), "boot": boot, "pid": os.getpid()}


def fail_abandoned(study: optuna.Study) -> None:
    """Mark failed the running trials whose process is gone: at once for a process of this
    machine that no longer exists, otherwise once its heartbeat is GRACE_S seconds old. A trial
    that never said where it runs (its process died as it began, before any heartbeat) is
    failed GRACE_S seconds after it started."""
    import datetime as dt
    import os

    import optuna
    from optuna.trial import TrialState

    optuna.storages.fail_stale_trials(study)
    here = {k: v for k, v in this_process().items() if k != "pid"}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where = t.user_attrs.get("process")
        if where is None:
            age = dt.datetime.now() - (t.datetime_start or dt.datetime.now())
            if age.total_seconds() > GRACE_S:
                study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            continue
        if {k: where.get(k) for k in here} != here or where.get("pid") == os.getpid():
            continue
        try:
            os.kill(where["pid"], 0)
        except ProcessLookupError:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (OSError, KeyError, TypeError):
            continue  # alive under another user, or not ours to judge: the heartbeat decides


def run(
    setup: Setup,
    url: str,
    name: str,
    *,
    trials: int,
    timeout: float | None,
    jobs: int,
    progress: Callable[[int, int, str], None] | None,
) -> None:
    """The search in this process (jobs 1) or in `jobs` worker processes on the same study."""
    if trials < 1 or jobs < 1:
        raise ConfigError(f"--{'trials' if trials < 1 else 'jobs'} must be at least 1")
    if timeout is not None and timeout <= 0:
        raise ConfigError("--timeout must be positive")

    def report(study: optuna.Study, _trial: Any = None) -> None:
        if progress:
            found = counts(study)
            progress(found["finished"], trials, _note(study, found))

    if jobs == 1:
        search(setup, url, name, trials, timeout, report)
        return
    from lstm_forecast.training import catch_signals

    study = open_study(url, name, setup, trials)  # created once, before the workers race to it
    context = get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(setup, url, name, trials, timeout))
        for _ in range(jobs)
    ]
    with catch_signals() as caught:
        for w in workers:
            w.start()
        told = False
        while any(w.is_alive() for w in workers):
            if caught() and not told:
                for w in workers:
                    w.terminate()  # SIGTERM: each ends its running trial as failed
                told = True
            time.sleep(POLL_S)
            report(study)
        if sig := caught():
            raise _stopped(128 + sig)
    codes = [w.exitcode for w in workers]
    if any(c in (130, 143) for c in codes):
        raise _stopped(max(c for c in codes if c in (130, 143)))
    if any(codes):
        raise ForecastError(f"{sum(map(bool, codes))} of {jobs} tuning processes failed")


def _worker(setup: Setup, url: str, name: str, trials: int, timeout: float | None) -> None:
    """One worker process of `--jobs`: the search, one line on stderr for a failure."""
    try:
        search(setup, url, name, trials, timeout)
    except Interrupted as exc:
        sys.exit(exc.exit_code)
    except ForecastError as exc:
        print(f"lstm-forecast: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)


def _note(study: optuna.Study, found: dict[str, int]) -> str:
    try:
        best = f"best {study.best_value:.4g} (trial {study.best_trial.number})"
    except ValueError:  # nothing complete yet
        best = "no complete trial yet"
    return f"{best}; pruned {found['pruned']}, failed {found['failed']}"
