"""AdamW with torch.optim.AdamW's arithmetic and state layout, minus its start-up cost.

Building a `torch.optim` optimiser imports `torch._dynamo` (over a second of a short `train`).
This one uses the same `torch._foreach_*` operations, in the same order, as torch's
multi-tensor AdamW (on CPU they run as torch's single-tensor loop does), so its updates match
torch's bit for bit, and its `state_dict()` has torch's layout, so checkpoints written by either
load into the other. One parameter group; no amsgrad, maximize or fused variants.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

HYPER = ("lr", "betas", "eps", "weight_decay")


class AdamW:
    """Decoupled weight decay Adam (Loshchilov & Hutter), one parameter group."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        group = {"params": list(params), "lr": lr, "betas": tuple(betas), "eps": eps}
        group["weight_decay"] = weight_decay
        if not group["params"]:
            raise ValueError("AdamW got an empty parameter list")
        self.param_groups: list[dict] = [group]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW update of every parameter that has a gradient."""
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        states = [self._state(p) for p in params]
        grads = [p.grad for p in params]
        avgs = [s["exp_avg"] for s in states]
        sqs = [s["exp_avg_sq"] for s in states]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1.0)
        if wd != 0:
            torch._foreach_mul_(params, 1 - lr * wd)
        torch._foreach_lerp_(avgs, grads, 1 - beta1)
        torch._foreach_mul_(sqs, beta2)
        torch._foreach_addcmul_(sqs, grads, grads, 1 - beta2)
        counts = [s.item() for s in steps]
        step_size = [(lr / (1 - beta1**n)) * -1 for n in counts]
        denom = torch._foreach_sqrt(sqs)
        torch._foreach_div_(denom, [(1 - beta2**n) ** 0.5 for n in counts])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, avgs, denom, step_size)

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        st = self.state.get(p)
        if st is None:
            st = {
                "step": torch.tensor(0.0),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
            self.state[p] = st
        return st

    def state_dict(self) -> dict:
        """{"state": {index: {step, exp_avg, exp_avg_sq}}, "param_groups": [...]}, as torch's.

        The tensors are the live ones (as torch's are): deep-copy to keep a snapshot.
        """
        group = self.param_groups[0]
        index = {id(p): i for i, p in enumerate(group["params"])}
        return {
            "state": {index[id(p)]: dict(st) for p, st in self.state.items()},
            "param_groups": [
                {**{k: group[k] for k in HYPER}, "params": list(range(len(group["params"])))}
            ],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from `state_dict()` (ours or torch.optim.AdamW's); tensors are copied."""
        saved_groups = state_dict["param_groups"]
        group = self.param_groups[0]
        params = group["params"]
        if len(saved_groups) != 1 or len(saved_groups[0]["params"]) != len(params):
            raise ValueError("optimiser state does not match this model's parameters")
        saved = saved_groups[0]
        for key in HYPER:
            group[key] = tuple(saved[key]) if key == "betas" else saved[key]
        position = {pid: i for i, pid in enumerate(saved["params"])}
        self.state = {}
        for pid, st in state_dict["state"].items():
            p = params[position[int(pid)]]
            self.state[p] = {
                "step": st["step"].detach().to("cpu", torch.float32, copy=True),
                "exp_avg": st["exp_avg"].detach().to(p.device, p.dtype, copy=True),
                "exp_avg_sq": st["exp_avg_sq"].detach().to(p.device, p.dtype, copy=True),
            }
