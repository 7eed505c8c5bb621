"""Per-snapshot quantities that several laws share, computed once per step (per-tensor squared norms...).

Every law instance of one run holds the same ``Workspace``. Per-tensor reductions run in the run's
dtype and are combined in float64. Asking it for, e.g., the squared norm of
every parameter tensor at the current snapshot costs one fused ``torch._foreach_norm`` the first time
and nothing afterwards, so adding a law to a run adds a handful of scalar tensor ops, not a pass
over the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Snapshot


def _dots(xs: list[Tensor], ys: list[Tensor]) -> Tensor:
    """(<x_1, y_1>, ..., <x_n, y_n>) as one 1-D float64 tensor: BLAS dot products, no temporaries
    (several times faster than ``_foreach_norm`` on the CPU, which loops over tensors anyway)."""
    return torch.stack([torch.dot(x.reshape(-1), y.reshape(-1)) for x, y in zip(xs, ys, strict=True)]).double()


class Workspace:
    """A cache of derived quantities of the current snapshot, keyed by its step."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._cache: dict[str, Any] = {}
        self._buffers: dict[int, Tensor] = {}

    def _get(self, snap: Snapshot, name: str, compute: Callable[[], Any]) -> Any:
        key = (snap.step, id(snap.params))
        if key != self._key:
            self._key = key
            self._cache = {}
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def squares(self, snap: Snapshot) -> list[Tensor]:
        """w_t * w_t elementwise for every parameter tensor (one pass each, shared by the per-neuron sums).

        Written into buffers kept across steps: a fresh 600 kB tensor per step costs more in page faults
        than the multiplication itself. Valid until the next snapshot; laws must not return them.
        """

        def compute() -> list[Tensor]:
            out = []
            for i, p in enumerate(snap.params):
                buf = self._buffers.get(i)
                if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
                    buf = torch.empty_like(p)
                    self._buffers[i] = buf
                out.append(torch.mul(p, p, out=buf))
            return out

        return self._get(snap, "squares", compute)

    def param_sq(self, snap: Snapshot) -> Tensor:
        """|w_t|^2 for every parameter tensor t (from the row sums of matrices, so no extra pass)."""

        def compute() -> Tensor:
            sums = []
            for i, sq in enumerate(self.squares(snap)):
                sums.append(self.rows_sq(snap, i).sum() if sq.dim() == 2 else sq.sum())
            return torch.stack(sums).double()

        return self._get(snap, "param_sq", compute)

    def grad_sq(self, snap: Snapshot) -> Tensor | None:
        """|g_t|^2 for every tensor of the gradient (None if the snapshot has no gradient at w_k)."""
        if snap.grad is None:
            return None
        return self._get(snap, "grad_sq", lambda: _dots(snap.grad, snap.grad))

    def velocity_sq(self, snap: Snapshot) -> Tensor | None:
        """|v_t|^2 for every tensor of the velocity w'(t_k) (None for first-order dynamics)."""
        if snap.velocity is None:
            return None
        return self._get(snap, "velocity_sq", lambda: _dots(snap.velocity, snap.velocity))

    def param_velocity_dot(self, snap: Snapshot) -> Tensor | None:
        """<w_t, v_t> for every tensor t."""
        if snap.velocity is None:
            return None
        return self._get(snap, "wv", lambda: _dots(snap.params, snap.velocity))

    def param_grad_dot(self, snap: Snapshot) -> Tensor | None:
        """<w_t, g_t> for every tensor t."""
        if snap.grad is None:
            return None
        return self._get(snap, "wg", lambda: _dots(snap.params, snap.grad))

    def rows_sq(self, snap: Snapshot, i: int) -> Tensor:
        """Per-row squared norms of the matrix params[i] (the outgoing neurons of W_h: |W_h[j, :]|^2)."""
        return self._get(snap, f"rows{i}", lambda: self.squares(snap)[i].sum(1))

    def cols_sq(self, snap: Snapshot, i: int) -> Tensor:
        """Per-column squared norms of params[i] (the incoming neurons of W_{h+1}: |W_{h+1}[:, j]|^2)."""
        return self._get(snap, f"cols{i}", lambda: self.squares(snap)[i].sum(0))

    def grad_param_norms(self, snap: Snapshot) -> Tensor | None:
        """|g_t| |w_t| for every tensor t."""
        if snap.grad is None:
            return None
        return self._get(snap, "gw_norms", lambda: (self.grad_sq(snap) * self.param_sq(snap)).sqrt())

    def grad_norm(self, snap: Snapshot) -> Tensor | None:
        """|g_t| for every tensor t."""
        sq = self.grad_sq(snap)
        return None if sq is None else sq.sqrt()

    def param_norm(self, snap: Snapshot) -> Tensor:
        """|w_t| for every tensor t."""
        return self.param_sq(snap).sqrt()
