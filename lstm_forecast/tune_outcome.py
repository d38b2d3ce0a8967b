"""After a search: the chosen settings scored once on the untouched stretch beside the defaults
and the baselines, the settings file, and the summary the report, terminal and run record show.

The untouched stretch is scored only for the settings the search chose, once per choice: the
scores are kept in the study with the number of the trial they belong to, so another process
(or a later run) that finds the same best trial shows them again instead of scoring anew or
writing the model twice.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lstm_forecast import backtest, evaluation, metrics, search_space
from lstm_forecast.artifacts import atomic_write
from lstm_forecast.errors import DataError
from lstm_forecast.loading import Dataset
from lstm_forecast.settings import TrainConfig, train_toml
from lstm_forecast.tuning import DEFAULTS, TUNED, Setup, counts, shown, with_features

if TYPE_CHECKING:
    import optuna

MIN_FOR_IMPORTANCE = 4  # complete trials before parameter importances mean anything


@dataclass
class TuneResult:
    """The summary of a tune (tune.json's content) and whether this run wrote the model."""

    summary: dict

    @property
    def record(self) -> dict:
        """The headline figures of a run record."""
        s, h = self.summary, self.summary["holdout"]
        crps, models = h["scaled_crps"], h["models"]
        return {
            **{k: s["trials"][k] for k in ("finished", "complete", "pruned", "failed")},
            "best_trial": s["best"]["trial"],
            "best_value": s["best"]["value"],
            "written": s["written"],
            **{f"holdout_crps_{m}": crps.get(k) for m, k in _NAMES.items()},
            **{f"holdout_mae_{m}": models[k]["mae"] for m, k in _NAMES.items()},
            "skill": h["skill"],
        }


_NAMES = {"tuned": TUNED, "defaults": DEFAULTS, "naive": evaluation.RANDOM_WALK}


def best_trial(study: optuna.Study) -> Any:
    """The complete trial with the lowest score; DataError when none completed."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        failed = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("error")]
        why = f"; trial {failed[0].number}: {failed[0].user_attrs['error']}" if failed else ""
        raise DataError(f"no trial of study '{study.study_name}' completed{why}")
    return min(complete, key=lambda t: t.value)


def holdout_scores(dataset: Dataset, setup: Setup, config: TrainConfig) -> dict:
    """The tuned settings, the defaults and the baselines on the untouched stretch: each model
    fitted on the tuning span only, forecasting every origin of the stretch (no refit)."""

    def fit(cfg: TrainConfig) -> backtest.BacktestResult:
        data = with_features(dataset, cfg.features)
        return backtest.walk_forward(
            data, cfg, setup.holdout, device=setup.device, threads=setup.threads
        )

    tuned, default = fit(config), fit(setup.base)
    theirs = default.forecasts[default.forecasts["model"] == evaluation.MODEL]
    frame = pd.concat([tuned.forecasts, theirs.assign(model=DEFAULTS)], ignore_index=True)
    scores = evaluation.score(frame)
    skill, text = evaluation.verdict(scores["models"], scores["dm_test"])
    crps = {m: evaluation.scaled_crps(frame, m) for m in scores["models"]}
    stat, p = metrics.diebold_mariano(
        evaluation.errors_at(frame, TUNED, 1), evaluation.errors_at(frame, DEFAULTS, 1), 1
    )
    return {
        **scores,
        "scaled_crps": {m: v for m, v in crps.items() if math.isfinite(v)},
        "verdict": text,
        "skill": skill,
        "versus_defaults": {
            "better": crps[TUNED] < crps[DEFAULTS],
            "statistic": stat,
            "p_value": p,
            "text": _versus(crps, scores["models"], stat, p),
        },
        "stretch": [
            {k: f[k] for k in ("series", "first_origin", "last_origin", "train_end", "train_rows")}
            for f in tuned.metrics["folds"]
        ],
        "origins_per_series": setup.holdout.step,
        "interval": [config.quantiles[0], config.quantiles[-1]],
    }


def _versus(crps: dict, models: dict, stat: float, p: float) -> str:
    t, d = crps[TUNED], crps[DEFAULTS]
    word = "better than" if t < d else "not better than"
    return (
        f"On the untouched stretch the tuned settings are {word} the defaults: scaled CRPS "
        f"{t:.4g} against {d:.4g} (MAE {models[TUNED]['mae']:.4g} against "
        f"{models[DEFAULTS]['mae']:.4g}); Diebold-Mariano at horizon 1, tuned vs defaults: "
        f"statistic {stat:.2f}, p = {p:.3g}."
    )


def importances(study: optuna.Study) -> dict[str, float]:
    """PED-ANOVA parameter importances (built into Optuna, no extra dependency); empty with
    too few complete trials to tell."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < MIN_FOR_IMPORTANCE:
        return {}
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        )
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {k: float(v) for k, v in found.items() if math.isfinite(v)}


