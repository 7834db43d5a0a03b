#!/usr/bin/env bash
# Tests/e2e/replicas.sh — on PostgreSQL, two `proctor serve` replicas and four agents execute every launched
# no-op run exactly once. A sandboxed job cannot write a file of the host, so each run reports its id to a
# loopback counter (lib.sh e2e_counter), which appends it to a file; the file must hold each launched id once.
# It also prints the throughput (runs/s) and the launch-to-running latency p50/p99. Then, across the replicas:
# a log line appended through one reaches a follower long-polling the other (PostgreSQL's LISTEN/NOTIFY wakes
# it; p50/p99 printed), and, with an S3 peer (PROCTOR_TEST_S3_URL, which scripts/test starts), both replicas
# keep files in one bucket: a 200 MiB file uploaded through one downloads through the other byte for byte, and
# neither replica's peak memory grows by anything near its size.
#
#   RUNS=2000 (default)   how many runs to launch
#   PROCTOR_TEST_POSTGRES_URL   a server to use (else a throwaway one from scripts/postgres.sh)
#   PROCTOR_TEST_S3_URL   an S3-compatible store (moto) for --file-store; without it, one started from the venv's
#                         moto_server; without either the file check is skipped
#   PROCTOR_BIN           the proctor binary (default .build/debug/proctor)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup replicas
RUNS=${RUNS:-2000}
PIDS=()
REPLICA_PIDS=()
PGDIR=
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  e2e_kill_leftovers
  [ -n "$PGDIR" ] && scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  { echo "replicas.sh: FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -15 "$f"; done
    echo "--- processes mentioning $WORK"; e2e_leftovers; } >&2
  exit 1
}

