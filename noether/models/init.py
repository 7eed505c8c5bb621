"""Initial weights for the spec's ``init`` schemes, drawn from a seeded generator.

Every draw happens on the CPU in float64 and is then cast, so that a seed gives the same network on
every device and dtype. ``init_gain`` multiplies every weight matrix (not biases or Swish betas).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from noether.structure import Structure


def _uniform(shape, bound: float, gen: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * bound


def _normal(shape, std: float, gen: torch.Generator) -> Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64) * std


def _orthogonal(shape, gen: torch.Generator) -> Tensor:
    rows, cols = shape
    a = torch.randn(max(rows, cols), min(rows, cols), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return q if rows >= cols else q.T


def weight(init: str, fan_out: int, fan_in: int, gen: torch.Generator) -> Tensor:
    """One weight matrix W (fan_out x fan_in) under the named scheme."""
    shape = (fan_out, fan_in)
    if init == "torch_default":  # what torch.nn.Linear does: kaiming_uniform with a = sqrt(5)
        return _uniform(shape, 1.0 / math.sqrt(fan_in), gen)
    if init == "kaiming_uniform":
        return _uniform(shape, math.sqrt(6.0 / fan_in), gen)
    if init == "kaiming_normal":
        return _normal(shape, math.sqrt(2.0 / fan_in), gen)
    if init == "xavier_uniform":
        return _uniform(shape, math.sqrt(6.0 / (fan_in + fan_out)), gen)
    if init == "xavier_normal":
        return _normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), gen)
    if init == "lecun_normal":
        return _normal(shape, 1.0 / math.sqrt(fan_in), gen)
    if init == "orthogonal":
        return _orthogonal(shape, gen)
    raise ValueError(f"unknown init '{init}'")


def initial_params(structure: Structure, model, gen: torch.Generator, *, device, dtype) -> list[Tensor]:
    """w_0 for an MLPSpec: weights by ``model.init`` times ``init_gain``, biases U(+-1/sqrt(fan_in)), betas = beta."""
    out: list[Tensor] = []
    for layer in structure.layers:
        w = weight(model.init, layer.fan_out, layer.fan_in, gen) * float(model.init_gain)
        out.append(w)
        if layer.bias:
            out.append(_uniform((layer.fan_out,), 1.0 / math.sqrt(layer.fan_in), gen))
        if layer.trainable_beta:
            out.append(torch.full((layer.fan_out,), float(layer.activation.beta), dtype=torch.float64))
    return [p.to(device=device, dtype=dtype).contiguous() for p in out]
