"""The low-dimensional picture of a run that every record carries, with documented caps.

- potentials: ``position`` and ``velocity`` (the first ``MAX_VIEW_DIM`` coordinates; under gradient flow
  the velocity is w' = -grad L);
- networks: ``sq_norm/<name>``, the squared norm of each parameter tensor (|W_h|^2, |b_h|^2,
  |beta_h|^2: the terms Fig. 1 plots next to their conserved difference), and ``particles``, the
  first-layer neurons W_1[i, :] as points in R^3 when d_x = 3, else their projection on the top 3 right
  singular directions of W_1(0) (zero-padded when d_x < 3), for a fixed seeded subset of at most
  ``MAX_PARTICLES`` neurons (768 numbers per record at most).
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.dynamics import kind_of
from noether.dynamics.base import Observation
from noether.problem import Problem

MAX_PARTICLES = 256  # neurons drawn as particles
MAX_VIEW_DIM = 64  # coordinates of a potential's position/velocity in a record


class Views:
    """The arrays of a record that show the run itself (positions, velocities, particles)."""

    def __init__(self, problem: Problem):
        self.network = problem.model_fn is not None
        cfg = problem.spec.dynamics
        self.flow_velocity = kind_of(cfg).flow(cfg).name == "gf"  # w' = -grad L
        self.norm_keys: list[str] = []
        if not self.network:
            return
        s = problem.structure
        self.norm_keys = [f"sq_norm/{name}" for name in s.names]
        self.w1 = s.W(1)
        W1 = problem.params[self.w1]
        d1, dx = W1.shape
        gen = torch.Generator().manual_seed(problem.spec.seed * 8 + 5)
        self.idx = None
        if d1 > MAX_PARTICLES:
            self.idx = torch.randperm(d1, generator=gen)[:MAX_PARTICLES].sort()[0].to(W1.device)
        if dx == 3:
            self.proj = None
        elif dx < 3:
            self.proj = torch.eye(3, dx, dtype=W1.dtype, device=W1.device)
        else:
            _, _, vh = torch.linalg.svd(W1.double().cpu(), full_matrices=False)
            self.proj = vh[:3].to(device=W1.device, dtype=W1.dtype).contiguous()  # 3 x d_x

    def of(self, obs: Observation) -> dict[str, Tensor]:
        """``particles`` of a network, or ``position`` and ``velocity`` of a potential, at this step."""
        if self.network:
            pts = obs.params[self.w1]
            if self.idx is not None:
                pts = pts.index_select(0, self.idx)
            # proj W^T, transposed back: MKL is faster with the 3 directions as rows than with a 3-column GEMM
            return {"particles": pts if self.proj is None else torch.mm(self.proj, pts.T).T}
        out = {"position": obs.params[0][:MAX_VIEW_DIM]}
        if obs.velocity is not None:
            out["velocity"] = obs.velocity[0][:MAX_VIEW_DIM]
        elif self.flow_velocity and obs.grad is not None:
            out["velocity"] = -obs.grad[0][:MAX_VIEW_DIM]
        return out
