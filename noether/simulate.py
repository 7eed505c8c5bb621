"""The driver loop: run a spec's dynamics, let the laws that apply watch every step, yield records.

    sim = noether.simulate(spec)
    for record in sim:          # dicts at the recording cadence: step, t, loss, laws, views
        ...
    sim.summary                 # RunSummary: per law, prediction, drift and verdict

One loop owns time; a dynamics only writes its ``step`` (``noether.dynamics``); laws are picked by
``noether.laws.select`` and see one ``Snapshot`` per step (``on_step`` every step for laws that
accumulate, ``measure`` at records). All tensors of a record reach the host in one ``torch.cat`` (one
device synchronisation on a GPU); a law may hand several scalar columns over as one 1-D tensor under a
tuple of keys (``noether.laws.base``). The driver and the laws share one ``Workspace`` (per-step
quantities such as |w_t|^2, which also fill the ``sq_norm/*`` columns).

Optional hook for laws: a law with a method ``observe(record)`` is called with every finite record after
its conversion to Python floats, so that it can keep its statistics in floats instead of tensor ops;
record keys starting with ``_`` (private columns a law returned from ``measure`` for that purpose) are
converted with the rest and then removed from the record.

A non-finite loss or parameter ends the run as ``diverged`` (``summary.diverged_at``,
``summary.last_finite``); ``stop()`` ends it as ``cancelled`` at the next step. Nothing in the loop
raises for either. The same spec gives the same records (seeded data, initialisation and minibatches).

Views (documented caps, so that records stay small enough to stream):
- potentials: ``position`` and ``velocity`` (the first ``MAX_VIEW_DIM`` coordinates);
- networks: ``sq_norm/<name>``, the squared norm of each parameter tensor (|W_h|^2, |b_h|^2,
  |beta_h|^2: the terms Fig. 1 plots next to their conserved difference), and ``particles``, the
  first-layer neurons W_1[i, :] as points in R^3 when d_x = 3, else their projection on the top 3 right
  singular directions of W_1(0) (zero-padded when d_x < 3), for a fixed seeded subset of at most
  ``MAX_PARTICLES`` neurons (768 numbers per record at most).

CPU runs whose step costs under ``SMALL_WORK`` flops use one torch thread while they run: intra-op
threads only add synchronisation there (and spin-wait badly on a busy machine). Larger CPU runs keep
their threads for the step and drop to one for the laws and the record, whose ops are small.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from noether import laws as law_catalogue
from noether.dynamics import DYNAMICS, batch_size, flow_of
from noether.dynamics.base import Observation
from noether.laws.base import Context, Snapshot
from noether.laws.workspace import Workspace
from noether.problem import Problem, build_problem
from noether.spec import ExperimentSpec, parse_spec
from noether.summary import LawSummary, Record, RunSummary

MAX_PARTICLES = 256  # neurons drawn as particles
MAX_VIEW_DIM = 64  # coordinates of a potential's position/velocity in a record
CHECK_EVERY = 32  # steps between divergence checks on a GPU (every step on the CPU, where it is free)
SMALL_WORK = 1e8  # flops per step under which a CPU run uses one thread (intra-op threads only cost there)


def simulate(spec: ExperimentSpec | dict, *, data_root: Path | None = None) -> Simulation:
    """A Simulation of ``spec`` (an ExperimentSpec or a dict to validate); iterate it to run."""
    if not isinstance(spec, ExperimentSpec):
        spec = parse_spec(spec)
    return Simulation(spec, data_root=data_root)


class Simulation:
    """One run: iterable of records, with ``stop()``, ``status``, ``step``, ``steps``, ``summary``, ``laws``."""

    def __init__(self, spec: ExperimentSpec, *, data_root: Path | None = None, problem: Problem | None = None):
        self.spec = spec
        self.problem = problem if problem is not None else build_problem(spec, data_root)
        cfg = spec.dynamics
        self.dynamics = DYNAMICS[cfg.kind]
        flow, k1, k2 = flow_of(cfg)
        p = self.problem
        self.context = Context(
            spec=spec,
            structure=p.structure,
            dynamics=cfg.kind,
            flow=flow,
            k1=k1,
            k2=k2,
            loss_fn=p.loss,
            model_fn=p.model_fn,
            probe_inputs=p.probe_inputs,
        )
        self.workspace = Workspace()  # per-step quantities the laws and the record share (|w_t|^2, ...)
        laws, not_applicable = law_catalogue.select(spec, p.structure, self.context, ws=self.workspace)
        self.laws: list[Any] = list(laws)  # may be extended before iterating (discovery adds its own)
        self.not_applicable: list[LawSummary] = list(not_applicable)
        self.status = "running"
        self.step = 0
        self.steps = spec.steps
        self.t = 0.0
        self.params = self.problem.params  # w_k of the latest step seen (the final weights after the run)
        self.diverged_at: int | None = None
        self.last_finite: Record | None = None
        self._stop = False
        self._started = False
        self._wall = 0.0
        self._loss_initial: float | None = None
        self._loss_final: float | None = None
        self._loss_best: float | None = None
        self._views = _Views(p)
        self._observers: list[Any] = []
        self._private_blocks: dict[tuple[str, ...], bool] = {}
        self._check_every_step = p.device.type == "cpu"  # a sync per step is free on the CPU, not on a GPU

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the run to end as ``cancelled`` before its next step (safe from another thread)."""
        self._stop = True

    def __iter__(self) -> Iterator[Record]:
        if self._started:
            raise RuntimeError("a Simulation can be iterated only once; call noether.simulate(spec) again")
        self._started = True
        return self._run()

    def run(self) -> RunSummary:
        """Run to the end, dropping the records; return the summary."""
        for _ in self:
            pass
        return self.summary

    def collect(self) -> list[Record]:
        """Run to the end and return every record."""
        return list(self)

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> Iterator[Record]:
        spec, p = self.spec, self.problem
        cfg = spec.dynamics
        every_step = [law for law in self.laws if getattr(law, "every_step", False)]
        self._observers = [law for law in self.laws if callable(getattr(law, "observe", None))]
        bs = batch_size(cfg)
        on_cpu = self._check_every_step
        threads = torch.get_num_threads()
        if p.device.type == "cpu" and work_per_step(p) < SMALL_WORK:
            torch.set_num_threads(1)
        step_threads = torch.get_num_threads()
        one_thread = p.device.type == "cpu" and step_threads > 1  # laws and records: small ops, one thread
        first_bad = None if on_cpu else torch.full((), -1, dtype=torch.int64, device=p.device)
        start = time.perf_counter()
        try:
            with torch.no_grad():
                state = self.dynamics.init(p, cfg, p.params, p.velocity)
                for k in range(spec.steps + 1):
                    if self._stop:
                        self.status = "cancelled"
                        break
                    batch = None
                    if bs is not None:
                        batch = torch.randperm(p.n_samples, generator=p.generator)[:bs].to(p.device)
                    new_state, obs = self.dynamics.step(p, cfg, state, batch)
                    if on_cpu:
                        if not math.isfinite(float(obs.loss)):
                            self._diverge(k)
                            break
                    else:
                        bad = ~torch.isfinite(obs.loss)
                        first_bad = torch.where(bad & (first_bad < 0), k, first_bad)
                        if k % CHECK_EVERY == 0 and int(first_bad) >= 0:
                            self._diverge(int(first_bad))
                            break
                    recording = k % spec.record_every == 0 or k == spec.steps
                    loss = obs.loss
                    if recording and batch is not None:
                        loss = p.loss(obs.params)  # records carry the full-batch loss
                    snap = Snapshot(k, obs.t, obs.params, loss, obs.grad, obs.velocity, obs.lr, obs.extra)
                    if one_thread:
                        torch.set_num_threads(1)
                    for law in every_step:
                        law.on_step(snap)
                    self.step, self.t, self.params = k, obs.t, obs.params
                    if recording:
                        record, finite = self._record(snap, obs, first_bad)
                        if not finite:
                            self._diverge(k if first_bad is None or int(first_bad) < 0 else int(first_bad))
                            break
                    if one_thread:
                        torch.set_num_threads(step_threads)
                    if recording:
                        self._wall += time.perf_counter() - start
                        yield record
                        start = time.perf_counter()
                    if k == spec.steps:
                        self.status = "succeeded"
                        break
                    state = new_state
        except Exception:
            self.status = "failed"
            raise
        finally:
            torch.set_num_threads(threads)
            self._wall += time.perf_counter() - start
            if self.status == "running":  # the consumer closed the generator early
                self.status = "cancelled"

    def _diverge(self, k: int) -> None:
        """End as diverged: step k was the first with a non-finite value, k - 1 the last finite one."""
        self.status = "diverged"
        self.diverged_at = k
        self.step = max(0, min(self.step, k - 1))

    def _record(self, snap: Snapshot, obs: Observation, first_bad: Tensor | None) -> tuple[Record, bool]:
        """The record of this step, and whether all its values (and the parameters) are finite.

        Scalars (0-dim tensors, and 1-D tensors under a tuple of keys) and 1-D arrays reach the host in
        one ``torch.cat`` (one device synchronisation on a GPU, where the higher-dimensional arrays join
        them) and become floats with one ``tolist``; on the CPU a higher-dimensional array converts itself
        (its nesting at C speed).
        """
        keys: list[str] = ["loss"]
        scalars: list[Tensor] = [snap.loss]
        arrays: list[tuple[str, Tensor]] = []
        plain: dict[str, Any] = {}
        private = False
        for law in self.laws:
            for key, value in law.measure(snap).items():
                if not isinstance(value, Tensor):
                    plain[key] = value
                elif type(key) is tuple:  # several columns in one 1-D tensor
                    keys.extend(key)
                    scalars.append(value)
                    private = private or self._has_private(key)
                else:
                    private = private or key[:1] == "_"
                    if value.dim() == 0:
                        keys.append(key)
                        scalars.append(value)
                    else:
                        arrays.append((key, value))
        views = self._views
        arrays.extend(views.of(obs).items())
        if views.network:
            keys.extend(views.norm_keys)
            scalars.append(self.workspace.param_sq(snap))
        on_cpu = self._check_every_step
        tensors = [t if t.dim() == 1 else t.reshape(1) for t in scalars]
        nested = []
        for key, value in arrays:
            if value.dim() == 1:
                tensors.append(value)
            else:
                nested.append((key, value))
        if not on_cpu:
            tensors.extend(value.reshape(-1) for _, value in nested)
        # sentinel on a GPU: the first step whose loss was not finite (-1: none)
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
            if on_cpu:
                record[key] = value.tolist()
            else:
                n = value.numel()
                record[key] = _nest(flat[i : i + n], tuple(value.shape))
                i += n
        if plain:
            record.update(plain)
            private = private or any(key[:1] == "_" for key in plain)
        if finite and self._observers:
            for law in self._observers:
                law.observe(record)
        if private:
            record = {k: v for k, v in record.items() if not k.startswith("_")}
        if finite:
            self.last_finite = {k: v for k, v in record.items() if not isinstance(v, list) or k in ("position", "velocity")}
            loss = record["loss"]
            if self._loss_initial is None:
                self._loss_initial = loss
            self._loss_final = loss
            self._loss_best = loss if self._loss_best is None else min(self._loss_best, loss)
        return record, finite

    def _has_private(self, keys: tuple[str, ...]) -> bool:
        """Whether a block of columns has private ones ('_...'), cached per block."""
        found = self._private_blocks.get(keys)
        if found is None:
            found = self._private_blocks[keys] = any(key.startswith("_") for key in keys)
        return found

    # -- summary ---------------------------------------------------------------------------
    @property
    def summary(self) -> RunSummary:
        """The run summary, valid at any time (final once the iteration has ended)."""
        laws = [law.summary() for law in self.laws] + list(self.not_applicable)
        wall = self._wall
        return RunSummary(
            name=self.spec.name,
            status=self.status,
            steps_done=self.step,
            steps=self.steps,
            t_final=self.t,
            loss_initial=self._loss_initial,
            loss_final=self._loss_final,
            loss_best=self._loss_best,
            diverged_at=self.diverged_at,
            last_finite=self.last_finite if self.status == "diverged" else None,
            laws=laws,
            device=str(self.problem.device),
            dtype=self.spec.dtype,
            wall_time_s=wall,
            steps_per_s=(self.step / wall) if wall > 0 else 0.0,
            spec_fingerprint=self.spec.fingerprint(),
        )


