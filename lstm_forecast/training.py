"""Train the LSTM: time-ordered split, segment batches, early stopping, checkpoints, calibration.

The loop is DeepAR-style: a batch holds segments of `lookback - 1 + chunk` rows, and the LSTM's
output at each of the last `chunk` positions is one training window (an origin with its horizon
targets), so consecutive windows share their recurrent work instead of recomputing the same
`lookback` steps. Every origin counts once per epoch and every target sees at least a full
lookback of history. All data lives in one tensor; batches are index gathers. Validation uses
the same segments (forward only), so it costs a fraction of an epoch.

Under torchrun every rank draws the same shuffled segments and takes its own slice of each
global batch; DDP averages the gradients, so the optimiser steps match a single process's.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from lstm_forecast import calibration, distributed, windows
from lstm_forecast.errors import ConfigError, DataError, Interrupted
from lstm_forecast.formats import timestamp
from lstm_forecast.loading import Dataset
from lstm_forecast.model import LSTMForecaster, pinball
from lstm_forecast.optim import AdamW
from lstm_forecast.settings import TrainConfig
from lstm_forecast.spec import ModelCard, ModelSpec, SeriesInfo, TrainingFigures

EVAL_BATCH = 4096
VAL_BATCH = 512  # segments per validation forward pass


@dataclass
class SeriesPart:
    """One series ready for training: inputs, targets, and where training and validation lie."""

    name: str
    prep: windows.Prepared
    targets: np.ndarray  # (rows, horizon) normalised
    stats: dict
    n_train: int
    train_origins: tuple[int, int]  # first, last (inclusive)
    val_origins: np.ndarray


# Per series: (origins, quantile forecasts (origins, horizon, quantiles) in the target's units).
Forecasts = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class TrainResult:
    """A trained model: its weights and card, and its forecasts on the validation tail (each
    half of the tail calibrated on the other), which `evaluation` turns into the table."""

    weights: dict[str, np.ndarray]
    card: ModelCard
    validation: Forecasts

    @property
    def meta(self) -> dict:
        """The card as the model file's JSON header holds it."""
        return self.card.to_header()

    @property
    def record(self) -> dict:
        """The headline figures of a run record: validation MASE of the model and the random
        walk per step, the verdict of the point forecast and of the intervals, coverage, training
        speed, and `kept` with --keep-better."""
        ev, tr = self.card.evaluation, self.card.training
        out = {
            "beats_naive": ev["beats_naive"],
            "interval_skill": ev.get("interval_skill"),
            "coverage_tests_pass": ev.get("coverage_tests_pass"),
            "lstm_mase": ev["models"]["lstm"]["mase"],
            "naive_mase": ev["models"]["naive"]["mase"],
            "coverage": ev["models"]["lstm"]["coverage"],
            "windows_per_s": tr.windows_per_s,
            "epochs_run": tr.epochs_run,
        }
        if self.card.kept is not None:
            out["kept"] = self.card.kept
        return out


@dataclass
class Progress:
    """What the progress callback is told after each epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_epoch: int


def resolve_device(device: str) -> torch.device:
    """auto -> CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


def data_hash(dataset: Dataset) -> str:
    """A short fingerprint of the data trained on (names, timestamps and values)."""
    h = hashlib.sha256()
    for s in dataset.series:
        h.update(s.name.encode())
        h.update(np.ascontiguousarray(s.index).tobytes())
        h.update(np.ascontiguousarray(s.values).tobytes())
        h.update(np.ascontiguousarray(s.features).tobytes())
    return h.hexdigest()[:16]


