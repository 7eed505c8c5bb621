"""The experiment spec: one pydantic model, loaded from JSON or YAML, used unchanged by the CLI, the API
and the workers.

A spec says *what* to simulate (a network on data, or an analytic potential), *how* (the dynamics),
and *what to keep* (steps, recording cadence). Every size is bounded so that one request cannot
exhaust a worker; every error names the field, the bound and the value.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from noether.expr import ExpressionError, first_failure, parse_expression

# Bounds: one place, quoted by docs/spec.md and by every error message.
MAX_WIDTH = 4096
MAX_LAYERS = 16  # weight matrices W_1..W_K
MAX_PARAMETERS = 20_000_000
MAX_SAMPLES = 100_000
MAX_INPUT_DIM = 4096
MAX_CLASSES = 1000
MAX_POTENTIAL_DIM = 1024
MAX_STEPS = 1_000_000
MAX_RECORDS = 200_000
MAX_TAGS = 16
MAX_SEED = 2**31 - 1


class _Strict(BaseModel):
    """Unknown fields, NaN and infinities are refused; numbers are numbers (``steps: true`` is not 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _unicode_text(value: str) -> str:
    """Text that can be stored and sent as UTF-8 (a lone surrogate such as '\\ud800' cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"must be valid Unicode text (a lone surrogate at position {exc.start})") from None
    return value


Real = Annotated[float, Field(strict=True)]  # a finite number (the models refuse NaN and inf), never a boolean
Text = Annotated[str, AfterValidator(_unicode_text)]


# ---------------------------------------------------------------------------------------------
# Activations (paper Sec. 4): per hidden layer. Shorthand strings such as "repu(2)" are accepted.


class ReLU(_Strict):
    """max(0, x): 1-homogeneous."""

    kind: Literal["relu"] = "relu"


class LeakyReLU(_Strict):
    """x for x > 0, alpha x otherwise: 1-homogeneous."""

    kind: Literal["leaky_relu"] = "leaky_relu"
    alpha: float = Field(0.01, ge=0.0, lt=1.0, strict=True, description="slope for x < 0")


class Power(_Strict):
    """x^p for integer p: p-homogeneous."""

    kind: Literal["power"] = "power"
    p: int = Field(2, ge=1, le=6, strict=True, description="the power; the activation is p-homogeneous")


class RePU(_Strict):
    """x^p for x > 0, 0 otherwise (ReLU = RePU(1)): p-homogeneous."""

    kind: Literal["repu"] = "repu"
    p: float = Field(2.0, gt=0.0, le=6.0, strict=True, description="the power of the positive part; p-homogeneous")


class Swish(_Strict):
    """x / (1 + exp(-beta x)), with one beta per neuron, trainable or fixed."""

    kind: Literal["swish"] = "swish"
    beta: float = Field(1.0, gt=0.0, le=100.0, strict=True, description="initial beta of every neuron")
    trainable: bool = Field(True, description="train beta with the weights (Table 3's Swish law needs it)")


class Linear(_Strict):
    """c x: the GL(d_h) symmetry (Table 4)."""

    kind: Literal["linear"] = "linear"
    c: float = Field(1.0, gt=0.0, le=100.0, strict=True, description="the slope")


class Tanh(_Strict):
    """tanh: not homogeneous (a control)."""

    kind: Literal["tanh"] = "tanh"


class GELU(_Strict):
    """x Phi(x): not homogeneous (a control)."""

    kind: Literal["gelu"] = "gelu"


Activation = Annotated[
    ReLU | LeakyReLU | Power | RePU | Swish | Linear | Tanh | GELU, Field(discriminator="kind")
]
ACTIVATION_KINDS = ("relu", "leaky_relu", "power", "repu", "swish", "linear", "tanh", "gelu")
_SHORTHAND = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^)]*)\s*\))?\s*$")
_SHORTHAND_ARGS = {
    "relu": (),
    "leaky_relu": ("alpha",),
    "power": ("p",),
    "repu": ("p",),
    "swish": ("beta", "trainable"),
    "linear": ("c",),
    "tanh": (),
    "gelu": (),
}


def parse_activation(value: Any) -> Any:
    """Turn shorthand such as ``"leaky_relu(0.1)"`` or ``"swish(1, fixed)"`` into a dict."""
    if not isinstance(value, str):
        return value
    m = _SHORTHAND.match(value.lower())
    if not m or m.group(1) not in _SHORTHAND_ARGS:
        raise ValueError(f"unknown activation '{value}' (allowed: {', '.join(ACTIVATION_KINDS)})")
    kind, raw = m.group(1), m.group(2)
    names = _SHORTHAND_ARGS[kind]
    args = [a.strip() for a in raw.split(",")] if raw else []
    if len(args) > len(names):
        raise ValueError(f"activation '{value}' takes at most {len(names)} argument(s)")
    out: dict[str, Any] = {"kind": kind}
    for name, arg in zip(names, args, strict=False):
        if name == "trainable":
            if arg not in ("trainable", "fixed"):
                raise ValueError(f"swish's second argument must be 'trainable' or 'fixed' (got '{arg}')")
            out[name] = arg == "trainable"
        else:
            try:
                number = float(arg)
            except ValueError:
                raise ValueError(f"activation '{value}': {name} must be a number (got '{arg}')") from None
            out[name] = int(number) if kind == "power" and number.is_integer() else number  # power's p is an integer
    return out


# ---------------------------------------------------------------------------------------------
# What is trained: a network on data, or a point w in an analytic potential.

Init = Literal[
    "torch_default",  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), what torch.nn.Linear does
    "kaiming_uniform",
    "kaiming_normal",
    "xavier_uniform",
    "xavier_normal",
    "lecun_normal",
    "orthogonal",
]


class MLPSpec(_Strict):
    """A fully connected network d_0 -> d_1 -> ... -> d_K (eq. 19), output layer without activation."""

    kind: Literal["mlp"] = "mlp"
    widths: list[Annotated[int, Field(ge=1, le=MAX_WIDTH, strict=True)]] = Field(
        ..., min_length=2, max_length=MAX_LAYERS + 1, description="d_0 (inputs), d_1, ..., d_K (outputs)"
    )
    activation: Activation | list[Activation] = Field(
        default_factory=ReLU,
        description="one activation for every hidden layer, or a list with one per hidden layer (K-1)",
    )
    bias: bool = Field(False, description="give every layer a bias b_h (Table 3 adds |b_h|^2 to the laws)")
    init: Init = Field("torch_default", description="initialisation of the weights (torch_default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)))")
    init_gain: float = Field(1.0, gt=0.0, le=100.0, strict=True, description="multiplies every initial weight")
    batch_norm: bool | list[bool] = Field(
        False,
        description="BatchNorm without affine parameters on the pre-activations of every hidden layer (true), or "
        "one flag per hidden layer; it makes W_h (and b_h) scale-invariant: the scale law replaces the balance",
    )
    batch_norm_eps: float = Field(
        0.0, ge=0.0, le=0.1, strict=True,
        description="BatchNorm's eps in (z - mean) / sqrt(var + eps); 0 keeps the scale invariance exact",
    )

    @field_validator("activation", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [parse_activation(a) for a in v]
        return parse_activation(v)

    @model_validator(mode="after")
    def _check(self) -> MLPSpec:
        hidden = len(self.widths) - 2
        if isinstance(self.activation, list) and len(self.activation) != hidden:
            raise ValueError(
                f"activation must list one entry per hidden layer: {hidden} (got {len(self.activation)})"
            )
        if isinstance(self.batch_norm, list) and len(self.batch_norm) != hidden:
            raise ValueError(
                f"batch_norm must list one flag per hidden layer: {hidden} (got {len(self.batch_norm)})"
            )
        if self.batch_norm is True and hidden == 0:
            raise ValueError("batch_norm needs a hidden layer (widths has no hidden width)")
        n = self.parameter_count()
        if n > MAX_PARAMETERS:
            raise ValueError(f"the network has {n} parameters; must be <= {MAX_PARAMETERS}")
        return self

    @property
    def depth(self) -> int:
        """K, the number of weight matrices."""
        return len(self.widths) - 1

    def activations(self) -> list[Any]:
        """sigma_1 .. sigma_{K-1}, one per hidden layer."""
        if isinstance(self.activation, list):
            return list(self.activation)
        return [self.activation] * (len(self.widths) - 2)

    def batch_norms(self) -> list[bool]:
        """Whether BatchNorm follows W_h, for h = 1 .. K-1."""
        if isinstance(self.batch_norm, list):
            return list(self.batch_norm)
        return [self.batch_norm] * (len(self.widths) - 2)

    def parameter_count(self) -> int:
        n = 0
        for h, (fan_in, fan_out) in enumerate(zip(self.widths[:-1], self.widths[1:], strict=True), 1):
            n += fan_in * fan_out + (fan_out if self.bias else 0)
            if h < len(self.widths) - 1:
                act = self.activation[h - 1] if isinstance(self.activation, list) else self.activation
                if getattr(act, "kind", "") == "swish" and act.trainable:
                    n += fan_out
        return n


class DigitsData(_Strict):
    """scikit-learn's 8x8 digits (64 inputs, 10 classes), shipped with the package."""

    kind: Literal["digits"] = "digits"
    samples: int = Field(1000, ge=1, le=1797, strict=True, description="training samples (a seeded subset of the 1797)")
    normalize: bool = Field(True, description="scale pixels to 0..1")


class SyntheticData(_Strict):
    """Gaussian class clusters of the paper's shape (784 inputs, 10 classes by default)."""

    kind: Literal["synthetic"] = "synthetic"
    samples: int = Field(1000, ge=1, le=MAX_SAMPLES, strict=True, description="training samples")
    inputs: int = Field(784, ge=1, le=MAX_INPUT_DIM, strict=True, description="input dimension d_0")
    classes: int = Field(10, ge=2, le=MAX_CLASSES, strict=True, description="number of classes (the output dimension)")
    separation: float = Field(1.0, ge=0.0, le=100.0, strict=True, description="distance between class means, in noise units")


class RotationData(_Strict):
    """Rotation-symmetric data in R^d_x (Sec. 6): isotropic Gaussian inputs, targets depending on |x| only.

    A finite sample is symmetric only approximately; ``augment`` adds that many randomly rotated
    copies of every sample, which brings the empirical loss closer to the rotation-invariant one.
    """

    kind: Literal["rotation"] = "rotation"
    dim: int = Field(3, ge=2, le=64, strict=True, description="input dimension d_x (3 shows first-layer neurons as particles)")
    samples: int = Field(512, ge=1, le=MAX_SAMPLES, strict=True, description="training samples before augmentation")
    target: Literal["radius", "shells"] = Field(
        "radius", description="'radius': regress |x|^2 (1 output); 'shells': classify |x| into 2 shells"
    )
    augment: int = Field(0, ge=0, le=64, strict=True, description="randomly rotated copies added per sample")

    @model_validator(mode="after")
    def _size(self) -> RotationData:
        total = self.samples * (1 + self.augment)
        if total > MAX_SAMPLES:
            raise ValueError(f"samples * (1 + augment) must be <= {MAX_SAMPLES} (got {total})")
        return self


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class FileData(_Strict):
    """An MNIST-style data set the user already has (IDX or NPZ), by name inside the data directory.

    ``name`` is a file or folder name in ``NOETHER_DATA_DIR/datasets``; paths are refused, so nothing
    a user sends can reach a file outside that directory.
    """

    kind: Literal["file"] = "file"
    name: str = Field(..., description="e.g. 'kmnist' (a folder of IDX files) or 'kmnist.npz'")
    samples: int = Field(1000, ge=1, le=MAX_SAMPLES, strict=True, description="training samples (a seeded subset of the file)")
    normalize: bool = Field(True, description="scale pixels to 0..1")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v) or ".." in v:
            raise ValueError(
                f"must be a plain file or folder name (letters, digits, '.', '_', '-'; got '{v}')"
            )
        return v


