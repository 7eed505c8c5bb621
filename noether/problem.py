"""A spec turned into something to optimise: the parameter layout, w_0, and L(w) with its gradient.

``build_problem(spec)`` is the one place where a spec meets tensors. Everything downstream (dynamics,
laws, discovery) sees a ``Problem``: parameters are a plain list of tensors (``Structure`` names them),
``loss(params, batch)`` is L(w) on the whole data set (or on the sample indices ``batch``), and
``loss_and_grad`` adds grad L(w). Both are pure functions of ``params``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from noether.data import load_data
from noether.models.init import initial_params
from noether.models.losses import LOSSES
from noether.models.mlp import make_forward
from noether.models.potentials import make_potential
from noether.spec import ExperimentSpec, SpecError, parse_spec
from noether.structure import Params, Structure, mlp_structure, potential_structure

PROBE_INPUTS = 8  # inputs the NTK kernel law evaluates df/dw on


@dataclass
class Problem:
    """What the dynamics optimise: L(w) on a parameter list w laid out by ``structure``."""

    spec: ExperimentSpec
    structure: Structure
    params: Params  # w_0, requires_grad False
    velocity: Params | None  # w'(0) where the spec gives one (potentials' initial.velocity, networks' velocity_scale)
    loss: Callable[..., Tensor]  # (params, batch=None) -> L(w), 0-dim
    loss_and_grad: Callable[..., tuple[Tensor, Params]]  # (params, batch=None) -> (L(w), grad L(w))
    model_fn: Callable[[Params, Tensor], Tensor] | None  # (params, x) -> f_w(x); None for potentials
    inputs: Tensor | None  # x_i, n x d_x (networks)
    targets: Tensor | None  # labels (nll) or target rows (mse)
    n_samples: int  # 0 for potentials
    device: torch.device
    dtype: torch.dtype
    generator: torch.Generator  # seeded; draws minibatches (never used for data or w_0)
    description: str = ""
    probe_inputs: Tensor | None = None  # a few inputs for the NTK kernel law


def resolve_device(name: str) -> torch.device:
    """'auto' is cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError([f"device: '{name}' asked for but no CUDA device is available (use 'auto' or 'cpu')"])
    return torch.device(name)


def init_generator(seed: int) -> torch.Generator:
    """The stream w_0 and the initial velocity are drawn from."""
    return torch.Generator().manual_seed(seed * 8 + 2)


def batch_generator(seed: int) -> torch.Generator:
    """The stream minibatches are drawn from."""
    return torch.Generator().manual_seed(seed * 8 + 3)


def build_problem(spec: ExperimentSpec | dict, data_root: Path | None = None) -> Problem:
    """The Problem a spec describes; raises SpecError (one line per problem) for what validation cannot see."""
    if not isinstance(spec, ExperimentSpec):
        spec = parse_spec(spec)
    device = resolve_device(spec.device)
    dtype = torch.float64 if spec.dtype == "float64" else torch.float32
    if spec.potential is not None:
        return _potential_problem(spec, device, dtype)
    return _network_problem(spec, device, dtype, data_root)


def _potential_problem(spec: ExperimentSpec, device, dtype) -> Problem:
    pot = spec.potential
    d = pot.dim
    structure = potential_structure(d)
    gen = init_generator(spec.seed)
    if spec.initial.position is not None:
        w0 = torch.tensor(spec.initial.position, dtype=torch.float64)
    else:
        w0 = torch.randn(d, generator=gen, dtype=torch.float64) * 0.5
    v0 = None
    if spec.initial.velocity is not None:
        v0 = [torch.tensor(spec.initial.velocity, dtype=torch.float64).to(device=device, dtype=dtype)]
    fn = make_potential(pot, device=device, dtype=dtype)

    def loss(params: Params, batch: Tensor | None = None) -> Tensor:
        return fn(params[0])[0]

    def loss_and_grad(params: Params, batch: Tensor | None = None) -> tuple[Tensor, Params]:
        value, grad = fn(params[0])
        return value, [grad]

    if pot.kind == "sphere":
        what = f"(|w|^2 - {pot.radius:g}^2)^2 on R^{d}"
    elif pot.kind == "expression":
        what = f"L(w) = {pot.expression} on R^{d}"
    else:
        what = f"1/2 sum lambda_i w_i^2 on R^{d}"
    return Problem(
        spec=spec,
        structure=structure,
        params=[w0.to(device=device, dtype=dtype)],
        velocity=v0,
        loss=loss,
        loss_and_grad=loss_and_grad,
        model_fn=None,
        inputs=None,
        targets=None,
        n_samples=0,
        device=device,
        dtype=dtype,
        generator=batch_generator(spec.seed),
        description=what,
    )


def _network_problem(spec: ExperimentSpec, device, dtype, data_root: Path | None) -> Problem:
    model = spec.model
    data = load_data(spec.data, spec.seed, data_root)
    structure = mlp_structure(model)
    d_out = model.widths[-1]
    x = data.inputs.to(device=device, dtype=dtype)
    if spec.loss == "nll":
        if data.labels is None:
            raise SpecError(["loss: 'nll' needs class labels; rotation data with target 'radius' needs loss 'mse'"])
        y = data.labels.to(device)
    elif data.labels is not None:
        y = torch.nn.functional.one_hot(data.labels, d_out).to(device=device, dtype=dtype)
    else:
        y = data.values.to(device=device, dtype=dtype)
    gen = init_generator(spec.seed)
    params = initial_params(structure, model, gen, device=device, dtype=dtype)
    velocity = None
    if spec.initial.velocity_scale > 0:
        velocity = [
            (torch.randn(p.shape, generator=gen, dtype=torch.float64) * spec.initial.velocity_scale).to(device, dtype)
            for p in params
        ]
    f = make_forward(structure, device=device, dtype=dtype)
    criterion = LOSSES[spec.loss]

    def loss(params: Params, batch: Tensor | None = None) -> Tensor:
        if batch is None:
            return criterion(f(params, x), y)
        return criterion(f(params, x[batch]), y[batch])

    def loss_and_grad(params: Params, batch: Tensor | None = None) -> tuple[Tensor, Params]:
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_(True) for p in params]
            value = loss(leaves, batch)
            grads = torch.autograd.grad(value, leaves)
        return value.detach(), list(grads)

    return Problem(
        spec=spec,
        structure=structure,
        params=params,
        velocity=velocity,
        loss=loss,
        loss_and_grad=loss_and_grad,
        model_fn=f,
        inputs=x,
        targets=y,
        n_samples=data.n,
        device=device,
        dtype=dtype,
        generator=batch_generator(spec.seed),
        description=data.description,
        probe_inputs=x[: min(PROBE_INPUTS, data.n)],
    )


def parameter_count(problem: Problem) -> int:
    """m, the number of scalar parameters."""
    return sum(math.prod(p.shape) for p in problem.params)
