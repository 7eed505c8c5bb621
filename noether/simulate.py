"""The driver loop: run a spec's dynamics, let the laws that apply watch every step, yield records.

    sim = noether.simulate(spec)
    for record in sim:          # dicts at the recording cadence: step, t, loss, laws, views
        ...
    sim.summary                 # RunSummary: per law, prediction, drift and verdict

One loop owns time; a dynamics only writes its ``step`` (its record: ``noether.dynamics.DYNAMICS``); laws
are picked by ``noether.laws.select`` and speak one protocol (``noether.laws.base``); the ``Recorder``
(``noether.recorder``) steps them and turns a step into a record (one ``torch.cat``: one device
synchronisation on a GPU), with the views of ``noether.views``. The driver and the laws share one
``Workspace`` (per-step quantities such as |w_t|^2, which also fill the ``sq_norm/*`` columns).

A non-finite loss or parameter ends the run as ``diverged`` (``summary.diverged_at``,
``summary.last_finite``); ``stop()`` ends it as ``cancelled`` at the next step. Nothing in the loop
raises for either. The same spec gives the same records (seeded data, initialisation and minibatches).

CPU runs whose step costs under ``SMALL_WORK`` flops use one torch thread while they run: intra-op
threads only add synchronisation there (and spin-wait badly on a busy machine). Larger CPU runs keep
their threads for the step and drop to one for the laws and the record, whose ops are small.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from noether import laws as law_catalogue
from noether.dynamics import batch_size, kind_of
from noether.laws.base import Law, Snapshot
from noether.laws.conditions import make_context
from noether.laws.workspace import Workspace
from noether.problem import Problem, build_problem
from noether.recorder import Recorder
from noether.spec import ExperimentSpec, parse_spec
from noether.summary import LawSummary, Record, RunSummary
from noether.views import MAX_PARTICLES, MAX_VIEW_DIM, Views

CHECK_EVERY = 32  # steps between divergence checks on a GPU (every step on the CPU, where it is free)
SMALL_WORK = 1e8  # flops per step under which a CPU run uses one thread (intra-op threads only cost there)

__all__ = ["MAX_PARTICLES", "MAX_VIEW_DIM", "Simulation", "simulate", "work_per_step"]


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
        self.dynamics = kind_of(spec.dynamics)
        p = self.problem
        self.context = make_context(spec, p.structure, loss_fn=p.loss, model_fn=p.model_fn, probe_inputs=p.probe_inputs)
        self.workspace = Workspace()  # per-step quantities the laws and the record share (|w_t|^2, ...)
        laws, not_applicable = law_catalogue.select(spec, p.structure, self.context, ws=self.workspace)
        self.laws: list[Law] = list(laws)  # may be extended before iterating (discovery adds its own)
        self.not_applicable: list[LawSummary] = list(not_applicable)
        self.status = "running"
        self.step = 0
        self.steps = spec.steps
        self.t = 0.0
        self.params = self.problem.params  # w_k of the latest step seen (the final weights after the run)
        self.diverged_at: int | None = None
        self._stop = False
        self._started = False
        self._wall = 0.0
        self._views = Views(p)
        self._recorder: Recorder | None = None  # built when the iteration starts (self.laws may change until then)
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
        bs = batch_size(cfg)
        on_cpu = self._check_every_step
        recorder = self._recorder = Recorder(self.laws, self._views, self.workspace, on_cpu=on_cpu)
        divergence = Divergence(p.device, every_step=on_cpu)
        threads = torch.get_num_threads()
        if p.device.type == "cpu" and work_per_step(p) < SMALL_WORK:
            torch.set_num_threads(1)
        step_threads = torch.get_num_threads()
        one_thread = p.device.type == "cpu" and step_threads > 1  # laws and records: small ops, one thread
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
                    bad = divergence.at(k, obs.loss)
                    if bad is not None:
                        self._diverge(bad)
                        break
                    recording = k % spec.record_every == 0 or k == spec.steps
                    loss = obs.loss
                    if recording and batch is not None:
                        loss = p.loss(obs.params)  # records carry the full-batch loss
                    snap = Snapshot(k, obs.t, obs.params, loss, obs.grad, obs.velocity, obs.lr, obs.extra)
                    if one_thread:
                        torch.set_num_threads(1)
                    recorder.on_step(snap)
                    self.step, self.t, self.params = k, obs.t, obs.params
                    if recording:
                        record, finite = recorder.record(snap, obs, divergence.first_bad)
                        if not finite:
                            self._diverge(divergence.first(k))
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

    @property
    def last_finite(self) -> Record | None:
        """The last record whose values were all finite (without the particles), None before the first."""
        return self._recorder.last_finite if self._recorder is not None else None

    # -- summary ---------------------------------------------------------------------------
    @property
    def summary(self) -> RunSummary:
        """The run summary, valid at any time (final once the iteration has ended)."""
        laws = [law.summary() for law in self.laws] + list(self.not_applicable)
        wall, rec = self._wall, self._recorder
        return RunSummary(
            name=self.spec.name,
            status=self.status,
            steps_done=self.step,
            steps=self.steps,
            t_final=self.t,
            loss_initial=rec.loss_initial if rec else None,
            loss_final=rec.loss_final if rec else None,
            loss_best=rec.loss_best if rec else None,
            diverged_at=self.diverged_at,
            last_finite=self.last_finite if self.status == "diverged" else None,
            laws=laws,
            device=str(self.problem.device),
            dtype=self.spec.dtype,
            wall_time_s=wall,
            steps_per_s=(self.step / wall) if wall > 0 else 0.0,
            spec_fingerprint=self.spec.fingerprint(),
        )


class Divergence:
    """The first step whose loss is not finite: checked every step on the CPU (a sync is free there); on a GPU a
    device-side sentinel ``first_bad`` (-1: none) is read every ``CHECK_EVERY`` steps and with every record."""

    def __init__(self, device: torch.device, *, every_step: bool) -> None:
        self.first_bad = None if every_step else torch.full((), -1, dtype=torch.int64, device=device)

    def at(self, k: int, loss: Tensor) -> int | None:
        """The first non-finite step known at step k, None if none is known yet."""
        if self.first_bad is None:
            return None if math.isfinite(float(loss)) else k
        self.first_bad = torch.where(~torch.isfinite(loss) & (self.first_bad < 0), k, self.first_bad)
        if k % CHECK_EVERY == 0 and int(self.first_bad) >= 0:
            return int(self.first_bad)
        return None

    def first(self, k: int) -> int:
        """The first non-finite step when the record of step k was not finite."""
        return k if self.first_bad is None or int(self.first_bad) < 0 else int(self.first_bad)


def work_per_step(problem: Problem) -> float:
    """About 6 flops per parameter and sample (forward and backward) for a network; d for a potential."""
    m = sum(t.numel() for t in problem.params)
    return 6.0 * m * max(problem.n_samples, 1)
