"""The equations of the null-space problem: sampled points w_s and the vectors g_s paired with A_j w_s.

Every row of the constraint matrix is M[s, j] = <g_s, A_j w_s>, where g_s is the gradient of something
that a symmetry must leave unchanged:

- **per-sample, per-output rows** (networks): g = grad_w <u, f_w(x_n)> for one sample x_n and a random
  output direction u. A generator of a symmetry of every sample's loss l(f_w(x_n), y_n) makes all of
  them vanish, for every w: d/de l = grad_f l . J_n A w, and grad_f l ranges over the whole output space
  for mse, over the zero-sum logits for nll (the softmax ignores a common shift). So u is drawn from
  that range. One vmapped backward pass (torch.func) gives a row per (sample, direction): many more
  equations per pass than the loss alone, which gives one.
- **loss rows**: g = grad L(w_s), the full-batch gradient at a sampled point. Only these see the
  symmetries of the *data* (a rotation of the inputs leaves the empirical loss, not each sample's,
  unchanged), at one equation per pass; potentials have nothing else.

Points are the spec's w_0, fresh initialisations with random per-tensor scales, and w_0 moved along
random directions, so that no neuron is dead and no layer balanced at every point by accident.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.func import grad, vmap

from noether.structure import Params


def sample_points(problem, n: int, gen: torch.Generator) -> list[Params]:
    """n points w_s: w_0 first, then alternately fresh initialisations and w_0 moved along random directions."""
    w0 = [p.detach() for p in problem.params]
    points = [w0]
    for s in range(1, n):
        if problem.model_fn is None:
            points.append(_potential_point(problem, w0, gen))
        elif s % 2 == 1:
            points.append(_fresh_point(problem, gen))
        else:
            points.append(_moved_point(w0, gen))
    return points


def _lognormal(gen: torch.Generator, sigma: float) -> float:
    return math.exp(sigma * float(torch.randn((), generator=gen, dtype=torch.float64)))


def _fresh_point(problem, gen: torch.Generator) -> Params:
    """A new draw of the spec's initialisation, each layer scaled by exp(N(0, 0.5^2)); betas vary per neuron."""
    from noether.models.init import initial_params

    params = initial_params(problem.structure, problem.spec.model, gen, device="cpu", dtype=torch.float64)
    out = []
    scale = 1.0
    for name, p in zip(problem.structure.names, params, strict=True):
        if name.startswith("W"):
            scale = _lognormal(gen, 0.5)  # one factor per layer: W_h and b_h keep the initialisation's ratio
        if name.startswith("beta"):
            p = p * torch.exp(0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
            out.append(p.to(problem.device, problem.dtype))
            continue
        if name.startswith("b") and p.abs().max() == 0:
            p = 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64)
        out.append((p * scale).to(problem.device, problem.dtype))
    return out


def _moved_point(w0: Params, gen: torch.Generator) -> Params:
    """w_0 + r |w_0| u per tensor, u a random unit direction, r in (0.1, 1) log-uniformly."""
    out = []
    for p in w0:
        u = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p)
        r = 10 ** (-float(torch.rand((), generator=gen, dtype=torch.float64)))
        size = p.norm() if p.norm() > 0 else torch.tensor(1.0, dtype=p.dtype)
        out.append(p + r * size * u / u.norm().clamp_min(1e-300))
    return out


def _potential_point(problem, w0: Params, gen: torch.Generator) -> Params:
    """A random direction at a random radius around max(|w_0|, the potential's scale)."""
    w = w0[0]
    scale = max(float(w.norm()), float(getattr(problem.spec.potential, "radius", 1.0)), 1e-3)
    u = torch.randn(w.shape, generator=gen, dtype=torch.float64).to(w)
    return [u / u.norm() * scale * _lognormal(gen, 0.7)]


def output_directions(loss: str, d_y: int, k: int, gen: torch.Generator, dtype, device) -> Tensor:
    """k random unit directions u in the part of the output space the loss sees (zero-sum logits for nll)."""
    u = torch.randn(k, d_y, generator=gen, dtype=torch.float64)
    if loss == "nll":
        u = u - u.mean(dim=1, keepdim=True)
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return u.to(device=device, dtype=dtype)


def sample_rows(problem, w: Params, n_rows: int, gen: torch.Generator, chunk: int = 64):
    """Per-sample, per-output gradients grad_w <u_r, f_w(x_r)> at w: yields batches (list of (S, ...) tensors)."""
    f = problem.model_fn
    x_all = problem.inputs
    n = problem.n_samples
    d_y = problem.structure.layer(problem.structure.depth).fan_out
    idx = torch.randperm(n, generator=gen)
    if n_rows > n:
        extra = torch.randint(n, (n_rows - n,), generator=gen)
        idx = torch.cat([idx, extra])
    idx = idx[:n_rows]
    u = output_directions(problem.spec.loss, d_y, n_rows, gen, problem.dtype, problem.device)

    def projected(params, x, direction):
        return (f(params, x[None])[0] * direction).sum()

    per_row = vmap(grad(projected), in_dims=(None, 0, 0))
    params = list(w)
    for start in range(0, n_rows, chunk):
        sl = slice(start, start + chunk)
        yield per_row(params, x_all[idx[sl]], u[sl])


def loss_row(problem, w: Params) -> list[Tensor]:
    """grad L(w) on the whole data set, as a batch of one row."""
    _, g = problem.loss_and_grad(list(w))
    return [t.detach()[None] for t in g]
