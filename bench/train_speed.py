"""Training throughput in windows/s (one origin with its horizon targets) against other loops.

Contenders, each in its own subprocess so that its peak memory (max RSS) is its own:
  lstm-forecast   the segment loop of `lstm_forecast.training` (its defaults: 8 segments x 64)
  plain-torch     the same model, one lookback window per sample, batch 64, loss at the last step
  darts           Darts' BlockRNNModel(LSTM), its default batch size (32), when importable
  neuralforecast  NeuralForecast's LSTM, its default batch sizes, when importable
All see the same data, lookback 60, horizon 5, 2 LSTM layers of 64, float32. GFLOP/s counts the
LSTM matrix work only: per time step and row, layer l does 2 * 4*hidden * (in_l + hidden) FLOPs
forward (in_1 = inputs, in_l = hidden above), x3 for forward + backward.

    python bench/train_speed.py [--data data/msft.csv] [--series-col Ticker] [--epochs 3]
        [--threads 1] [--other-python /path/to/venv/bin/python]   # darts/neuralforecast there
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOKBACK, HORIZON, HIDDEN, LAYERS = 60, 5, 64, 2


def lstm_flops(n_inputs: int) -> int:
    """Forward FLOPs of the LSTM layers for one time step of one row."""
    ins = [n_inputs] + [HIDDEN] * (LAYERS - 1)
    return sum(2 * 4 * HIDDEN * (i + HIDDEN) for i in ins)


def _dataset(args):
    sys.path.insert(0, str(ROOT))
    from lstm_forecast import api

    options = api.LoadOptions(target=args.target, series_col=args.series_col)
    options.min_rows = LOOKBACK + HORIZON + 1
    return api.load_data(args.data, options)


def _config(args):
    from lstm_forecast.settings import TrainConfig

    return TrainConfig(
        lookback=LOOKBACK, horizon=HORIZON, hidden=HIDDEN, layers=LAYERS, epochs=args.epochs
    )


def run_lstm_forecast(args) -> dict:
    """The package's own training loop; step rows from its segment layout."""
    from lstm_forecast import training, windows

    dataset, config = _dataset(args), _config(args)
    config.patience = config.epochs + 1
    result = training.train(dataset, config, threads=args.threads)
    t = result.meta["training"]
    parts = training.split(dataset, config, result.meta["transform"])
    seg_len = LOOKBACK - 1 + config.chunk
    segs = sum(len(windows.segments(*p.train_origins, LOOKBACK, config.chunk, 0)) for p in parts)
    n_in = result.card.network.n_inputs + result.card.network.embedding_dim
    flops = 3 * lstm_flops(n_in) * segs * seg_len * t["epochs_run"]
    return {"windows_per_s": t["windows_per_s"], "seconds": t["seconds"], "flops": flops}


