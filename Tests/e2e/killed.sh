#!/usr/bin/env bash
# Tests/e2e/killed.sh — no process outlives its run, and no run executes twice, when its executor is killed -9.
#
# The job reports "start RUN" to a loopback counter (lib.sh e2e_counter: a sandboxed job cannot write a host
# file, but shares the host's network), starts two detached helpers (`setsid sleep MARK`, `nohup sleep MARK`:
# outside a sandbox they would survive everything), sleeps BODY seconds, then reports "done RUN". MARK is a
# number unique to this script, so `pgrep -f MARK` finds every process of the run (bwrap, the job's shell, the
# helpers) and nothing else.
#  a. Agent A executes a run; once the run reported start, A is killed with SIGKILL. Within 2 s no process of
#     the run is left. Agent B starts; the run is requeued when A's lease expires and ends `success` on B.
#  b. `proctor serve` (SQLite, one executor slot) executes a run; once it reported start, the server is killed
#     with SIGKILL. Within 2 s no process of the run is left. The server restarts on the same data dir (short
#     --lease-seconds: a server sweeps leases one lease period after it starts); the run is requeued and ends
#     `success` on the restarted server.
# For each: the counter holds "start" twice and "done" exactly once, after the second start (the killed attempt
# never completed its body); the run has 2 attempts and one final-status event; once it ended, no process of
# it is left (its helpers died with the job's main process).
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   BODY          seconds the job's body takes (default 5)
#   LOG_LEVEL     the server's and agents' log level (default warning)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup killed
BODY=${BODY:-5}
MARK=$(printf '1234.%d%05d' $$ $RANDOM)
PIDS=()
SERVER=
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # After a failure, what is left of the runs (found by this script's unique mark) goes too.
  for pid in $(pgrep -f -- "$MARK"); do kill -9 "$pid" 2>/dev/null || true; done
  e2e_kill_leftovers
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN=pt_e2e_killed_admin_token_000000
export PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN
COUNTS=$WORK/counter.txt

