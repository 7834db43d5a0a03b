#!/usr/bin/env bash
# Tests/e2e/cdrouter_stress.sh — issue #17 item 11 on a real `proctor serve`: after a refused CDRouter bulk launch,
# slow CDRouter jobs (longer than the lease) must all end, each on its first claim, so that a wait for an idle lab
# returns; a DELETE of each completed job must then answer at once, and the server must not spin.
#
# Starts `proctor serve` on a fresh SQLite data dir with 2 executor slots, `--lease-seconds 3` and a stand-in
# `--cdrouter-cli` (written into WORK, where a sandboxed run can read it) that sleeps DELAY seconds and then
# writes a JUnit file of CASES test cases (every 500th fails). Creates one CDRouter package (`POST packages/`),
# then, ROUNDS times:
#  1. a bulk launch of that package and of an unknown package id (987654) is refused with 404, and launches
#     nothing: the CDRouter job count and the native run count are unchanged;
#  2. three jobs of the package are launched, each asking the stand-in (through `testvars`) for DELAY s and
#     CASES cases;
#  3. the lab becomes idle (no job pending or running) within 90 s, every job of the round `completed`; else it
#     fails and prints each run's status, started_at, finished_at, attempts and the server log's tail;
#  4. each run ended on its first claim (`attempts == 1` in GET /api/v1/runs, a CDRouter job id being its run's
#     `seq`), with `started_at` and `finished_at` set and CASES test results;
#  5. each job is deleted with `curl -m 5`: 204 (docs/cdrouter.md), then 404, and the counts are back;
#  6. the server's CPU time (utime + stime of /proc/PID/stat) grew less than the round's wall time.
# After the rounds, the idle server must stay (almost) idle for 2 s.
#
#   ROUNDS        rounds (default 5)
#   DELAY         seconds each stand-in job sleeps (default 4, longer than the 3 s lease)
#   CASES         test cases each job writes (default 3000)
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   PYTHON        a Python 3 interpreter (default .venv/bin/python, else python3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup cdrouter_stress
SERVER=
cleanup() { [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT

ROUNDS=${ROUNDS:-5}
DELAY=${DELAY:-4}
CASES=${CASES:-3000}
TOKEN=pt_e2e_cdrouter_stress_admin_0000
UNKNOWN_PACKAGE=987654
JOBS=()   # this round's CDRouter job ids

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# cpu_seconds: the server's user + system CPU time, all threads, from /proc/PID/stat (fields 14 and 15).
cpu_seconds() { sed 's/.*) //' "/proc/$SERVER/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }'; }

api() { curl -s -m 10 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
cdr() { local path=$1; shift; api "$@" "$URL/cdrouter/api/v1/$path"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
# runs_table: seq, status, attempts, started_at, finished_at, claimed_by, lease of this round's runs.
runs_table() {
  local seq
  for seq in "${JOBS[@]}"; do
    api "$URL/api/v1/runs?filter=seq=$seq" | "$PY" -c '
import json, sys
for r in json.load(sys.stdin)["items"]:
    print("  run seq=%s id=%s status=%s state=%s attempts=%s started_at=%s finished_at=%s claimed_by=%s lease_expires_at=%s tests=%s" % tuple(
        r.get(k) for k in ("seq", "id", "status", "state", "attempts", "started_at", "finished_at", "claimed_by",
                           "lease_expires_at", "tests_total")))' 2>&1 || echo "  run seq=$seq: no answer"
  done
}
fail() {
  {
    echo "cdrouter_stress.sh: FAIL (round ${ROUND:-0}): $*"
    if [ -n "$SERVER" ] && [ -r "/proc/$SERVER/stat" ]; then
      echo "--- server pid $SERVER: CPU $(cpu_seconds) s after $(calc "$(now) - $START") s of wall time"
      echo "--- this round's runs"; runs_table
    fi
    echo "--- server log (tail)"; tail -30 "$WORK/server.log"
    echo "--- processes mentioning $WORK"; e2e_leftovers
  } >&2
  exit 1
}
job_count() { cdr "jobs/?limit=1" | field "['links']['total']"; }
run_count() { api "$URL/api/v1/runs?limit=1&count=true" | field "['total']"; }

# The stand-in cdrouter-cli: `-testvar delay=S` and `-testvar cases=N` say how long it runs and how many cases it
# writes to `-junit FILE`. (examples/cdrouter/cdrouter-cli-standin has neither a delay nor a case count.)
cat >"$WORK/cdrouter-cli" <<'SH'
#!/bin/sh
set -eu
junit= delay=0 cases=2
while [ $# -gt 0 ]; do
    case "$1" in
        -junit) junit=$2; shift ;;
        -testvar) case "$2" in delay=*) delay=${2#delay=} ;; cases=*) cases=${2#cases=} ;; esac; shift ;;
    esac
    shift
done
[ -n "$junit" ] || { echo "cdrouter-cli stand-in: no -junit FILE given" >&2; exit 2; }
echo "cdrouter-cli stand-in: sleeping ${delay}s, then writing $cases cases"
sleep "$delay"
awk -v n="$cases" 'BEGIN {
    printf "<testsuite name=\"cdrouter\" tests=\"%d\">\n", n
    for (i = 1; i <= n; i++) {
        if (i % 500 == 0) printf "  <testcase classname=\"stress\" name=\"cdrouter_stress_%d\" time=\"0.001\"><failure message=\"no route\">case %d failed</failure></testcase>\n", i, i
        else printf "  <testcase classname=\"stress\" name=\"cdrouter_stress_%d\" time=\"0.001\"/>\n", i
    }
    print "</testsuite>"
}' >"$junit.tmp"
mv "$junit.tmp" "$junit"
echo "cdrouter-cli stand-in: wrote $junit"
SH
chmod 755 "$WORK/cdrouter-cli"

# The main engineer may be relinking the binary: wait for it to be there and to run.
for _ in $(seq 120); do [ -x "$BIN" ] && "$BIN" --help >/dev/null 2>&1 && break; sleep 1; done
"$BIN" --help >/dev/null 2>&1 || fail "no runnable $BIN"

PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 2 --lease-seconds 3 \
  --workspace "$ROOT" --work-root "$WORK/runs" --cdrouter-cli "$WORK/cdrouter-cli" --log-level warning >"$WORK/server.log" 2>&1 &
SERVER=$!
disown "$SERVER"
wait_healthy "$URL" "$SERVER" || fail "the server did not start"

PACKAGE=$(cdr packages/ -X POST -d '{"name": "stress-slow", "testlist": ["cdrouter_stress"], "description": "sleeps past the lease"}' \
  | field "['data']['id']") || fail "POST packages/"
LAUNCH="{\"package_id\": \"$PACKAGE\", \"options\": {\"testvars\": [{\"name\": \"delay\", \"value\": \"$DELAY\"}, {\"name\": \"cases\", \"value\": \"$CASES\"}]}}"

START=$(now)
CPU_START=$(cpu_seconds)
MAX_DELETE=0
MAX_IDLE_WAIT=0
for ROUND in $(seq "$ROUNDS"); do
  ROUND_START=$(now)
  ROUND_CPU=$(cpu_seconds)
  JOBS=()
  JOBS_BEFORE=$(job_count)
  RUNS_BEFORE=$(run_count)

  # 1. A refused bulk launch launches nothing.
  CODE=$(cdr "jobs/?bulk=launch" -X POST -o "$WORK/bulk.json" -w '%{http_code}' \
    -d "{\"jobs\": [{\"package_id\": \"$PACKAGE\"}, {\"package_id\": \"$UNKNOWN_PACKAGE\"}]}") || true
  [ "$CODE" = 404 ] || fail "the bulk launch with unknown package $UNKNOWN_PACKAGE answered $CODE: $(cat "$WORK/bulk.json")"
  [ "$(job_count)" = "$JOBS_BEFORE" ] || fail "the refused bulk launch created jobs: $JOBS_BEFORE before, $(job_count) after"
  [ "$(run_count)" = "$RUNS_BEFORE" ] || fail "the refused bulk launch created runs: $RUNS_BEFORE before, $(run_count) after"

  # 2. Three slow jobs, two slots: the third waits for a free one.
  for _ in 1 2 3; do
    JOBS+=("$(cdr jobs/ -X POST -d "$LAUNCH" | field "['data']['id']")") || fail "POST jobs/"
  done

  # 3. The lab becomes idle.
  WAIT_START=$(now)
  WAIT_UNTIL=$(calc "$WAIT_START + 90")
  while awk -v t="$(now)" -v u="$WAIT_UNTIL" 'BEGIN { exit !(t < u) }'; do
    [ "$(cdr "jobs/?limit=1&filter=status%3D%7Bpending%2Crunning%7D" | field "['links']['total']")" = 0 ] && break
    sleep 0.2
  done
  IDLE_WAIT=$(calc "$(now) - $WAIT_START")
  ACTIVE=$(cdr "jobs/?limit=1&filter=status%3D%7Bpending%2Crunning%7D" | field "['links']['total']")
  [ "$ACTIVE" = 0 ] || fail "the lab is not idle after ${IDLE_WAIT} s: $ACTIVE job(s) pending or running (jobs ${JOBS[*]})"
  MAX_IDLE_WAIT=$(awk -v a="$MAX_IDLE_WAIT" -v b="$IDLE_WAIT" 'BEGIN { print (b > a ? b : a) }')

  # 4. Each job completed, its run on its first claim, with its results.
  for job in "${JOBS[@]}"; do
    STATUS=$(cdr "jobs/$job/" | field "['data']['status']")
    [ "$STATUS" = completed ] || fail "job $job is $STATUS, expected completed"
    CHECK=$(api "$URL/api/v1/runs?filter=seq=$job" | "$PY" -c '
import json, sys
(r,) = json.load(sys.stdin)["items"]
print(r["attempts"], bool(r.get("started_at")), bool(r.get("finished_at")), r.get("tests_total"))')
    [ "$CHECK" = "1 True True $CASES" ] \
      || fail "job $job's run: attempts, started_at set, finished_at set, tests = $CHECK; expected 1 True True $CASES"
  done

  # 5. Each completed job is deleted at once.
  for job in "${JOBS[@]}"; do
    OUT=$(cdr "jobs/$job/" -X DELETE -m 5 -o "$WORK/delete.json" -w '%{http_code} %{time_total}') || true
    CODE=${OUT% *}
    SECONDS_TAKEN=${OUT#* }
    [ "$CODE" = 204 ] || fail "DELETE jobs/$job/ answered '$CODE' after ${SECONDS_TAKEN}s (000: no answer within 5 s): $(cat "$WORK/delete.json" 2>/dev/null)"
    MAX_DELETE=$(awk -v a="$MAX_DELETE" -v b="$SECONDS_TAKEN" 'BEGIN { print (b > a ? b : a) }')
    CODE=$(cdr "jobs/$job/" -o /dev/null -w '%{http_code}') || true
    [ "$CODE" = 404 ] || fail "job $job is still there after its DELETE (GET answered $CODE)"
  done
  [ "$(job_count)" = "$JOBS_BEFORE" ] || fail "$(job_count) jobs after the deletes, $JOBS_BEFORE before the round"

  # 6. No busy loop: the server used less CPU than the round's wall time.
  WALL=$(calc "$(now) - $ROUND_START")
  CPU=$(calc "$(cpu_seconds) - $ROUND_CPU")
  awk -v c="$CPU" -v w="$WALL" 'BEGIN { exit !(c < w) }' || fail "the server used ${CPU} s of CPU in a round of ${WALL} s"
  echo "cdrouter_stress.sh: round $ROUND: jobs ${JOBS[*]} completed in ${IDLE_WAIT} s, deleted; server CPU ${CPU} s / ${WALL} s wall" >&2
done

# The idle server stays idle.
IDLE_CPU=$(cpu_seconds)
sleep 2
IDLE_USED=$(calc "$(cpu_seconds) - $IDLE_CPU")
awk -v c="$IDLE_USED" 'BEGIN { exit !(c < 1.0) }' || fail "the idle server used ${IDLE_USED} s of CPU in 2 s"

TOTAL=$(calc "$(now) - $START")
CPU_TOTAL=$(calc "$(cpu_seconds) - $CPU_START")
echo "cdrouter_stress.sh: ok ($ROUNDS rounds of 3 x ${DELAY} s jobs with $CASES cases after a refused bulk launch, in ${TOTAL} s: slowest idle wait ${MAX_IDLE_WAIT} s, slowest DELETE ${MAX_DELETE} s, every run 1 attempt; server CPU ${CPU_TOTAL} s vs ${TOTAL} s wall, ${IDLE_USED} s in 2 s idle)"
