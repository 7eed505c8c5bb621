"""Per-snapshot quantities that several laws share, computed once per step (per-tensor squared norms...).

Every law instance of one run holds the same ``Workspace``. Reductions are accumulated in float64
whatever the run's dtype, so that a float32 run is judged by its trajectory, not by the measurement. Asking it for, e.g., the squared norm of
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


def _sq_norms(tensors: list[Tensor]) -> Tensor:
    """(|x_1|^2, ..., |x_n|^2) as one 1-D float64 tensor (float32 runs are measured in float64 too)."""
    if hasattr(torch, "_foreach_norm"):
        norms = torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float64))
    else:  # pragma: no cover - older torch
        norms = torch.stack([t.norm(dtype=torch.float64) for t in tensors])
    return norms * norms


class Workspace:
    """A cache of derived quantities of the current snapshot, keyed by its step."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._cache: dict[str, Any] = {}

    def _get(self, snap: Snapshot, name: str, compute: Callable[[], Any]) -> Any:
        key = (snap.step, id(snap.params))
        if key != self._key:
            self._key = key
            self._cache = {}
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def param_sq(self, snap: Snapshot) -> Tensor:
        """|w_t|^2 for every parameter tensor t."""
        return self._get(snap, "param_sq", lambda: _sq_norms(snap.params))

    def grad_sq(self, snap: Snapshot) -> Tensor | None:
        """|g_t|^2 for every tensor of the gradient (None if the snapshot has no gradient at w_k)."""
        if snap.grad is None:
            return None
        return self._get(snap, "grad_sq", lambda: _sq_norms(snap.grad))

    def velocity_sq(self, snap: Snapshot) -> Tensor | None:
        """|v_t|^2 for every tensor of the velocity w'(t_k) (None for first-order dynamics)."""
        if snap.velocity is None:
            return None
        return self._get(snap, "velocity_sq", lambda: _sq_norms(snap.velocity))

    def param_velocity_dot(self, snap: Snapshot) -> Tensor | None:
        """<w_t, v_t> for every tensor t."""
        if snap.velocity is None:
            return None
        return self._get(
            snap, "wv", lambda: torch.stack([(w * v).sum(dtype=torch.float64) for w, v in zip(snap.params, snap.velocity, strict=True)])
        )

    def param_grad_dot(self, snap: Snapshot) -> Tensor | None:
        """<w_t, g_t> for every tensor t."""
        if snap.grad is None:
            return None
        return self._get(
            snap, "wg", lambda: torch.stack([(w * g).sum(dtype=torch.float64) for w, g in zip(snap.params, snap.grad, strict=True)])
        )

    def rows_sq(self, snap: Snapshot, i: int) -> Tensor:
        """Per-row squared norms of the matrix params[i] (the outgoing neurons of W_h: |W_h[j, :]|^2)."""
        return self._get(snap, f"rows{i}", lambda: snap.params[i].square().sum(1))

    def cols_sq(self, snap: Snapshot, i: int) -> Tensor:
        """Per-column squared norms of params[i] (the incoming neurons of W_{h+1}: |W_{h+1}[:, j]|^2)."""
        return self._get(snap, f"cols{i}", lambda: snap.params[i].square().sum(0))

    def grad_norm(self, snap: Snapshot) -> Tensor | None:
        """|g_t| for every tensor t."""
        sq = self.grad_sq(snap)
        return None if sq is None else sq.sqrt()

    def param_norm(self, snap: Snapshot) -> Tensor:
        """|w_t| for every tensor t."""
        return self.param_sq(snap).sqrt()
