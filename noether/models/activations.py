"""The activations sigma_h of the spec (paper Sec. 4), as tensor functions.

Homogeneous ones satisfy sigma(lambda x) = lambda^p sigma(x) for lambda > 0: ReLU, LeakyReLU and
linear(c) with p = 1, x^p and RePU(p) with their p. Swish(beta) x sigmoid(beta x) is homogeneous only
jointly with its beta (Table 3): scaling x by lambda and beta by 1/lambda scales the output by lambda.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

# sigma(z, beta): beta is the layer's per-neuron Swish parameter (a tensor of d_h entries) or None.
ActivationFn = Callable[[Tensor, Tensor | None], Tensor]


def repu(z: Tensor, p: float) -> Tensor:
    """max(0, z)^p, with a gradient that stays finite (0) where z <= 0 even for p < 1."""
    if p == 1.0:
        return torch.relu(z)
    if p == 2.0:
        r = torch.relu(z)
        return r * r
    if p > 1.0:
        return torch.relu(z).pow(p)
    return torch.where(z > 0, z.clamp_min(torch.finfo(z.dtype).tiny).pow(p), torch.zeros_like(z))


def activation_fn(act) -> ActivationFn:
    """The function sigma(z, beta) for one of the spec's activation objects."""
    kind = act.kind
    if kind == "relu":
        return lambda z, beta: torch.relu(z)
    if kind == "leaky_relu":
        alpha = float(act.alpha)
        return lambda z, beta: F.leaky_relu(z, alpha)
    if kind == "power":
        p = int(act.p)
        if p == 1:
            return lambda z, beta: z
        if p == 2:
            return lambda z, beta: z * z
        return lambda z, beta: z.pow(p)
    if kind == "repu":
        p = float(act.p)
        return lambda z, beta: repu(z, p)
    if kind == "swish":
        return lambda z, beta: z * torch.sigmoid(beta * z)
    if kind == "linear":
        c = float(act.c)
        if c == 1.0:
            return lambda z, beta: z
        return lambda z, beta: c * z
    if kind == "tanh":
        return lambda z, beta: torch.tanh(z)
    if kind == "gelu":
        return lambda z, beta: F.gelu(z)
    raise ValueError(f"unknown activation kind '{kind}'")
