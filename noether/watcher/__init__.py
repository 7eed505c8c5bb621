"""``noether.watch``: the conserved quantities of any PyTorch training loop, live, with predictions.

    mon = noether.watch(model, optimizer, loss_fn=nn.CrossEntropyLoss())   # or lab="http://127.0.0.1:8050"
    for x, y in batches:
        loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward(); optimizer.step()
    mon.close()                     # or: with noether.watch(...) as mon: ...
    mon.figure()                    # the lab's plotly figures, in a notebook

Symmetries are found from the model (``noether.watcher.detect``), predictions follow the optimiser
(``noether.watcher.predict``), measurement happens on the model's device (``noether.watcher.monitor``).
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from pathlib import Path
from typing import Any

from noether.watcher.detect import Detection, LawSpec, detect
from noether.watcher.folder import FolderSink
from noether.watcher.monitor import MemorySink, Monitor
from noether.watcher.predict import support

__all__ = ["Detection", "FolderSink", "LawSpec", "MemorySink", "Monitor", "detect", "script_name", "support", "watch"]


def script_name() -> str:
    """The running script's file name (``train.py``), or ``python`` in a notebook or a REPL."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.basename(path) if path else "python"


def watch(
    model: Any,
    optimizer: Any,
    loss_fn: Any = None,
    lab: str | None = None,
    token: str | None = None,
    every: int = 10,
    name: str | None = None,
    *,
    out: str | Path | None | bool = None,
    hook: bool = True,
    batch: int = 50,
    buffer: int = 1000,
    tags: list[str] | None = None,
    neurons: bool = False,
    exact: bool = True,
) -> Monitor:
    """Watch ``model`` trained by ``optimizer``: every ``every`` steps, each detected law and its predictions.

    ``lab``: the URL of a running lab (the run appears in Runs, kind "external", tagged with the script's
    name), or None to write a run folder to ``out`` (default ``noether-runs/<name>-<time>``; ``out=False``
    keeps the records in memory only). ``token``: the lab's API token. ``loss_fn``: the loss, to find the
    translation symmetry of a cross-entropy head and (an ``nn.Module``) to record the loss. ``hook=False``:
    call ``mon.step(loss)`` after every ``optimizer.step()`` yourself. ``buffer``: records held for a slow
    lab before dropping (with one warning); training never waits for the lab. ``neurons``: also record each
    rescale law per channel (``<id>:neurons``, heatmaps in the lab; costs a few more tensor ops per record).
    ``exact=False``: the "cheap" mode, no tensor work between records; the quadratic laws lose their exact
    step-by-step prediction and are judged by the modified flow with the kinetic term sampled at the records.
    """
    script = script_name()
    name = name or f"{os.path.splitext(script)[0]}"
    meta = {"script": script, "model": type(model).__name__, "every": every, "tags": ["external", script, *(tags or [])]}
    if lab:
        from noether_remote.lab import LabSink  # outside the core: the core imports no HTTP client

        sink = LabSink(lab, token=token, buffer=buffer)
    elif out is False:
        sink = MemorySink()
    else:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        sink = FolderSink(Path(out) if out else Path("noether-runs") / f"{name}-{stamp}")
    mon = Monitor(model, optimizer, loss_fn, every=every, name=name, sink=sink, batch=batch, hook=hook, meta=meta,
                  neurons=neurons, exact=exact)
    return mon
