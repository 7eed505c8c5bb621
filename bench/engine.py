"""The engine against a bare PyTorch GD loop, on the paper's Fig. 1 model, in the same run.

    python -m bench engine [--steps 100] [--repeats 3] [--widths 50,100,200,400] [--device cpu] [--threads N] [--json out.json]

Engine: ``noether.simulate`` on fig1-gd (ReLU 784-200-200-200-10, 1000 samples, NLL, GD at lr 0.01)
with every applicable law recorded every step (record_every = 1) and the particle view. Baseline: a
``torch.nn.Sequential`` of the same shape, same initial weights and data, ``loss.backward()`` and an
in-place ``p -= lr * p.grad`` per step. Blocks of the two alternate (``--repeats``) so that a noisy,
shared machine slows both alike; the ratio engine / bare of the median steps/s is the number to read
(target >= 0.9). The engine without its laws is timed too, to split the overhead between the driver
loop and the laws. Then the same for other hidden widths (steps/s against width); the last column is
the engine's extra time per step over the bare loop (laws, record, views: about constant, so it weighs
most on narrow models).

Run it on a quiet machine. On a busy one, torch's intra-op threads spin-wait on each other and single
blocks swing by 2x or more; ``--threads 1`` is then the steadier comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from noether.presets import get
from noether.problem import build_problem
from noether.simulate import Simulation


def fig1_spec(width: int, steps: int, device: str):
    base = get("fig1-gd").spec
    data = base.model_dump(mode="json")
    data["model"]["widths"] = [784, width, width, width, 10]
    data.update(steps=steps, record_every=1, device=device, name=f"bench width {width}")
    return type(base).model_validate(data)


def engine_rate(spec, problem, laws: bool = True) -> tuple[float, int]:
    """Steps/s of one full simulation (every law, every step); the number of record keys."""
    sim = Simulation(spec, problem=problem)
    if not laws:
        sim.laws = []
    start = time.perf_counter()
    columns = 0
    for record in sim:
        columns = len(record)
    elapsed = time.perf_counter() - start
    assert sim.status == "succeeded", sim.status
    return (spec.steps + 1) / elapsed, columns


def bare_rate(problem, lr: float, steps: int) -> float:
    """Steps/s of a plain PyTorch GD loop on the same model, weights and data."""
    layers = []
    Ws = [p for name, p in zip(problem.structure.names, problem.params, strict=True) if name.startswith("W")]
    for i, W in enumerate(Ws):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False, device=W.device, dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W)
        layers.append(lin)
        if i < len(Ws) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    x, y = problem.inputs, problem.targets
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps + 1):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(lr * p.grad)
                p.grad = None
    sync()
    return (steps + 1) / (time.perf_counter() - start)


def compare(width: int, steps: int, repeats: int, device: str) -> dict:
    spec = fig1_spec(width, steps, device)
    problem = build_problem(spec)
    lr = spec.dynamics.lr
    engine_rate(spec.with_overrides(steps=5), build_problem(spec.with_overrides(steps=5)))  # warm up
    bare_rate(problem, lr, 5)
    eng, loop, bare, columns = [], [], [], 0
    for _ in range(repeats):
        rate, columns = engine_rate(spec, problem)
        eng.append(rate)
        bare.append(bare_rate(problem, lr, steps))
        loop.append(engine_rate(spec, problem, laws=False)[0])
    e, b, lo = statistics.median(eng), statistics.median(bare), statistics.median(loop)
    return {"width": width, "engine_steps_per_s": e, "engine_without_laws_steps_per_s": lo, "bare_steps_per_s": b,
            "ratio": e / b, "ratio_without_laws": lo / b, "record_columns": columns,
            "extra_ms_per_step": 1e3 / e - 1e3 / b,
            "engine_runs": eng, "engine_without_laws_runs": loop, "bare_runs": bare}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench engine", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100, help="steps per timed block (default 100)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating blocks per side (default 3)")
    ap.add_argument("--widths", default="50,100,200,400", help="hidden widths to scan (default 50,100,200,400)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.steps} steps x {args.repeats} alternating blocks")
    main_row = compare(200, args.steps, args.repeats, device)
    print(f"fig1 (784-200-200-200-10, every law every step, {main_row['record_columns']} record keys): "
          f"engine {main_row['engine_steps_per_s']:.1f} steps/s, bare GD loop {main_row['bare_steps_per_s']:.1f} steps/s, "
          f"ratio {main_row['ratio']:.3f} (target >= 0.9); without laws {main_row['ratio_without_laws']:.3f}")
    rows = []
    print(f"{'width':>6} {'engine steps/s':>15} {'no laws':>8} {'bare steps/s':>13} {'ratio':>6} {'no laws':>8} "
          f"{'extra ms/step':>14}")
    for w in [int(v) for v in args.widths.split(",") if v.strip()]:
        row = main_row if w == 200 else compare(w, args.steps, args.repeats, device)
        rows.append(row)
        print(f"{w:>6} {row['engine_steps_per_s']:>15.1f} {row['engine_without_laws_steps_per_s']:>8.1f} "
              f"{row['bare_steps_per_s']:>13.1f} {row['ratio']:>6.3f} {row['ratio_without_laws']:>8.3f} "
              f"{row['extra_ms_per_step']:>14.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": device, "fig1": main_row, "widths": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
