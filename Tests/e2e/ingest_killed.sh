#!/usr/bin/env bash
# Tests/e2e/ingest_killed.sh — a result file's cases are stored all or nothing when the server is killed -9
# mid-ingest, and uploading the file again leaves exactly its cases (issue #17).
#
# On SQLite, and on PostgreSQL too when PROCTOR_TEST_POSTGRES_URL is set: `proctor serve` (no executor) gets
# `POST /api/v1/runs/{id}/files?name=big.xml&results=junit` with CASES test cases and is killed with SIGKILL
# after a delay that grows over ROUNDS rounds from 10 % to 130 % of the time one upload takes uncut there
# (measured first, on another run), so that the kills land during the upload, during the ingest and after it
# committed. After each restart the run holds 0 or CASES cases (never a part), its
# tests_total agrees, and files/.incoming holds nothing a killed server left. Then the file is uploaded again,
# completely: the run holds exactly CASES cases, and one file named big.xml.
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   CASES         test cases in the file (default 100000)
#   ROUNDS        kills per store (default 5)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup ingest-killed
CASES=${CASES:-100000}
ROUNDS=${ROUNDS:-5}
SERVER=
PGDIR=
cleanup() {
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  e2e_kill_leftovers
  [ -n "$PGDIR" ] && scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  { echo "ingest_killed.sh: FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -20 "$f"; done; } >&2
  exit 1
}

TOKEN=pt_e2e_ingest_killed_token_00000
api() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

"$PY" - "$WORK/big.xml" "$CASES" <<'EOF'
import sys
with open(sys.argv[1], "w") as out:
    out.write('<?xml version="1.0"?>\n<testsuites><testsuite name="big">\n')
    for i in range(int(sys.argv[2])):
        if i % 50 == 0:
            out.write(f'<testcase classname="c{i % 7}" name="t{i}" time="0.01"><failure message="no">x</failure></testcase>\n')
        else:
            out.write(f'<testcase classname="c{i % 7}" name="t{i}" time="0.01"/>\n')
    out.write('</testsuite></testsuites>\n')
EOF

start_server() { e2e_serve "$@" || fail "the server did not start ($2)"; }   # DATA_DIR LOGNAME [DATABASE_URL]
cases() { api "$URL/api/v1/runs/$RUN/tests?count=true&limit=1" | field "['total']"; }
total() { api "$URL/api/v1/runs/$RUN" | field "['tests_total']"; }
upload() { api -o "$WORK/upload.json" -w '%{http_code}' -H 'Content-Type: application/xml' \
  --data-binary @"$WORK/big.xml" "$URL/api/v1/runs/${1:-$RUN}/files?name=big.xml&results=junit"; }
new_run() { api -H 'Content-Type: application/json' --data '{"name": "ingest-killed"}' "$URL/api/v1/runs" | field "['id']"; }

one_store() {   # one_store NAME DATA_DIR [DATABASE_URL]
  local name=$1 data=$2 db=${3:-} outcomes=() round delay got stale began took
  start_server "$data" "$name" "$db"
  began=$(date +%s.%N)
  [ "$(upload "$(new_run)")" = 201 ] || fail "$name: the calibrating upload failed: $(cat "$WORK/upload.json")"
  took=$("$PY" -c "print(round($(date +%s.%N) - $began, 2))")
  RUN=$(new_run)
  for round in $(seq "$ROUNDS"); do
    delay=$("$PY" -c "print(round($took * (0.1 + 1.2 * ($round - 1) / max(1, $ROUNDS - 1)), 2))")
    (upload >/dev/null 2>&1 || true) &
    sleep "$delay"
    kill -9 "$SERVER"
    wait_gone=0
    while kill -0 "$SERVER" 2>/dev/null; do sleep 0.05; wait_gone=$((wait_gone + 1)); [ $wait_gone -lt 100 ] || fail "not dead"; done
    wait || true
    start_server "$data" "$name"-restarted "$db"
    got=$(cases)
    [ "$got" = 0 ] || [ "$got" = "$CASES" ] || fail "$name round $round (kill after $delay s): $got cases, neither 0 nor $CASES"
    [ "$(total)" = "$got" ] || fail "$name round $round: tests_total $(total) but $got cases"
    stale=$(find "$data/files/.incoming" -type f 2>/dev/null | wc -l)
    [ "$stale" = 0 ] || fail "$name round $round: $stale partial uploads left in files/.incoming"
    outcomes+=("${delay}s:$got")
  done
  [ "$(upload)" = 201 ] || fail "$name: the final upload did not answer 201: $(cat "$WORK/upload.json")"
  [ "$(field "['run_totals']['total']" <"$WORK/upload.json")" = "$CASES" ] || fail "$name: run_totals $(cat "$WORK/upload.json")"
  [ "$(cases)" = "$CASES" ] || fail "$name: $(cases) cases after the re-upload, not $CASES"
  [ "$(total)" = "$CASES" ] || fail "$name: tests_total $(total) after the re-upload, not $CASES"
  local files
  files=$(api "$URL/api/v1/runs/$RUN/files?filter=name=big.xml&count=true&limit=1" | field "['total']")
  [ "$files" = 1 ] || fail "$name: $files files named big.xml"
  kill -9 "$SERVER"
  SERVER=
  echo "ingest_killed.sh: ok $name (an upload takes ${took} s; kill after delay:cases ${outcomes[*]}; re-upload: exactly $CASES cases, one file)"
}

e2e_each_store one_store