def run_plain_torch(args) -> dict:
    """The same model trained the textbook way: every window its own 60-step sample."""
    import numpy as np
    import torch

    from lstm_forecast import training, windows
    from lstm_forecast.model import LSTMForecaster, pinball
    from lstm_forecast.spec import ModelSpec

    torch.set_num_threads(args.threads)
    dataset, config = _dataset(args), _config(args)
    parts = training.split(dataset, config, windows.choose_transform("auto", dataset))
    xs, ys, ids = [], [], []
    for i, p in enumerate(parts):
        origins = np.arange(p.train_origins[0], p.train_origins[1] + 1)
        xs.append(windows.windows(p.prep.x, origins, LOOKBACK))
        ys.append(p.targets[origins])
        ids.append(np.full(len(origins), i))
    x = torch.from_numpy(np.concatenate(xs).astype("float32"))
    y = torch.from_numpy(np.concatenate(ys).astype("float32"))
    sid = torch.from_numpy(np.concatenate(ids))
    torch.manual_seed(0)
    model = LSTMForecaster(
        ModelSpec(x.shape[2], HIDDEN, LAYERS, HORIZON, (0.1, 0.5, 0.9), len(parts), 0.1)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    q = torch.tensor([0.1, 0.5, 0.9])
    mask = torch.ones(64, HORIZON)
    started = time.perf_counter()
    for _ in range(args.epochs):
        for idx in torch.randperm(len(x)).split(64):
            out = model(x[idx], sid[idx])[:, -1]
            loss = pinball(out, y[idx], q, mask[: len(idx)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    seconds = time.perf_counter() - started
    n = len(x) * args.epochs
    flops = 3 * lstm_flops(x.shape[2] + (min(8, len(parts)) if len(parts) > 1 else 0))
    return {"windows_per_s": n / seconds, "seconds": seconds, "flops": flops * n * LOOKBACK}


def _frames(args) -> list:
    """The target of each series as float32 arrays (longer than a window), read with pandas."""
    import pandas as pd

    df = pd.read_csv(args.data)
    target = args.target or "Close"
    groups = [g for _, g in df.groupby(args.series_col)] if args.series_col else [df]
    values = [g[target].to_numpy("float32") for g in groups]
    return [v for v in values if len(v) > LOOKBACK + HORIZON + 1]


def run_darts(args) -> dict:
    """Darts' BlockRNNModel as a user would train it, scaled by Darts' Scaler."""
    import logging
    import warnings

    import torch
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel

    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    series = [TimeSeries.from_values(v) for v in _frames(args)]
    series = [s.astype("float32") for s in Scaler().fit_transform(series)]
    model = BlockRNNModel(
        input_chunk_length=LOOKBACK,
        output_chunk_length=HORIZON,
        model="LSTM",
        hidden_dim=HIDDEN,
        n_rnn_layers=LAYERS,
        n_epochs=args.epochs,
        random_state=0,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "enable_checkpointing": False,
        },
    )
    started = time.perf_counter()
    model.fit(series, verbose=False)
    seconds = time.perf_counter() - started
    n = sum(len(s) - LOOKBACK - HORIZON + 1 for s in series) * args.epochs
    return {"windows_per_s": n / seconds, "seconds": seconds, "flops": 3 * lstm_flops(1) * n * 60}


def run_neuralforecast(args) -> dict:
    """NeuralForecast's LSTM at its default batch sizes; windows = steps x windows per step."""
    import logging

    import pandas as pd
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    frames = [
        pd.DataFrame({"unique_id": str(i), "ds": range(len(v)), "y": v})
        for i, v in enumerate(_frames(args))
    ]
    steps = 100 * args.epochs
    model = LSTM(
        h=HORIZON,
        input_size=LOOKBACK,
        encoder_hidden_size=HIDDEN,
        encoder_n_layers=LAYERS,
        max_steps=steps,
        random_seed=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
    )
    started = time.perf_counter()
    NeuralForecast(models=[model], freq=1).fit(pd.concat(frames), val_size=0)
    seconds = time.perf_counter() - started
    n = steps * model.windows_batch_size
    return {"windows_per_s": n / seconds, "seconds": seconds, "flops": 3 * lstm_flops(1) * n * 60}


CONTENDERS = {
    "lstm-forecast": run_lstm_forecast,
    "plain-torch": run_plain_torch,
    "darts": run_darts,
    "neuralforecast": run_neuralforecast,
}
NEEDS = {"darts": "darts", "neuralforecast": "neuralforecast"}


def measure(name: str, args, python: str) -> dict | str:
    """Run one contender in a child process; its figures, or why it was skipped."""
    if name in NEEDS:
        probe = subprocess.run([python, "-c", f"import {NEEDS[name]}"], capture_output=True)
        if probe.returncode != 0:
            return f"skipped: {NEEDS[name]} is not importable by {python} (pip install -e .[bench])"
    cmd = [python, __file__, "--child", name, *sys.argv[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "msft.csv"))
    parser.add_argument("--target", default=None)
    parser.add_argument("--series-col", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--other-python", default=sys.executable)
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = CONTENDERS[args.child](args)
        figures["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return
    print(
        f"{args.data}: lookback {LOOKBACK}, horizon {HORIZON}, {LAYERS}x{HIDDEN}, "
        f"{args.epochs} epochs, {args.threads} thread(s)"
    )
    results = {}
    for name in args.only.split(","):
        python = args.other_python if name in NEEDS else sys.executable
        results[name] = measure(name, args, python)
    ours = results.get("lstm-forecast")
    for name, r in results.items():
        if isinstance(r, str):
            print(f"  {name:15s} {r}")
            continue
        ratio = ours["windows_per_s"] / r["windows_per_s"] if isinstance(ours, dict) else 0
        print(
            f"  {name:15s} {r['windows_per_s']:10,.0f} windows/s  "
            f"{r['flops'] / r['seconds'] / 1e9:6.1f} GFLOP/s  peak {r['max_rss_mb']:6.0f} MB  "
            f"lstm-forecast is {ratio:5.1f}x"
        )


if __name__ == "__main__":
    main()
