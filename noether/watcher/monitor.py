"""``Monitor``: the conserved quantities of a user's own training loop, with each optimiser's predictions.

Per optimiser step (hooked with ``Optimizer.register_step_post_hook``, or an explicit ``mon.step(loss)``)
the monitor updates the exact discrete and the modified-flow predictions (``noether.watcher.predict``): one
fused ``_foreach_norm`` of the momentum buffers (or gradients) of the quadratic laws' tensors, on the
model's device, never a synchronisation; the rest is Python bookkeeping. With ``exact=False`` (the "cheap"
mode) steps between records do no tensor work at all: at a record, the buffers' norms stand for every step
since the last one, the quadratic laws are judged by the modified flow (their exact column is left out),
and translation keeps its exact identity (it needs no norms). Every ``every`` steps it measures the laws (one more fused norm
of the parameters) into one 1-D tensor row; every ``batch`` rows (and at ``flush``/``close``) the rows go
to the CPU in one transfer and become records, which a sink writes (a run folder, or a lab).

Records have the columns of a lab run (``noether.summary``): ``step``, ``t`` (sum of learning rates),
``loss``, ``<law id>``, ``<law id>:pred`` (gradient flow), ``<law id>:pred_discrete`` (exact),
``<law id>:pred_modified`` (modified flow) and the law's terms ``<law id>:|W_x|^2``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from noether.summary import LawSummary, Record, RunSummary
from noether.watcher.detect import HookTrace, LawSpec, detect, linear_matrix, translation_sum
from noether.watcher.predict import Hyper, QuadraticPrediction, Support, TranslationPrediction, hyper, support

DEFAULT_TOLERANCE = 0.05  # relative drift from the exact discrete prediction (BatchNorm's eps breaks scale a bit)
MAX_NEURONS = 512  # per-channel views of rescale laws up to this many channels


class Sink(Protocol):
    """Where records go: ``open(meta)`` once, ``write(records)`` per batch, ``close(summary)`` once."""

    def open(self, meta: dict[str, Any]) -> None: ...

    def write(self, records: list[Record]) -> None: ...

    def close(self, summary: RunSummary) -> None: ...


class MemorySink:
    """Keeps nothing beyond the monitor's own ``records`` (``lab=None, out=False``)."""

    def open(self, meta):
        pass

    def write(self, records):
        pass

    def close(self, summary):
        pass


FAMILY_SYMBOL = {"rescale": "rescale", "scale": "scale", "translation": "translation", "linear": "GL(d)"}


