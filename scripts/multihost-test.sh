#!/usr/bin/env bash
# Workers on other hosts, without Docker (`make multihost-test`): Redis and the web service on one
# network namespace, a worker on each of two others (one with its clock skewed by faketime), joined by
# a bridge; runs spread over both hosts, a host cut off mid-run (link down) and brought back, attempt
# fencing and Redis-clocked leases checked. scripts/multihost.py says what is checked and prints it.
#
#   sudo scripts/multihost-test.sh                  # defaults: lease 10 s, host2's clock +420 s
#   sudo scripts/multihost-test.sh --skew -300 --keep
#
# Needs root, iproute2, redis-server, faketime (apt-get install iproute2 redis-server faketime) and this
# checkout's .venv (`make .venv/bin/python` or `make lint`). Not part of `make test`: it takes a few
# minutes and root. Everything it makes (namespaces nl14-*, processes, a temporary folder) is removed.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || { echo "multihost: no $PY; run 'make lint' first" >&2; exit 1; }
exec "$PY" "$REPO/scripts/multihost.py" "$@"
