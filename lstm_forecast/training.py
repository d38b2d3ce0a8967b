"""Train the LSTM: time-ordered split, segment batches, early stopping, checkpoints, calibration.

The loop is DeepAR-style: a batch holds segments of `lookback - 1 + chunk` rows, and the LSTM's
output at each of the last `chunk` positions is one training window (an origin with its horizon
targets), so consecutive windows share their recurrent work instead of recomputing the same
`lookback` steps. Every origin counts once per epoch and every target sees at least a full
lookback of history. All data lives in one tensor; batches are index gathers. Validation uses
the same segments (forward only), so it costs a fraction of an epoch.

Under torchrun every rank draws the same shuffled segments of the whole universe (it knows
every series' length, not its values) and computes the loss of those in each global batch that
it holds: its own series when each rank read only its shard (`shards`), else every world-th
segment. The gradients are averaged over the ranks (`distributed.average_gradients`), weighted
so that a step is the one a single process takes on the whole batch. `steps_per_epoch` caps the
optimiser steps of an epoch; checkpoints can be taken every so many steps and resumed at that
step with any number of ranks.
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
from lstm_forecast.loading import Dataset, Series
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
    """A trained model: its weights and card, and its forecasts on the validation tails of the
    scored series (each half of a tail calibrated on the other), which `evaluation` turns into
    the table."""

    weights: dict[str, np.ndarray]
    card: ModelCard
    validation: Forecasts
    scored: list[Series]  # the series of `validation` (a sample of them all, at scale)
    series_count: int  # series trained on

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
    return combined_hash({s.name: series_digest(s) for s in dataset.series})


def series_digest(series) -> bytes:
    """One series' fingerprint: its name, timestamps, values and features."""
    h = hashlib.sha256(series.name.encode())
    for array in (series.index, series.values, series.features):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.digest()


def combined_hash(digests: dict[str, bytes]) -> str:
    """The fingerprint of a universe from its series' digests, in name order (so the ranks of
    a sharded job, each holding some series, agree with a process holding them all)."""
    h = hashlib.sha256()
    for name in sorted(digests):
        h.update(digests[name])
    return h.hexdigest()[:16]