def conclude(
    study: optuna.Study,
    setup: Setup,
    dataset: Dataset,
    *,
    url: str,
    trials: int,
    model_path: Path,
    settings_path: Path,
    settings_extra: dict,
    data_name: str,
    write_model: Callable[[TrainConfig], None],
) -> TuneResult:
    """Score the best trial's settings on the untouched stretch, write the settings file and
    (through `write_model`) the model, unless they are already written for this best trial.
    Call it holding the model's lock."""
    best = best_trial(study)
    config = TrainConfig.from_dict(best.user_attrs["config"])
    files = {"model": str(model_path), "settings": str(settings_path)}
    done = study.user_attrs.get("written") or {}
    fresh = (
        done.get("trial") == best.number
        and done.get("files") == files
        and model_path.exists()
        and settings_path.exists()
    )
    found = counts(study)
    optimism = (
        f"The best of {found['finished']} finished trials ({found['complete']} complete, "
        f"{found['pruned']} pruned; {found['failed']} failed) is trial {best.number}, with a "
        f"mean scaled CRPS of {best.value:.4g} over the folds inside the tuning span. The best "
        f"of {found['finished']} trials is optimistic: it was chosen because it scored best "
        f"there. The untouched stretch, which no trial saw, gives the honest figures."
    )
    if fresh:
        holdout = done["holdout"]
    else:
        holdout = holdout_scores(dataset, setup, config)
        comments = [
            f"lstm-forecast tune: the settings of trial {best.number}, the best of "
            f"{found['finished']} finished trials on {data_name}",
            f"(study '{study.study_name}' in {shown(url)}).",
            *textwrap.wrap(holdout["versus_defaults"]["text"], 96),
            f"Use: lstm-forecast train DATA --model MODEL --config {settings_path.name}",
        ]
        atomic_write(settings_path, train_toml(config, settings_extra, comments))
        write_model(config)
        study.set_user_attr("written", {"trial": best.number, "files": files, "holdout": holdout})
    return TuneResult(
        {
            "study": study.study_name,
            "storage": shown(url),
            "trials": {"requested": trials, **found},
            "best": {
                "trial": best.number,
                "value": best.value,
                "params": best.params,
                "config": best.user_attrs["config"],
                **{k: best.user_attrs.get(k) for k in ("mae", "naive_mae", "rel_mae")},
                "fold_scores": best.user_attrs.get("fold_scores"),
            },
            "optimism": optimism,
            "holdout": holdout,
            "importances": importances(study),
            "table": trial_table(study),
            "settings": {
                "data": data_name,
                "objective": "mean over the folds of the scaled CRPS (lower is better)",
                "folds": asdict(setup.inner),
                "holdout": asdict(setup.holdout),
                "space": search_space.to_dict(setup.space),
                "base": setup.base.to_dict(),
            },
            "files": files,
            "written": not fresh,
        }
    )


def trial_table(study: optuna.Study) -> list[dict]:
    """One row per trial: number, state, score, MAE against the random walk, time, reason,
    and the searched parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        folds = attrs.get("fold_scores") or []
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "last_fold_mean": sum(folds) / len(folds) if folds else None,
                "folds_scored": len(folds),
                "rel_mae": attrs.get("rel_mae"),
                "seconds": attrs.get("seconds"),
                "error": attrs.get("error")
                or ("its process ended before the trial did" if t.state.name == "FAIL" else None),
                "params": t.params,
            }
        )
    return rows
