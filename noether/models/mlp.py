"""A fully connected network f_w(x) = W_K sigma_{K-1}(... sigma_1(W_1 x + b_1) ...) + b_K (eq. 19), as a pure
function of the parameter list, so that dynamics and laws can treat the parameters as one vector w.

The output layer has no activation. A hidden layer may normalise its pre-activations W_h x + b_h over the
batch (BatchNorm without affine parameters, before sigma_h), which makes W_h scale-invariant.
Parameters follow ``Structure.names``: W1, [b1], [beta1], W2, ...
A fixed (non-trainable) Swish beta is not a parameter: it is a constant of the model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from noether.models.activations import activation_fn
from noether.structure import Params, Structure

Forward = Callable[[Params, Tensor], Tensor]


def make_forward(structure: Structure, *, device=None, dtype=None) -> Forward:
    """Compile ``structure`` into a function (params, x) -> f_w(x) of shape (n, d_K)."""
    plan = []
    K = structure.depth
    for layer in structure.layers:
        h = layer.h
        w_i = structure.W(h)
        b_i = structure.b(h)
        beta_i = structure.beta(h)
        if h == K:
            plan.append((w_i, b_i, None, None, None, None))
            continue
        sigma = activation_fn(layer.activation)
        fixed_beta = None
        if layer.activation.kind == "swish" and beta_i is None:
            fixed_beta = torch.full((layer.fan_out,), float(layer.activation.beta), device=device, dtype=dtype)
        bn_eps = layer.batch_norm_eps if layer.batch_norm else None
        plan.append((w_i, b_i, beta_i, sigma, fixed_beta, bn_eps))

    def forward(params: Params, x: Tensor) -> Tensor:
        z = x
        for w_i, b_i, beta_i, sigma, fixed_beta, bn_eps in plan:
            z = F.linear(z, params[w_i], None if b_i is None else params[b_i])
            if bn_eps is not None:
                z = batch_norm(z, bn_eps)
            if sigma is not None:
                beta = params[beta_i] if beta_i is not None else fixed_beta
                z = sigma(z, beta)
        return z

    return forward


def batch_norm(z: Tensor, eps: float) -> Tensor:
    """(z - mean) / sqrt(var + eps) per neuron over the batch: BatchNorm's training-mode normalisation without
    running averages or affine parameters, written out because torch's refuses eps = 0 (the exact invariance)."""
    z = z - z.mean(0)
    return z * torch.rsqrt(z.square().mean(0) + eps)


def forward(structure: Structure, params: Params, x: Tensor) -> Tensor:
    """f_w(x) for a batch x of shape (n, d_0); compiles the structure on every call (use make_forward in loops)."""
    return make_forward(structure, device=x.device, dtype=x.dtype)(params, x)
