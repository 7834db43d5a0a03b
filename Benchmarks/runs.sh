#!/usr/bin/env bash
# Benchmarks/runs.sh — the local executor's figures (issue #4): launch-to-running latency p50/p99 of single
# runs on an idle queue, and the throughput of N no-op runs launched at once (runs/s, launch to last success).
#
#   Benchmarks/runs.sh [N]        N no-op runs for the throughput part (default 10000)
#   PROCTOR_BIN                   the proctor binary (default: a release build, .build/release/proctor)
#   SLOTS                         executor slots (default: the number of cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-10000}
source Benchmarks/lib.sh
start_server runs --executor-slots "${SLOTS:-$(nproc)}"

"$PY" - "$BASE" "$TOKEN" "$N" <<'EOF'
import json, sys, threading, time, urllib.request
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
call("POST", "/api/v1/apply", {"definitions": [{"group": "default", "name": "noop", "harness": "shell", "job_file": "true",
     "profiles": [{"name": "DEFAULT", "is_default": True}]}]})
# Latency: one run at a time on an idle queue, launch → the running event.
lat = []
for _ in range(100):
    t0 = time.time()
    run = call("POST", "/api/v1/runs", {"definition": "noop"})
    while True:
        events = call("GET", f"/api/v1/runs/{run['id']}/events?limit=10")["items"]
        if any(e["status"] == "running" for e in events): break
        time.sleep(0.002)
    lat.append(time.time() - t0)
    while call("GET", f"/api/v1/runs/{run['id']}")["status"] not in ("success", "failure", "error", "killed"): time.sleep(0.01)
lat.sort()
print(f"launch-to-running (local executor, idle queue, 100 runs): p50 {lat[49]*1000:.1f} ms, p99 {lat[98]*1000:.1f} ms")
# Throughput: n runs launched by 8 clients at once.
start = time.time()
def launcher(k):
    for _ in range(k, n, 8): call("POST", "/api/v1/runs", {"definition": "noop"})
threads = [threading.Thread(target=launcher, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
launched = time.time()
while call("GET", "/api/v1/runs?filter=status=success&count=true&limit=1")["total"] < n + 100: time.sleep(0.5)
done = time.time()
print(f"{n} no-op runs: launched in {launched - start:.1f} s ({n / (launched - start):.0f} launches/s); "
      f"all succeeded after {done - start:.1f} s: {n / (done - start):.1f} runs/s")
EOF
