#!/usr/bin/env bash
# Benchmarks/runs.sh — the local executor's figures (issue #4): launch-to-running latency p50/p99 of single
# runs on an idle queue, and the throughput of N no-op runs launched at once (runs/s, launch to last success),
# for each sandbox mode asked for: every run in bubblewrap (`serve --sandbox bwrap`, the default) and without a
# sandbox (`--sandbox none`), one fresh server each, so that the sandbox's cost reads off the two lines.
#
#   Benchmarks/runs.sh [N]        N no-op runs for the throughput part (default 10000)
#   SANDBOX                       bwrap or none: that mode only (default: bwrap, then none)
#   PROCTOR_BIN                   the proctor binary (default: a release build, .build/release/proctor)
#   SLOTS                         executor slots (default: the number of cores)
#   LATENCY_RUNS                  single runs for the latency part (default 100)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-10000}
MODES=${SANDBOX:-bwrap none}
for mode in $MODES; do
  case $mode in bwrap|none) ;; *) echo "runs.sh: SANDBOX must be bwrap or none, not '$mode'" >&2; exit 2 ;; esac
done
source Benchmarks/lib.sh

for mode in $MODES; do
  start_server "runs-$mode" --executor-slots "${SLOTS:-$(nproc)}" --sandbox "$mode"
  "$PY" - "$BASE" "$TOKEN" "$N" "$mode" "${LATENCY_RUNS:-100}" <<'EOF'
import json, sys, threading, time, urllib.request
base, token, n, mode, latency_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
FINAL = ("success", "failure", "error", "killed")
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
def wait_for(what, predicate, seconds, pause):
    deadline = time.time() + seconds
    while not predicate():
        if time.time() > deadline: sys.exit(f"runs.sh [{mode}]: gave up after {seconds} s waiting for {what}")
        time.sleep(pause)
call("POST", "/api/v1/apply", {"definitions": [{"group": "default", "name": "noop", "harness": "shell", "job_file": "true",
     "profiles": [{"name": "DEFAULT", "is_default": True}]}]})
# Latency: one run at a time on an idle queue, launch → the running event.
lat = []
for _ in range(latency_runs):
    t0 = time.time()
    run = call("POST", "/api/v1/runs", {"definition": "noop"})
    wait_for(f"run {run['id']} to run", lambda: any(e["status"] == "running" for e in
             call("GET", f"/api/v1/runs/{run['id']}/events?limit=10")["items"]), 60, 0.002)
    lat.append(time.time() - t0)
    wait_for(f"run {run['id']} to end", lambda: call("GET", f"/api/v1/runs/{run['id']}")["status"] in FINAL, 60, 0.01)
    status = call("GET", f"/api/v1/runs/{run['id']}")["status"]
    if status != "success": sys.exit(f"runs.sh [{mode}]: run {run['id']} ended {status}")
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000
print(f"[sandbox {mode}] launch-to-running (local executor, idle queue, {len(lat)} runs): p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms",
      flush=True)
# Throughput: n runs launched by 8 clients at once.
start = time.time()
def launcher(k):
    for _ in range(k, n, 8): call("POST", "/api/v1/runs", {"definition": "noop"})
threads = [threading.Thread(target=launcher, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
launched = time.time()
succeeded = lambda: call("GET", "/api/v1/runs?filter=status=success&count=true&limit=1")["total"] >= n + latency_runs
wait_for(f"{n} runs to succeed", succeeded, max(600, n // 5), 0.5)
done = time.time()
print(f"[sandbox {mode}] {n} no-op runs: launched in {launched - start:.1f} s ({n / (launched - start):.0f} launches/s); "
      f"all succeeded after {done - start:.1f} s: {n / (done - start):.1f} runs/s", flush=True)
EOF
  stop_server
done