Data = Annotated[DigitsData | SyntheticData | RotationData | FileData, Field(discriminator="kind")]


class SpherePotential(_Strict):
    """L(w) = (|w|^2 - r^2)^2 on R^d, the paper's rotation toy (Sec. 6.1): SO(d)-invariant."""

    kind: Literal["sphere"] = "sphere"
    dim: int = Field(3, ge=1, le=MAX_POTENTIAL_DIM, strict=True, description="dimension d of w")
    radius: float = Field(1.0, gt=0.0, le=1e3, strict=True, description="r, the radius of the sphere of minima")


class QuadraticPotential(_Strict):
    """L(w) = 1/2 sum_i lambda_i w_i^2: rotation-invariant only when all lambda_i are equal (a control)."""

    kind: Literal["quadratic"] = "quadratic"
    eigenvalues: list[Annotated[float, Field(ge=0.0, le=1e4, strict=True)]] = Field(
        ..., min_length=1, max_length=MAX_POTENTIAL_DIM, description="lambda_1 .. lambda_d (their number is d)"
    )

    @property
    def dim(self) -> int:
        return len(self.eigenvalues)


class ExpressionPotential(_Strict):
    """L(w) typed as an expression of x, y, z (or w1, w2, w3), e.g. 'x*y*z': parsed, never eval'd; exact gradient.

    Its symmetries are found by discovery (Algorithm 1) when the run starts, and the laws they give are tracked.
    """

    kind: Literal["expression"] = "expression"
    dim: int = Field(3, ge=2, le=3, description="dimension d of w (2: x, y; 3: x, y, z)")
    expression: str = Field(
        ..., max_length=200, description="L(w) in x, y, z (or w1, w2, w3), e.g. '(x^2 + y^2 - 1)^2 + z^2' or 'x*y*z'"
    )

    @field_validator("expression")
    @classmethod
    def _parse(cls, v: str, info: ValidationInfo) -> str:
        from noether.models.expression import check_potential

        try:
            check_potential(v, int(info.data.get("dim", 3)))
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        return v


