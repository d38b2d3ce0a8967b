"""A numpy forward pass of the trained network, so that `predict` never has to import torch.

It reads the same weights as `model.LSTMForecaster` and computes the same gates (PyTorch's
order: input, forget, cell, output), vectorised over every window at once. The products are
`np.einsum`'s, not BLAS's: a BLAS kernel's rounding can depend on how many rows a product has
and where a row sits among them, so a window's forecast would change in its last digits with
the other windows of its batch (`predict --since` moved, say); einsum computes every row alike.
"""

from __future__ import annotations

import numpy as np

from lstm_forecast.spec import ModelSpec


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # exact identity, no overflow


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b, each row of the result computed the same way whatever the other rows."""
    return np.einsum("ij,jk->ik", a, b)


def forward(
    spec: ModelSpec, weights: dict[str, np.ndarray], x: np.ndarray, series_ids: np.ndarray | None
) -> np.ndarray:
    """x (batch, time, inputs) float32 -> (batch, horizon, quantiles) at the last time step."""
    h_seq = x.astype("float32")
    if spec.embedding_dim:
        e = weights["embed.weight"][series_ids]
        h_seq = np.concatenate(
            [h_seq, np.broadcast_to(e[:, None, :], (*h_seq.shape[:2], e.shape[1]))], axis=-1
        )
    batch, steps = h_seq.shape[:2]
    for k in range(spec.layers):
        w_ih, w_hh = weights[f"lstm.weight_ih_l{k}"], weights[f"lstm.weight_hh_l{k}"]
        bias = weights[f"lstm.bias_ih_l{k}"] + weights[f"lstm.bias_hh_l{k}"]
        hidden = w_hh.shape[1]
        # one 2-D product for all time steps (a stacked 3-D matmul runs one small GEMM per row)
        flat = np.ascontiguousarray(h_seq).reshape(batch * steps, -1)
        gates_in = (_product(flat, np.ascontiguousarray(w_ih.T)) + bias).reshape(batch, steps, -1)
        h = np.zeros((batch, hidden), dtype="float32")
        c = np.zeros((batch, hidden), dtype="float32")
        last = k == spec.layers - 1
        outs = None if last else np.empty((batch, steps, hidden), dtype="float32")
        w_hh_t = np.ascontiguousarray(w_hh.T)
        for t in range(steps):
            g = gates_in[:, t] + _product(h, w_hh_t)
            i, f = _sigmoid(g[:, :hidden]), _sigmoid(g[:, hidden : 2 * hidden])
            cell, o = np.tanh(g[:, 2 * hidden : 3 * hidden]), _sigmoid(g[:, 3 * hidden :])
            c = f * c + i * cell
            h = o * np.tanh(c)
            if outs is not None:
                outs[:, t] = h
        h_seq = outs if outs is not None else h
    raw = (_product(h_seq, weights["head.weight"].T) + weights["head.bias"]).reshape(
        batch, spec.horizon, spec.n_quantiles
    )
    return monotone(raw.astype("float64"), spec.median_index)


def monotone(raw: np.ndarray, mid: int) -> np.ndarray:
    """numpy twin of `model.monotone`."""
    median = raw[..., mid : mid + 1]
    up = median + np.cumsum(_softplus(raw[..., mid + 1 :]), axis=-1)
    down = median - np.cumsum(_softplus(raw[..., :mid][..., ::-1]), axis=-1)
    return np.concatenate([down[..., ::-1], median, up], axis=-1)
