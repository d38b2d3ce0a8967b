"""Where `tune`'s trials live and who runs them: Optuna's RDB storage, the search loop of one
process, worker processes, and trials abandoned by dead processes.

The study is in Optuna's RDB storage (a SQLite file by default, any URL it accepts): processes
and machines on one study share the work, `trials` is the study's total of finished (complete
or pruned) trials whoever runs them, a killed run resumes, and a trial left running by a dead
process is marked failed: at once when that process ran on this machine, otherwise once its
heartbeat is GRACE_S seconds old.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstm_forecast.db_url import is_url, redact
from lstm_forecast.errors import ConfigError, ForecastError, Interrupted, Unavailable
from lstm_forecast.settings import differences
from lstm_forecast.tuning import Setup, TrialFailed, objective, stopped, this_process

if TYPE_CHECKING:
    import optuna

HEARTBEAT_S, GRACE_S = 2, 8  # a running trial's heartbeat; stale (its process dead) after GRACE_S
POLL_S = 1.0
PRUNE_PERCENTILE = 75.0  # a trial is pruned when its folds so far rank in the worst quarter


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
        if saved.get("base") != found["base"]:
            differ += f" ({differences(saved.get('base') or {}, found['base'])})"
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
            raise stopped(128 + sig)


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
            raise stopped(128 + sig)
    codes = [w.exitcode for w in workers]
    if any(c in (130, 143) for c in codes):
        raise stopped(max(c for c in codes if c in (130, 143)))
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