Potential = Annotated[SpherePotential | QuadraticPotential | ExpressionPotential, Field(discriminator="kind")]


# ---------------------------------------------------------------------------------------------
# Dynamics (paper Sec. 3, Table 1, and beyond). Every kind discretises a continuous flow.

def _kind_names(schema: dict[str, Any], model: type) -> None:
    """Its kind's readable label and one-line description (``noether.dynamics``), as x-label and x-description."""
    from noether.dynamics import DYNAMICS  # here, not at the top: the dynamics modules import this one

    kind = DYNAMICS.get(model.model_fields["kind"].default)
    if kind is not None:
        schema["x-label"] = kind.label
        schema["x-description"] = kind.description.format(flow="chosen")


class _Kind(_Strict):
    """A section ``dynamics`` of one kind; its schema carries the kind's label and description (for the form)."""

    model_config = ConfigDict(json_schema_extra=_kind_names)


LR = Annotated[float, Field(gt=0.0, le=100.0, strict=True, description="learning rate eta")]
BatchSize = Annotated[int | None, Field(ge=1, le=MAX_SAMPLES, strict=True, description="None: full batch")]
WeightDecay = Annotated[float, Field(ge=0.0, le=10.0, strict=True, description="L2 weight decay lambda (decoupled for Adam)")]


