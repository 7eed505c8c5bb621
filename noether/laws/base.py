"""What a law sees and what it must provide: the contract between the driver loop and the catalogue.

The driver (``noether.simulate``) builds one ``Snapshot`` per step; it never wires laws by hand, it
asks ``noether.laws.select(spec, structure, context)`` for the laws that apply and the ones that do
not (with the reason). Laws are small stateful objects: they remember their initial value, the
running drift and whatever accumulators their prediction needs (e.g. the integral in eq. 35).

The protocol, in the manner of optax's init/update pairs: a law is built from the run's ``Context``
(what it may know besides the steps), sees a ``Snapshot`` in ``on_step`` (every step, when
``every_step``) and in ``measure`` (at records), emits ``Columns`` for the record (its value under its
``id``, its prediction under ``id:pred``, views such as ``id:neurons``) and gives its verdict in
``summary()``. The recorder (``noether.recorder``) calls nothing else.

Laws measured together share a ``Bank`` (``noether.laws.quadratic.QuadraticBank``): the recorder steps and
measures each bank once, before the first of its laws, and the bank returns every scalar column of its
laws as one ``Block`` (one 1-D tensor), so that a record costs one tensor op per bank instead of one per
column; the laws themselves then emit only their own views.

Performance contract: ``on_step`` and ``measure`` return tensors and never call ``.item()``; the
recorder converts every value of a record with one ``torch.cat(...)`` and ``tolist()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor

from noether.dynamics.kind import Coefficient
from noether.spec import ExperimentSpec
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

    spec: ExperimentSpec
    structure: Structure
    dynamics: str  # the kind, "gd", "sgd", "nd", ... (its record: noether.dynamics.DYNAMICS[dynamics])
    flow: str  # the continuous flow it discretises: "gf", "nd", "nagf", "general", or "none" (Adam)
    k1: Coefficient | None = None  # t -> k1(t) of a second-order flow (None for gf and none)
    k2: Coefficient | None = None  # t -> k2(t)
    loss_fn: Callable[[Params], Tensor] | None = None  # params -> L(w), for laws that need an extra evaluation (NTK probe)
    model_fn: Callable[[Params, Tensor], Tensor] | None = None  # (params, x) -> f_w(x), for the NTK kernel
    probe_inputs: Tensor | None = None  # a few inputs for kernel laws


Columns = dict[str, Tensor | float]  # a record's columns from one law: 0-dim or 1-D tensors, or plain floats


@dataclass(frozen=True)
class Block:
    """Scalar columns measured together: column ``keys[i]`` is ``values[i]`` of one 1-D tensor."""

    keys: tuple[str, ...]
    values: Tensor


class Bank(Protocol):
    """Several laws measured at once (one entry per law); the recorder calls it once per step and per record."""

    every_step: bool  # True if on_step must see every step

    def on_step(self, snap: Snapshot) -> None:
        """Called every step when ``every_step`` is True, before its laws' ``on_step`` and ``measure``."""

    def measure(self, snap: Snapshot) -> Block | None:
        """Every law's scalar columns at this record (None: nothing to record at this step)."""
        ...


class Law(Protocol):
    """One measurable instance of a catalogue entry (e.g. the ReLU balance of layer h = 2)."""

    id: str
    family: str
    name: str
    symmetry: str
    prediction: str  # what the paper predicts, in words (the value is the ``id:pred`` column)
    every_step: bool  # True if on_step must see every step (accumulated discrete corrections)
    bank: Bank | None  # the bank that measures this law's scalar columns, None if it measures its own

    def on_step(self, snap: Snapshot) -> None:
        """Called every step when ``every_step`` is True, before ``measure`` for that step."""

    def measure(self, snap: Snapshot) -> Columns:
        """Columns for this step's record: ``{id: value, id + ':pred': prediction, id + ':neurons': vec}``."""
        ...

    def summary(self) -> LawSummary:
        """Verdict and drift statistics over every step measured so far."""
        ...