def work_per_step(problem: Problem) -> float:
    """About 6 flops per parameter and sample (forward and backward) for a network; d for a potential."""
    m = sum(t.numel() for t in problem.params)
    return 6.0 * m * max(problem.n_samples, 1)


def _nest(flat: list[float], shape: tuple[int, ...]) -> list:
    """A flat list as nested lists of ``shape``."""
    if len(shape) == 1:
        return flat
    if len(shape) == 2:
        m = shape[1]
        return [flat[j : j + m] for j in range(0, len(flat), m)]
    size = math.prod(shape[1:])
    return [_nest(flat[j * size : (j + 1) * size], shape[1:]) for j in range(shape[0])]


class _Views:
    """The low-dimensional picture of a run a record carries (see the module docstring for caps)."""

    def __init__(self, problem: Problem):
        self.network = problem.model_fn is not None
        self.flow_velocity = problem.spec.dynamics.kind in ("gd", "sgd") or (
            problem.spec.dynamics.kind == "rk4" and problem.spec.dynamics.flow == "gf"
        )
        if not self.network:
            return
        s = problem.structure
        self.norm_keys = [f"sq_norm/{name}" for name in s.names]
        self.w1 = s.W(1)
        W1 = problem.params[self.w1]
        d1, dx = W1.shape
        gen = torch.Generator().manual_seed(problem.spec.seed * 8 + 5)
        self.idx = None
        if d1 > MAX_PARTICLES:
            self.idx = torch.randperm(d1, generator=gen)[:MAX_PARTICLES].sort()[0].to(W1.device)
        if dx == 3:
            self.proj = None
        elif dx < 3:
            self.proj = torch.eye(3, dx, dtype=W1.dtype, device=W1.device)
        else:
            _, _, vh = torch.linalg.svd(W1.double().cpu(), full_matrices=False)
            self.proj = vh[:3].to(device=W1.device, dtype=W1.dtype).contiguous()  # 3 x d_x

    def of(self, obs: Observation) -> dict[str, Tensor]:
        if self.network:
            pts = obs.params[self.w1]
            if self.idx is not None:
                pts = pts.index_select(0, self.idx)
            # proj W^T, transposed back: MKL is faster with the 3 directions as rows than with a 3-column GEMM
            return {"particles": pts if self.proj is None else torch.mm(self.proj, pts.T).T}
        out = {"position": obs.params[0][:MAX_VIEW_DIM]}
        if obs.velocity is not None:
            out["velocity"] = obs.velocity[0][:MAX_VIEW_DIM]
        elif self.flow_velocity and obs.grad is not None:
            out["velocity"] = -obs.grad[0][:MAX_VIEW_DIM]
        return out