class GD(_Kind):
    """w_{k+1} = w_k - eta grad L(w_k): gradient flow's Euler discretisation, t = k eta."""

    kind: Literal["gd"] = "gd"
    lr: LR = 0.01
    weight_decay: WeightDecay = 0.0


class SGD(_Kind):
    """GD on a fresh minibatch each step, t = k eta."""

    kind: Literal["sgd"] = "sgd"
    lr: LR = 0.01
    batch_size: int = Field(32, ge=1, le=MAX_SAMPLES, strict=True, description="samples per minibatch")
    weight_decay: WeightDecay = 0.0


class Momentum(_Kind):
    """Heavy ball: w_{k+1} = w_k - eta grad L(w_k) + beta (w_k - w_{k-1}), t = k sqrt(eta).

    Its flow is k2 w'' + k1 w' + grad L = 0 with k2 = 1, k1 = (1 - beta) / sqrt(eta).
    """

    kind: Literal["momentum"] = "momentum"
    lr: LR = 0.01
    beta: float = Field(0.9, ge=0.0, le=1.0, strict=True, description="momentum coefficient (1: no damping, i.e. ND)")
    batch_size: BatchSize = None
    weight_decay: WeightDecay = 0.0


class Adam(_Kind):
    """Adam (decoupled weight decay when weight_decay > 0), t = k eta. No paper law predicts it."""

    kind: Literal["adam"] = "adam"
    lr: LR = 0.001
    beta1: float = Field(0.9, ge=0.0, lt=1.0, strict=True, description="decay of the first-moment average")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, strict=True, description="decay of the second-moment average")
    eps: float = Field(1e-8, gt=0.0, le=1.0, strict=True, description="added to the denominator")
    batch_size: BatchSize = None
    weight_decay: WeightDecay = 0.0


