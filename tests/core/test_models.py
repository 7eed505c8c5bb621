"""Models realise the symmetries the laws rely on, and match PyTorch's own layers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import noether
from noether.models.activations import activation_fn, repu
from noether.models.init import weight
from noether.models.mlp import forward
from noether.models.potentials import quadratic, sphere
from noether.spec import parse_spec
from noether.structure import mlp_structure


def _net(widths, activation, bias=False, **kw):
    spec = parse_spec({"model": {"widths": widths, "activation": activation, "bias": bias, **kw},
                       "data": {"kind": "synthetic", "samples": 16, "inputs": widths[0], "classes": widths[-1]},
                       "dtype": "float64"})
    return noether.build_problem(spec)


def test_forward_matches_torch_layers():
    p = _net([20, 7, 5, 3], "relu", bias=True)
    W1, b1, W2, b2, W3, b3 = p.params
    ref = F.linear(torch.relu(F.linear(torch.relu(F.linear(p.inputs, W1, b1)), W2, b2)), W3, b3)
    assert torch.allclose(p.model_fn(p.params, p.inputs), ref, atol=1e-14)
    assert torch.allclose(forward(p.structure, p.params, p.inputs), ref, atol=1e-14)
    assert torch.allclose(p.loss(p.params), F.cross_entropy(ref, p.targets), atol=1e-14)


@pytest.mark.parametrize("text,p", [("relu", 1), ("leaky_relu(0.1)", 1), ("linear(2.5)", 1), ("power(3)", 3), ("repu(2)", 2),
                                    ("repu(0.5)", 0.5)])
def test_homogeneous_activations(text, p):
    sigma = _sigma(text)
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for lam in (0.5, 2.0, 3.7):
        assert torch.allclose(sigma(lam * z, None), lam**p * sigma(z, None), atol=1e-12)


def _sigma(text):
    from noether.spec import MLPSpec

    act = MLPSpec(widths=[1, 1, 1], activation=text).activations()[0]
    return activation_fn(act)


def test_repu_below_one_has_a_finite_gradient_everywhere():
    z = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    repu(z, 0.5).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad[0] == 0 and z.grad[1] == 0


def _rescale(p, h, lam, power):
    """Scale neuron 0 of layer h: W_h[0,:], b_h[0] by lam, W_{h+1}[:,0] by lam^-power, beta_h[0] by 1/lam."""
    s, params = p.structure, [t.clone() for t in p.params]
    params[s.W(h)][0] *= lam
    if s.b(h) is not None:
        params[s.b(h)][0] *= lam
    if s.beta(h) is not None:
        params[s.beta(h)][0] /= lam
    params[s.W(h + 1)][:, 0] *= lam ** (-power)
    return params


@pytest.mark.parametrize(
    "activation,power,bias",
    [("relu", 1, True), ("leaky_relu(0.2)", 1, False), ("repu(2)", 2, True), ("power(3)", 3, False),
     ("swish(1.5, trainable)", 1, True), ("linear", 1, True)],
)
def test_the_rescaling_symmetry_leaves_the_network_unchanged(activation, power, bias):
    p = _net([6, 5, 4, 3], activation, bias=bias)
    f0 = p.model_fn(p.params, p.inputs)
    for h in (1, 2):
        assert torch.allclose(p.model_fn(_rescale(p, h, 1.7, power), p.inputs), f0, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "swish(1.5, fixed)"])
def test_non_homogeneous_activations_break_it(activation):
    p = _net([6, 5, 4, 3], activation)
    assert not torch.allclose(p.model_fn(_rescale(p, 1, 1.7, 1), p.inputs), p.model_fn(p.params, p.inputs), atol=1e-6)


def test_linear_layers_have_the_gl_symmetry():
    p = _net([6, 5, 4, 3], "linear")
    A = torch.randn(5, 5, dtype=torch.float64) + 3 * torch.eye(5, dtype=torch.float64)
    params = [t.clone() for t in p.params]
    params[0] = A @ params[0]
    params[1] = params[1] @ torch.linalg.inv(A)
    assert torch.allclose(p.model_fn(params, p.inputs), p.model_fn(p.params, p.inputs), atol=1e-10)


def test_fixed_swish_beta_is_not_a_parameter_and_trainable_is():
    assert not _net([6, 5, 3], "swish(2, fixed)").structure.has("beta1")
    p = _net([6, 5, 3], "swish(2, trainable)")
    assert torch.equal(p.params[p.structure.beta(1)], torch.full((5,), 2.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "init,std",
    [("torch_default", 1 / math.sqrt(3 * 400)), ("kaiming_uniform", math.sqrt(2 / 400)), ("kaiming_normal", math.sqrt(2 / 400)),
     ("xavier_uniform", math.sqrt(2 / 700)), ("xavier_normal", math.sqrt(2 / 700)), ("lecun_normal", math.sqrt(1 / 400))],
)
def test_init_scales(init, std):
    w = weight(init, 300, 400, torch.Generator().manual_seed(0))
    assert w.shape == (300, 400) and float(w.std()) == pytest.approx(std, rel=0.02)


def test_orthogonal_init_and_gain_and_seed():
    w = weight("orthogonal", 30, 50, torch.Generator().manual_seed(0))
    assert torch.allclose(w @ w.T, torch.eye(30, dtype=torch.float64), atol=1e-12)
    a = _net([6, 5, 3], "relu", init_gain=2.0)
    b = _net([6, 5, 3], "relu")
    assert torch.allclose(a.params[0], 2 * b.params[0])
    s = mlp_structure(parse_spec({"model": {"widths": [6, 5, 3]}, "data": {"kind": "synthetic", "inputs": 6, "classes": 3}}).model)
    assert s.names == ("W1", "W2")


def test_float32_and_float64_start_from_the_same_weights():
    spec = {"model": {"widths": [6, 5, 3]}, "data": {"kind": "synthetic", "samples": 8, "inputs": 6, "classes": 3}}
    a = noether.build_problem({**spec, "dtype": "float32"})
    b = noether.build_problem({**spec, "dtype": "float64"})
    assert torch.allclose(a.params[0].double(), b.params[0], atol=1e-7)


def test_potential_gradients_match_autograd():
    w = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    for fn in (sphere(1.5), quadratic(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))):
        value, grad = fn(w.detach())
        (auto,) = torch.autograd.grad(fn(w)[0], w)
        assert torch.allclose(grad, auto)
    assert float(sphere(1.0)(torch.tensor([1.0, 0.0, 0.0]))[0]) == 0.0


def test_mse_against_one_hot_and_real_targets():
    spec = {"model": {"widths": [64, 5, 10]}, "data": {"kind": "digits", "samples": 20}, "loss": "mse", "dtype": "float64"}
    prob = noether.build_problem(spec)
    out = prob.model_fn(prob.params, prob.inputs)
    assert prob.targets.shape == (20, 10) and torch.equal(prob.targets.sum(1), torch.ones(20, dtype=torch.float64))
    assert torch.allclose(prob.loss(prob.params), 0.5 * ((out - prob.targets) ** 2).sum() / 20)
    reg = noether.build_problem({"model": {"widths": [3, 4, 1]}, "data": {"kind": "rotation", "samples": 10}, "loss": "mse"})
    assert reg.targets.shape == (10, 1) and torch.allclose(reg.targets[:, 0], (reg.inputs**2).sum(1))