def split(dataset: Dataset, config: TrainConfig, transform: str) -> list[SeriesPart]:
    """Fit statistics on each series' training rows and mark training and validation origins.

    A training origin's targets all lie in the training rows; a validation origin's targets all
    lie in the validation tail. No window's targets cross the boundary.
    """
    parts = []
    lookback, horizon = config.lookback, config.horizon
    for s in dataset.series:
        n = len(s)
        n_train = windows.split_point(n, config.val_size)
        first, last = lookback - 1, n_train - 1 - horizon
        if last < first:
            continue
        stats = windows.fit_stats(
            s, n_train, transform, dataset.feature_names, config.features or None
        )
        prep = windows.prepare(s, stats, transform, config.date_features)
        val = np.arange(max(n_train - 1, lookback - 1), n - horizon)
        parts.append(
            SeriesPart(
                s.name, prep, windows.targets(prep, horizon), stats, n_train, (first, last), val
            )
        )
    if not parts:
        need = config.lookback + config.horizon + 2
        raise DataError(
            f"{dataset.source}: too few rows for --lookback {config.lookback} and "
            f"--horizon {config.horizon} with --val-size {config.val_size} "
            f"(a series needs well over {need} rows)"
        )
    if sum(len(p.val_origins) for p in parts) == 0:
        raise DataError(
            f"{dataset.source}: the validation tail holds no complete horizon; "
            f"raise --val-size or lower --horizon"
        )
    return parts


class Trainer:
    """Owns the model, optimiser and resident data for one training run."""

    def __init__(self, parts: list[SeriesPart], config: TrainConfig, device: torch.device) -> None:
        self.parts, self.config, self.device = parts, config, device
        self.spec = ModelSpec.for_training(config, parts[0].prep.x.shape[1], len(parts))
        torch.manual_seed(config.seed)
        self.model = LSTMForecaster(self.spec).to(device)
        self.opt = AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.quantiles = torch.tensor(config.quantiles, device=device)
        offsets = np.cumsum([0] + [len(p.prep.y) for p in parts])
        self.offsets = offsets[:-1]
        self.x = torch.from_numpy(np.concatenate([p.prep.x for p in parts])).to(device)
        self.y = torch.from_numpy(
            np.nan_to_num(np.concatenate([p.targets for p in parts])).astype("float32")
        ).to(device)
        self.n_windows = sum(p.train_origins[1] - p.train_origins[0] + 1 for p in parts)
        self.chunk = max(
            1, min(config.chunk, *(p.train_origins[1] - p.train_origins[0] + 1 for p in parts))
        )
        self.autocast = device.type == "cuda"
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.net = distributed.wrap(self.model)
        self.pos = torch.arange(config.lookback - 1 + self.chunk, device=device)
        self.jpos = torch.arange(self.chunk, device=device)
        val = [p.val_origins for p in parts]
        self.val_segs = self.segments([(v[0], v[-1]) if len(v) else (0, -1) for v in val], 0)

    def segments(self, spans: list[tuple[int, int]], offset: int) -> np.ndarray:
        """(segments, 4): global start row, lo, hi, series id, covering each part's origin span."""
        rows = []
        for i, (first, last) in enumerate(spans):
            seg = windows.segments(first, last, self.config.lookback, self.chunk, offset)
            seg[:, 0] += self.offsets[i]
            rows.append(np.column_stack([seg, np.full(len(seg), i)]))
        return np.concatenate(rows)

    def epoch_segments(self, epoch: int) -> np.ndarray:
        """The epoch's training segments, shuffled alike on every rank, a multiple of the ranks."""
        rng = np.random.default_rng([self.config.seed, epoch])
        offset = int(rng.integers(self.chunk))
        segs = self.segments([p.train_origins for p in self.parts], offset)
        segs = segs[rng.permutation(len(segs))]
        return segs[: len(segs) - len(segs) % self.world]  # so every rank has part of each batch

    def loss(self, net: torch.nn.Module, segs: np.ndarray) -> torch.Tensor:
        """Mean pinball loss over the training windows of `segs` (rows of `segments`)."""
        cfg = self.config
        seg = torch.from_numpy(segs).to(self.device)
        rows = (seg[:, :1] + self.pos).clamp_max(len(self.x) - 1)  # a short last span may overrun
        mask = ((self.jpos >= seg[:, 1:2]) & (self.jpos < seg[:, 2:3])).float()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = net(self.x[rows], seg[:, 3])[:, cfg.lookback - 1 :]
        target = self.y[rows[:, cfg.lookback - 1 :]]
        return pinball(out.float(), target, self.quantiles, mask[..., None].expand_as(target))

    def run_epoch(
        self, epoch: int, lr_at: Callable[[float], float], stop: Callable[[], bool]
    ) -> tuple[float, int]:
        """One pass over this rank's slice of every batch; returns (loss sum, windows)."""
        cfg = self.config
        self.model.train()
        torch.manual_seed(cfg.seed * 1_000_003 + epoch + 7919 * self.rank)  # dropout, on resume too
        segs = self.epoch_segments(epoch)
        counts = segs[:, 2] - segs[:, 1]
        starts = range(0, len(segs), cfg.batch_size)
        total, done = torch.zeros((), device=self.device), 0
        for b, start in enumerate(starts):
            if stop():
                break
            for group in self.opt.param_groups:
                group["lr"] = lr_at(epoch + b / len(starts))
            mine = slice(start + self.rank, start + cfg.batch_size, self.world)
            n = int(counts[mine].sum())
            loss = self.loss(self.net, segs[mine])
            # DDP averages rank gradients; weighting by each rank's share of the batch's windows
            # makes the step the one a single process takes on the whole batch.
            share = self.world * n / int(counts[start : start + cfg.batch_size].sum())
            self.opt.zero_grad(set_to_none=True)
            (loss * share).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.opt.step()
            total += loss.detach() * n
            done += n
        return float(total), done

    @torch.no_grad()
    def validation_sums(self) -> tuple[float, int]:
        """(loss sum, origins) of this rank's slice of the validation segments."""
        self.model.eval()
        segs = self.val_segs[self.rank :: self.world]
        total, done = 0.0, 0
        for start in range(0, len(segs), VAL_BATCH):
            batch = segs[start : start + VAL_BATCH]
            n = int((batch[:, 2] - batch[:, 1]).sum())
            total += float(self.loss(self.model, batch)) * n
            done += n
        return total, done

    @torch.no_grad()
    def predict_origins(self, part_index: int, origins: np.ndarray) -> np.ndarray:
        """Normalised quantile forecasts (origins, horizon, quantiles) from lookback windows."""
        self.model.eval()
        p = self.parts[part_index]
        out = []
        for i in range(0, len(origins), EVAL_BATCH):
            w = windows.windows(p.prep.x, origins[i : i + EVAL_BATCH], self.config.lookback)
            x = torch.from_numpy(np.ascontiguousarray(w)).to(self.device)
            ids = torch.full((len(w),), part_index, device=self.device)
            # float32, no autocast: calibration must see what `predict` will compute
            out.append(self.model(x, ids)[:, -1].float().cpu().numpy())
        return (
            np.concatenate(out)
            if out
            else np.zeros((0, self.config.horizon, len(self.config.quantiles)))
        )

    def snapshot(self) -> dict:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "opt": copy.deepcopy(self.opt.state_dict()),
        }

    def restore(self, snap: dict) -> None:
        self.model.load_state_dict(snap["model"])
        self.opt.load_state_dict(snap["opt"])