class ND(_Kind):
    """Newtonian dynamics, eq. 21: w_{k+2} = 2 w_{k+1} - w_k - eta grad L(w_{k+1}), t = k sqrt(eta)."""

    kind: Literal["nd"] = "nd"
    lr: LR = 0.01


class NAG(_Kind):
    """Nesterov, eq. 20: w_k = y_{k-1} - eta grad L(y_{k-1}), y_k = w_k + (k-1)/(k+2) (w_k - w_{k-1}).

    t = k sqrt(eta). With t0 > 0 the index starts at k0 = t0 / sqrt(eta), which honours a non-zero
    initial velocity (footnote 2); with t0 = 0 the first step throws the velocity away.
    """

    kind: Literal["nag"] = "nag"
    lr: LR = 0.01
    t0: float = Field(0.0, ge=0.0, le=1e4, strict=True, description="start time; > 0 keeps an initial velocity (footnote 2)")


class Leapfrog(_Kind):
    """Velocity Verlet for Newtonian dynamics w'' = -grad L: symplectic, second order."""

    kind: Literal["leapfrog"] = "leapfrog"
    dt: float = Field(0.01, gt=0.0, le=10.0, strict=True, description="time step")


Flow = Literal["gf", "nd", "nagf", "general"]


class RK4(_Kind):
    """Classical Runge-Kutta (4th order) reference integrator for a continuous flow."""

    kind: Literal["rk4"] = "rk4"
    flow: Flow = Field("gf", description="the continuous flow to integrate: gf, nd, nagf or general (k1, k2)")
    dt: float = Field(0.01, gt=0.0, le=10.0, strict=True, description="time step")
    t0: float = Field(0.0, ge=0.0, le=1e4, strict=True, description="start time; NAGF needs t0 > 0")
    k1: Text = Field("0", description="for flow='general': k1(t)")
    k2: Text = Field("1", description="for flow='general': k2(t), must stay > 0")

    @model_validator(mode="after")
    def _check(self) -> RK4:
        _check_expressions(self.k1, self.k2, self.t0)
        if self.flow == "nagf" and self.t0 <= 0:
            raise ValueError("flow 'nagf' needs t0 > 0 (the 3/t term is singular at t = 0; got t0 = 0)")
        return self


class General(_Kind):
    """k2(t) w'' + k1(t) w' + grad L(w) = 0 (eq. 22), by central differences with step dt (semi-implicit)."""

    kind: Literal["general"] = "general"
    k1: Text = Field("3/t", description="k1(t), e.g. '3/t' (NAGF) or '0' (ND)")
    k2: Text = Field("1", description="k2(t) > 0, e.g. '1'")
    dt: float = Field(0.01, gt=0.0, le=10.0, strict=True, description="time step")
    t0: float = Field(0.1, ge=0.0, le=1e4, strict=True, description="start time (k1 = 3/t is singular at 0)")

    @model_validator(mode="after")
    def _check(self) -> General:
        _check_expressions(self.k1, self.k2, self.t0)
        return self


