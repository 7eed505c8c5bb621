#!/usr/bin/env bash
# End-to-end smoke test of the two-command promise, as a new user meets it:
#   1. clone this repository into a new temporary directory;
#   2. `make run` there, in the background (creates .venv, installs, starts Redis, a worker, the web server);
#   3. wait for GET /api/health;
#   4. submit one preset run through the API (POST /api/runs);
#   5. wait until it has succeeded, and read its series;
#   6. stop the lab with Ctrl-C (SIGINT) and check that nothing is left running.
# Prints each step; exits non-zero at the first failure, with the tail of the lab's log.
#
#   scripts/smoke.sh                      # clone HEAD of this checkout
#   SMOKE_PRESET=toy-nd scripts/smoke.sh  # another preset (default toy-gf: about a second of work)
#   SMOKE_KEEP=1 scripts/smoke.sh         # keep the temporary directory for inspection
#
# Needs git, make, curl and Python 3.11; no Docker. The first `make run` installs every dependency,
# so allow a few minutes (SMOKE_INSTALL_TIMEOUT, default 900 s).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PRESET="${SMOKE_PRESET:-toy-gf}"
STEPS="${SMOKE_STEPS:-200}"
INSTALL_TIMEOUT="${SMOKE_INSTALL_TIMEOUT:-900}"
RUN_TIMEOUT="${SMOKE_RUN_TIMEOUT:-180}"
STOP_TIMEOUT="${SMOKE_STOP_TIMEOUT:-60}"

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf '\nSMOKE FAILED: %s\n' "$*" >&2
  for f in "${LOG:-}" "$WORK"/noether-lab/data/logs/*.log; do
    [ -n "$f" ] && [ -f "$f" ] || continue
    printf -- '--- last lines of %s ---\n' "$f" >&2
    grep -v -e 'is ignored: it is neither' "$f" | tail -n 30 >&2
  done
  exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/noether-smoke.XXXXXX")"
LAB_PID=""
cleanup() {
  if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
    kill -INT -- "-$LAB_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$LAB_PID" 2>/dev/null || true
  fi
  if [ "${SMOKE_KEEP:-0}" = "1" ]; then
    echo "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

step "1. clone $REPO into $WORK/noether-lab"
git clone --quiet "$REPO" "$WORK/noether-lab"
cd "$WORK/noether-lab"
git log --oneline -1

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
API="http://127.0.0.1:$PORT/api"
LOG="$WORK/make-run.log"

step "2. make run (port $PORT; log $LOG)"
# A fresh user's machine: no Redis URL, so `noether up` starts its own server. setsid gives the lab its
# own process group, so step 6 can send it Ctrl-C as a terminal would.
env -u REDIS_URL -u NOETHER_REDIS_URL NOETHER_PORT="$PORT" NOETHER_HOST=127.0.0.1 \
  setsid make run >"$LOG" 2>&1 < /dev/null &
LAB_PID=$!
echo "make run started (pid $LAB_PID)"

step "3. wait for GET /api/health (the first run installs everything; up to ${INSTALL_TIMEOUT} s)"
started=$(date +%s)
until health="$(curl -fsS --max-time 5 "$API/health" 2>/dev/null)"; do
  kill -0 "$LAB_PID" 2>/dev/null || fail "make run exited before the lab answered"
  [ $(( $(date +%s) - started )) -lt "$INSTALL_TIMEOUT" ] || fail "no answer from $API/health after ${INSTALL_TIMEOUT} s"
  sleep 2
done
echo "healthy after $(( $(date +%s) - started )) s: $health"
code="$(curl -sS --max-time 30 -o "$WORK/index.html" -w '%{http_code}' "http://127.0.0.1:$PORT/" || true)"
[ "$code" = "200" ] || fail "the dashboard at / answered HTTP $code: $(head -c 300 "$WORK/index.html" 2>/dev/null)"
echo "dashboard at http://127.0.0.1:$PORT/ answers"

step "4. POST /api/runs {preset: $PRESET, overrides: {steps: $STEPS}}"
body="$(printf '{"preset": "%s", "overrides": {"steps": %s}, "tags": ["smoke"]}' "$PRESET" "$STEPS")"
created="$(curl -fsS --max-time 30 -H 'Content-Type: application/json' -H 'X-Client-Id: smoke' \
  -d "$body" "$API/runs")" || fail "POST /api/runs was refused"
RUN_ID="$(printf '%s' "$created" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
echo "run $RUN_ID: $(printf '%s' "$created" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["status"])')"

step "5. wait until run $RUN_ID has succeeded (up to ${RUN_TIMEOUT} s)"
started=$(date +%s)
while true; do
  status="$(curl -fsS --max-time 10 "$API/runs/$RUN_ID" \
    | python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["status"], r.get("progress"), r.get("reason") or "")')" \
    || fail "GET /api/runs/$RUN_ID failed"
  set -- $status
  case "$1" in
    succeeded) echo "succeeded after $(( $(date +%s) - started )) s"; break ;;
    failed|cancelled|diverged) fail "run $RUN_ID ended $status" ;;
  esac
  [ $(( $(date +%s) - started )) -lt "$RUN_TIMEOUT" ] || fail "run $RUN_ID still '$status' after ${RUN_TIMEOUT} s"
  sleep 1
done
curl -fsS --max-time 30 -o "$WORK/series.json" "$API/runs/$RUN_ID/series?limit=100000" \
  || fail "GET /api/runs/$RUN_ID/series failed"
python3 - "$WORK/series.json" <<'PY' || fail "the series of run $RUN_ID is missing or malformed"
import json, sys
records = json.load(open(sys.argv[1]))["records"]
assert records, "the run has no records"
steps = [r["step"] for r in records]
assert steps == sorted(set(steps)), "records out of step order, or duplicated"
columns = ", ".join(sorted(records[-1])[:8])
print(f"{len(records)} records, steps {steps[0]}..{steps[-1]}, columns: {columns}, ...")
PY
curl -fsS --max-time 10 -o "$WORK/run.json" "$API/runs/$RUN_ID" || fail "GET /api/runs/$RUN_ID failed"
python3 - "$WORK/run.json" <<'PY' || fail "run $RUN_ID has no summary"
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
assert summary and summary.get("laws"), "no summary with laws"
for law in summary["laws"]:
    print(f"  {law['id']:<28} {law['verdict']}")
PY

step "6. stop the lab with Ctrl-C (SIGINT to its process group)"
kill -INT -- "-$LAB_PID"
started=$(date +%s)
while kill -0 "$LAB_PID" 2>/dev/null; do
  [ $(( $(date +%s) - started )) -lt "$STOP_TIMEOUT" ] || fail "the lab did not stop within ${STOP_TIMEOUT} s of Ctrl-C"
  sleep 0.5
done
echo "stopped after $(( $(date +%s) - started )) s"
sleep 1
if left="$(pgrep -a -f "$WORK/noether-lab" 2>/dev/null)"; then
  fail "processes left running after Ctrl-C:
$left"
fi
if curl -fsS --max-time 2 "$API/health" >/dev/null 2>&1; then
  fail "port $PORT still answers after Ctrl-C"
fi
LAB_PID=""
echo "no process of the lab is left; port $PORT is closed"
printf '\nSMOKE PASSED: fresh clone -> make run -> health -> preset run %s succeeded -> clean stop\n' "$PRESET"
