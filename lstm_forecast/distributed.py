"""Training on many processes with torch.distributed, one process per rank, via torchrun.

Every helper is a no-op in a plain run (WORLD_SIZE unset or 1), so the training loop calls them
unconditionally. gloo carries the collectives on CPU, NCCL on GPU. Torch is imported lazily:
`launch` (behind `train --nproc`) only starts torchrun.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from lstm_forecast.errors import ForecastError

if TYPE_CHECKING:
    import torch

PEER_ERROR = re.compile(r"gloo|nccl|connection|timed out|timeout", re.IGNORECASE)
T = TypeVar("T")
TIMEOUT_S = float(os.environ.get("LSTM_FORECAST_DIST_TIMEOUT", "60"))


class PeerLost(ForecastError):
    """Another rank failed, was killed, or stopped answering within the timeout."""


def world_size() -> int:
    """Processes in the job (torchrun's WORLD_SIZE; 1 in a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank; rank 0 alone writes files and prints."""
    return int(os.environ.get("RANK", "0"))


@contextmanager
def process_group(device: torch.device) -> Iterator[torch.device]:
    """Join the job's process group (gloo on CPU, NCCL on GPU) for the block; yield the device.

    On GPU each rank takes cuda:LOCAL_RANK. A collective that waits longer than TIMEOUT_S for
    a peer (dead or stuck) fails, and so does a peer's dropped connection: PeerLost. Inside a
    block of its own (the API joins before loading, training again) it yields `device`.
    """
    import torch.distributed as dist

    if world_size() == 1 or dist.is_initialized():  # a plain run, or a group joined already
        yield device
        return
    import torch

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=TIMEOUT_S)
    )
    try:
        yield device
    except (dist.DistError, RuntimeError) as exc:
        if not isinstance(exc, dist.DistError) and not PEER_ERROR.search(str(exc)):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PeerLost(
            f"rank {rank()}: lost another training process (it failed, was killed, or did not "
            f"answer within {TIMEOUT_S:g} s): {first}"
        ) from None
    finally:
        dist.destroy_process_group()


def same_start(model: torch.nn.Module) -> None:
    """Every rank's weights made rank 0's (as DDP's constructor does); a no-op in a plain run."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    for tensor in model.state_dict().values():
        dist.broadcast(tensor, 0)


def average_gradients(model: torch.nn.Module) -> None:
    """Each gradient of `model` made its average over the ranks (divided by the world size,
    then summed, in one all-reduce of them all), as DDP averages them after a backward pass.
    DDP itself is not used: its constructor imports torch._dynamo, 2.3 s of every rank's
    start-up. Every rank runs a backward pass over every parameter (an idle rank on a segment
    that counts nothing), so no gradient is missing; one would count as zero."""
    if world_size() == 1:
        return
    import torch
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )
    flat.div_(world_size())
    dist.all_reduce(flat)
    for p, grad in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad = grad.view_as(p)


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of `values` over every rank (identical result on all of them)."""
    if world_size() > 1:
        import torch.distributed as dist

        dist.all_reduce(values)
    return values


def gather(obj: T) -> list[T]:
    """`obj` from every rank, in rank order, on every rank (`[obj]` in a plain run)."""
    if world_size() == 1:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is true on any (a signal, say), so all stop together."""
    if world_size() == 1:
        return flag
    import torch

    return bool(all_sum(torch.tensor([float(flag)], device=device)).item() > 0)


def launch(nproc: int, argv: list[str]) -> int:
    """Run `lstm-forecast ARGV` as `nproc` ranks under torchrun on this machine; its exit code.

    SIGTERM is passed on to torchrun, which stops every rank (they checkpoint first); Ctrl-C
    already reaches every process in the terminal's group, so this one ignores it.
    """
    args = [a for a in argv if not a.startswith("--nproc=")]
    if "--nproc" in args:  # torchrun would read it as its own --nproc-per-node
        at = args.index("--nproc")
        del args[at : at + 2]
    # --log-dir: torchrun's own logs go nowhere (the ranks print to this terminal), instead of
    # a torchelastic_* folder left in the temp folder by every run
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--log-dir={os.devnull}"]
    cmd += [f"--nproc-per-node={nproc}", "-m", "lstm_forecast", *args]
    child = subprocess.Popen(cmd)
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, lambda signum, _frame: child.send_signal(signum))
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
