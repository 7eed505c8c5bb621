"""Record assembly: the laws' columns and the views of one step as one record of Python floats.

The driver (``noether.simulate``) hands the recorder each step's ``Snapshot``; the recorder steps the laws
that accumulate (``on_step``) and, at the recording cadence, asks every law (and every bank of laws
measured together, once, before the first of its laws) for its columns, adds the views
(``noether.views``), and converts all of it at once: scalars (0-dim tensors and banks' ``Block``s) and
1-D arrays reach the host in one ``torch.cat`` (one device synchronisation on a GPU, where the
higher-dimensional arrays join them) and become floats with one ``tolist``; on the CPU a
higher-dimensional array converts itself (its nesting at C speed). It also keeps the loss statistics of
the summary and the last finite record.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from noether.dynamics.base import Observation
from noether.laws.base import Bank, Block, Law, Snapshot
from noether.laws.workspace import Workspace
from noether.summary import Record
from noether.views import Views


class Recorder:
    """Steps and measures a run's laws; turns a step into a record (``record``) and keeps the loss statistics."""

    def __init__(self, laws: list[Law], views: Views, workspace: Workspace, *, on_cpu: bool) -> None:
        self.sources: list[Law | Bank] = []  # each bank just before the first of its laws
        for law in laws:
            if law.bank is not None and not any(law.bank is s for s in self.sources):
                self.sources.append(law.bank)
            self.sources.append(law)
        self.stepping = [source for source in self.sources if source.every_step]
        self.views = views
        self.workspace = workspace
        self.on_cpu = on_cpu  # higher-dimensional arrays convert themselves on the CPU
        self.loss_initial: float | None = None
        self.loss_final: float | None = None
        self.loss_best: float | None = None
        self.last_finite: Record | None = None

    def on_step(self, snap: Snapshot) -> None:
        """Every step: the laws and banks that accumulate see it."""
        for source in self.stepping:
            source.on_step(snap)

    def record(self, snap: Snapshot, obs: Observation, first_bad: Tensor | None) -> tuple[Record, bool]:
        """The record of this step, and whether all its values are finite (``first_bad``: a GPU run's sentinel,
        the first step whose loss was not finite, -1 for none)."""
        keys, scalars, arrays, plain = self._columns(snap, obs)
        tensors = [t if t.dim() == 1 else t.reshape(1) for t in scalars]
        nested = []
        for key, value in arrays:
            if value.dim() == 1:
                tensors.append(value)
            else:
                nested.append((key, value))
        if not self.on_cpu:
            tensors.extend(value.reshape(-1) for _, value in nested)
        if first_bad is not None:
            tensors.append(first_bad.reshape(1))
        # one dtype before the cat (a cat that promotes is several times slower than these casts)
        flat = torch.cat([t if t.dtype == torch.float64 else t.double() for t in tensors]).tolist()
        # one C-speed pass: a sum is finite only if every value is (barring an overflow past 1e308). Parameters
        # are covered through L(w_k) and the laws' values, which a non-finite w_k makes non-finite.
        finite = math.isfinite(sum(flat))
        if first_bad is not None and flat[-1] >= 0:
            finite = False
        record: Record = {"step": snap.step, "t": snap.t}
        record.update(zip(keys, flat, strict=False))
        i = len(keys)
        for key, value in arrays:
            if value.dim() == 1:
                n = value.shape[0]
                record[key] = flat[i : i + n]
                i += n
        for key, value in nested:
            if self.on_cpu:
                record[key] = value.tolist()
            else:
                n = value.numel()
                record[key] = _nest(flat[i : i + n], tuple(value.shape))
                i += n
        record.update(plain)
        if finite:
            self._keep(record)
        return record, finite

    def _columns(self, snap: Snapshot, obs: Observation) -> tuple[list[str], list[Tensor], list[tuple[str, Tensor]], dict]:
        """Scalar columns (names and tensors, a Block's as one 1-D tensor), arrays, and plain values of this step."""
        keys: list[str] = ["loss"]
        scalars: list[Tensor] = [snap.loss]
        arrays: list[tuple[str, Tensor]] = []
        plain: dict[str, float] = {}
        for source in self.sources:
            out = source.measure(snap)
            if isinstance(out, Block):
                keys.extend(out.keys)
                scalars.append(out.values)
                continue
            for key, value in (out or {}).items():
                if not isinstance(value, Tensor):
                    plain[key] = value
                elif value.dim() == 0:
                    keys.append(key)
                    scalars.append(value)
                else:
                    arrays.append((key, value))
        views = self.views
        arrays.extend(views.of(obs).items())
        if views.network:
            keys.extend(views.norm_keys)
            scalars.append(self.workspace.param_sq(snap))
        return keys, scalars, arrays, plain

    def _keep(self, record: Record) -> None:
        """A finite record: the last one (without the particles) and the loss statistics."""
        self.last_finite = {k: v for k, v in record.items() if not isinstance(v, list) or k in ("position", "velocity")}
        loss = record["loss"]
        if self.loss_initial is None:
            self.loss_initial = loss
        self.loss_final = loss
        self.loss_best = loss if self.loss_best is None else min(self.loss_best, loss)


def _nest(flat: list[float], shape: tuple[int, ...]) -> list:
    """A flat list as nested lists of ``shape``."""
    if len(shape) == 1:
        return flat
    if len(shape) == 2:
        m = shape[1]
        return [flat[j : j + m] for j in range(0, len(flat), m)]
    size = math.prod(shape[1:])
    return [_nest(flat[j * size : (j + 1) * size], shape[1:]) for j in range(shape[0])]
