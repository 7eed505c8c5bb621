"""The layout of the parameter vector w: which tensor is W_h, b_h or beta_h, in the paper's notation.

Parameters travel through the engine as a plain list of tensors (``Params``) in the order of
``Structure.names``; dynamics treat them as one vector w, laws and discovery look them up by role.
Layers are numbered as in the paper: W_h connects layer h-1 to layer h, h = 1..K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

Params = list[Tensor]


@dataclass(frozen=True)
class Layer:
    """Layer h: W_h (d_h x d_{h-1}), optional b_h (d_h), and sigma_h with its optional beta_h (d_h)."""

    h: int
    fan_in: int  # d_{h-1}
    fan_out: int  # d_h
    activation: Any  # the spec's activation object (kind, p, alpha, beta...), None for the output layer
    bias: bool
    trainable_beta: bool
    batch_norm: bool = False  # BatchNorm (no affine parameters) on W_h x + b_h, before sigma_h
    batch_norm_eps: float = 0.0

    @property
    def homogeneity(self) -> float | None:
        """p such that sigma_h(lambda x) = lambda^p sigma_h(x) for lambda > 0; None if not homogeneous."""
        kind = getattr(self.activation, "kind", None)
        if kind in ("relu", "leaky_relu", "linear"):
            return 1.0
        if kind in ("power", "repu"):
            return float(self.activation.p)
        return None


@dataclass(frozen=True)
class Structure:
    """Names and shapes of the parameter tensors, and the layers they belong to."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    layers: tuple[Layer, ...] = ()  # empty for an analytic potential (one tensor named "w")
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({n: i for i, n in enumerate(self.names)})

    @property
    def depth(self) -> int:
        """K, the number of weight matrices (0 for a potential)."""
        return len(self.layers)

    def index(self, name: str) -> int:
        return self._index[name]

    def has(self, name: str) -> bool:
        return name in self._index

    def W(self, h: int) -> int:
        return self._index[f"W{h}"]

    def b(self, h: int) -> int | None:
        return self._index.get(f"b{h}")

    def beta(self, h: int) -> int | None:
        return self._index.get(f"beta{h}")

    def layer(self, h: int) -> Layer:
        return self.layers[h - 1]

    @property
    def size(self) -> int:
        """m, the number of scalar parameters."""
        n = 0
        for shape in self.shapes:
            k = 1
            for s in shape:
                k *= s
            n += k
        return n


def mlp_structure(model: Any) -> Structure:
    """The Structure of an MLPSpec: W1, [b1], [beta1], W2, ... in that order."""
    names: list[str] = []
    shapes: list[tuple[int, ...]] = []
    layers: list[Layer] = []
    acts = model.activations()
    norms = model.batch_norms() if hasattr(model, "batch_norms") else []
    K = model.depth
    for h in range(1, K + 1):
        fan_in, fan_out = model.widths[h - 1], model.widths[h]
        act = acts[h - 1] if h < K else None
        trainable_beta = bool(act is not None and act.kind == "swish" and act.trainable)
        names.append(f"W{h}")
        shapes.append((fan_out, fan_in))
        if model.bias:
            names.append(f"b{h}")
            shapes.append((fan_out,))
        if trainable_beta:
            names.append(f"beta{h}")
            shapes.append((fan_out,))
        bn = bool(h < K and norms[h - 1])
        layers.append(Layer(h, fan_in, fan_out, act, model.bias, trainable_beta, bn, float(getattr(model, "batch_norm_eps", 0.0))))
    return Structure(tuple(names), tuple(shapes), tuple(layers))


def potential_structure(dim: int) -> Structure:
    """A single position vector w in R^dim."""
    return Structure(("w",), ((dim,),))