class Monitor:
    """Watch ``model`` trained by ``optimizer``; see ``noether.watch``."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Any = None,
        *,
        every: int = 10,
        name: str = "",
        sink: Sink | None = None,
        batch: int = 50,
        hook: bool = True,
        tolerance: float = DEFAULT_TOLERANCE,
        meta: dict[str, Any] | None = None,
        neurons: bool = False,
        exact: bool = True,
    ):
        if every < 1:
            raise ValueError(f"every must be >= 1 (got {every})")
        if batch < 1:
            raise ValueError(f"batch must be >= 1 (got {batch})")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.every, self.batch, self.name, self.tolerance = every, batch, name, tolerance
        self.sink = sink or MemorySink()
        self.neurons = neurons  # per-channel views of the rescale laws (``<id>:neurons``) in every record
        self.exact = exact  # False: the "cheap" mode, no tensor work between records (see ``_on_step``)
        self._elapsed: list[Hyper] = []  # cheap mode: the steps since the last record
        self.records: list[Record] = []
        self.support: Support = support(optimizer)
        self.steps = 0
        self.t = 0.0
        self.closed = False
        self._rows: list[tuple[int, float, torch.Tensor]] = []
        self._loss: torch.Tensor | None = None
        self._handles: list[Any] = []
        self._manual = not hook
        self._started = time.perf_counter()
        self._group0 = optimizer.param_groups[0]
        self._hyper: Hyper | None = None
        self._buffers: list[torch.Tensor] | None = None
        self._predicting = False  # an SGD optimiser and at least one law: the predictions step every step
        self._trace: HookTrace | None = None
        self.laws: list[LawSpec] = []
        self.detection = detect(model, loss_fn)
        if self.detection.trace_error is not None:
            self._trace = HookTrace(model)  # detect from the first forward pass instead
        if isinstance(loss_fn, nn.Module):
            self._handles.append(loss_fn.register_forward_hook(self._loss_hook))
        if hook:
            self._handles.append(optimizer.register_step_post_hook(lambda opt, args, kwargs: self._on_step()))
        ref = next(iter(model.parameters()), None)
        self.sink.open({
            "name": name, **(meta or {}), "optimizer": type(optimizer).__name__, "device": str(ref.device if ref
            is not None else "cpu"), "prediction": self.support.kind, "prediction_reason": self.support.reason,
            "detection": self.detection.method,
            "laws": [{"id": law.id, "family": law.family, "layers": list(law.layers), "count": law.count,
                      "symmetry": law.symmetry, "name": law.name} for law in self.detection.laws],
            "unsupported": list(self.detection.unsupported),
        })
        if self._trace is None:
            self._start()

    # --- set-up ---------------------------------------------------------------------------------------------

    def _start(self) -> None:
        self.laws = list(self.detection.laws)
        self._predicting = self.support.kind == "sgd" and bool(self.laws)
        params = dict(self.model.named_parameters())
        self._params = params
        names = sorted({t.param for law in self.laws for t in law.terms}, key=list(params).index)
        self._names = names
        self._tensors = [params[n] for n in names]
        index = {n: i for i, n in enumerate(names)}
        ref = next(iter(params.values()), torch.zeros(()))
        self.device = ref.device
        self.dtype = ref.dtype
        dev = self.device
        self._quad = [law for law in self.laws if law.family in ("rescale", "scale")]
        self._lin = [law for law in self.laws if law.family == "linear"]
        self._trans = [law for law in self.laws if law.family == "translation"]
        c = torch.zeros(len(self._quad), len(names), dtype=torch.float64, device=dev)
        for i, law in enumerate(self._quad):
            for t in law.terms:
                c[i, index[t.param]] += t.sign
        self._coef = c
        self._terms = [(law, t) for law in self._quad for t in law.terms]
        self._term_index = torch.tensor([index[t.param] for _, t in self._terms], dtype=torch.long, device=dev)
        self._term_sign = torch.tensor([t.sign for _, t in self._terms], dtype=torch.float64, device=dev)
        self._groups = self._param_groups()
        # which group each law lives in (None: its tensors span groups with different hyperparameters)
        self._law_group: dict[str, int | None] = {}
        for law in self.laws:
            gs = {self._groups.get(t.param) for t in law.terms}
            self._law_group[law.id] = gs.pop() if len(gs) == 1 else None
        # the predictions step every law with one set of hyperparameters: they need one for all groups
        if len({hyper(g) for g in self.optimizer.param_groups}) > 1:
            self._law_group = dict.fromkeys(self._law_group)
        with torch.no_grad():
            sq = self._sqnorms([params[n] for n in names])
            q0 = c @ sq if len(self._quad) else torch.zeros(0, dtype=torch.float64, device=dev)
            vel = self._momentum_buffers()
            at_rest = vel is None
            p0 = None
            if not at_rest and len(self._quad):
                dots = torch.stack([(params[n].detach().double() * vel[n].double()).sum() for n in names])
                lam = torch.tensor([self._hyper_of(law).weight_decay for law in self._quad], dtype=torch.float64,
                                   device=dev)
                # P_{-1} - eta K_0 = <A theta_0, v_0>: the recursion starts from the buffers as they are
                p0 = c @ dots
                del lam
            self._qpred = QuadraticPrediction(q0, p0, at_rest, input_map=c)
            self._lpred = []
            self._m0 = []
            for law in self._lin:
                m0 = linear_matrix(params, law.terms)
                self._m0.append(m0)
                self._lpred.append(QuadraticPrediction(m0.reshape(-1), None, at_rest))
            self._tpred = []
            for law in self._trans:
                s0 = translation_sum(params, law.terms)
                u0 = None if at_rest else translation_sum(vel, law.terms)
                self._tpred.append(TranslationPrediction(s0, u0))
        self._record()

    def _param_groups(self) -> dict[str, int]:
        ids = {id(p): n for n, p in self.model.named_parameters()}
        out = {}
        for gi, g in enumerate(self.optimizer.param_groups):
            for p in g["params"]:
                if id(p) in ids:
                    out[ids[id(p)]] = gi
        return out

    def _hyper_of(self, law: LawSpec) -> Hyper:
        gi = self._law_group.get(law.id)
        return hyper(self.optimizer.param_groups[gi if gi is not None else 0])

    def _momentum_buffers(self) -> dict[str, torch.Tensor] | None:
        if self.support.kind != "sgd":
            return None
        out = {}
        for n, p in self._params.items():
            buf = self.optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                out[n] = buf
        return out or None

    @staticmethod
    def _sqnorms(tensors: list[torch.Tensor]) -> torch.Tensor:
        if not tensors:
            return torch.zeros(0, dtype=torch.float64)
        with torch.no_grad():
            return torch.stack(torch._foreach_norm(tensors)).double().square()

    # --- per step -------------------------------------------------------------------------------------------

    def _loss_hook(self, module, args, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 0:
            self._loss = output.detach()

    def step(self, loss: torch.Tensor | float | None = None) -> None:
        """Count one optimiser step (call it after ``optimizer.step()``), with its loss if given.

        With the optimiser hooked (the default) the first call switches to explicit steps: the hook goes and
        this call only hands over the loss of the step the hook has already counted.
        """
        if loss is not None:
            self._loss = loss.detach() if isinstance(loss, torch.Tensor) else torch.tensor(float(loss))
        if not self._manual:
            self._manual = True
            self._remove_step_hook()
            return
        self._on_step()

    def _remove_step_hook(self) -> None:
        # the optimiser hook is the last handle registered by __init__ when hook=True
        if self._handles:
            self._handles.pop().remove()

    def _on_step(self) -> None:
        if self.closed:
            return
        if self._trace is not None:
            if not self._trace.done:
                return  # no forward pass seen yet
            self.detection = detect(self.model, self.loss_fn, graph=self._trace.graph())
            self.detection.trace_error = None
            self._trace = None
            self._start()
            return
        h = self._current_hyper()
        self.steps += 1
        self.t += h.lr
        if self._predicting:
            if self.exact:
                self._advance(h)
            else:
                self._elapsed.append(h)
        if self.steps % self.every == 0:
            with torch.no_grad():
                if self._elapsed:
                    self._advance_sampled()
                self._record()
            if len(self._rows) >= self.batch:
                self.flush()

    def _current_hyper(self) -> Hyper:
        """The first group's hyperparameters, rebuilt only when a scheduler (or the user) changed them."""
        g = self._group0
        h = self._hyper
        lr = g["lr"]
        if (h is None or isinstance(lr, torch.Tensor) or lr != h.lr or g.get("momentum", 0.0) != h.momentum
                or g.get("weight_decay", 0.0) != h.weight_decay):
            h = self._hyper = hyper(g)
        return h

    def _velocities(self, is_grad: bool) -> list[torch.Tensor | None]:
        """This step's v_{k+1}: the momentum buffers (kept from step to step: SGD updates them in place; looked
        up again when the first one is no longer the optimiser's, e.g. after ``load_state_dict``), or the
        gradients for beta = 0 (``zero_grad`` may replace them every step)."""
        tensors = self._tensors
        if is_grad:
            return [p.grad for p in tensors]
        vel = self._buffers
        if vel is None or self.optimizer.state[tensors[0]].get("momentum_buffer") is not vel[0]:
            state = self.optimizer.state
            vel = [state[p].get("momentum_buffer") for p in tensors]
            self._buffers = None if any(v is None for v in vel) else vel
        return vel

    def _advance(self, h0: Hyper) -> None:
        """One step of every prediction: K_{k+1} from the momentum buffers (or gradients when beta = 0).

        This runs at every optimiser step, recorded or not, so it does the least it can: one fused norm of
        the law tensors' buffers (the exact identities need each step's K), and appending to Python lists.
        """
        is_grad = h0.momentum == 0
        vel = self._velocities(is_grad)
        if any(v is None for v in vel):
            return  # a tensor without gradient this step (frozen, unused)
        if self._lin:
            vel_named = dict(zip(self._names, vel, strict=True))
        if self._quad:  # one fused norm per step; squares and coefficients wait for the record
            self._qpred.push(h0, torch._foreach_norm(vel), is_grad)  # buffers and gradients need no graph
        for law, pred in zip(self._lin, self._lpred, strict=True):
            with torch.no_grad():
                pred.push(h0, [linear_matrix(vel_named, law.terms).reshape(-1)], is_grad)
        for pred in self._tpred:
            pred.step(h0)

    def _advance_sampled(self) -> None:
        """Cheap mode, at a record: the steps since the last record, each with this step's K (sampled).

        The quadratic laws' modified flow then integrates K sampled every ``every`` steps (its error grows
        by the variation of K between records); their exact recursion is no longer exact and is not reported.
        Translation needs no K: its exact identity stays exact.
        """
        elapsed, self._elapsed = self._elapsed, []
        is_grad = elapsed[-1].momentum == 0
        vel = self._velocities(is_grad)
        if any(v is None for v in vel):
            return
        norms = torch._foreach_norm(vel) if self._quad else None
        vel_named = dict(zip(self._names, vel, strict=True))
        mats = [linear_matrix(vel_named, law.terms).reshape(-1) for law in self._lin]
        for h in elapsed:
            if self._quad:
                self._qpred.push(h, norms, is_grad)
            for m, pred in zip(mats, self._lpred, strict=True):
                pred.push(h, [m], is_grad)
            for pred in self._tpred:
                pred.step(h)

    def _record(self) -> None:
        """Measure every law now into one row on the device (no transfer)."""
        params = self._params
        parts: list[torch.Tensor] = []
        dev = self.device
        loss = self._loss if self._loss is not None else torch.tensor(float("nan"))
        parts.append(loss.detach().double().reshape(1).to(dev))
        if self._quad:
            sq = self._sqnorms([params[n] for n in self._names])
            parts += [self._coef @ sq, self._qpred.gradient_flow(), self._qpred.exact, self._qpred.modified,
                      sq[self._term_index] * self._term_sign]
            if self.neurons:
                for law in self._quad:
                    if law.family == "rescale" and law.channels <= MAX_NEURONS:
                        parts.append(law.per_channel(params))
        for law, pred, m0 in zip(self._lin, self._lpred, self._m0, strict=True):
            m = linear_matrix(params, law.terms)
            gf, ex, mod = (x.reshape(m.shape) for x in (pred.gradient_flow(), pred.exact, pred.modified))
            parts.append(torch.stack([
                (m - m0).norm(), (gf - m0).norm(), (ex - m0).norm(), (mod - m0).norm(), (m - ex).norm(),
                (m - mod).norm(), (m - gf).norm(),
            ]))
        for law, pred in zip(self._trans, self._tpred, strict=True):
            s = translation_sum(params, law.terms)
            n0 = pred.s0.norm()
            parts.append(torch.stack([s.norm(), n0 * pred.gf, pred.exact.norm(), n0 * pred.modified]))
        self._rows.append((self.steps, self.t, torch.cat([p.reshape(-1) for p in parts])))

    def flush(self) -> list[Record]:
        """Move the pending rows to the CPU in one transfer, turn them into records and hand them to the sink."""
        if not self._rows:
            return []
        rows = torch.stack([r for _, _, r in self._rows]).cpu().tolist()
        out = [self._to_record(step, t, row) for (step, t, _), row in zip(self._rows, rows, strict=True)]
        self._rows = []
        self.records.extend(out)
        self.sink.write(out)
        return out

    def _to_record(self, step: int, t: float, row: list[float]) -> Record:
        rec: Record = {"step": step, "t": t}
        it = iter(row)
        loss = next(it)
        if math.isfinite(loss):
            rec["loss"] = loss
        predicted = self.support.kind == "sgd"
        if self._quad:
            n = len(self._quad)
            vals = [next(it) for _ in range(4 * n)]
            for i, law in enumerate(self._quad):
                rec[law.id] = vals[i]
                if predicted and self._law_group[law.id] is not None:
                    rec[law.id + ":pred"] = vals[n + i]
                    if self.exact:
                        rec[law.id + ":pred_discrete"] = vals[2 * n + i]
                    rec[law.id + ":pred_modified"] = vals[3 * n + i]
            for law, term in self._terms:
                v = next(it)
                rec[f"{law.id}:{'-' if term.sign < 0 else ''}|{term.param}|^2"] = v
            if self.neurons:
                for law in self._quad:
                    if law.family == "rescale" and law.channels <= MAX_NEURONS:
                        rec[law.id + ":neurons"] = [next(it) for _ in range(law.channels)]
        for law in self._lin:
            v = [next(it) for _ in range(7)]
            rec[law.id] = v[0]
            if predicted:
                rec[law.id + ":pred"], rec[law.id + ":pred_discrete"], rec[law.id + ":pred_modified"] = v[1:4]
                rec[law.id + ":error_discrete"], rec[law.id + ":error_modified"], rec[law.id + ":error_gf"] = v[4:7]
                if not self.exact:
                    del rec[law.id + ":pred_discrete"], rec[law.id + ":error_discrete"]
        for law in self._trans:
            v = [next(it) for _ in range(4)]
            rec[law.id] = v[0]
            if predicted:
                rec[law.id + ":pred"], rec[law.id + ":pred_discrete"], rec[law.id + ":pred_modified"] = v[1:4]
        return rec

    # --- results --------------------------------------------------------------------------------------------

    def summary(self, status: str = "succeeded") -> RunSummary:
        """Per law: initial and final value, drift from each prediction, and the verdict."""
        self.flush()
        recs = self.records
        losses = [r["loss"] for r in recs if "loss" in r]
        laws = [self._law_summary(law, recs) for law in self.laws]
        wall = time.perf_counter() - self._started
        return RunSummary(
            name=self.name, status=status, steps_done=self.steps, steps=self.steps, t_final=self.t,
            loss_initial=losses[0] if losses else None, loss_final=losses[-1] if losses else None,
            loss_best=min(losses) if losses else None, laws=laws, device=str(getattr(self, "device", "cpu")),
            dtype=str(getattr(self, "dtype", torch.float32)).replace("torch.", ""), wall_time_s=wall,
            steps_per_s=self.steps / wall if wall > 0 else 0.0,
        )

    def _law_summary(self, law: LawSpec, recs: list[Record]) -> LawSummary:
        vals = [r[law.id] for r in recs if law.id in r]
        dyn = self._dynamics()
        base = dict(id=law.id, name=law.name, family=law.family, symmetry=law.symmetry, dynamics=dyn,
                    initial=vals[0] if vals else None, final=vals[-1] if vals else None)
        if self.support.kind != "sgd":
            return LawSummary(**base, prediction="no prediction", verdict="not applicable",
                              reason=self.support.reason + "; the quantity is drawn as a diagnostic")
        if self._law_group[law.id] is None:
            return LawSummary(**base, prediction="no prediction", verdict="not applicable",
                              reason="its tensors are in optimiser groups with different hyperparameters")
        h = self._hyper_of(law)
        pred = _prediction_text(law.family, h)
        exact = self.exact or law.family == "translation"  # cheap mode: translation's identity needs no K
        kinds = ("discrete", "modified", "gf") if exact else ("modified", "gf")
        if law.family == "linear":
            err = {k: max((r.get(f"{law.id}:error_{k}", 0.0) for r in recs), default=0.0) for k in kinds}
        else:
            err = {k: max((abs(r[law.id] - r[f"{law.id}:pred_{k}" if k != "gf" else f"{law.id}:pred"])
                           for r in recs if law.id in r and f"{law.id}:pred" in r), default=0.0)
                   for k in kinds}
        scale = self._movement(law, recs)
        judged = "discrete" if exact else "modified"
        rel = err[judged] / scale
        verdict = "holds" if rel <= self.tolerance else "broken"
        if exact:
            reason = (f"max |value - exact discrete prediction| = {err['discrete']:.3g} ({rel:.3g} of the movement "
                      f"{scale:.3g}); modified flow {err['modified']:.3g}; gradient flow {err['gf']:.3g}")
        else:
            reason = (f"cheap mode (exact=False): judged by the modified flow with K sampled every {self.every} steps: "
                      f"max |value - prediction| = {err['modified']:.3g} ({rel:.3g} of the movement {scale:.3g}); "
                      f"gradient flow {err['gf']:.3g}")
        return LawSummary(**base, prediction=pred, max_abs_drift=err[judged], max_rel_drift=rel,
                          verdict=verdict, tolerance=self.tolerance, reason=reason)

    def _movement(self, law: LawSpec, recs: list[Record]) -> float:
        """The largest movement of the law's terms, max_t sum_i |T_i(t) - T_i(0)| (at least 64 ulps of them)."""
        if law.family in ("rescale", "scale"):
            cols = [f"{law.id}:{'-' if t.sign < 0 else ''}|{t.param}|^2" for t in law.terms]
        else:
            cols = [law.id]
        rows = [r for r in recs if all(c in r for c in cols)]
        if not rows:
            return 1.0
        first = rows[0]
        size = sum(abs(first[c]) for c in cols)
        move = max(sum(abs(r[c] - first[c]) for c in cols) for r in rows)
        if law.family == "translation":
            move = max(move, abs(first[law.id]))
        return max(move, 64 * 2.2e-16 * max(size, 1e-300), 1e-30)

    def _dynamics(self) -> str:
        h = hyper(self.optimizer.param_groups[0])
        name = type(self.optimizer).__name__
        if name == "SGD":
            return f"sgd (lr {h.lr:g}, momentum {h.momentum:g}, weight decay {h.weight_decay:g})"
        return f"{name.lower()} (lr {h.lr:g})"

    def figure(self, law: str | None = None, **kwargs: Any) -> Any:
        """The lab's plotly figures of this run (needs plotly: ``noether_remote.figures``)."""
        self.flush()
        from noether_remote.figures import figures

        return figures(self.records, self.summary(status="running"), law=law, **kwargs)

    def report(self) -> str:
        """The detection report: laws found, their layers, and what was not understood."""
        return self.detection.report()

    # --- closing --------------------------------------------------------------------------------------------

    def close(self, status: str = "succeeded") -> RunSummary:
        """Record the last step, flush, write the summary to the sink and remove the hooks."""
        if self.closed:
            return self._summary
        if self._trace is None and self.laws is not None and self.steps % self.every:
            self._record()
        self.flush()
        self._summary = self.summary(status)
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._trace is not None:
            self._trace.remove()
        self.closed = True
        self.sink.close(self._summary)
        return self._summary

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("failed" if exc_type is not None else "succeeded")


def _prediction_text(family: str, h: Hyper) -> str:
    lam, beta = h.weight_decay, h.momentum
    if family == "translation":
        flow = "constant" if not lam else f"decays as exp(-{lam:g} t / (1 - beta))" if beta else f"decays as exp(-{lam:g} t)"
    else:
        flow = "constant" if not lam else "decays as exp(-2 lambda t / (1 - beta))" if beta else "decays as exp(-2 lambda t)"
        flow += " plus the eta-weighted gradient term (modified flow)"
    return f"gradient flow: {flow}; exact step by step ({'momentum' if beta else 'SGD'} recursion)"


Callback = Callable[[list[Record]], None]
