"""Find the symmetries of any ``torch.nn.Module`` from its structure (Kunin et al., ICLR 2021, Sec. 3).

Four families, each a group acting on a few parameter tensors and leaving the loss unchanged:

- **rescale**: ``Linear/Conv -> positively homogeneous ops (ReLU, LeakyReLU, max/avg pool, flatten,
  dropout) -> Linear/Conv``; per neuron (channel) i, ``W_a[i] -> l W_a[i], b_a[i] -> l b_a[i],
  W_b[:, i] -> W_b[:, i] / l`` (one symmetry per channel). An affine norm layer (BatchNorm, LayerNorm,
  GroupNorm) may be the first layer of the chain: its weight and bias play ``W_a, b_a``.
- **scale**: ``Linear/Conv -> BatchNorm/LayerNorm/GroupNorm``: ``(W_a, b_a) -> l (W_a, b_a)`` (one per
  channel for BatchNorm, one per group for GroupNorm, one per layer for LayerNorm).
- **translation**: the last Linear layer feeding a softmax or a cross-entropy loss: every class's row
  shifted by the same vector, ``W[c, :] -> W[c, :] + v``, ``b[c] -> b[c] + s`` (d + 1 symmetries).
- **linear**: ``Linear -> Linear`` with nothing nonlinear between: GL(d), ``W_a -> G W_a``, ``W_b -> W_b G^-1``
  (d^2 symmetries; the rescalings are its diagonal).

The model is traced with ``torch.fx``; where tracing fails (data-dependent control flow), the calls of
its leaf modules during one forward pass are recorded with hooks and linked by tensor identity (only
module calls are seen there: a functional ``F.relu`` between two layers hides the link, and is reported).
Every layer with parameters that no law covers is reported with the reason ("layer fc1: GELU is not
positively homogeneous: no rescaling"), never left out silently.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
HOMOGENEOUS_MODULES = (nn.ReLU, nn.LeakyReLU)
# per-channel positively homogeneous maps that are not activations: they commute with l > 0 per channel
PASSIVE_MODULES = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)
SHAPE_MODULES = (nn.Flatten, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Identity)
SOFTMAX_MODULES = (nn.Softmax, nn.LogSoftmax)
HOMOGENEOUS_FUNCTIONS = {F.relu, torch.relu, F.leaky_relu, F.relu_}
PASSIVE_FUNCTIONS = {F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
                     F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d}
SHAPE_FUNCTIONS = {torch.flatten, F.dropout, torch.reshape}
SOFTMAX_FUNCTIONS = {F.softmax, F.log_softmax, torch.softmax, torch.log_softmax}
HOMOGENEOUS_METHODS = {"relu", "relu_"}
SHAPE_METHODS = {"view", "reshape", "flatten", "contiguous"}
SOFTMAX_METHODS = {"softmax", "log_softmax"}
CROSS_ENTROPY = (nn.CrossEntropyLoss,)
CROSS_ENTROPY_FUNCTIONS = {F.cross_entropy}


@dataclass(frozen=True)
class Term:
    """A parameter tensor (by its name in ``model.named_parameters()``) and the sign it enters a law with."""

    param: str
    sign: float = 1.0
    axis: int = 0  # the channel axis of this tensor: 0 for a layer's rows, 1 for the consumer's columns
    group: int = 1  # columns per channel on axis 1 (a Linear after a flatten of C x H x W: H*W)


@dataclass
class LawSpec:
    """One law found in the model: its family, the layers it involves and the tensors of its quantity."""

    id: str
    family: str  # "rescale", "scale", "translation", "linear"
    layers: tuple[str, ...]
    terms: tuple[Term, ...]
    count: int  # how many independent symmetries (generators) of the group
    channels: int  # channels (neurons) the per-channel view has; 0 if none
    symmetry: str
    name: str

    def quantity(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The law's value on ``params`` (a 0-dim tensor; for ``linear`` the Frobenius norm of M)."""
        if self.family == "translation":
            return translation_sum(params, self.terms).norm()
        if self.family == "linear":
            return linear_matrix(params, self.terms).norm()
        return sum(t.sign * params[t.param].detach().double().square().sum() for t in self.terms)

    def per_channel(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per channel i: sum_t sign_t |tensor_t[channel i]|^2 (the per-neuron conserved quantity)."""
        out = None
        for t in self.terms:
            p = params[t.param].detach()
            if t.axis == 0:  # a layer's rows: channel i is row i
                v = p.reshape(self.channels, -1).square().sum(1)
            else:  # the next layer's columns: channel i is a contiguous block (kernel positions, flattened pixels)
                v = p.square().sum(0).reshape(self.channels, -1).sum(1)
            v = v if t.sign > 0 else -v
            out = v if out is None else out + v
        return out.double()


def translation_sum(params: dict[str, torch.Tensor], terms: tuple[Term, ...]) -> torch.Tensor:
    """[sum_c W[c, :], sum_c b[c]]: the component of the last layer along the translation orbit."""
    return torch.cat([params[t.param].detach().sum(0, dtype=torch.float64).reshape(-1) for t in terms])


def linear_matrix(params: dict[str, torch.Tensor], terms: tuple[Term, ...]) -> torch.Tensor:
    """M = W_a W_a^T + b_a b_a^T - W_b^T W_b (d x d), conserved under gradient flow (GL(d) symmetry)."""
    m = None
    for t in terms:
        p = params[t.param].detach().double()
        p = p.reshape(-1, 1) if p.dim() == 1 else p
        part = p @ p.T if t.axis == 0 else p.T @ p
        part = t.sign * part
        m = part if m is None else m + part
    return m


@dataclass
class Detection:
    """What ``detect`` found: the laws, and one line per layer (or module) it could not use."""

    laws: list[LawSpec] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # "layer fc1: GELU is not positively homogeneous ..."
    method: str = "torch.fx"  # or "hooks" (tracing failed)
    trace_error: str | None = None

    def report(self) -> str:
        """The laws found, the layers they involve, and what was not understood, one line each."""
        lines = [f"symmetries found by {self.method}:"]
        for law in self.laws:
            lines.append(f"  {law.id}: {law.symmetry} ({law.count} symmetries) -> {law.name}")
        if not self.laws:
            lines.append("  none")
        lines += [f"  {u}" for u in self.unsupported]
        return "\n".join(lines)


# --- a small graph: fx nodes or hooked module calls, in one shape --------------------------------------------


@dataclass
class _Node:
    name: str
    kind: str  # "module", "function", "method", "output", "input", "other"
    target: Any  # the module, the function, or the method name
    users: list[_Node] = field(default_factory=list)
    inputs: list[_Node] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _fx_graph(model: nn.Module) -> list[_Node]:
    import torch.fx as fx

    gm = fx.symbolic_trace(model)
    modules = dict(gm.named_modules())
    nodes: dict[Any, _Node] = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            node = _Node(n.target, "module", modules[n.target])
        elif n.op == "call_function":
            node = _Node(n.name, "function", n.target, kwargs=dict(n.kwargs))
        elif n.op == "call_method":
            node = _Node(n.name, "method", n.target, kwargs=dict(n.kwargs))
        elif n.op == "output":
            node = _Node("output", "output", None)
        elif n.op == "placeholder":
            node = _Node(n.name, "input", None)
        else:
            node = _Node(n.name, "other", n.target)
        nodes[n] = node
    for n, node in nodes.items():
        for arg in n.all_input_nodes:
            node.inputs.append(nodes[arg])
            nodes[arg].users.append(node)
    return list(nodes.values())


class HookTrace:
    """Record the calls of a model's leaf modules in one forward pass, linked by tensor identity."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.calls: list[tuple[str, nn.Module, list[int], int]] = []
        self.handles = []
        self.out_id: int | None = None
        self._alive: list[torch.Tensor] = []
        for name, mod in model.named_modules():
            if name and not list(mod.children()):
                self.handles.append(mod.register_forward_hook(self._hook(name)))
        self.handles.append(model.register_forward_hook(self._top))

    def _hook(self, name: str) -> Callable:
        def hook(mod, args, out):
            if any(c[0] == name for c in self.calls):
                return  # a module called twice (weight sharing): keep its first call
            ins = [a for a in args if isinstance(a, torch.Tensor)]
            self._alive += [*ins, out]  # ids are only unique while the tensors live
            self.calls.append((name, mod, [id(a) for a in ins], id(out)))
        return hook

    def _top(self, mod, args, out):
        self.out_id = id(out) if isinstance(out, torch.Tensor) else None
        self.remove()
        self.nodes = self._graph()
        self._alive = []

    @property
    def done(self) -> bool:
        return not self.handles

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def graph(self) -> list[_Node]:
        return self.nodes

    def _graph(self) -> list[_Node]:
        nodes = [_Node(name, "module", mod) for name, mod, _, _ in self.calls]
        produced = {out: nodes[i] for i, (_, _, _, out) in enumerate(self.calls)}
        outnode = _Node("output", "output", None)
        for node, (_, _, ins, _) in zip(nodes, self.calls, strict=True):
            for i in ins:
                src = produced.get(i)
                if src is None:  # made by code the hooks do not see
                    opaque = _Node("<unseen code>", "other", None)
                    opaque.users.append(node)
                    node.inputs.append(opaque)
                else:
                    src.users.append(node)
                    node.inputs.append(src)
        for out, src in produced.items():
            if out == self.out_id:
                src.users.append(outnode)
                outnode.inputs.append(src)
        # a module output nobody hooked uses goes to code the hooks do not see
        for node in nodes:
            if not node.users:
                node.users.append(_Node("<unseen code>", "other", None))
        return [*nodes, outnode]


# --- classification of ops ------------------------------------------------------------------------------------


def _describe(node: _Node) -> str:
    if node.kind == "module":
        return f"{type(node.target).__name__} ({node.name})"
    if node.kind == "function":
        return getattr(node.target, "__name__", str(node.target))
    if node.kind == "method":
        return f".{node.target}()"
    return node.name


def _op_class(node: _Node) -> str:
    """'homogeneous', 'passive' (per-channel positive maps), 'shape', 'softmax', 'layer', 'norm' or 'other'."""
    t = node.target
    if node.kind == "module":
        if isinstance(t, LAYERS):
            return "layer"
        if isinstance(t, NORMS):
            return "norm"
        if isinstance(t, HOMOGENEOUS_MODULES):
            return "homogeneous"
        if isinstance(t, PASSIVE_MODULES):
            return "passive"
        if isinstance(t, SHAPE_MODULES):
            return "shape"
        if isinstance(t, SOFTMAX_MODULES):
            return "softmax"
        return "other"
    if node.kind == "function":
        if t in HOMOGENEOUS_FUNCTIONS:
            return "homogeneous"
        if t in PASSIVE_FUNCTIONS:
            return "passive"
        if t in SHAPE_FUNCTIONS:
            return "shape"
        if t in SOFTMAX_FUNCTIONS:
            return "softmax"
        if t is operator.getitem:
            return "other"
        return "other"
    if node.kind == "method":
        if t in HOMOGENEOUS_METHODS:
            return "homogeneous"
        if t in SHAPE_METHODS:
            return "shape"
        if t in SOFTMAX_METHODS:
            return "softmax"
    if node.kind == "output":
        return "output"
    return "other"


def _has_params(mod: nn.Module) -> bool:
    return any(True for _ in mod.parameters(recurse=False))


def _param_names(model: nn.Module) -> dict[int, str]:
    return {id(p): name for name, p in model.named_parameters()}


def _is_cross_entropy(loss_fn: Any) -> bool:
    return isinstance(loss_fn, CROSS_ENTROPY) or loss_fn in CROSS_ENTROPY_FUNCTIONS


def _walk(start: _Node) -> tuple[list[_Node], _Node | None, str | None]:
    """Follow the single-user path from ``start``'s output: (ops passed, where it ends, why it stopped)."""
    passed: list[_Node] = []
    node = start
    while True:
        if len(node.users) != 1:
            if not node.users:
                return passed, None, "its output is not used"
            return passed, None, f"its output is used {len(node.users)} times (a branch or skip connection)"
        nxt = node.users[0]
        cls = _op_class(nxt)
        if cls in ("homogeneous", "passive", "shape"):
            if len(nxt.inputs) > 1 and nxt.kind != "module":
                pass  # e.g. flatten(x, 1): the other inputs are constants in fx
            passed.append(nxt)
            node = nxt
            continue
        return passed, nxt, None


def detect(model: nn.Module, loss_fn: Any = None, *, graph: list[_Node] | None = None) -> Detection:
    """The rescale, scale, translation and linear laws of ``model`` (see the module docstring).

    ``graph`` is given by the hook fallback; otherwise the model is traced with ``torch.fx``, and a
    model that cannot be traced gives a Detection with ``method='hooks'`` and no laws yet
    (``Detection.trace_error`` says why; ``HookTrace`` records one forward pass to detect from).
    """
    det = Detection(method="torch.fx" if graph is None else "hooks")
    if graph is None:
        try:
            graph = _fx_graph(model)
        except Exception as exc:  # data-dependent control flow, unsupported ops
            det.method = "hooks"
            det.trace_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return det
    names = _param_names(model)

    def pname(mod: nn.Module, attr: str) -> str | None:
        p = getattr(mod, attr, None)
        return names.get(id(p)) if isinstance(p, nn.Parameter) and p.requires_grad else None

    covered: set[str] = set()
    notes: dict[str, list[str]] = {}
    seen_modules: set[int] = set()
    for node in graph:
        if node.kind != "module":
            continue
        mod = node.target
        cls = _op_class(node)
        if id(mod) in seen_modules:
            continue
        seen_modules.add(id(mod))
        if cls == "other":
            if _has_params(mod):
                notes.setdefault(node.name, []).append(
                    f"{type(mod).__name__} is not a supported layer: no symmetry found")
            elif not isinstance(mod, (nn.Sequential, nn.ModuleList)):
                kind = type(mod).__name__
                reason = "is not positively homogeneous" if _looks_like_activation(mod) else "is not supported"
                det.unsupported.append(f"layer {node.name}: {kind} {reason}: no symmetry found through it")
            continue
        if cls not in ("layer", "norm") or not _has_params(mod):
            continue
        w, b = pname(mod, "weight"), pname(mod, "bias")
        if w is None:
            continue
        if isinstance(mod, nn.Conv1d | nn.Conv2d | nn.Conv3d) and mod.groups != 1:
            notes.setdefault(node.name, []).append("grouped convolution: no symmetry found")
            continue
        passed, end, why = _walk(node)
        head = [Term(w)] + ([Term(b)] if b else [])
        if end is None:
            notes.setdefault(node.name, []).append(why or "no symmetry found")
            continue
        end_cls = _op_class(end)
        nonlinear = [p for p in passed if _op_class(p) in ("homogeneous", "passive")]
        if cls == "layer" and end_cls == "norm" and not passed:
            norm = end.target
            count = _norm_count(norm, mod)
            det.laws.append(LawSpec(
                id=f"scale/{node.name}", family="scale", layers=(node.name, end.name), terms=tuple(head),
                count=count, channels=0,
                symmetry=f"scaling of {node.name}'s weights, normalised by {type(norm).__name__} {end.name}",
                name=f"|W_{node.name}|^2" + (f" + |b_{node.name}|^2" if b else ""),
            ))
            covered.update(t.param for t in head)
            continue
        if end_cls == "layer":
            consumer = end.target
            cw = pname(consumer, "weight")
            if cw is None:
                notes.setdefault(node.name, []).append(f"{end.name} has no trainable weight: no rescaling")
                continue
            if isinstance(consumer, nn.Conv1d | nn.Conv2d | nn.Conv3d) and consumer.groups != 1:
                notes.setdefault(node.name, []).append(f"{end.name} is a grouped convolution: no rescaling")
                continue
            channels = _out_channels(mod)
            if channels is None:
                notes.setdefault(node.name, []).append("its output channels are not known: no rescaling")
                continue
            in_width = consumer.weight.shape[1]
            if in_width % channels:
                notes.setdefault(node.name, []).append(
                    f"{end.name} takes {in_width} inputs, not a multiple of {channels} channels: no rescaling")
                continue
            group = in_width // channels
            tail = Term(cw, -1.0, axis=1, group=group)
            terms = tuple(head) + (tail,)
            ops = " -> ".join(_describe(p) for p in passed) or "nothing"
            linear = (not nonlinear and cls == "layer" and isinstance(mod, nn.Linear)
                      and isinstance(consumer, nn.Linear) and group == 1)
            if linear:
                det.laws.append(LawSpec(
                    id=f"linear/{node.name}-{end.name}", family="linear", layers=(node.name, end.name),
                    terms=terms, count=channels * channels, channels=channels,
                    symmetry=f"GL({channels}) between {node.name} and {end.name} (linear block)",
                    name=f"|M(t) - M(0)|_F, M = W_{node.name} W_{node.name}^T"
                         + (" + b b^T" if b else "") + f" - W_{end.name}^T W_{end.name}",
                ))
            else:
                det.laws.append(LawSpec(
                    id=f"rescale/{node.name}-{end.name}", family="rescale", layers=(node.name, end.name),
                    terms=terms, count=channels, channels=channels,
                    symmetry=f"per-channel rescaling of {node.name} against {end.name} through {ops}",
                    name=f"|W_{node.name}|^2" + (f" + |b_{node.name}|^2" if b else "") + f" - |W_{end.name}|^2",
                ))
            covered.update(t.param for t in terms)
            continue
        if end_cls in ("output", "softmax"):
            if end_cls == "softmax" and not _softmax_to_output(end):
                notes.setdefault(node.name, []).append("a softmax inside the model: no symmetry found")
                continue
            if cls == "layer" and isinstance(mod, nn.Linear) and not nonlinear and (
                end_cls == "softmax" or _is_cross_entropy(loss_fn)
            ):
                det.laws.append(LawSpec(
                    id=f"translation/{node.name}", family="translation", layers=(node.name,), terms=tuple(head),
                    count=mod.in_features + (1 if b else 0), channels=0,
                    symmetry=f"the same shift of every class's row of {node.name} (softmax)",
                    name=f"|sum_c W_{node.name}[c, :]" + (f", sum_c b_{node.name}[c]" if b else "") + "|",
                ))
                covered.update(t.param for t in head)
            elif end_cls == "output":
                why = ("the loss is not cross-entropy (pass loss_fn=nn.CrossEntropyLoss() if it is)"
                       if loss_fn is None or not _is_cross_entropy(loss_fn) else "it is not a Linear layer")
                notes.setdefault(node.name, []).append(f"the output layer: {why}: no translation")
            continue
        if end.kind == "module" and _has_params(end.target):
            why = f"followed by {_describe(end)}, not a supported layer: no symmetry found"
        elif end.kind in ("module", "function", "method"):
            why = f"{_describe(end)} is not positively homogeneous: no rescaling"
        else:
            why = f"followed by {_describe(end)}: no symmetry found"
        notes.setdefault(node.name, []).append(why)
    # every layer with parameters that no law covers, with the reason
    for name, mod in model.named_modules():
        if not name or not _has_params(mod):
            continue
        params = [n for n, p in mod.named_parameters(prefix=name, recurse=False) if p.requires_grad]
        missing = [p for p in params if p not in covered]
        if not missing:
            continue
        why = "; ".join(notes.get(name, [])) or (
            "not reached by the trace" if id(mod) not in seen_modules else "no symmetry found")
        det.unsupported.append(f"layer {name} ({type(mod).__name__}): {why}")
    return det


def _looks_like_activation(mod: nn.Module) -> bool:
    return type(mod).__module__.startswith("torch.nn.modules.activation")


def _softmax_to_output(node: _Node) -> bool:
    passed, end, _ = _walk(node)
    return end is not None and _op_class(end) == "output"


def _out_channels(mod: nn.Module) -> int | None:
    if isinstance(mod, nn.Linear):
        return mod.out_features
    if isinstance(mod, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        return mod.out_channels
    if isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
        return mod.num_features
    if isinstance(mod, nn.GroupNorm):
        return mod.num_channels
    if isinstance(mod, nn.LayerNorm) and len(mod.normalized_shape) == 1:
        return mod.normalized_shape[0]
    return None


def _norm_count(norm: nn.Module, layer: nn.Module) -> int:
    if isinstance(norm, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
        return norm.num_features
    if isinstance(norm, nn.GroupNorm):
        return norm.num_groups
    return 1
