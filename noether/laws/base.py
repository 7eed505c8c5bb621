"""What a law sees and what it must provide: the contract between the driver loop and the catalogue.

The driver (``noether.simulate``) builds one ``Snapshot`` per step; it never wires laws by hand, it
asks ``noether.laws.select(spec, structure, context)`` for the laws that apply and the ones that do
not (with the reason). Laws are small stateful objects: they remember their initial value, the
running drift and whatever accumulators their prediction needs (e.g. the integral in eq. 35).

Performance contract: ``on_step`` and ``measure`` return tensors and never call ``.item()``; the
driver converts every value of a record with one ``torch.cat(...)`` and ``tolist()``. Laws measured
together (a bank: ``noether.laws.quadratic.QuadraticBank``) may return several columns as one 1-D tensor
under a tuple of keys, ``{(key_1, ..., key_n): tensor of n values}``, so that a record costs one tensor
op per bank instead of one per column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor

from noether.structure import Params, Structure
from noether.summary import LawSummary


@dataclass
class Snapshot:
    """The state of a run at step k, as laws see it."""

    step: int  # k, updates done
    t: float  # physical time t_k
    params: Params  # w_k
    loss: Tensor  # L(w_k), 0-dim
    grad: Params | None  # grad L(w_k) + lambda w_k, what the step used (minibatch for SGD); None if not at w_k
    velocity: Params | None  # the dynamics' estimate of w'(t_k), None for first-order dynamics
    lr: float | None = None  # eta of this step, for the exact discrete identities of GD
    extra: dict[str, Any] | None = None  # dynamics-specific views (e.g. NAG's y_k)


@dataclass(frozen=True)
class Context:
    """What laws may know about the run besides the snapshot."""

    spec: Any  # the ExperimentSpec
    structure: Structure
    dynamics: str  # "gd", "sgd", "nd", ...
    flow: str  # the continuous flow it discretises: "gf", "nd", "nagf", "general", or "none" (Adam)
    k1: Any = None  # callable t -> k1(t) for the general flow
    k2: Any = None  # callable t -> k2(t)
    loss_fn: Any = None  # params -> L(w), for laws that need an extra evaluation (NTK probe)
    model_fn: Any = None  # (params, x) -> f_w(x), for the NTK kernel
    probe_inputs: Tensor | None = None  # a few inputs for kernel laws


class Law(Protocol):
    """One measurable instance of a catalogue entry (e.g. the ReLU balance of layer h = 2)."""

    id: str
    family: str
    name: str
    symmetry: str
    prediction: str
    every_step: bool  # True if on_step must see every step (accumulated discrete corrections)

    def on_step(self, snap: Snapshot) -> None:
        """Called every step when ``every_step`` is True, before ``measure`` for that step."""

    def measure(self, snap: Snapshot) -> dict[Any, Tensor | float]:
        """Columns for this step's record: ``{id: value, id + ':pred': prediction, id + ':neurons': vec}``
        (or several scalar columns at once: ``{(id, id + ':pred'): 1-D tensor}``)."""
        ...

    def summary(self) -> LawSummary:
        """Verdict and drift statistics over every step measured so far."""
        ...