def _check_expressions(k1: str, k2: str, t0: float) -> None:
    """Both expressions parse, and are defined at the start t0 (k2 > 0 there); the whole run: ``check_over_run``."""
    for name, text in (("k1", k1), ("k2", k2)):
        try:
            fn = parse_expression(text)
            value = fn(t0)
        except ExpressionError as exc:
            raise ValueError(f"{name}: {exc}; the run starts at t0 = {t0:g}") from None
        if name == "k2" and value <= 0:
            raise ValueError(f"k2 must be > 0 (got k2({t0:g}) = {value:g}); use kind 'gd' for gradient flow")


def _per_step(dynamics: Any) -> int:
    """How many times per step a dynamics evaluates k1 and k2 (0: it has no expressions)."""
    if dynamics.kind == "general":
        return 1
    if dynamics.kind == "rk4" and dynamics.flow == "general":
        return 2  # its middle stages evaluate at t + dt/2
    return 0


def _times(per_step: int, t0: float, dt: float, steps: int) -> np.ndarray:
    """Every time a run evaluates k1 and k2: t0 + k dt for k = 0..steps, and the half steps when per_step = 2."""
    return t0 + np.arange(steps * per_step + 1, dtype=np.float64) * (dt / per_step)


@lru_cache(maxsize=512)
def _first_failure(text: str, per_step: int, t0: float, dt: float, steps: int, positive: bool) -> Any:
    return first_failure(text, _times(per_step, t0, dt, steps), positive=positive)


def check_over_run(dynamics: Any, steps: int) -> None:
    """k1(t) and k2(t) finite, and k2(t) > 0, at every time the run evaluates them (``_times``) over the
    whole interval [t0, t0 + steps dt], with no pole between two of them. Refuses with the expression and the first t where it fails."""
    per_step = _per_step(dynamics)
    if not per_step:
        return
    t0, dt = dynamics.t0, dynamics.dt
    end = t0 + steps * dt
    interval = f"[{t0:g}, {end:g}] (t0 to t0 + steps * dt)"
    for name in ("k1", "k2"):
        text = getattr(dynamics, name)
        failure = _first_failure(text, per_step, t0, dt, steps, name == "k2")
        if failure is None:
            continue
        if failure.until is not None:
            raise ValueError(
                f"dynamics.{name} = '{text}' has a pole between t = {failure.t:.6g} and t = {failure.until:.6g} (a "
                f"denominator changes sign), inside the run's interval {interval}; change the expression, t0, dt or steps"
            )
        if math.isnan(failure.value):
            raise ValueError(
                f"dynamics.{name} = '{text}' is undefined or not finite at t = {failure.t:.6g}, inside the run's "
                f"interval {interval}; change the expression, t0, dt or steps"
            )
        raise ValueError(
            f"dynamics.k2 must stay > 0 over the run's interval {interval}: '{text}' is {failure.value:.6g} "
            f"at t = {failure.t:.6g}"
        )


Dynamics = Annotated[
    GD | SGD | Momentum | Adam | ND | NAG | Leapfrog | RK4 | General, Field(discriminator="kind")
]
DYNAMICS_KINDS = ("gd", "sgd", "momentum", "adam", "nd", "nag", "leapfrog", "rk4", "general")


class InitialState(_Strict):
    """Where the dynamics start. Position and velocity lists apply to potentials only."""

    position: list[Real] | None = Field(
        None, max_length=MAX_POTENTIAL_DIM, description="potentials: w(0), d entries (None: seeded random, std 0.5)"
    )
    velocity: list[Real] | None = Field(
        None, max_length=MAX_POTENTIAL_DIM, description="potentials: w'(0), d entries (None: at rest)"
    )
    velocity_scale: float = Field(
        0.0, ge=0.0, le=100.0, strict=True, description="networks: std of a random initial velocity (0: at rest)"
    )


