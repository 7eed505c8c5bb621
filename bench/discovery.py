"""Discovery (Algorithm 1) time against network size, and the largest network discovered within a budget.

    python -m bench discovery [--widths 8,16,32,64,128,256] [--budget 60] [--inputs 784] [--depth 3]
                              [--samples 1000] [--grow] [--json out.json]

Network: the paper's Fig. 1 shape, ReLU with biases, d_x -> w -> ... -> w (``--depth`` hidden layers)
-> 10, synthetic data (``--samples``), NLL loss, float64. For each width: the search alone (no
verification run: that is a run of the dynamics, timed by ``bench engine``), the number of generators
found against the paper's count (one rescaling per hidden neuron, plus the 10 softmax-shift generators
of NLL), and, as a baseline measured in the same run, the time of one full-batch gradient of the same
network: the ratio search / gradient says how many full passes a discovery costs. ``--grow`` keeps
doubling the width after the list until a search takes longer than ``--budget`` seconds, and reports
the largest network discovered within it.

The first discovery of a process pays torch.func's one-time import (seconds); a warm-up run on a tiny
network takes it out of the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from noether.discovery import DiscoveryOptions, discover
from noether.problem import build_problem
from noether.spec import parse_spec


def spec_for(width: int, inputs: int, depth: int, samples: int) -> dict:
    return {
        "name": f"bench discovery width {width}",
        "model": {"widths": [inputs] + [width] * depth + [10], "activation": "relu", "bias": True},
        "data": {"kind": "synthetic", "samples": samples, "inputs": inputs, "classes": 10, "separation": 4.0},
        "loss": "nll",
        "dynamics": {"kind": "gd", "lr": 0.01},
        "dtype": "float64",
        "device": "cpu",
    }


def gradient_time(spec: dict, repeats: int = 5) -> float:
    """Median seconds of one full-batch loss and gradient (the baseline)."""
    problem = build_problem(parse_spec(spec))
    problem.loss_and_grad(problem.params)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        problem.loss_and_grad(problem.params)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one(width: int, args) -> dict:
    spec = spec_for(width, args.inputs, args.depth, args.samples)
    base = gradient_time(spec)
    start = time.perf_counter()
    result = discover(spec, DiscoveryOptions(verify=False))
    elapsed = time.perf_counter() - start
    expected = width * args.depth + 10
    model = sum(law.count for law in result.laws if law.kind == "residual" and law.level == "model")
    return {
        "width": width,
        "parameters": result.parameters,
        "candidates": sum(result.candidates.values()),
        "equations": sum(result.equations.values()),
        "generators": model,
        "expected": expected,
        "search_s": elapsed,
        "gradient_s": base,
        "ratio": elapsed / base if base > 0 else float("nan"),
        "timing": result.timing,
        "notes": result.notes,
    }


def table(rows: list[dict]) -> str:
    head = f"{'width':>6} {'params':>9} {'cand.':>7} {'eqs':>6} {'found':>6} {'paper':>6} {'search s':>9} {'grad ms':>8} {'search/grad':>11}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = "" if r["generators"] == r["expected"] else " !"
        lines.append(
            f"{r['width']:>6} {r['parameters']:>9} {r['candidates']:>7} {r['equations']:>6} {r['generators']:>6}"
            f" {r['expected']:>6} {r['search_s']:>9.2f} {1000 * r['gradient_s']:>8.2f} {r['ratio']:>11.0f}{ok}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench discovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", default="8,16,32,64,128,256")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds a discovery may take (--grow)")
    parser.add_argument("--inputs", type=int, default=784)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--grow", action="store_true", help="double the width until the budget is exceeded")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t = time.perf_counter()
    discover(spec_for(4, 8, 2, 64), DiscoveryOptions(verify=False))  # warm-up: torch.func's import
    print(f"warm-up (one-time imports): {time.perf_counter() - t:.1f} s; torch threads {torch.get_num_threads()}", flush=True)
    rows = []
    widths = [int(w) for w in args.widths.split(",") if w]
    for width in widths:
        rows.append(one(width, args))
        print(table(rows).splitlines()[-1], flush=True)
    if args.grow:
        width = widths[-1] if widths else 8
        while rows[-1]["search_s"] <= args.budget and width < 4096:
            width *= 2
            rows.append(one(width, args))
            print(table(rows).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    within = [r for r in rows if r["search_s"] <= args.budget]
    if within:
        best = max(within, key=lambda r: r["parameters"])
        print(
            f"\nlargest network discovered within {args.budget:g} s: width {best['width']} "
            f"({args.inputs}-{'-'.join([str(best['width'])] * args.depth)}-10, {best['parameters']} parameters, "
            f"{best['generators']} generators) in {best['search_s']:.1f} s"
        )
    for r in rows:
        for note in r["notes"]:
            print(f"note (width {r['width']}): {note}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0 if all(r["generators"] == r["expected"] for r in rows) else 1
