"""Per-snapshot quantities that several laws share, computed once per step (per-tensor squared norms...).

Every law instance of one run holds the same ``Workspace`` (the driver's: it reads ``param_sq`` for the
``sq_norm/*`` columns too). Per-tensor reductions run in the run's dtype and are combined in float64.
Asking it for, e.g., the squared norm of every parameter tensor at the current snapshot costs one pass
over the weights the first time and nothing afterwards, so adding a law to a run adds a handful of
scalar tensor ops, not a pass over the weights. Laws that read per-neuron sums declare them (``want``)
so that |w_t|^2 is summed from those and no tensor is read twice; ``shared`` holds per-run objects such
as the bank that measures every quadratic law at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Snapshot


def _dots(xs: list[Tensor], ys: list[Tensor]) -> Tensor:
    """(<x_1, y_1>, ..., <x_n, y_n>) as one 1-D float64 tensor: BLAS dot products, no temporaries."""
    return torch.stack([torch.dot(x.reshape(-1), y.reshape(-1)) for x, y in zip(xs, ys, strict=True)]).double()


def _squared_norms(xs: list[Tensor]) -> Tensor:
    """(|x_1|^2, ..., |x_n|^2) as one 1-D float64 tensor: one fused ``_foreach_norm`` for all the tensors."""
    return torch.stack(torch._foreach_norm(xs)).double().square()


class Workspace:
    """A cache of derived quantities of the current snapshot, keyed by its step."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._cache: dict[Any, Any] = {}
        self._buffers: dict[int, Tensor] = {}
        self._shared: dict[Any, Any] = {}
        self._segments: dict[tuple[int, ...], Tensor] = {}  # 0/1 matrices summing the pieces of param_sq
        self._wanted: dict[int, set[str]] = {}  # tensor -> per-neuron sums laws read: "rows", "cols", "entries"

    def shared(self, key: Any, make: Callable[[], Any]) -> Any:
        """A per-run object that several laws share (e.g. the bank that measures every quadratic law at once)."""
        obj = self._shared.get(key)
        if obj is None:
            obj = self._shared[key] = make()
        return obj

    def want(self, index: int, neurons: str | None) -> None:
        """Declare that a law reads params[index] per neuron ('rows', 'cols' or 'entries') at every record.

        |w_t|^2 is then the sum of those per-neuron sums (the neurons of a law add up to its value, and no
        tensor is read twice); other tensors get one BLAS dot.
        """
        if neurons is not None:
            self._wanted.setdefault(index, set()).add(neurons)

    def _get(self, snap: Snapshot, name: Any, compute: Callable[[], Any]) -> Any:
        key = (snap.step, id(snap.params))
        if key != self._key:
            self._key = key
            self._cache = {}
        value = self._cache.get(name)
        if value is None:
            value = self._cache[name] = compute()
        return value

    def square(self, snap: Snapshot, i: int) -> Tensor:
        """params[i] * params[i] elementwise (one pass, shared by the per-neuron sums).

        Written into a buffer kept across steps: a fresh 600 kB tensor per step costs more in page faults
        than the multiplication itself. Valid until the next snapshot; laws must not return it.
        """

        def compute() -> Tensor:
            p = snap.params[i]
            buf = self._buffers.get(i)
            if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
                buf = self._buffers[i] = torch.empty_like(p)
            return torch.mul(p, p, out=buf)

        return self._get(snap, ("square", i), compute)

    def squares(self, snap: Snapshot) -> list[Tensor]:
        """w_t * w_t elementwise for every parameter tensor (see ``square``)."""
        return [self.square(snap, i) for i in range(len(snap.params))]

    def param_sq(self, snap: Snapshot) -> Tensor:
        """|w_t|^2 for every parameter tensor t (from the per-neuron sums where laws want them, else a dot)."""

        def compute() -> Tensor:
            parts = []  # 1-D pieces whose sums are the |w_t|^2, summed by one matrix-vector product
            for i, p in enumerate(snap.params):
                wanted = self._wanted.get(i, ())
                if "rows" in wanted and p.dim() == 2:
                    parts.append(self.rows_sq(snap, i))
                elif "cols" in wanted and p.dim() == 2:
                    parts.append(self.cols_sq(snap, i))
                elif wanted:
                    parts.append(self.square(snap, i).reshape(-1))
                else:
                    flat = p.reshape(-1)
                    parts.append(torch.dot(flat, flat).reshape(1))
            sizes = tuple(part.shape[0] for part in parts)
            seg = self._segments.get(sizes)
            device = parts[0].device
            if seg is None or seg.device != device:
                seg = torch.zeros(len(sizes), sum(sizes), dtype=torch.float64)
                start = 0
                for t, size in enumerate(sizes):
                    seg[t, start : start + size] = 1.0
                    start += size
                seg = self._segments[sizes] = seg.to(device)
            return torch.mv(seg, torch.cat(parts).double())  # summed in float64

        return self._get(snap, "param_sq", compute)

    def grad_sq(self, snap: Snapshot) -> Tensor | None:
        """|g_t|^2 for every tensor of the gradient (None if the snapshot has no gradient at w_k)."""
        if snap.grad is None:
            return None
        return self._get(snap, "grad_sq", lambda: _squared_norms(snap.grad))

    def velocity_sq(self, snap: Snapshot) -> Tensor | None:
        """|v_t|^2 for every tensor of the velocity w'(t_k) (None for first-order dynamics)."""
        if snap.velocity is None:
            return None
        return self._get(snap, "velocity_sq", lambda: _squared_norms(snap.velocity))

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
        """Per-row squared norms of the matrix params[i] (the outgoing neurons of W_h: |W_h[j, :]|^2).

        From the shared elementwise square when the columns are wanted too, else from one row-norm pass.
        """

        def compute() -> Tensor:
            if "cols" in self._wanted.get(i, ()):
                return self.square(snap, i).sum(1)
            return torch.linalg.vector_norm(snap.params[i], dim=1).square_()

        return self._get(snap, ("rows", i), compute)

    def cols_sq(self, snap: Snapshot, i: int) -> Tensor:
        """Per-column squared norms of params[i] (the incoming neurons of W_{h+1}: |W_{h+1}[:, j]|^2)."""
        return self._get(snap, ("cols", i), lambda: self.square(snap, i).sum(0))

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