URL_DB=${PROCTOR_TEST_POSTGRES_URL:-}
if [ -z "$URL_DB" ]; then PGDIR=$WORK/pg; URL_DB=$(scripts/postgres.sh start "$PGDIR"); fi
# A private database so that earlier runs leave nothing behind.
DB=proctor_e2e_$$
psql "$URL_DB" -qc "CREATE DATABASE $DB" >/dev/null
URL_DB=${URL_DB%/*}/$DB

# Both replicas keep their files in one bucket of the S3 peer (moto accepts any credentials): the one the test
# command started, else one of our own from the venv's moto_server.
FILE_STORE=()
if [ -z "${PROCTOR_TEST_S3_URL:-}" ] && [ -x "$ROOT/.venv/bin/moto_server" ]; then
  S3PORT=$(free_port)
  "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!); disown $!
  PROCTOR_TEST_S3_URL=http://127.0.0.1:$S3PORT
  for _ in $(seq 100); do curl -s -o /dev/null "$PROCTOR_TEST_S3_URL/" && break; sleep 0.2; done
fi
if [ -n "${PROCTOR_TEST_S3_URL:-}" ]; then
  BUCKET=proctor-e2e-$$
  curl -sf -X PUT "$PROCTOR_TEST_S3_URL/$BUCKET" >/dev/null || fail "could not create the bucket $BUCKET at $PROCTOR_TEST_S3_URL"
  FILE_STORE=(--file-store "s3://$BUCKET/files" --s3-endpoint "$PROCTOR_TEST_S3_URL" --s3-access-key testing
    --s3-secret-key testing --max-file-bytes $((256 << 20)))
fi

TOKEN=pt_e2e_replicas_admin_token_00000
PORTS=($(free_port) $(free_port))
for i in 0 1; do
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "${PORTS[$i]}" --data-dir "$WORK/data$i" --database-url "$URL_DB" \
    --executor-slots 0 --lease-seconds 10 --work-root "$WORK/server$i-runs" --log-level warning \
    ${FILE_STORE[@]+"${FILE_STORE[@]}"} >"$WORK/server$i.log" 2>&1 &
  PIDS+=($!); disown $!
  REPLICA_PIDS+=("${PIDS[-1]}")
  wait_healthy "http://127.0.0.1:${PORTS[$i]}" "${PIDS[-1]}" || fail "replica $i did not start"
done
A=http://127.0.0.1:${PORTS[0]}
MARKER=$WORK/executions.txt
e2e_counter "$MARKER" || fail "the loopback counter did not start"
PIDS+=($COUNTER_PID)
"$PY" - "$(report_command ran)" >"$WORK/lab.json" <<'EOF'
import json, sys
print(json.dumps({"engines": [{"group": "default", "name": "agents", "type": "agent", "labels": ["noop"]}],
  "definitions": [{"group": "default", "name": "noop", "harness": "shell", "job_file": sys.argv[1],
    "profiles": [{"name": "DEFAULT", "is_default": True, "engine": "agents", "max_run_time": 60}]}]}))
EOF
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data @"$WORK/lab.json" "$A/api/v1/apply" >/dev/null || fail apply

for i in 0 1 2 3; do
  PROCTOR_URL=http://127.0.0.1:${PORTS[$((i % 2))]} PROCTOR_TOKEN=$TOKEN "$BIN" agent --name "agent-$i" --label noop --slots 2 \
    --work-dir "$WORK/agent$i" --log-level warning >"$WORK/agent$i.log" 2>&1 &
  PIDS+=($!); disown $!
done

"$PY" - "$TOKEN" "$RUNS" "$MARKER" "http://127.0.0.1:${PORTS[0]}" "http://127.0.0.1:${PORTS[1]}" <<'EOF' || fail "see above"
import json, sys, threading, time, urllib.request
token, runs, marker, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def call(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)
ids, lock = [], threading.Lock()
def launcher(k):
    for n in range(k, runs, 8):
        run = call(servers[n % 2], "POST", "/api/v1/runs", {"definition": "noop"})
        with lock: ids.append(run["id"])
start = time.time()
threads = [threading.Thread(target=launcher, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
launched = time.time()
done, progressed = 0, time.time()
while time.time() - launched < 600 and time.time() - progressed < 60:   # give up after a minute without progress
    page = call(servers[0], "GET", "/api/v1/runs?filter=status=success&count=true&limit=1")
    if page["total"] > done: done, progressed = page["total"], time.time()
    if done >= runs: break
    time.sleep(0.5)
finished = time.time()
lines = [line.split()[1] for line in open(marker).read().splitlines() if line.startswith("ran ")]
dupes = len(lines) - len(set(lines))
print(f"replicas.sh: {runs} runs launched in {launched - start:.1f} s, all done {finished - start:.1f} s after the first launch; "
      f"throughput {runs / (finished - start):.0f} runs/s; executions recorded {len(lines)}, duplicates {dupes}")
# launch-to-running latency from the events of a sample
lat = []
for rid in ids[:: max(1, runs // 200)]:
    ev = call(servers[0], "GET", f"/api/v1/runs/{rid}/events?limit=20&sort=seq")["items"]
    t = {e["status"]: e["created_at"] for e in ev}
    from datetime import datetime
    p = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    if "new" in t and "running" in t: lat.append(p(t["running"]) - p(t["new"]))
lat.sort()
if lat:
    print(f"replicas.sh: launch-to-running p50 {lat[len(lat)//2]*1000:.0f} ms, p99 {lat[int(len(lat)*0.99)]*1000:.0f} ms (sample {len(lat)})")
if done < runs:
    stuck = call(servers[0], "GET", "/api/v1/runs?filter=status!=success&limit=20&fields=id,status,claimed_by,attempts")["items"]
    print("replicas.sh: runs not succeeded (first 20):", *(f"{r['id']} {r['status']} {r.get('claimed_by')} attempts {r.get('attempts')}" for r in stuck), sep="\n  ")
assert done >= runs, f"only {done} of {runs} runs succeeded"
assert len(lines) == runs and dupes == 0 and set(lines) == set(ids), "some run executed twice or never"
print("replicas.sh: ok (every run executed exactly once)")
EOF

# Live events and files across the replicas.
"$PY" - "$TOKEN" "${PROCTOR_TEST_S3_URL:+s3}" "http://127.0.0.1:${PORTS[0]}" "http://127.0.0.1:${PORTS[1]}" \
  "${REPLICA_PIDS[0]}" "${REPLICA_PIDS[1]}" <<'EOF' || fail "see above"
import hashlib, json, os, sys, threading, time, urllib.request
token, s3, a, b = sys.argv[1], sys.argv[2] == "s3", sys.argv[3], sys.argv[4]
pids = sys.argv[5:7]
def peak_mb(pid):  # the process's peak resident memory so far (VmHWM), in MB
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def call(server, method, path, body=None, raw=False):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
    req = urllib.request.Request(server + path, data=data, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": kind})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read() if raw else json.load(r)
run = call(a, "POST", "/api/v1/runs", {"name": "live"})["id"]
call(a, "POST", f"/api/v1/runs/{run}/status", {"status": "running"})
# A follower long-polls replica B; each line is appended through replica A. The follower's own timer re-reads
# every second, so only delays well under 500 ms show that the other replica's notification woke it.
delays, offset = [], 0
for n in range(40):
    line = f"line {n} from replica A\n"
    got = {}
    def follow():
        got["text"] = call(b, "GET", f"/api/v1/runs/{run}/log?offset={offset}&wait=30", raw=True).decode()
        got["at"] = time.monotonic()
    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.05)  # the follower is waiting
    sent = time.monotonic()
    call(a, "POST", f"/api/v1/runs/{run}/log?offset={offset}", line.encode())
    follower.join(40)
    assert got.get("text") == line, f"replica B's follower read {got.get('text')!r}, not {line!r}"
    delays.append(got["at"] - sent)
    offset += len(line.encode())
delays.sort()
print(f"replicas.sh: a log line appended through replica A reached replica B's follower: "
      f"p50 {delays[len(delays)//2]*1000:.0f} ms, p99 {delays[int(len(delays)*0.99)]*1000:.0f} ms, "
      f"max {delays[-1]*1000:.0f} ms ({len(delays)} lines)")
if s3:
    # 200 MiB up through A (a multipart upload of 16 MiB parts) and down through B, streamed: neither replica's
    # peak memory may grow by the file's size.
    blob = os.urandom(200 << 20)
    before = [peak_mb(pid) for pid in pids]
    started = time.time()
    file_id = call(a, "POST", f"/api/v1/runs/{run}/files?name=blob.bin", blob)["file"]["id"]
    uploaded = time.time()
    digest = hashlib.sha256()
    req = urllib.request.Request(f"{b}/api/v1/files/{file_id}/content", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=300) as r:
        while chunk := r.read(1 << 20):
            digest.update(chunk)
    downloaded = time.time()
    assert digest.digest() == hashlib.sha256(blob).digest(), "replica B served other bytes"
    growth = [peak_mb(pid) - b0 for pid, b0 in zip(pids, before)]
    print(f"replicas.sh: a {len(blob) >> 20} MiB file uploaded through replica A ({uploaded - started:.1f} s) downloaded "
          f"through replica B ({downloaded - uploaded:.1f} s) byte for byte (S3 store); peak memory grew "
          f"{growth[0]:.0f} MB on A, {growth[1]:.0f} MB on B")
    assert max(growth) < 100, f"a replica's peak memory grew by {max(growth):.0f} MB for a 200 MiB file: not streamed"
else:
    print("replicas.sh: no PROCTOR_TEST_S3_URL: the shared file store is not checked")
EOF
