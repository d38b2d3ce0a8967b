"""The hand-rolled AdamW: torch's updates bit for bit, torch's state layout, no torch._dynamo."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from lstm_forecast.model import LSTMForecaster, pinball
from lstm_forecast.optim import AdamW
from lstm_forecast.spec import ModelSpec

STEPS = 50
LR, WD = 3e-3, 1e-2


def model() -> LSTMForecaster:
    torch.manual_seed(0)
    return LSTMForecaster(
        ModelSpec(n_inputs=2, hidden=16, layers=2, horizon=3, quantiles=(0.1, 0.5, 0.9))
    )


def batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(8, 12, 2, generator=g), torch.randn(8, 12, 3, generator=g)) for _ in range(n)
    ]


def train(net: torch.nn.Module, opt, data, first: int = 0) -> None:
    """The training loop's step: lr set per batch (a changing schedule), clip, step."""
    q, mask = torch.tensor([0.1, 0.5, 0.9]), torch.ones(8, 12, 3)
    for i, (x, y) in enumerate(data, start=first):
        for group in opt.param_groups:
            group["lr"] = LR * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * i / STEPS)))
        opt.zero_grad(set_to_none=True)
        pinball(net(x), y, q, mask).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


def through_checkpoint(state: dict) -> dict:
    """What training's checkpoint does to optimiser state: numpy tensors, JSON param groups."""
    tensors = {
        (pid, k): v.cpu().numpy() for pid, st in state["state"].items() for k, v in st.items()
    }
    loaded: dict = {}
    for (pid, key), value in tensors.items():
        loaded.setdefault(int(pid), {})[key] = torch.from_numpy(value.copy())
    return {"state": loaded, "param_groups": json.loads(json.dumps(state["param_groups"]))}


@pytest.mark.parametrize("foreach", [False, True])
def test_updates_are_torchs_bit_for_bit(foreach):
    data = batches(STEPS)
    ours, theirs = model(), model()
    train(ours, AdamW(ours.parameters(), lr=LR, weight_decay=WD), data)
    ref = torch.optim.AdamW(theirs.parameters(), lr=LR, weight_decay=WD, foreach=foreach)
    train(theirs, ref, data)
    assert_same_weights(ours, theirs)
    start = model().parameters()
    moved = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), start, strict=True))
    assert moved > 1e-3  # the run really trained


def test_state_dict_round_trip_mid_run_continues_bit_identically():
    data = batches(STEPS)
    straight = model()
    train(straight, AdamW(straight.parameters(), lr=LR, weight_decay=WD), data)

    first = model()
    opt = AdamW(first.parameters(), lr=LR, weight_decay=WD)
    train(first, opt, data[:20])
    saved_model, saved_opt = copy.deepcopy(first.state_dict()), through_checkpoint(opt.state_dict())
    train(first, opt, data[20:25], first=20)  # work after the checkpoint, then lost

    resumed = model()
    resumed.load_state_dict(saved_model)
    opt2 = AdamW(resumed.parameters(), lr=1.0, weight_decay=0.0)  # hyperparameters come back too
    opt2.load_state_dict(saved_opt)
    assert opt2.param_groups[0]["weight_decay"] == WD
    train(resumed, opt2, data[20:], first=20)
    assert_same_weights(resumed, straight)


def test_state_dict_has_torchs_layout_and_loads_either_way():
    data = batches(10)
    ours, theirs = model(), model()
    opt = AdamW(ours.parameters(), lr=LR, weight_decay=WD)
    ref = torch.optim.AdamW(theirs.parameters(), lr=LR, weight_decay=WD)
    train(ours, opt, data[:5])
    train(theirs, ref, data[:5])
    mine, torchs = opt.state_dict(), ref.state_dict()
    assert mine["state"].keys() == torchs["state"].keys()
    for pid, st in torchs["state"].items():
        assert mine["state"][pid].keys() == st.keys()
        for key, value in st.items():
            assert torch.equal(mine["state"][pid][key], value), (pid, key)
            assert mine["state"][pid][key].dtype == value.dtype
    assert mine["param_groups"][0]["params"] == torchs["param_groups"][0]["params"]

    # a checkpoint written with torch's optimiser resumes with ours, and the reverse
    opt.load_state_dict(through_checkpoint(torchs))
    ref.load_state_dict(through_checkpoint(mine))
    train(ours, opt, data[5:], first=5)
    train(theirs, ref, data[5:], first=5)
    assert_same_weights(ours, theirs)


def test_zero_grad_drops_or_zeroes_gradients():
    net = model()
    opt = AdamW(net.parameters())
    x, y = batches(1)[0]
    pinball(net(x), y, torch.tensor([0.1, 0.5, 0.9]), torch.ones(8, 12, 3)).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    before = copy.deepcopy(net.state_dict())
    opt.step()  # no gradients: nothing moves, no state is made
    assert opt.state == {}
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name])


def test_load_refuses_state_for_other_parameters():
    opt = AdamW(model().parameters())
    other = AdamW(torch.nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="does not match"):
        opt.load_state_dict(other.state_dict())


def test_building_and_stepping_never_imports_torch_dynamo():
    code = (
        "import sys, torch\n"
        "from lstm_forecast.optim import AdamW\n"
        "m = torch.nn.LSTM(3, 8, 2)\n"
        "opt = AdamW(m.parameters(), lr=1e-3, weight_decay=1e-4)\n"
        "m(torch.randn(5, 2, 3))[0].sum().backward()\n"
        "opt.step(); opt.load_state_dict(opt.state_dict()); opt.step()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
