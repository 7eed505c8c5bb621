"""Workers on other hosts, without Docker: three network namespaces on one machine (scripts/multihost-test.sh).

    head   10.231.0.1   Redis (redis-server) and the web service (`noether api`), the run store
    host1  10.231.0.2   one worker (`noether worker --name host1`)
    host2  10.231.0.3   one worker whose clock is SKEW seconds ahead (faketime; --skew 0 for none)

joined by a bridge in a fourth namespace (the "switch"), as docker-compose.worker.yml intends for GPU
hosts that reach the head's Redis. The run store is one folder that every host writes (a shared file
system). Checks, in order:

1. spread: 6 short runs submitted at once finish on both hosts; the skewed host's leases have the TTL
   asked for (Redis counts it) and its timestamps are Redis's, not its clock's;
2. cut: a long run is running on some host when that host's switch port goes down; the reaper
   re-queues it within the lease (time from the cut printed), the other host runs it to the end,
   and its series equals a reference computed here from the same spec, record for record;
3. back: the cut host's port comes up again while its old attempt is still alive; nothing it still
   sends lands (attempt fencing): the finished record, its stream and its archive stay exactly as
   they were, with no duplicate; the host then serves the queue again.

Run as root (it makes namespaces): `scripts/multihost-test.sh` (or `make multihost-test`). It removes
every namespace and process it made, whatever happens. Exit status 0 only if every check held.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PREFIX = "nl14"
SUBNET = "10.231.0"
HOSTS = {"head": f"{SUBNET}.1", "host1": f"{SUBNET}.2", "host2": f"{SUBNET}.3"}
PASSWORD = "multihost"
PORT = 8050
REDIS_URL = f"redis://:{PASSWORD}@{HOSTS['head']}:6379/0"
API = f"http://{HOSTS['head']}:{PORT}/api"


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


# --- the network -----------------------------------------------------------------------------------
def port_of(host: str) -> str:
    return f"{PREFIX}-{host}-p"  # the host's port on the switch (its veth peer)


def make_network() -> None:
    teardown_network()
    sw = ns("sw")
    sh("ip", "netns", "add", sw)
    sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", sw, "link", "set", "br0", "up")
    for host, addr in HOSTS.items():
        n, inner, outer = ns(host), f"{PREFIX}-{host}-e", port_of(host)
        sh("ip", "netns", "add", n)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", n)
        sh("ip", "-n", n, "link", "set", inner, "name", "eth0")
        sh("ip", "link", "set", outer, "netns", sw)
        sh("ip", "-n", sw, "link", "set", outer, "master", "br0")
        sh("ip", "-n", sw, "link", "set", outer, "up")
        sh("ip", "-n", n, "addr", "add", f"{addr}/24", "dev", "eth0")
        sh("ip", "-n", n, "link", "set", "eth0", "up")
        sh("ip", "-n", n, "link", "set", "lo", "up")


def teardown_network() -> None:
    for host in (*HOSTS, "sw"):
        n = ns(host)
        pids = sh("ip", "netns", "pids", n, check=False).stdout.split()
        for pid in pids:  # only processes this test started live in its namespaces
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", n, check=False)


def link(host: str, up: bool) -> None:
    sh("ip", "-n", ns("sw"), "link", "set", port_of(host), "up" if up else "down")


# --- processes -------------------------------------------------------------------------------------
class Procs:
    def __init__(self, work: Path):
        self.work = work
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, host: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("NOETHER_")}
        full_env.update(env or {})
        log = open(self.work / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            ["ip", "netns", "exec", ns(host), *argv], stdout=log, stderr=subprocess.STDOUT, env=full_env,
            cwd=self.work, start_new_session=True,
        )

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 20
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")


# --- API helpers (run inside the head namespace) -----------------------------------------------------
def api(path: str, body: Any = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, headers={"Content-Type": "application/json",
                                                                  "X-Client-Id": "multihost"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def wait(pred: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            got = pred()
        except Exception:  # noqa: BLE001 - a service not up yet, a connection being re-made: ask again
            got = None
        if got:
            return got
        time.sleep(interval)
    raise SystemExit(f"MULTIHOST FAILED: {what} (waited {timeout:.0f} s)")


def submit(steps: int, preset: str) -> str:
    return api("/runs", {"preset": preset, "overrides": {"steps": steps}, "tags": ["multihost"]})["id"]


def host_of(worker: str | None) -> str:
    return (worker or "?").split("-")[0]


def finished(ids: list[str], timeout: float) -> list[dict]:
    out: dict[str, dict] = {}

    def all_done() -> bool:
        for rid in ids:
            if rid not in out:
                rec = api(f"/runs/{rid}")
                if rec["status"] in ("failed", "cancelled", "diverged"):
                    raise SystemExit(f"MULTIHOST FAILED: run {rid} ended {rec['status']}: {rec.get('reason')}")
                if rec["status"] == "succeeded":
                    out[rid] = rec
        return len(out) == len(ids)

    wait(all_done, timeout, f"{len(ids)} runs to succeed", interval=0.5)
    return [out[rid] for rid in ids]


def parse_ts(ts: str) -> float:
    from datetime import UTC, datetime

    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def series_of(run_id: str) -> list[dict]:
    """Every record the API serves for the run, page by page."""
    out: list[dict] = []
    while True:
        page = api(f"/runs/{run_id}/series?after={len(out)}&limit=100000", timeout=60)
        out += page["records"]
        if not page["records"]:
            return out


def reference_series(spec: dict) -> list[dict]:
    """The same spec simulated here, as the API would serve it (NaN as null, JSON numbers)."""
    import noether
    from workers import series

    sim = noether.simulate(spec)
    return json.loads(json.dumps([series.clean(rec) for rec in sim]))


def old_attempt_outcome(r: Any, run_id: str) -> str | None:
    """What attempt 1's work horse ended with, as the queue library recorded it (None: nothing yet)."""
    from rq.job import Job

    try:
        res = Job.fetch(f"{run_id}_a1", connection=r).latest_result()
    except Exception:  # noqa: BLE001 - not there (yet): the caller asks again
        return None
    if res is None:
        return None
    if res.return_value is not None:
        return f"returned {res.return_value!r} (it saw it was superseded and published nothing more)"
    last = (res.exc_string or "").strip().splitlines()[-1:] or ["?"]
    return f"ended with {last[0][:150]}"


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


