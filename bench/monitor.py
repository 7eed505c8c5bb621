"""The cost of ``noether.watch`` on the examples' training loops, against the same loop without it, in the same run.

    python -m bench monitor [--steps 50] [--repeats 21] [--every 10] [--device cpu] [--threads 1] [--mode both]
                            [--json out.json]

For each example (examples/: the digits MLP under SGD with momentum, the BatchNorm CNN under SGD with
momentum and weight decay, the same CNN under AdamW), two copies of the model and optimiser start from
the same weights; blocks of ``--steps`` minibatch steps of the bare loop and of the watched loop
(every detected law recorded every ``--every`` steps, the exact and modified-flow predictions updated
every step, records kept in memory) alternate ``--repeats`` times, so that a noisy, shared machine slows
both alike. The number to read is the median over the pairs of adjacent blocks of watched / bare time per
step (goal <= 1.05): a pair shares the machine's load of its moment, which medians taken apart do not.
``--mode`` exact (the default of ``noether.watch``: every step updates the exact predictions), cheap
(``exact=False``: no tensor work between records) or both.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import noether

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from digits import batches, cnn, digits, mlp  # noqa: E402

EXAMPLES = {
    "mlp + sgd momentum": (mlp, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "cnn + batchnorm + sgd momentum + wd": (cnn, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9,
                                                                          weight_decay=5e-3)),
    "cnn + adamw (control)": (cnn, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2)),
}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def block(model, opt, loss_fn, data, steps: int, device: str) -> float:
    """Seconds per step of ``steps`` steps."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        xb, yb = next(data)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def measure(name: str, steps: int, repeats: int, every: int, device: str, exact: bool = True) -> dict:
    make_model, make_opt = EXAMPLES[name]
    torch.manual_seed(0)
    x, y = digits(device)
    bare_model = make_model().to(device)
    watched_model = copy.deepcopy(bare_model)
    bare_opt, watched_opt = make_opt(bare_model.parameters()), make_opt(watched_model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    bare_data, watched_data = batches(x, y, 64, seed=1), batches(x, y, 64, seed=1)
    mon = noether.watch(watched_model, watched_opt, loss_fn, every=every, out=False, name=name, exact=exact)
    block(bare_model, bare_opt, loss_fn, bare_data, 10, device)  # warm up both
    block(watched_model, watched_opt, loss_fn, watched_data, 10, device)
    bare, watched = [], []
    for _ in range(repeats):
        bare.append(block(bare_model, bare_opt, loss_fn, bare_data, steps, device))
        watched.append(block(watched_model, watched_opt, loss_fn, watched_data, steps, device))
    summary = mon.close()
    b, w = statistics.median(bare), statistics.median(watched)
    paired = statistics.median(wi / bi for wi, bi in zip(watched, bare, strict=True))
    return {"example": name, "mode": "exact" if exact else "cheap", "laws": len(mon.laws), "records": len(mon.records), "bare_ms": b * 1e3,
            "watched_ms": w * 1e3, "ratio": paired,
            "verdicts": sorted({law.verdict for law in summary.laws})}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench monitor", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mode", choices=("exact", "cheap", "both"), default="both")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"noether.watch overhead, every law every {args.every} steps, {args.device}, "
          f"{torch.get_num_threads()} thread(s), {args.repeats} pairs of alternating blocks of {args.steps} steps")
    print(f"{'example':38s} {'mode':>5s} {'laws':>4s} {'bare ms/step':>13s} {'watched ms/step':>16s} {'ratio':>7s}"
          "  (median pair)")
    modes = {"exact": [True], "cheap": [False], "both": [True, False]}[args.mode]
    rows = []
    for name in EXAMPLES:
        for exact in modes:
            row = measure(name, args.steps, args.repeats, args.every, args.device, exact)
            rows.append(row)
            print(f"{name:38s} {row['mode']:>5s} {row['laws']:4d} {row['bare_ms']:13.3f} {row['watched_ms']:16.3f} "
                  f"{row['ratio']:7.3f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