# ---------------------------------------------------------------------------------------------


class ExperimentSpec(_Strict):
    """One experiment: a model on data (or a potential), a loss, dynamics, and what to record."""

    name: Text = Field("", max_length=120, description="a label for lists and charts")
    description: Text = Field("", max_length=4000, description="free text")
    tags: list[Annotated[str, Field(pattern=r"^[\w.:-]{1,64}$")]] = Field(
        default_factory=list, max_length=MAX_TAGS, description="labels to filter runs by"
    )
    model: MLPSpec | None = Field(None, description="the network (with data), or None for a potential")
    data: Data | None = Field(None, description="the training data of the network")
    potential: Potential | None = Field(None, description="an analytic loss L(w) instead of a network on data")
    loss: Literal["nll", "mse"] = Field("nll", description="networks: 'nll' (log-softmax + NLL) or 'mse'")
    dynamics: Dynamics = Field(default_factory=GD, description="how the parameters move, chosen by kind")
    initial: InitialState = Field(default_factory=InitialState, description="where the dynamics start")
    steps: int = Field(1000, ge=1, le=MAX_STEPS, strict=True, description="updates to run")
    record_every: int = Field(1, ge=1, le=MAX_STEPS, strict=True, description="record every n-th step (and the last)")
    seed: int = Field(0, ge=0, le=MAX_SEED, strict=True, description="seeds initialisation, data and minibatches: same seed, same run")
    dtype: Literal["float32", "float64"] = Field("float32", description="floating-point precision")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d{1,2})?)$", description="auto: the worker's device; or cpu, cuda, cuda:N"
    )
    tolerance: float | None = Field(
        None, gt=0.0, le=1.0, strict=True, description="relative drift under which a conserved law 'holds' (None: per law)"
    )

    @field_validator("potential", mode="before")
    @classmethod
    def _expression_kind(cls, v: Any) -> Any:
        """``{expression: ..., dim: 3}`` without a kind is a typed potential."""
        if isinstance(v, dict) and "kind" not in v and "expression" in v:
            return {"kind": "expression", **v}
        return v

    @field_validator("dynamics", mode="wrap")
    @classmethod
    def _registered_kind(cls, v: Any, handler: Any) -> Any:
        """A kind registered in ``noether.dynamics`` beyond the built-in ones validates with its own model."""
        kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
        if isinstance(kind, str) and kind not in DYNAMICS_KINDS:
            from noether.dynamics import DYNAMICS  # here, not at the top: the dynamics modules import this one

            if kind in DYNAMICS:
                config = DYNAMICS[kind].config
                return v if isinstance(v, config) else config.model_validate(v)
        return handler(v)

    @field_serializer("dynamics", mode="wrap")
    def _dump_registered_kind(self, value: Any, handler: Any, info: Any) -> Any:
        """A registered kind beyond the built-in ones dumps itself (it is no branch of the ``Dynamics`` union)."""
        if value.kind in DYNAMICS_KINDS:
            return handler(value)
        return value.model_dump(mode="json" if info.mode_is_json() else "python")

    @model_validator(mode="after")
    def _check(self) -> ExperimentSpec:
        if self.potential is not None:
            if self.model is not None or self.data is not None:
                raise ValueError("give either a potential, or a model with data, not both")
            d = self.potential.dim
            for field in ("position", "velocity"):
                v = getattr(self.initial, field)
                if v is not None and len(v) != d:
                    raise ValueError(f"initial.{field} must have {d} entries, the potential's dim (got {len(v)})")
        else:
            if self.model is None or self.data is None:
                raise ValueError("give a model and data, or a potential")
            if self.initial.position is not None or self.initial.velocity is not None:
                raise ValueError("initial.position and initial.velocity apply to potentials only")
            d_in, d_out = data_shape(self.data, self.loss)
            if self.model.widths[0] != d_in:
                raise ValueError(
                    f"model.widths[0] must equal the data's input dimension {d_in} (got {self.model.widths[0]})"
                )
            if self.model.widths[-1] != d_out:
                raise ValueError(
                    f"model.widths[-1] must equal the data's output dimension {d_out} (got {self.model.widths[-1]})"
                )
            batch = getattr(self.dynamics, "batch_size", None)
            if batch is not None and batch < 2 and any(self.model.batch_norms()):
                raise ValueError(f"dynamics.batch_size must be >= 2 with model.batch_norm (batch statistics; got {batch})")
            if batch is not None and batch > n_samples(self.data):
                raise ValueError(
                    f"dynamics.batch_size must be <= the number of samples {n_samples(self.data)} (got {batch})"
                )
        check_over_run(self.dynamics, self.steps)
        records = self.steps // self.record_every
        if records > MAX_RECORDS:
            raise ValueError(
                f"steps / record_every must be <= {MAX_RECORDS} records (got {records}); raise record_every"
            )
        return self

    # -- conveniences ------------------------------------------------------------------------
    @property
    def is_network(self) -> bool:
        return self.model is not None

    def fingerprint(self) -> str:
        """A short stable hash of the spec (its canonical JSON)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, **changes: Any) -> ExperimentSpec:
        """A validated copy with top-level fields set by the one spec editor, ``noether.edit`` (e.g. steps=100)."""
        from noether import edit

        data = edit.apply(self.model_dump(mode="json"), {k: v for k, v in changes.items() if v is not None})
        return ExperimentSpec.model_validate(data)


def data_shape(data: Any, loss: str) -> tuple[int, int]:
    """(d_x, d_y) that a network on ``data`` must have."""
    if data.kind == "digits":
        return 64, 10
    if data.kind == "synthetic":
        return data.inputs, data.classes
    if data.kind == "rotation":
        return data.dim, (1 if data.target == "radius" else 2)
    if data.kind == "file":
        return 784, 10
    raise ValueError(f"unknown data kind {data.kind}")


def n_samples(data: Any) -> int:
    return data.samples * (1 + getattr(data, "augment", 0))


# ---------------------------------------------------------------------------------------------
# Loading and error formatting


class SpecError(ValueError):
    """A spec that cannot be loaded; ``lines`` holds one message per problem, each naming its field."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("; ".join(lines))