# --- the test itself ---------------------------------------------------------------------------------
def inside(args: argparse.Namespace) -> int:
    import redis

    work = Path(args.work)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    procs = Procs(work)
    lease_ms = int(args.lease * 1000)
    common = {"NOETHER_REDIS_URL": REDIS_URL, "NOETHER_DATA_DIR": str(data), "NOETHER_LEASE_SECONDS": str(args.lease),
              "NOETHER_WORKER_DEVICE": "cpu"}
    noether = str(VENV_BIN / "noether")
    t0 = time.time()

    def say(msg: str) -> None:
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    try:
        procs.start("redis", "head", ["redis-server", "--bind", HOSTS["head"], "--port", "6379", "--requirepass",
                                      PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(work)])
        r = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        wait(lambda: r.ping(), 30, "redis on the head")
        procs.start("web", "head", [noether, "api", "--host", HOSTS["head"], "--port", str(PORT)], common)
        wait(lambda: api("/health", timeout=5), 180, "the web service on the head")
        procs.start("worker-host1", "host1", [noether, "worker", "--name", "host1"], common)
        skewed = ["faketime", "-f", f"{args.skew:+d}s"] if args.skew else []
        # Only the wall clock is skewed (a host without NTP); libfaketime's default also shifts the
        # monotonic clock, which makes Python's Event.wait(timeout) sleep forever (sem_clockwait is not
        # intercepted), so that every heartbeat thread on the host would stop: not what a skewed host does.
        skew_env = {**common, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        procs.start("worker-host2", "host2", [*skewed, noether, "worker", "--name", "host2"], skew_env)
        wait(lambda: r.exists("noether:workers:host1") and r.exists("noether:workers:host2"), 180,
             "both workers to register")
        say(f"head {HOSTS['head']} (redis + web), host1 {HOSTS['host1']}, host2 {HOSTS['host2']} "
            f"(clock {args.skew:+d} s); lease {args.lease:g} s")
        clock2 = subprocess.run(["ip", "netns", "exec", ns("host2"), *skewed, "date", "-u", "+%s"], text=True,
                                capture_output=True, env=dict(os.environ, FAKETIME_DONT_FAKE_MONOTONIC="1")).stdout.strip()
        server = r.time()[0]
        say(f"host2's clock reads {int(clock2) - int(server):+d} s from Redis TIME")

        # 1. spread, and the skewed host's leases -----------------------------------------------------
        ids = [submit(args.short_steps, args.preset) for _ in range(6)]
        ttls: dict[str, int] = {}
        low: dict[str, int] = {}
        deadline = time.time() + 600
        done: list[dict] = []
        while time.time() < deadline:
            for raw in r.smembers("noether:running"):
                rid = raw.decode()
                ttl, worker = r.pttl(f"noether:lease:{rid}"), r.hget(f"noether:run:{rid}", "worker")
                if ttl > 0 and worker:
                    h = host_of(worker.decode())
                    ttls[h] = max(ttls.get(h, 0), ttl)
                    low[h] = min(low.get(h, lease_ms), ttl)
            states = [api(f"/runs/{rid}") for rid in ids]
            if all(s["status"] in ("succeeded", "failed", "cancelled", "diverged") for s in states):
                done = states
                break
            time.sleep(0.05)
        assert done and all(s["status"] == "succeeded" for s in done), [s["status"] for s in done]
        per_host: dict[str, int] = {}
        for rec in done:
            per_host[host_of(rec["worker"])] = per_host.get(host_of(rec["worker"]), 0) + 1
        say(f"1. spread: 6 runs -> runs per host {dict(sorted(per_host.items()))}")
        assert set(per_host) == {"host1", "host2"}, f"runs did not spread over both hosts: {per_host}"
        assert all(rec["attempt"] == 1 for rec in done), "a run was re-queued although no host failed"
        say(f"   lease TTL seen per host (Redis PTTL, asked {lease_ms} ms): highest {dict(sorted(ttls.items()))}, "
            f"lowest {dict(sorted(low.items()))}")
        assert all(0 < t <= lease_ms for t in ttls.values()), "a lease outlived what was asked"
        assert all(t > lease_ms / 5 for t in low.values()), "a host stopped renewing its leases in time"
        offsets = []
        for rec in done:
            if host_of(rec["worker"]) == "host2":
                created = parse_ts(rec["created_at"])
                offsets += [parse_ts(rec["started_at"]) - created, parse_ts(rec["finished_at"]) - created]
        say(f"   host2's started_at/finished_at minus created_at (head): {min(offsets):.1f}..{max(offsets):.1f} s "
            f"(its own clock is {args.skew:+d} s off)")
        assert all(-1 < o < 120 for o in offsets), "the skewed host wrote timestamps from its own clock"

        # 2. cut a host mid-run ------------------------------------------------------------------------
        long_id = submit(args.long_steps, args.preset)
        rec = wait(lambda: (x := api(f"/runs/{long_id}"))["status"] == "running" and x["progress"] >= 0.2 and x,
                   300, "the long run to be 20% done", interval=0.05)
        cut_host = host_of(rec["worker"])
        other = "host2" if cut_host == "host1" else "host1"
        link(cut_host, up=False)
        t_cut = time.time()
        say(f"2. cut: run {long_id} at step {rec['step']}/{rec['steps']} on {cut_host}: its switch port is down")
        requeued = wait(lambda: ((x := api(f"/runs/{long_id}"))["attempt"] >= 2 or x["status"] == "queued") and x,
                        args.lease * 4 + 30, "the cut run to be re-queued", interval=0.05)
        t_requeue = time.time() - t_cut
        say(f"   re-queued {t_requeue:.1f} s after the cut (lease {args.lease:g} s + reaper period "
            f"{min(2.5, max(0.2, args.lease / 4)):g} s): {requeued.get('reason') or requeued['status']}")
        # 3. the cut host comes back while its old attempt is still alive (it has been blocked on its
        #    socket since the cut; redis-py gives up after 30 s), as the new attempt runs or has ended
        wait(lambda: (x := api(f"/runs/{long_id}"))["status"] != "queued" and x, 120, "the re-run to start")
        time.sleep(max(0.0, args.back_after - (time.time() - t_cut)))
        link(cut_host, up=True)
        t_back = time.time()
        now = api(f"/runs/{long_id}")
        say(f"3. back: {cut_host}'s port is up again {t_back - t_cut:.1f} s after the cut; the run is then "
            f"{now['status']} on {host_of(now['worker'])} (attempt {now['attempt']}, step {now['step']})")
        outcome, t_outcome = None, None
        while time.time() - t_back < 50 and outcome is None:  # RQ keeps a job's return value for 60 s
            outcome = old_attempt_outcome(r, long_id)
            t_outcome = time.time() - t_back
            time.sleep(0.5)
        say(f"   the old attempt on {cut_host} (RQ job {long_id}_a1), {t_outcome:.1f} s after the port came up: "
            f"{outcome or 'no outcome recorded yet'}")
        wait(lambda: r.exists(f"noether:workers:{cut_host}"), 180, f"{cut_host} to register again")
        say(f"   {cut_host}'s worker is registered again {time.time() - t_back:.1f} s after its port came up")
        rec = finished([long_id], 900)[0]
        t_finish = time.time() - t_cut
        say(f"   finished ({rec['status']}) on {host_of(rec['worker'])}, attempt {rec['attempt']}, "
            f"{t_finish:.1f} s after the cut")
        assert host_of(rec["worker"]) == other and rec["attempt"] == 2, rec
        key = f"noether:run:{long_id}"
        run_dir = data / "runs" / long_id
        wait(lambda: run_dir.exists() and r.hget(key, "archived") == b"1", 60, "the finished run to be archived")
        before = {k.decode(): v.decode() for k, v in r.hgetall(key).items()}
        stream_before = (r.xlen(f"noether:series:{long_id}"), r.xrevrange(f"noether:series:{long_id}", count=1))
        archive_before = tree_digest(run_dir)
        served = series_of(long_id)
        ref = reference_series(rec["spec"])
        steps = [x["step"] for x in served]
        exact = served == ref
        say(f"   exact series: {len(served)} records served, {len(ref)} in the reference simulated here, "
            f"steps {steps[0]}..{steps[-1]}, no duplicate: {len(set(steps)) == len(steps)}, "
            f"identical record for record: {exact}")
        assert exact, "the series of the re-run differs from the reference"
        time.sleep(max(0.0, args.watch - (time.time() - t_back)))  # whatever the old attempt still sends has landed
        after = {k.decode(): v.decode() for k, v in r.hgetall(key).items()}
        stream_after = (r.xlen(f"noether:series:{long_id}"), r.xrevrange(f"noether:series:{long_id}", count=1))
        archive_after = tree_digest(run_dir)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        served_after = series_of(long_id)
        say(f"   {time.time() - t_back:.0f} s after: record fields changed: {sorted(changed) or 'none'}; stream entries {stream_before[0]} -> "
            f"{stream_after[0]}; archive {archive_before} -> {archive_after}; series unchanged: "
            f"{served_after == served}")
        assert not changed and stream_before == stream_after and archive_before == archive_after
        assert served_after == served
        dirs = [p.name for p in (data / "runs").iterdir() if long_id in p.name]
        assert dirs == [long_id], f"the run store holds {dirs}"
        ids = [submit(args.short_steps, args.preset) for _ in range(6)]
        recs = finished(ids, 600)
        back_hosts: dict[str, int] = {}
        for x in recs:
            back_hosts[host_of(x["worker"])] = back_hosts.get(host_of(x["worker"]), 0) + 1
            per_host[host_of(x["worker"])] = per_host.get(host_of(x["worker"]), 0) + 1
        per_host[host_of(rec["worker"])] += 1
        say(f"   6 more runs after the return -> runs per host {dict(sorted(back_hosts.items()))}")

        print("\nMULTIHOST PASSED")
        print(f"  runs per host (all {sum(per_host.values())}): {dict(sorted(per_host.items()))}")
        print(f"  cut -> re-queue: {t_requeue:.1f} s (lease {args.lease:g} s); cut -> finished on {other}: "
              f"{t_finish:.1f} s")
        print(f"  exact series: {len(served)} records identical to the reference; after the cut host came back: "
              f"record, stream and archive unchanged")
        print(f"  skewed clock ({args.skew:+d} s on host2): leases at most {lease_ms} ms in Redis, timestamps "
              f"within {max(offsets):.1f} s of the head's")
        return 0
    finally:
        procs.stop_all()
        if args.keep:
            print(f"logs kept in {work}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--lease", type=float, default=10.0, help="NOETHER_LEASE_SECONDS of every process (default 10)")
    p.add_argument("--skew", type=int, default=420, help="seconds host2's clock is ahead (faketime; default 420)")
    p.add_argument("--preset", default="toy-gf")
    p.add_argument("--short-steps", type=int, default=4000)
    p.add_argument("--long-steps", type=int, default=20000, help="steps of the run that is cut (10-20 s here)")
    p.add_argument("--watch", type=float, default=40.0, help="seconds to watch the run after the host is back")
    p.add_argument("--back-after", type=float, default=22.0,
                   help="seconds from the cut until the host comes back (before its old attempt's 30 s socket timeout)")
    p.add_argument("--keep", action="store_true", help="keep the logs and the run store")
    args = p.parse_args()
    if args.inside:
        return inside(args)
    if os.geteuid() != 0:
        raise SystemExit("multihost: needs root (it makes network namespaces)")
    for tool in ("ip", "redis-server") + (("faketime",) if args.skew else ()):
        if not shutil.which(tool):
            raise SystemExit(f"multihost: needs {tool} (apt-get install iproute2 redis-server faketime)")
    work = Path(tempfile.mkdtemp(prefix="noether-multihost."))
    try:
        make_network()
        argv = [sys.executable, __file__, "--inside", "--work", str(work)] + sys.argv[1:]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        return subprocess.run(["ip", "netns", "exec", ns("head"), *argv], env=env).returncode
    finally:
        teardown_network()
        left = [n for n in sh("ip", "netns", "list").stdout.split() if n.startswith(PREFIX + "-")]
        print(f"namespaces left: {left or 'none'}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