def split(dataset: Dataset, config: TrainConfig, transform: str) -> list[SeriesPart]:
    """Fit statistics on each series' training rows and mark training and validation origins.

    A training origin's targets all lie in the training rows; a validation origin's targets all
    lie in the validation tail. No window's targets cross the boundary.
    """
    lookback, horizon = config.lookback, config.horizon
    kept, fitted = [], []
    for s in dataset.series:
        n_train = windows.split_point(len(s), config.val_size)
        if n_train - 1 - horizon < lookback - 1:
            continue
        kept.append((s, n_train))
        fitted.append(
            windows.fit_stats(s, n_train, transform, dataset.feature_names, config.features or None)
        )
    series = [s for s, _ in kept]
    preps = windows.prepare_many(series, fitted, transform, config.date_features)
    parts = []
    for (s, n_train), stats, prep in zip(kept, fitted, preps, strict=True):
        val = np.arange(max(n_train - 1, lookback - 1), len(s) - horizon)
        span = (lookback - 1, n_train - 1 - horizon)
        parts.append(
            SeriesPart(s.name, prep, windows.targets(prep, horizon), stats, n_train, span, val)
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


@dataclass
class Layout:
    """Every series the model learns, in model order (the index is the series' embedding id),
    as all ranks agree on it from lengths alone: rows, training rows, and where this rank holds
    the series' data (-1: another rank does). `sharded`: each rank holds only its own series
    (else every rank holds all of them)."""

    names: list[str]
    rows: np.ndarray
    n_train: np.ndarray
    local: np.ndarray
    sharded: bool

    @classmethod
    def agree(cls, parts: list[SeriesPart]) -> Layout:
        """The layout of every rank's parts (a collective under torchrun)."""
        held = distributed.gather([(p.name, len(p.prep.y), p.n_train) for p in parts])
        sharded = any(h != held[0] for h in held)
        every = [item for h in held for item in h] if sharded else held[0]
        names = [name for name, _, _ in every]
        if len(set(names)) < len(names):
            raise DataError("a series was read by more than one training process")
        mine = {p.name: i for i, p in enumerate(parts)}
        return cls(
            names,
            np.array([r for _, r, _ in every], dtype="int64"),
            np.array([t for _, _, t in every], dtype="int64"),
            np.array([mine.get(n, -1) for n in names], dtype="int64"),
            sharded,
        )


def scored_series(layout: Layout, config: TrainConfig) -> np.ndarray:
    """The series whose validation tails are scored (ids, ascending): all of them, or when their
    tails hold more than `config.val_origins` origins, a seeded sample of whole series holding
    about that many (whole tails, so the tests on consecutive origins stay valid)."""
    first = np.maximum(layout.n_train - 1, config.lookback - 1)
    counts = np.maximum(layout.rows - config.horizon - first, 0)
    order = np.random.default_rng([config.seed, 1]).permutation(len(counts))
    if counts.sum() <= config.val_origins:
        return np.flatnonzero(counts)
    upto = int(np.searchsorted(np.cumsum(counts[order]), config.val_origins)) + 1
    return np.sort(order[:upto][counts[order[:upto]] > 0])


class Trainer:
    """Owns the model, optimiser and resident data for one training run."""

    def __init__(
        self, parts: list[SeriesPart], layout: Layout, config: TrainConfig, device: torch.device
    ) -> None:
        self.parts, self.layout, self.config, self.device = parts, layout, config, device
        self.spec = ModelSpec.for_training(config, parts[0].prep.x.shape[1], len(layout.names))
        torch.manual_seed(config.seed)
        self.model = LSTMForecaster(self.spec).to(device)
        self.opt = AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.quantiles = torch.tensor(config.quantiles, device=device)
        offsets = np.cumsum([0] + [len(p.prep.y) for p in parts])[:-1]
        self.base = np.where(layout.local >= 0, offsets[layout.local], -1)  # first row of each
        self.x = torch.from_numpy(np.concatenate([p.prep.x for p in parts])).to(device)
        self.y = torch.from_numpy(
            np.nan_to_num(np.concatenate([p.targets for p in parts])).astype("float32")
        ).to(device)
        self.train_last = layout.n_train - 1 - config.horizon
        spans = self.train_last - (config.lookback - 1) + 1
        self.n_windows = int(spans.sum())
        self.chunk = max(1, min(config.chunk, int(spans.min())))
        self.autocast = device.type == "cuda"
        self.rank, self.world = distributed.rank(), distributed.world_size()
        distributed.same_start(self.model)
        self.pos = torch.arange(config.lookback - 1 + self.chunk, device=device)
        self.jpos = torch.arange(self.chunk, device=device)
        self.scored = scored_series(layout, config)
        self.val_first = np.maximum(layout.n_train - 1, config.lookback - 1)
        self.val_last = layout.rows - 1 - config.horizon
        self.val_segs = self.segments(
            self.val_first[self.scored], self.val_last[self.scored], 0, self.scored
        )
        local = int(np.flatnonzero(layout.local >= 0)[0])
        self.idle = np.array([[0, 0, 0, local]])  # a segment of this rank's that counts nothing

    def segments(
        self, first: np.ndarray, last: np.ndarray, offset: int, ids: np.ndarray | None = None
    ) -> np.ndarray:
        """(segments, 4): start row in its series, lo, hi, series id, covering origins
        first..last of each series (of `ids`, all by default)."""
        segs = windows.many_segments(first, last, self.config.lookback, self.chunk, offset)
        if ids is not None:
            segs[:, 3] = ids[segs[:, 3]]
        return segs

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The epoch's global batches: every series' training segments, shuffled alike on every
        rank, cut into batches (only the first `steps_per_epoch` of them when capped)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        offset = int(rng.integers(self.chunk))
        first = np.full(len(self.train_last), cfg.lookback - 1)
        segs = self.segments(first, self.train_last, offset)
        segs = segs[rng.permutation(len(segs))]
        steps = -(-len(segs) // cfg.batch_size)
        if cfg.steps_per_epoch:
            steps = min(steps, cfg.steps_per_epoch)
        return [segs[i * cfg.batch_size : (i + 1) * cfg.batch_size] for i in range(steps)]

    def mine(self, segs: np.ndarray) -> np.ndarray:
        """The positions in `segs` of the segments this rank computes: those of its own series
        when sharded, else every world-th one."""
        if self.layout.sharded:
            return np.flatnonzero(self.base[segs[:, 3]] >= 0)
        return np.arange(self.rank, len(segs), self.world)

    def loss(
        self, net: torch.nn.Module, segs: np.ndarray, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean pinball loss over the training windows of `segs` (rows of `segments`, held
        by this rank); `keep` is their dropout mask (see `LSTMForecaster.forward`)."""
        cfg = self.config
        seg = torch.from_numpy(segs).to(self.device)
        start = torch.from_numpy(self.base[segs[:, 3]] + segs[:, 0]).to(self.device)
        rows = (start[:, None] + self.pos).clamp_max(len(self.x) - 1)  # a short last span
        mask = ((self.jpos >= seg[:, 1:2]) & (self.jpos < seg[:, 2:3])).float()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = net(self.x[rows], seg[:, 3], keep, cfg.lookback - 1)
        target = self.y[rows[:, cfg.lookback - 1 :]]
        return pinball(out.float(), target, self.quantiles, mask[..., None].expand_as(target))

    def step(self, batch: np.ndarray, lr: float, seed: list[int]) -> tuple[torch.Tensor, int]:
        """One optimiser step on a global batch; (this rank's loss sum, its windows).

        The output dropout mask is drawn for the whole batch from `seed`, so each segment
        gets the same mask whichever rank computes it; the LSTM's dropout between layers
        (two or more) draws from the rank's own stream."""
        self.model.train()
        self.reseed(int(np.random.SeedSequence([*seed, self.rank]).generate_state(1)[0]))
        for group in self.opt.param_groups:
            group["lr"] = lr
        at = self.mine(batch)
        mine = batch[at] if len(at) else self.idle
        n = int((mine[:, 2] - mine[:, 1]).sum())
        keep = None
        if self.config.dropout > 0:
            drawn = torch.Generator().manual_seed(
                int(np.random.SeedSequence(seed).generate_state(1)[0])
            )
            # drawn for every step of a segment, as it always was, so that a checkpoint made
            # by an earlier version resumes with the same masks
            shape = (len(batch), len(self.pos), self.spec.hidden)
            rate = self.config.dropout
            keep = (torch.rand(shape, generator=drawn) >= rate).float() / (1 - rate)
            keep = keep[torch.from_numpy(at)] if len(at) else torch.zeros_like(keep[:1])
            keep = keep.to(self.device)
        loss = self.loss(self.model, mine, keep)
        # Rank gradients are averaged; weighting by each rank's share of the batch's windows
        # makes the step the one a single process takes on the whole batch.
        share = self.world * n / int((batch[:, 2] - batch[:, 1]).sum())
        self.opt.zero_grad(set_to_none=True)
        (loss * share).backward()
        distributed.average_gradients(self.model)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.opt.step()
        return loss.detach() * n, n

    def reseed(self, seed: int) -> None:
        """Seed the random streams the step draws from: the CPU's, and the GPUs' when training
        on one, as torch.manual_seed does; but that also queues the seed for every accelerator
        not yet started, formatting a stack trace for each: 3 ms a step under the command line."""
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(seed)

    @torch.no_grad()
    def validation_sums(self) -> tuple[float, int]:
        """(loss sum, origins) of this rank's share of the validation segments."""
        self.model.eval()
        segs = self.val_segs[self.mine(self.val_segs)]
        total, done = 0.0, 0
        for start in range(0, len(segs), VAL_BATCH):
            batch = segs[start : start + VAL_BATCH]
            n = int((batch[:, 2] - batch[:, 1]).sum())
            total += float(self.loss(self.model, batch)) * n
            done += n
        return total, done

    @torch.no_grad()
    def predict_origins(self, series_id: int, origins: np.ndarray) -> np.ndarray:
        """Normalised quantile forecasts (origins, horizon, quantiles) from lookback windows."""
        self.model.eval()
        p = self.parts[self.layout.local[series_id]]
        out = []
        for i in range(0, len(origins), EVAL_BATCH):
            w = windows.windows(p.prep.x, origins[i : i + EVAL_BATCH], self.config.lookback)
            x = torch.from_numpy(np.ascontiguousarray(w)).to(self.device)
            ids = torch.full((len(w),), series_id, device=self.device)
            # float32, no autocast: calibration must see what `predict` will compute
            out.append(self.model(x, ids, first=-1)[:, 0].float().cpu().numpy())
        return (
            np.concatenate(out)
            if out
            else np.zeros((0, self.config.horizon, len(self.config.quantiles)))
        )


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
    """Where training stands, carried across a checkpoint: the epoch and the step within it,
    the epoch's loss sum and windows so far (over all ranks), and early stopping's state."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list | None = None
    step: int = 0
    partial: tuple[float, int] = (0.0, 0)
    steps: int = 0  # optimiser steps taken in all


def train(
    dataset: Dataset,
    config: TrainConfig,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    checkpoint: Callable[[dict, dict], None] | None = None,
    checkpoint_every: int | None = None,
    resume_from: tuple[dict, dict] | None = None,
    init_weights: dict[str, np.ndarray] | None = None,
    init_card: ModelCard | None = None,
) -> TrainResult:
    """Train a model on `dataset`; the plain-Python entry point behind `lstm-forecast train`.

    `checkpoint(tensors, state)` is called when a signal stops training, and every
    `checkpoint_every` optimiser steps; `resume_from` takes what it saved (with any number of
    ranks). Under torchrun `dataset` may hold only this rank's series (`shards`).
    `init_weights`/`init_card` warm-start from an existing model (same transforms and
    statistics), as `update` does. The card's validation table is left empty: the caller
    scores `result.validation` (see `evaluation`).
    """
    torch.set_num_threads(_threads(threads))
    with distributed.process_group(resolve_device(device)) as dev:
        return _train(
            dataset,
            config,
            dev,
            progress,
            checkpoint,
            checkpoint_every,
            resume_from,
            init_weights,
            init_card,
        )


def _threads(requested: int | None) -> int:
    """--threads, else LSTM_FORECAST_THREADS, else OMP_NUM_THREADS, else 1.

    One thread is the measured best for the default model: its per-step matrix products
    (8 segments x 256 gates) are too small to split, and extra threads only spin. Use more
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
    checkpoint_every: int | None,
    resume_from: tuple[dict, dict] | None,
    init_weights: dict[str, np.ndarray] | None,
    init_card: ModelCard | None,
) -> TrainResult:
    choices = distributed.gather(windows.choose_transform(config.transform, dataset))
    transform = init_card.transform if init_card else ("diff" if "diff" in choices else choices[0])
    parts = split(dataset, config, transform)
    if init_card:
        parts = _reuse_stats(parts, init_card, dataset, config, transform)
    layout = Layout.agree(parts)
    digests: dict[str, bytes] = {}
    for held in distributed.gather({s.name: series_digest(s) for s in dataset.series}):
        digests |= held
    fingerprint = combined_hash(digests)
    trainer = Trainer(parts, layout, config, dev)
    if init_weights is not None:
        trainer.model.load_state_dict({k: torch.from_numpy(v) for k, v in init_weights.items()})
    state = LoopState(history=[])
    best = copy.deepcopy(trainer.model.state_dict())
    if resume_from is not None:
        tensors, saved = resume_from
        if saved.get("data_hash") != fingerprint:
            raise ConfigError("the checkpoint beside the model was made on other data")
        _load_checkpoint(trainer, tensors, saved)
        state = LoopState(**saved["loop"])
        best = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
        best = {k: torch.from_numpy(v).to(dev) for k, v in best.items()}

    def lr_at(progress_epochs: float) -> float:
        frac = min(progress_epochs / config.epochs, 1.0)
        return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    def sums(*values: float) -> list[float]:
        return distributed.all_sum(torch.tensor(values, dtype=torch.float64, device=dev)).tolist()

    def save(loss: torch.Tensor, seen: int) -> None:
        """Checkpoint the state after the last step (every rank takes part; rank 0 writes)."""
        total, count = sums(float(loss), seen)
        state.partial = (total, int(count))
        if checkpoint is not None and trainer.rank == 0:
            checkpoint(*_checkpoint(trainer, state, best, config, fingerprint))

    started = time.perf_counter()
    windows_done = 0
    with catch_signals() as caught:
        while state.epoch < config.epochs and state.bad_epochs < config.patience:
            batches = trainer.batches(state.epoch)
            carried = state.partial if trainer.rank == 0 else (0.0, 0)
            loss, seen = torch.tensor(carried[0], device=dev), carried[1]
            for b in range(state.step, len(batches)):
                if distributed.any_rank(caught() is not None, dev):
                    save(loss, seen)
                    sig = caught() or signal.SIGTERM
                    raise Interrupted(
                        f"training stopped by {signal.Signals(sig).name} in epoch "
                        f"{state.epoch + 1}, step {b + 1} of {len(batches)}; a checkpoint was "
                        f"saved, continue with --resume",
                        128 + sig,
                    )
                lr = lr_at(state.epoch + b / len(batches))
                step_loss, n = trainer.step(batches[b], lr, [config.seed, state.epoch, b])
                loss, seen = loss + step_loss, seen + n
                state.step, state.steps = b + 1, state.steps + 1
                if checkpoint_every and state.steps % checkpoint_every == 0:
                    save(loss, seen)
            tl, tn, vl, vn = sums(float(loss), seen, *trainer.validation_sums())
            train_loss, val_loss = tl / max(tn, 1), vl / max(vn, 1)
            windows_done += int(tn)
            state.history.append([round(train_loss, 6), round(val_loss, 6)])
            if val_loss < state.best_loss:
                state.best_loss, state.best_epoch, state.bad_epochs = val_loss, state.epoch, 0
                best = copy.deepcopy(trainer.model.state_dict())
            else:
                state.bad_epochs += 1
            state.epoch, state.step, state.partial = state.epoch + 1, 0, (0.0, 0)
            if progress and trainer.rank == 0:
                progress(
                    Progress(state.epoch, config.epochs, train_loss, val_loss, state.best_epoch + 1)
                )
    seconds = time.perf_counter() - started
    trainer.model.load_state_dict(best)
    calib, validation, scored = _validation(trainer, dataset, transform)
    weights = {k: v.detach().float().cpu().numpy() for k, v in trainer.model.state_dict().items()}
    trained = {p.name: p for p in parts}
    infos: dict[str, SeriesInfo] = {}
    skipped: set[str] = set()
    for held_infos, held_skipped in distributed.gather(
        (
            [_series_info(s, trained[s.name]) for s in dataset.series if s.name in trained],
            [s.name for s in dataset.series if s.name not in trained],
        )
    ):
        infos |= {info.name: info for info in held_infos}
        skipped |= set(held_skipped)
    card = ModelCard(
        network=trainer.spec,
        config=config,
        transform=transform,
        target=dataset.target,
        date_column=dataset.date_column,
        feature_names=dataset.feature_names,
        frequency=dataset.frequency,
        series=[infos[name] for name in layout.names],
        calibration=calib,
        data_hash=fingerprint,
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
        skipped_series=sorted(skipped),
        exchange=dataset.exchange,
        calendar=dataset.calendar,
    )
    return TrainResult(weights, card, validation, scored, len(layout.names))


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
    trainer: Trainer, state: LoopState, best: dict, config: TrainConfig, fingerprint: str
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
        "data_hash": fingerprint,
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
) -> tuple[calibration.Calibration, Forecasts, list[Series]]:
    """Calibrate on the scored validation tails; forecast them, cross-fitted, in the target's
    units; and the scored series themselves (gathered from the ranks that hold them).

    The stored calibration is fitted on the whole tail; the forecasts returned for scoring are
    cross-fitted (each half of the tail calibrated on the other half), so that calibrating on
    the tail does not flatter the scores reported for it. Each rank forecasts its share.
    """
    quantiles, mid = trainer.config.quantiles, trainer.config.median_index
    layout = trainer.layout
    by_name = {s.name: s for s in dataset.series}
    ids = trainer.scored
    ids = ids[layout.local[ids] >= 0] if layout.sharded else ids[trainer.rank :: trainer.world]
    mine = []
    for i in ids:
        p = trainer.parts[layout.local[i]]
        o = np.arange(trainer.val_first[i], trainer.val_last[i] + 1)
        pred = trainer.predict_origins(int(i), o)
        mine.append((int(i), pred, p.targets[o], p.prep.sigma[o], by_name[p.name]))
    held = sorted((item for h in distributed.gather(mine) for item in h), key=lambda t: t[0])
    preds, truths = [h[1] for h in held], [h[2] for h in held]
    calib = calibration.fit(np.concatenate(preds), np.concatenate(truths), quantiles, mid)
    crossed = calibration.cross_fitted(preds, truths, quantiles, mid)
    forecasts = {}
    for (i, _, _, sigma, series), pred in zip(held, crossed, strict=True):
        o = np.arange(trainer.val_first[i], trainer.val_last[i] + 1)
        forecasts[series.name] = (o, windows.denormalise(pred, series.values[o], sigma, transform))
    return calib, forecasts, [h[4] for h in held]