def format_errors(exc: ValidationError) -> list[str]:
    """One line per problem: 'field.path: message (got value)'."""
    lines = []
    for err in exc.errors():
        loc = _format_loc(err.get("loc", ()))
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        got = err.get("input")
        suffix = ""
        if err.get("type") not in ("missing", "value_error", "model_type", "union_tag_invalid") and not isinstance(
            got, dict | list
        ):
            suffix = f" (got {got!r})"
        lines.append(f"{loc}: {msg}{suffix}" if loc else f"{msg}{suffix}")
    return lines


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ACTIVATION_KINDS or part in DYNAMICS_KINDS or str(part).endswith("Data"):
            continue  # discriminator tags pydantic adds to the path
        elif part == "expression" and i > 0 and loc[i - 1] == "potential":
            continue  # the tag of a typed potential (its field of the same name follows)
        elif part in ("digits", "synthetic", "rotation", "file", "sphere", "quadratic", "mlp"):
            continue
        elif str(part).startswith(("tagged-union[", "list[")):
            continue  # the branch of a union (one activation, or a list of them) pydantic tried
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_spec(obj: Any) -> ExperimentSpec:
    """Validate a dict into an ExperimentSpec, raising SpecError with one line per problem."""
    try:
        return ExperimentSpec.model_validate(obj)
    except ValidationError as exc:
        raise SpecError(format_errors(exc)) from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Load a spec from a .json, .yaml or .yml file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError([f"cannot read {p}: {exc.strerror}"]) from None
    try:
        obj = yaml.safe_load(text) if p.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError([f"{p.name} is not valid {'YAML' if p.suffix in ('.yaml', '.yml') else 'JSON'}: {exc}"]) from None
    if not isinstance(obj, dict):
        raise SpecError([f"{p.name} must hold an object at the top level"])
    return parse_spec(obj)
