"""The dashboard in headless Chromium against a lab it starts: page load, reopening a long run, Compare,
publish-to-draw latency and live lag, page responsiveness.

    python -m bench dashboard [--latency-steps 300000] [--long-seconds 30] [--reopen-steps 200000] [--json out.json]

0. Opening finished runs (times from navigation; each a median of ``--repeat`` loads):
   - page load of a finished toy-nd run: first chart, every 2D chart and the 3D view drawn (mounted) on the run
     page (the 3D view is mounted after the 2D charts: its first draw compiles shaders, in software here);
   - reopen of a finished toy-nd run of ``--reopen-steps`` steps: until the loss chart's drawn curve reaches
     the last step (its whole history, as a min/max envelope), against the baseline measured in the same
     run: until every record has loaded into the page (what drawing the whole history took before);
   - Compare with 3 finished runs: until the comparison chart holds a curve of each run.

1. Latency: a toy run (sphere potential, ND) streams into its run page. A Redis reader in this process
   notes when each batch lands on the run's stream (the worker's publish, within a millisecond);
   the page's live loop notes when each step was on every visible 2D chart, stamped at the next
   animation frame (``window.__noetherDraws``). Delay = drawn - published, per step, for steps
   published once the page is ready (following live, every chart drawn once); the page's load
   (first and last chart drawn, after navigation) is reported beside it. Target: p95 < 250 ms.
   Live lag in records: at each drawn frame, records published so far minus records drawn (p95, max).
2. Responsiveness: a 1e6-step run (record_every 5: 200,000 records) streams for ``--long-seconds``
   while the page records long tasks (PerformanceObserver) and the lag of a 50 ms timer. The same
   timer on the idle page first is the baseline; the ratio is the number to compare across machines.
   Target: no frozen page. "Frozen" here: the page did not answer for FROZEN_MS = 500 ms or more at
   least once (a task that long, or the 50 ms timer that late), or the timer ticked less than half as
   often as it should. 500 ms is where the web's responsiveness metric (INP) rates a page's reply to
   a click "poor"; a user notices the page hang, where 50-200 ms pauses read as a busy page.
Screenshots go to test-artifacts/screenshots/bench-*.png. The 3D view uses WebGL, which headless
Chromium without a GPU renders in software: the worst case for the page.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FROZEN_MS = 500  # a pause this long (a task, or the 50 ms timer's lag) counts as a frozen page
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PROBE = """
window.__bench = {lag: [], long: []};
(function () {
  let last = performance.now();
  setInterval(() => { const t = performance.now(); window.__bench.lag.push(t - last - 50); last = t; }, 50);
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__bench.long.push(e.duration); })
      .observe({type: "longtask", buffered: true});
  } catch (e) { window.__bench.noLongtask = true; }
})();
"""


def toy(steps: int, record_every: int) -> dict:
    return {
        "name": f"bench toy {steps}",
        "potential": {"kind": "sphere", "dim": 3},
        "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
        "dynamics": {"kind": "nd", "lr": 1e-6},
        "steps": steps,
        "record_every": record_every,
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Lab:
    """Redis (a real server), `noether up` on a free port with one worker; stopped on exit."""

    def __init__(self) -> None:
        from lab.redis_server import RedisServer, free_port

        self.dir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
        self.redis = RedisServer(self.dir / "redis", appendonly=False)
        self.redis.start()
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOETHER_")}
        env.update(NOETHER_REDIS_URL=f"{self.redis.url}/0", NOETHER_DATA_DIR=str(self.dir / "data"),
                   NOETHER_PORT=str(self.port), NOETHER_WORKERS="1", PYTHONUNBUFFERED="1")
        self.log = open(self.dir / "up.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).json().get("workers", 0) >= 1:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        self.close()
        raise SystemExit(f"the lab did not start; see {self.dir / 'up.log'}")

    def submit(self, spec: dict) -> str:
        res = httpx.post(f"{self.url}/api/runs", json={"spec": spec}, timeout=30)
        res.raise_for_status()
        return res.json()["id"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.redis.stop()


class StreamTap(threading.Thread):
    """Notes the wall time (epoch ms) at which each record's batch appeared on the run's stream."""

    def __init__(self, redis_url: str, run_id: str) -> None:
        super().__init__(daemon=True)
        import redis

        from workers import keys

        self.r = redis.Redis.from_url(redis_url)
        self.key = keys.series(run_id)
        self.published: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        from workers import keys, series

        last = "0-0"
        while not self.stop.is_set():
            got = self.r.xread({self.key: last}, block=200, count=100)
            now = time.time() * 1000
            for _, entries in got or []:
                for entry_id, fields in entries:
                    last = entry_id
                    if keys.entry_index(entry_id)[1] != 1:
                        continue
                    for rec in series.unpack(fields[b"b"]):
                        self.published.setdefault(rec["step"], now)


# every chart on the page registered with the live loop and drawn once (the page's charts can be in before plotly.js:
# an empty list of charts is not "all drawn")
EVERY_CHART_DRAWN = ("() => { const L = window.NoetherLive; if (!L || !L.state() || !L.state().done) return false;"
                     " const n = document.querySelectorAll('.live-plot').length, c = Object.values(L.stats());"
                     " return n > 0 && c.length === n && c.every((x) => x.mounted_at_ms !== null); }")
READY = ("() => window.NoetherLive && window.NoetherLive.state() && window.NoetherLive.state().mode === 'ws'"
         " && document.querySelectorAll('.live-plot').length > 0"
         " && document.querySelectorAll('.live-plot:not(.js-plotly-plot)').length === 0")


def latency(lab: Lab, page, steps: int) -> dict:
    run_id = lab.submit(toy(steps, 100))
    tap = StreamTap(f"{lab.redis.url}/0", run_id)
    tap.start()
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function(READY, timeout=120_000)  # following live, every chart drawn once
    following_since = time.time() * 1000
    page.wait_for_function("() => window.NoetherLive.state().done", timeout=600_000)
    time.sleep(0.5)
    tap.stop.set()
    draws = page.evaluate("() => window.__noetherDraws")
    mounted = [c["mounted_at_ms"] for c in page.evaluate("() => window.NoetherLive.stats()").values()
               if c.get("mounted_at_ms") is not None]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "bench-latency.png"), timeout=60_000)
    drawn: dict[int, float] = {}
    for d in draws:
        for step in tap.published:
            if d["first"] <= step <= d["last"] and step not in drawn:
                drawn[step] = d["t"]
    delays = [drawn[s] - t for s, t in tap.published.items() if s in drawn and t >= following_since]
    flush_ms = [d["ms"] for d in draws]
    lag = records_behind(tap.published, draws, following_since)
    return {"run": run_id, "points": len(delays), "p50_ms": pct(delays, 0.5), "p95_ms": pct(delays, 0.95),
            "max_ms": max(delays) if delays else float("nan"), "flush_p95_ms": pct(flush_ms, 0.95),
            "first_chart_ms": min(mounted, default=float("nan")), "all_charts_ms": max(mounted, default=float("nan")),
            "lag_records_p95": pct(lag, 0.95), "lag_records_max": max(lag, default=float("nan"))}


def records_behind(published: dict[int, float], draws: list[dict], since: float) -> list[int]:
    """At each drawn frame (after ``since``): the records published by then that were not drawn yet."""
    times = sorted(published.values())
    steps = sorted(published)
    out = []
    for d in draws:
        if d["t"] < since:
            continue
        out_by_then = bisect.bisect_right(times, d["t"])
        drawn = bisect.bisect_right(steps, d["last"])
        out.append(max(0, out_by_then - drawn))
    return out


LOSS_REACH = """(last) => {
  const gd = document.querySelector('#run-graph-loss .js-plotly-plot');
  if (!gd || !gd.data) return false;
  const t = gd.data.find((t) => t.meta && t.meta.y === 'loss');
  return !!t && t.x.length > 0 && t.x[t.x.length - 1] >= last && t.x[0] <= 2;
}"""


def preset_spec(lab: Lab, name: str, **changes) -> dict:
    spec = next(p for p in httpx.get(f"{lab.url}/api/presets", timeout=30).json() if p["name"] == name)["spec"]
    return spec | changes


def finish(lab: Lab, run_id: str, seconds: float = 1800) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rec = httpx.get(f"{lab.url}/api/runs/{run_id}", timeout=30).json()
        if rec.get("status") in ("succeeded", "failed", "cancelled", "diverged") and rec.get("summary") is not None:
            return rec
        time.sleep(0.5)
    raise SystemExit(f"run {run_id} did not finish in {seconds:.0f} s")


def since_navigation(page) -> float:
    return page.evaluate("() => performance.now()")


def opening(lab: Lab, page, reopen_steps: int, reopen_every: int, repeat: int) -> dict:
    """Page load of a finished toy run, reopening a long one, Compare with 3 runs (ms after navigation)."""
    short = [lab.submit(preset_spec(lab, "toy-nd", seed=seed)) for seed in range(3)]
    long_id = lab.submit(preset_spec(lab, "toy-nd", steps=reopen_steps, record_every=reopen_every))
    for run_id in short:
        finish(lab, run_id)
    long_rec = finish(lab, long_id)
    last = long_rec.get("step") or reopen_steps
    records = len(httpx.get(f"{lab.url}/api/runs/{long_id}/series", params={"limit": 100_000, "columns": "loss"},
                            timeout=120).json()["records"])
    first, every, flat, scene, reopen, loaded, compare = [], [], [], [], [], [], []
    for _ in range(repeat):
        page.goto(f"{lab.url}/runs/{short[0]}")
        page.wait_for_function(EVERY_CHART_DRAWN, timeout=120_000)
        charts = page.evaluate("() => window.NoetherLive.stats()").values()
        mounted = [c["mounted_at_ms"] for c in charts]
        first.append(min(mounted))
        every.append(max(mounted))
        flat.append(max((c["mounted_at_ms"] for c in charts if c["kind"] != "gl"), default=float("nan")))
        scene.append(max((c["mounted_at_ms"] for c in charts if c["kind"] == "gl"), default=float("nan")))
        page.goto(f"{lab.url}/runs/{long_id}")
        page.wait_for_function(LOSS_REACH, arg=last, timeout=120_000, polling="raf")
        reopen.append(since_navigation(page))
        page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().done", timeout=600_000,
                               polling=100)
        loaded.append(since_navigation(page))
        page.goto(f"{lab.url}/compare?ids={','.join(short)}")
        page.wait_for_function("() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
                               " return !!g && g.data && new Set(g.data.map((t) => t.legendgroup || t.name)).size >= 3; }",
                               timeout=120_000, polling="raf")
        compare.append(since_navigation(page))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{lab.url}/runs/{long_id}")
    page.wait_for_function(LOSS_REACH, arg=last, timeout=120_000)
    page.screenshot(path=str(SHOTS / "bench-reopen.png"), timeout=60_000)
    return {"page_first_chart_ms": pct(first, 0.5), "page_all_charts_ms": pct(every, 0.5),
            "page_all_2d_charts_ms": pct(flat, 0.5), "page_3d_view_ms": pct(scene, 0.5),
            "reopen_ms": pct(reopen, 0.5), "reopen_all_records_ms": pct(loaded, 0.5), "reopen_steps": last,
            "reopen_records": records,
            "reopen_ratio": pct(reopen, 0.5) / max(pct(loaded, 0.5), 1.0), "compare3_ms": pct(compare, 0.5),
            "repeat": repeat}


def probe(page, seconds: float) -> dict:
    page.evaluate("() => { window.__bench.lag = []; window.__bench.long = []; }")
    time.sleep(seconds)
    b = page.evaluate("() => window.__bench")
    lag = b["lag"]
    return {"lag_p95_ms": pct(lag, 0.95), "lag_max_ms": max(lag) if lag else float("nan"), "ticks": len(lag),
            "long_tasks": len(b["long"]), "longest_task_ms": max(b["long"]) if b["long"] else 0.0}


def responsiveness(lab: Lab, page, seconds: float) -> dict:
    page.goto(f"{lab.url}/runs")
    page.wait_for_selector("#runs-table")
    idle = probe(page, min(5.0, seconds))
    run_id = lab.submit(toy(1_000_000, 5))
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function(READY, timeout=120_000)  # streaming, every chart drawn once
    streaming = probe(page, seconds)
    state = page.evaluate("() => window.NoetherLive.state()")
    charts = page.evaluate("() => window.NoetherLive.stats ? window.NoetherLive.stats() : {}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "bench-1e6.png"), timeout=60_000)
    httpx.post(f"{lab.url}/api/runs/{run_id}/cancel", timeout=30)
    return {"run": run_id, "idle": idle, "streaming": streaming, "records_drawn": state["n"],
            "last_step": state["last_step"], "charts": charts,
            "lag_p95_ratio": streaming["lag_p95_ms"] / max(idle["lag_p95_ms"], 1.0)}


def print_opening(o: dict) -> None:
    print(f"finished run page (toy-nd): first chart {o['page_first_chart_ms']:.0f} ms, every 2D chart "
          f"{o['page_all_2d_charts_ms']:.0f} ms, the 3D view (mounted last) {o['page_3d_view_ms']:.0f} ms after "
          f"navigation (aim 1000 / 1500; median of {o['repeat']})")
    print(f"reopen a finished {o['reopen_steps']:,}-step run ({o['reopen_records']:,} records): whole history drawn "
          f"{o['reopen_ms']:.0f} ms after "
          f"navigation; every record loaded {o['reopen_all_records_ms']:.0f} ms (ratio {o['reopen_ratio']:.2f})")
    print(f"Compare with 3 runs: drawn {o['compare3_ms']:.0f} ms after navigation (aim 1500)")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench dashboard", description=__doc__.splitlines()[0])
    ap.add_argument("--latency-steps", type=int, default=300_000, help="steps of the latency run (record_every 100)")
    ap.add_argument("--long-seconds", type=float, default=30.0, help="seconds to watch the 1e6-step run stream")
    ap.add_argument("--reopen-steps", type=int, default=200_000, help="steps of the toy-nd run reopened when finished")
    ap.add_argument("--reopen-every", type=int, default=20, help="record_every of that run (20: 10,001 records)")
    ap.add_argument("--repeat", type=int, default=3, help="loads per opening measurement (the median is reported)")
    ap.add_argument("--only-opening", action="store_true", help="measure opening finished runs only")
    ap.add_argument("--json", type=Path, help="write the numbers here too")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("no Chromium at /usr/bin/chromium (scripts/install-browser.sh); skipping", file=sys.stderr)
        return 0
    from playwright.sync_api import sync_playwright

    lab = Lab()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.add_init_script(PROBE)
            opened = opening(lab, page, args.reopen_steps, args.reopen_every, args.repeat)
            print_opening(opened)
            if args.only_opening:
                browser.close()
                if args.json:
                    args.json.write_text(json.dumps({"opening": opened}, indent=2))
                return 0
            lat = latency(lab, page, args.latency_steps)
            resp = responsiveness(lab, page, args.long_seconds)
            browser.close()
    finally:
        lab.close()
    s, i = resp["streaming"], resp["idle"]
    print(f"publish -> drawn: p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
          f"over {lat['points']} points (target p95 < 250 ms); one frame's drawing p95 {lat['flush_p95_ms']:.1f} ms")
    print(f"  page load: first chart drawn {lat['first_chart_ms'] / 1000:.1f} s after navigation, "
          f"all {lat['all_charts_ms'] / 1000:.1f} s (latency counted from then)")
    print(f"  live lag: p95 {lat['lag_records_p95']:.0f} records, max {lat['lag_records_max']:.0f} records "
          "published but not yet drawn")
    print(f"1e6-step run, {args.long_seconds:.0f} s streaming, {resp['records_drawn']:,} records drawn "
          f"(up to step {resp['last_step']:,}):")
    print(f"  50 ms timer lag p95 {s['lag_p95_ms']:.0f} ms, max {s['lag_max_ms']:.0f} ms "
          f"(idle page: p95 {i['lag_p95_ms']:.0f} ms, max {i['lag_max_ms']:.0f} ms; ratio {resp['lag_p95_ratio']:.1f})")
    print(f"  long tasks {s['long_tasks']}, longest {s['longest_task_ms']:.0f} ms; timer ticks {s['ticks']}")
    for name, c in sorted(resp.get("charts", {}).items()):
        how = ", ".join(f"{k} {c[k]['n']} x {c[k]['mean_ms']:.1f} ms (max {c[k]['max_ms']:.0f})"
                        for k in ("fast", "full", "mount") if k in c)
        print(f"    {name:24s} {c['kind']:5s} {c['points']:5d} points; {how}")
    frozen = (s["lag_max_ms"] >= FROZEN_MS or s["longest_task_ms"] >= FROZEN_MS
              or s["ticks"] < 0.5 * args.long_seconds * 20)
    print(f"  page {'FROZE' if frozen else 'stayed responsive'} (frozen: a pause of {FROZEN_MS} ms or more); "
          f"screenshots in {SHOTS.relative_to(ROOT)}/bench-*.png")
    if args.json:
        args.json.write_text(json.dumps({"opening": opened, "latency": lat, "responsiveness": resp}, indent=2))
    ok = lat["p95_ms"] < 250 and not frozen
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