@contextmanager
def catch_signals() -> Iterator[Callable[[], int | None]]:
    """Turn SIGINT/SIGTERM into a flag that a loop checks at safe points (the signal number, or
    None); the previous handlers come back on exit."""
    caught: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        caught.append(signum)

    installed = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            installed[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield lambda: caught[0] if caught else None
    finally:
        for sig, old in installed.items():
            signal.signal(sig, old)


@dataclass
class LoopState:
    """Early-stopping state, carried across a checkpoint."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list | None = None


def train(
    dataset: Dataset,
    config: TrainConfig,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    checkpoint: Callable[[dict, dict], None] | None = None,
    resume_from: tuple[dict, dict] | None = None,
    init_weights: dict[str, np.ndarray] | None = None,
    init_card: ModelCard | None = None,
) -> TrainResult:
    """Train a model on `dataset`; the plain-Python entry point behind `lstm-forecast train`.

    `checkpoint(tensors, state)` is called when a signal stops training; `resume_from` takes
    what it saved. `init_weights`/`init_card` warm-start from an existing model (same transforms
    and statistics), as `update` does. The card's validation table is left empty: the caller
    scores `result.validation` (see `evaluation`).
    """
    torch.set_num_threads(_threads(threads))
    with distributed.process_group(resolve_device(device)) as dev:
        return _train(
            dataset, config, dev, progress, checkpoint, resume_from, init_weights, init_card
        )


def _threads(requested: int | None) -> int:
    """--threads, else LSTM_FORECAST_THREADS, else OMP_NUM_THREADS, else 1.

    One thread is the measured best for the default model: its per-step matrix products
    (32 segments x 256 gates) are too small to split, and extra threads only spin. Use more
    processes (`--nproc`) for more cores, or `--threads` for wide models.
    """
    env = os.environ.get("LSTM_FORECAST_THREADS") or os.environ.get("OMP_NUM_THREADS")
    return requested or int(env or 1)


def _train(
    dataset: Dataset,
    config: TrainConfig,
    dev: torch.device,
    progress: Callable[[Progress], None] | None,
    checkpoint: Callable[[dict, dict], None] | None,
    resume_from: tuple[dict, dict] | None,
    init_weights: dict[str, np.ndarray] | None,
    init_card: ModelCard | None,
) -> TrainResult:
    transform = (
        init_card.transform if init_card else windows.choose_transform(config.transform, dataset)
    )
    parts = split(dataset, config, transform)
    if init_card:
        parts = _reuse_stats(parts, init_card, dataset, config, transform)
    trainer = Trainer(parts, config, dev)
    if init_weights is not None:
        trainer.model.load_state_dict({k: torch.from_numpy(v) for k, v in init_weights.items()})
    state = LoopState(history=[])
    best = trainer.snapshot()["model"]
    if resume_from is not None:
        tensors, saved = resume_from
        _load_checkpoint(trainer, tensors, saved)
        state = LoopState(**saved["loop"])
        best = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
        best = {k: torch.from_numpy(v).to(dev) for k, v in best.items()}

    def lr_at(progress_epochs: float) -> float:
        frac = min(progress_epochs / config.epochs, 1.0)
        return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    started = time.perf_counter()
    windows_done = 0
    with catch_signals() as caught:

        def stop() -> bool:  # true on every rank as soon as any rank caught a signal
            return distributed.any_rank(caught() is not None, dev)

        while state.epoch < config.epochs and state.bad_epochs < config.patience:
            snap = trainer.snapshot()
            train_sums = trainer.run_epoch(state.epoch, lr_at, stop)
            val_sums = (0.0, 0) if stop() else trainer.validation_sums()
            if stop():
                trainer.restore(snap)
                if checkpoint is not None and trainer.rank == 0:
                    checkpoint(*_checkpoint(trainer, state, best, config))
                sig = caught() or signal.SIGTERM
                raise Interrupted(
                    f"training stopped by {signal.Signals(sig).name} in epoch "
                    f"{state.epoch + 1}; a checkpoint was saved, continue with "
                    f"--resume",
                    128 + sig,
                )
            sums = torch.tensor([*train_sums, *val_sums], dtype=torch.float64, device=dev)
            tl, tn, vl, vn = distributed.all_sum(sums).tolist()
            train_loss, val_loss = tl / max(tn, 1), vl / max(vn, 1)
            windows_done += int(tn)
            state.history.append([round(train_loss, 6), round(val_loss, 6)])
            if val_loss < state.best_loss:
                state.best_loss, state.best_epoch, state.bad_epochs = val_loss, state.epoch, 0
                best = copy.deepcopy(trainer.model.state_dict())
            else:
                state.bad_epochs += 1
            state.epoch += 1
            if progress and trainer.rank == 0:
                progress(
                    Progress(state.epoch, config.epochs, train_loss, val_loss, state.best_epoch + 1)
                )
    seconds = time.perf_counter() - started
    trainer.model.load_state_dict(best)
    calib, validation = _validation(trainer, dataset, transform)
    weights = {k: v.detach().float().cpu().numpy() for k, v in trainer.model.state_dict().items()}
    card = ModelCard(
        network=trainer.spec,
        config=config,
        transform=transform,
        target=dataset.target,
        date_column=dataset.date_column,
        feature_names=dataset.feature_names,
        frequency=dataset.frequency,
        series=[_series_info(s, p) for s, p in zip(_trained(dataset, parts), parts, strict=True)],
        calibration=calib,
        data_hash=data_hash(dataset),
        training=TrainingFigures(
            epochs_run=state.epoch,
            best_epoch=state.best_epoch + 1,
            best_val_loss=state.best_loss,
            history=state.history,
            seconds=round(seconds, 3),
            windows=windows_done,
            windows_per_s=round(windows_done / seconds, 1) if seconds > 0 else None,
            device=dev.type,
            threads=torch.get_num_threads(),
            processes=trainer.world,
        ),
        torch_version=torch.__version__,
        skipped_series=[s.name for s in dataset.series if s.name not in {p.name for p in parts}],
        exchange=dataset.exchange,
        calendar=dataset.calendar,
    )
    return TrainResult(weights, card, validation)


def _trained(dataset: Dataset, parts: list[SeriesPart]) -> list:
    by_name = {s.name: s for s in dataset.series}
    return [by_name[p.name] for p in parts]


def _series_info(series, part: SeriesPart) -> SeriesInfo:
    dated = np.issubdtype(series.index.dtype, np.datetime64)
    first, last = (
        (timestamp(series.index[0]), timestamp(series.index[-1]))
        if dated
        else (int(series.index[0]), int(series.index[-1]))
    )
    return SeriesInfo(part.name, len(series), part.n_train, first, last, part.stats)


def _reuse_stats(
    parts: list[SeriesPart], card: ModelCard, dataset: Dataset, config: TrainConfig, transform: str
) -> list[SeriesPart]:
    """Warm start: the model's series in its own order, inputs built with its stored statistics."""
    have = {p.name: p for p in parts}
    missing = [s.name for s in card.series if s.name not in have]
    if missing or len(have) != len(card.series):
        known = ", ".join(s.name for s in card.series)
        raise DataError(
            f"{dataset.source}: the data's series ({', '.join(have)}) are not the model's ({known})"
        )
    by_name = {s.name: s for s in dataset.series}
    ordered = []
    for stored in card.series:
        p = have[stored.name]
        p.stats = stored.stats
        p.prep = windows.prepare(by_name[p.name], p.stats, transform, config.date_features)
        p.targets = windows.targets(p.prep, config.horizon)
        ordered.append(p)
    return ordered


def _checkpoint(
    trainer: Trainer, state: LoopState, best: dict, config: TrainConfig
) -> tuple[dict, dict]:
    tensors = {f"model.{k}": v.cpu().numpy() for k, v in trainer.model.state_dict().items()}
    tensors.update({f"best.{k}": v.cpu().numpy() for k, v in best.items()})
    opt = trainer.opt.state_dict()
    for pid, st in opt["state"].items():
        for key, value in st.items():
            tensors[f"opt.{pid}.{key}"] = value.cpu().numpy()
    saved = {
        "loop": state.__dict__.copy(),
        "config": config.to_dict(),
        "param_groups": opt["param_groups"],
    }
    return tensors, saved


def _load_checkpoint(trainer: Trainer, tensors: dict, saved: dict) -> None:
    model = {
        k[len("model.") :]: torch.from_numpy(v)
        for k, v in tensors.items()
        if k.startswith("model.")
    }
    trainer.model.load_state_dict(model)
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = torch.from_numpy(v.copy())
    trainer.opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def _validation(
    trainer: Trainer, dataset: Dataset, transform: str
) -> tuple[calibration.Calibration, Forecasts]:
    """Calibrate on the validation tail; forecast it, cross-fitted, in the target's units.

    The stored calibration is fitted on the whole tail; the forecasts returned for scoring are
    cross-fitted (each half of the tail calibrated on the other half), so that calibrating on
    the tail does not flatter the scores reported for it.
    """
    quantiles, mid = trainer.config.quantiles, trainer.config.median_index
    preds = [trainer.predict_origins(i, p.val_origins) for i, p in enumerate(trainer.parts)]
    truths = [p.targets[p.val_origins] for p in trainer.parts]
    calib = calibration.fit(np.concatenate(preds), np.concatenate(truths), quantiles, mid)
    crossed = calibration.cross_fitted(preds, truths, quantiles, mid)
    by_name = {s.name: s for s in dataset.series}
    forecasts = {}
    for p, pred in zip(trainer.parts, crossed, strict=True):
        o = p.val_origins
        q = windows.denormalise(pred, by_name[p.name].values[o], p.prep.sigma[o], transform)
        forecasts[p.name] = (o, q)
    return calib, forecasts
