#!/usr/bin/env bash
# Tests/e2e/writes_killed.sh — every acknowledged write survives kill -9 of the server under a write load
# (issue #19: SQLite commits concurrent writes in groups, and answers each only once its group committed).
#
# On SQLite, and on PostgreSQL too when PROCTOR_TEST_POSTGRES_URL is set: CLIENTS client threads write flat out,
# each creating a bare run (`POST /api/v1/runs`) and reporting it `running`, then `success`
# (`POST /api/v1/runs/{id}/status`), and note every write answered 2xx. The server is killed with SIGKILL
# ROUNDS times, each time once PER_ROUND more writes were acknowledged since it (re)started, and restarted on
# the same data; the clients retry against it. When at least MIN_WRITES writes were acknowledged the load stops,
# and every acknowledged run is stored and every acknowledged report is among its run's events.
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   ROUNDS        kills per store (default 10)
#   PER_ROUND     acknowledged writes between two kills (default 200)
#   MIN_WRITES    acknowledged writes in all per store (default 2000)
#   CLIENTS       client threads (default 32)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup writes-killed
ROUNDS=${ROUNDS:-10}
PER_ROUND=${PER_ROUND:-200}
MIN_WRITES=${MIN_WRITES:-2000}
CLIENTS=${CLIENTS:-32}
SERVER=
LOADER=
cleanup() {
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  [ -n "$LOADER" ] && kill -9 "$LOADER" 2>/dev/null || true
  e2e_kill_leftovers
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  { echo "writes_killed.sh: FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -20 "$f"; done; } >&2
  exit 1
}

TOKEN=pt_e2e_writes_killed_token_00000

start_server() { e2e_serve "$@" || fail "the server did not start ($2)"; }   # DATA_DIR LOGNAME [DATABASE_URL]

# The load: CLIENTS threads writing until the file STOP exists; each acknowledged write is a line of ACKS
# ("run ID" or "status ID STATUS"), and PROGRESS holds how many there are so far.
start_load() {   # start_load ACKS PROGRESS STOP
  "$PY" - "$URL" "$TOKEN" "$CLIENTS" "$@" >"$WORK/load.log" 2>&1 <<'EOF' &
import json, os, sys, threading, time, urllib.error, urllib.request
base, token, clients, acks_path, progress_path, stop_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:7]
lock, acks = threading.Lock(), []

def post(path, body):
    """The answer's JSON when the server answered 2xx, else None (refused, reset, timed out, an error)."""
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        time.sleep(0.05)
        return None

def client(number):
    sequence = 0
    while not os.path.exists(stop_path):
        sequence += 1
        run = post("/api/v1/runs", {"name": f"w-{number}-{sequence}"})
        if run is None: continue
        with lock: acks.append(f"run {run['id']}")
        for status in ("running", "success"):
            if post(f"/api/v1/runs/{run['id']}/status", {"status": status}) is None: break
            with lock: acks.append(f"status {run['id']} {status}")

threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
for thread in threads: thread.start()
while any(thread.is_alive() for thread in threads):
    with lock: count = len(acks)
    with open(progress_path + ".tmp", "w") as f: f.write(str(count))
    os.replace(progress_path + ".tmp", progress_path)
    time.sleep(0.05)
with open(acks_path, "w") as f: f.write("".join(line + "\n" for line in acks))
EOF
  LOADER=$!
}
acknowledged() { cat "$1" 2>/dev/null || echo 0; }
wait_for_writes() {   # wait_for_writes PROGRESS N: until N writes were acknowledged (at most 120 s)
  for _ in $(seq 2400); do [ "$(acknowledged "$1")" -ge "$2" ] && return 0; sleep 0.05; done
  fail "only $(acknowledged "$1") writes acknowledged, waited for $2"
}

# Every acknowledged run is stored and every acknowledged report is one of its run's events.
verify() {   # verify ACKS → prints "RUNS REPORTS"
  "$PY" - "$URL" "$TOKEN" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
base, token, acks_path = sys.argv[1:4]
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)
runs, cursor = set(), None
while True:
    page = get("/api/v1/runs?limit=1000&fields=id" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
    runs.update(item["id"] for item in page["items"])
    cursor = page.get("next_cursor")
    if not cursor or not page["items"]: break
events, after = set(), 0
while True:
    page = get(f"/api/v1/events?after={after}&limit=1000")
    events.update((item["run_id"], item["status"]) for item in page["items"])
    if not page["items"]: break
    after = page["next_after"]
lost_runs, lost_reports, acked_runs, acked_reports = [], [], 0, 0
for line in open(acks_path):
    kind, *rest = line.split()
    if kind == "run":
        acked_runs += 1
        if rest[0] not in runs: lost_runs.append(rest[0])
    else:
        acked_reports += 1
        if (rest[0], rest[1]) not in events: lost_reports.append(" ".join(rest))
if lost_runs or lost_reports:
    print(f"lost {len(lost_runs)} of {acked_runs} acknowledged runs {lost_runs[:5]} and {len(lost_reports)} of "
          f"{acked_reports} acknowledged reports {lost_reports[:5]}", file=sys.stderr)
    sys.exit(1)
print(acked_runs, acked_reports)
EOF
}

one_store() {   # one_store NAME DATA_DIR [DATABASE_URL]
  local name=$1 data=$2 db=${3:-} acks=$WORK/$1.acks progress=$WORK/$1.progress stop=$WORK/$1.stop round counts
  rm -f "$acks" "$progress" "$stop"
  start_server "$data" "$name" "$db"
  start_load "$acks" "$progress" "$stop"
  for round in $(seq "$ROUNDS"); do
    wait_for_writes "$progress" $(($(acknowledged "$progress") + PER_ROUND))
    kill -9 "$SERVER"
    for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$SERVER" 2>/dev/null && fail "$name: the server outlived kill -9"
    start_server "$data" "$name-restarted" "$db"
  done
  wait_for_writes "$progress" "$MIN_WRITES"
  touch "$stop"
  wait "$LOADER" || fail "$name: the load failed: $(cat "$WORK/load.log")"
  LOADER=
  counts=$(verify "$acks" 2>"$WORK/verify.log") || fail "$name: $(cat "$WORK/verify.log")"
  kill -9 "$SERVER"
  SERVER=
  read -r runs reports <<<"$counts"
  echo "writes_killed.sh: ok $name ($ROUNDS kills -9 under $CLIENTS writing clients; all $((runs + reports)) acknowledged writes stored: $runs runs, $reports status reports)"
}

e2e_each_store one_store
