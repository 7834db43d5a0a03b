#!/usr/bin/env bash
# Benchmarks/http.sh — the native API under wrk (issue #3): GET /api/v1/runs/{id}, a filtered list page and the
# no-op route /livez of the same server, in the same run; req/s, p99 and each route's ratio to the no-op route.
#
#   Benchmarks/http.sh [RUNS]     runs to seed first (default 20000)
#   PROCTOR_BIN                   the proctor binary (default: a release build, .build/release/proctor)
#   DURATION, CONNECTIONS         wrk's -d and -c (default 10s, 16)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-20000}
command -v wrk >/dev/null || { echo "http.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
source Benchmarks/lib.sh
start_server http

# Seed bare runs (reported by a client, so nothing executes) with a status and a label to filter on.
RUN_ID=$("$PY" - "$BASE" "$TOKEN" "$RUNS" <<'PYEOF'
import json, sys, threading, urllib.request
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
ids = []
def seed(k):
    for i in range(k, n, 8):
        run = call("POST", "/api/v1/runs", {"name": f"run-{i}", "labels": {"branch": "main" if i % 4 else "stable"}})
        if i % 10 != 0:
            call("POST", f"/api/v1/runs/{run['id']}/status", {"status": "running"})
            call("POST", f"/api/v1/runs/{run['id']}/status", {"status": "success" if i % 7 else "failure"})
        if i == n // 2: ids.append(run["id"])
threads = [threading.Thread(target=seed, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(ids[0])
PYEOF
)
echo "seeded $RUNS runs; measuring with wrk -t1 -c${CONNECTIONS:-16} -d${DURATION:-10s}"

measure() { # name path → "req/s p99_ms"
  local out
  out=$(wrk -t1 -c"${CONNECTIONS:-16}" -d"${DURATION:-10s}" --latency -H "Authorization: Bearer $TOKEN" "$BASE$2")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  [ -z "$errors" ] || { echo "http.sh: $1 answered non-2xx ($errors):" >&2; echo "$out" >&2; exit 1; }
  echo "$rps $p99"
}
read -r NOOP_RPS NOOP_P99 < <(measure "no-op" "/livez")
read -r GET_RPS GET_P99 < <(measure "get" "/api/v1/runs/$RUN_ID")
LIST_PATH="/api/v1/runs?filter=status%3Dsuccess&filter=labels.branch%3Dmain&sort=-created_at&limit=50"
read -r LIST_RPS LIST_P99 < <(measure "list" "$LIST_PATH")
"$PY" - "$NOOP_RPS" "$NOOP_P99" "$GET_RPS" "$GET_P99" "$LIST_RPS" "$LIST_P99" <<'PYEOF'
import sys
n_rps, n_p99, g_rps, g_p99, l_rps, l_p99 = sys.argv[1:]
n = float(n_rps)
for name, rps, p99 in [("GET /livez (no-op)", n_rps, n_p99), ("GET /api/v1/runs/{id}", g_rps, g_p99),
                       ("GET /api/v1/runs filtered page of 50", l_rps, l_p99)]:
    print(f"{name:40} {float(rps):9.0f} req/s  p99 {p99:>9}  ratio to no-op {float(rps) / n:5.2f}")
PYEOF
