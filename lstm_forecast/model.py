"""The network: an LSTM over input rows with a head that emits every horizon step's quantiles.

At every time step asked for (a training segment's last `chunk`, a forecast window's last) the
LSTM's output feeds a linear head giving horizon x quantiles values in normalised units.
Quantiles cannot cross: the median is free, and the others are the median plus or minus
cumulative softplus increments. The numpy engine (`engine`) reproduces this forward pass
exactly from the same weights. Both are built from a `spec.ModelSpec` alone.
"""

from __future__ import annotations

import torch
from torch import nn

from lstm_forecast.spec import ModelSpec


class LSTMForecaster(nn.Module):
    """LSTM -> linear head -> non-crossing quantiles for every step of the horizon."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.horizon, self.n_quantiles = spec.horizon, spec.n_quantiles
        self.median_index = spec.median_index
        emb = spec.embedding_dim
        self.embed = nn.Embedding(spec.n_series, emb) if emb else None
        self.lstm = nn.LSTM(
            spec.n_inputs + emb,
            spec.hidden,
            spec.layers,
            batch_first=True,
            dropout=spec.dropout if spec.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(spec.dropout)
        self.head = nn.Linear(spec.hidden, spec.horizon * spec.n_quantiles)

    def forward(
        self,
        x: torch.Tensor,
        series_ids: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
        first: int = 0,
    ) -> torch.Tensor:
        """x (batch, time, inputs) -> (batch, time - first, horizon, quantiles) normalised
        quantiles at the time steps from `first` on (negative: counted from the end).

        The LSTM runs over every step; only the steps asked for go through dropout and the head
        (training scores the last `chunk` of 123, a forecast the last one). `keep` (batch, time,
        hidden) is the dropout mask of the LSTM's output, already scaled, of which the steps
        asked for are used (training draws it per segment, so that any number of processes drop
        the same units); without it, the output goes through ordinary dropout."""
        if self.embed is not None:
            assert series_ids is not None
            e = self.embed(series_ids)[:, None, :].expand(-1, x.shape[1], -1)
            x = torch.cat([x, e.to(x.dtype)], dim=-1)
        out = self.lstm(x)[0][:, first:]
        out = self.drop(out) if keep is None else out * keep[:, first:].to(out.dtype)
        raw = self.head(out).view(*out.shape[:2], self.horizon, self.n_quantiles)
        return monotone(raw.float(), self.median_index)


def monotone(raw: torch.Tensor, mid: int) -> torch.Tensor:
    """Median at `mid`, others at cumulative softplus distances from it (never crossing)."""
    median = raw[..., mid : mid + 1]
    up = median + torch.cumsum(nn.functional.softplus(raw[..., mid + 1 :]), dim=-1)
    down = median - torch.cumsum(nn.functional.softplus(raw[..., :mid].flip(-1)), dim=-1)
    return torch.cat([down.flip(-1), median, up], dim=-1)


def pinball(
    pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean pinball loss over the valid (mask) entries; pred (..., H, Q), target (..., H)."""
    diff = target.unsqueeze(-1) - pred
    loss = torch.maximum(quantiles * diff, (quantiles - 1) * diff)
    loss = loss.mean(-1) * mask
    return loss.sum() / mask.sum().clamp_min(1)