fail() {
  {
    echo "killed.sh: FAIL: $*"
    echo "--- processes matching $MARK"; pgrep -af -- "$MARK" || echo "(none)"
    echo "--- processes mentioning $WORK"; e2e_leftovers
    echo "--- counter"; cat "$COUNTS" 2>/dev/null || true
    if [ -n "${RUN:-}" ]; then
      echo "--- events of $RUN"
      api "$URL/api/v1/runs/$RUN/events?limit=100&sort=seq" 2>/dev/null | "$PY" -c 'import json,sys
for e in json.load(sys.stdin)["items"]: print(e["seq"], e["created_at"], e["status"], e.get("comment") or "")' 2>/dev/null \
        || echo "(the server did not answer)"
    fi
    for f in "$WORK"/*.log; do echo "--- $f"; tail -25 "$f"; done
  } >&2
  exit 1
}
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
status() { api "$URL/api/v1/runs/$RUN" | field "['$1']"; }

start_server() {   # start_server LOGNAME: serve on PORT over WORK/data, one executor slot, 3 s leases
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 1 \
    --lease-seconds 3 --workspace "$ROOT" --work-root "$WORK/server-runs" --log-level "${LOG_LEVEL:-warning}" >>"$WORK/$1.log" 2>&1 &
  SERVER=$!
  PIDS+=($SERVER); disown $SERVER
  wait_healthy "$URL" "$SERVER" || fail "the server did not start"
}
start_agent() {   # start_agent NAME: an agent for label `killed`, its token from PROCTOR_TOKEN
  "$BIN" agent --name "$1" --label killed --work-dir "$WORK/$1" --workspace "$ROOT" --log-level "${LOG_LEVEL:-warning}" >"$WORK/$1.log" 2>&1 &
  LAST_AGENT=$!
  PIDS+=($LAST_AGENT); disown $LAST_AGENT
}
line_count() { grep -cx "$1 $RUN" "$COUNTS" || true; }
wait_for_start() {   # wait_for_start N: until the counter holds N starts of RUN (at most 30 s)
  for _ in $(seq 300); do [ "$(line_count start)" -ge "$1" ] && return 0; sleep 0.1; done
  fail "the run never reported start #$1 (status $(status status))"
}
# The processes of the run are gone within 2 s of its executor's death.
# KILLED_AT: when the kill was sent (ms); sets GONE_MS, how long after it the last process of the run was seen.
expect_gone_within_2s() {
  local now
  for _ in $(seq 40); do
    now=$(date +%s%3N)
    pgrep -f -- "$MARK" >/dev/null || { GONE_MS=$((now - KILLED_AT)); return 0; }
    [ $((now - KILLED_AT)) -lt 2000 ] || break
    sleep 0.05
  done
  fail "$1: processes of the run still alive 2 s after the kill"
}
# The run ends success on its second attempt, its body done once, one final event, nothing of it left.
expect_once() {   # expect_once CASE
  for _ in $(seq 600); do
    case "$(status status)" in success|failure|error|killed) break ;; esac
    sleep 0.1
  done
  local final; final=$(status status)
  [ "$final" = success ] || fail "$1: the run ended $final ($(status reason)), expected success"
  sleep 1   # a late "done" from the killed attempt would have arrived by now
  pgrep -f -- "$MARK" >/dev/null && fail "$1: processes of the run outlived its end"
  [ "$(line_count start)" = 2 ] || fail "$1: expected 2 starts of $RUN, counted $(line_count start)"
  [ "$(line_count done)" = 1 ] || fail "$1: expected the body done once, counted $(line_count done)"
  [ "$(grep -x "\(start\|done\) $RUN" "$COUNTS" | tr '\n' ' ')" = "start $RUN start $RUN done $RUN " ] \
    || fail "$1: the killed attempt reported done"
  [ "$(status attempts)" = 2 ] || fail "$1: expected 2 attempts, got $(status attempts)"
  EVENTS=$(api "$URL/api/v1/runs/$RUN/events?limit=100&sort=seq" | "$PY" -c 'import json,sys; print(" ".join(e["status"] for e in json.load(sys.stdin)["items"]))')
  local finals; finals=$(tr ' ' '\n' <<<"$EVENTS" | grep -cxE 'success|failure|error|killed' || true)
  [ "$finals" = 1 ] || fail "$1: $finals final-status events: $EVENTS"
}

e2e_counter "$COUNTS" || fail "the counter did not start"
PIDS+=($COUNTER_PID)
start_server server

JOB="$(report_command start) || exit 3
setsid sleep $MARK </dev/null >/dev/null 2>&1 &
nohup sleep $MARK </dev/null >/dev/null 2>&1 &
sleep $BODY
$(report_command done) || exit 4"
"$PY" - "$JOB" >"$WORK/lab.json" <<'EOF'
import json, sys
job = sys.argv[1]
profile = lambda engine: [{"name": "DEFAULT", "is_default": True, "engine": engine, "max_run_time": 120}]
print(json.dumps({
    "engines": [{"group": "default", "name": "killed-agents", "type": "agent", "labels": ["killed"]},
                {"group": "default", "name": "killed-local", "type": "local"}],
    "definitions": [
        {"group": "default", "name": "body-on-agent", "harness": "shell", "job_file": job, "profiles": profile("killed-agents")},
        {"group": "default", "name": "body-on-server", "harness": "shell", "job_file": job, "profiles": profile("killed-local")}]}))
EOF
api -X POST --data @"$WORK/lab.json" "$URL/api/v1/apply" >/dev/null || fail "apply"

# kill_mid_run CASE DEFINITION PID WHAT: launches DEFINITION, waits until its body runs, kills PID with -9 and
# expects no process of the run within 2 s (RUN is the launched run).
kill_mid_run() {
  RUN=$(api -X POST -d "{\"definition\": \"$2\"}" "$URL/api/v1/runs" | field "['id']")
  wait_for_start 1
  pgrep -f -- "$MARK" >/dev/null || fail "$1: no process of the run found by its mark (the check would prove nothing)"
  KILLED_AT=$(date +%s%3N)
  kill -9 "$3"
  expect_gone_within_2s "$1 ($4)"
}

# --- a. kill -9 of an agent mid-run ---------------------------------------------------------------------------
start_agent agent-a
AGENT_A=$LAST_AGENT
kill_mid_run a body-on-agent "$AGENT_A" "agent killed"
start_agent agent-b
expect_once a
echo "killed.sh: ok a (agent killed -9 mid-run: no process of the run left ${GONE_MS} ms after the kill; requeued and finished on agent B; body done once; events: $EVENTS)"

# --- b. kill -9 of the server mid-run (local executor, SQLite) --------------------------------------------------
kill_mid_run b body-on-server "$SERVER" "server killed"
start_server server-restarted
expect_once b
echo "killed.sh: ok b (server killed -9 mid-run: no process of the run left ${GONE_MS} ms after the kill; requeued after the restart and finished; body done once; events: $EVENTS)"
