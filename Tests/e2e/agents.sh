#!/usr/bin/env bash
# Tests/e2e/agents.sh — runs really execute on remote agents, and survive an agent killed with -9.
#
# Starts `proctor serve` with no local executor slots on a fresh SQLite data dir, applies a lab whose
# job targets agents labelled `linux`, starts agent A, launches a slow pytest run, waits until A
# executes it, kills A with SIGKILL, starts agent B, and expects the run to be requeued when A's
# lease expires and to end `success` on B with its test cases stored.
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   PYTHON        an interpreter with pytest (default .venv/bin/python, else python3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup agents
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

TOKEN=pt_e2e_agents_admin_token_000000
export PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN

fail() { echo "agents.sh: FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 0 \
  --lease-seconds 3 --workspace "$ROOT" --log-level warning >"$WORK/server.log" 2>&1 &
PIDS+=($!); disown $!
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/healthz" >/dev/null || fail "the server did not start"

cat >"$WORK/lab.json" <<EOF
{"engines": [{"group": "default", "name": "agents", "type": "agent", "labels": ["linux"]}],
 "definitions": [{"group": "default", "name": "slow-pytest", "harness": "pytest", "job_file": "examples/tests",
   "config": {"python": "$PY"},
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "agents", "max_run_time": 120,
                 "envargs": [{"name": "PROCTOR_DEMO_STEP_SECONDS", "value": "2"}]}]}]}
EOF
api -X POST --data @"$WORK/lab.json" "$URL/api/v1/apply" >/dev/null || fail "apply"

"$BIN" agent --name agent-a --label linux --work-dir "$WORK/agent-a" --workspace "$ROOT" --log-level warning >"$WORK/agent-a.log" 2>&1 &
AGENT_A=$!
PIDS+=($AGENT_A); disown $AGENT_A

RUN=$(api -X POST -d '{"definition": "slow-pytest"}' "$URL/api/v1/runs" | field "['id']")
status() { api "$URL/api/v1/runs/$RUN" | field "['$1']"; }

for _ in $(seq 200); do [ "$(status status)" = running ] && break; sleep 0.1; done
[ "$(status status)" = running ] || fail "agent A never started the run (status $(status status))"
CLAIMED=$(status claimed_by)
sleep 1
kill -9 "$AGENT_A"
echo "agents.sh: killed agent A ($CLAIMED) mid-run" >&2

"$BIN" agent --name agent-b --label linux --work-dir "$WORK/agent-b" --workspace "$ROOT" --log-level warning >"$WORK/agent-b.log" 2>&1 &
PIDS+=($!); disown $!

for _ in $(seq 600); do
  case "$(status status)" in success|failure|error|killed) break ;; esac
  sleep 0.1
done
FINAL=$(status status)
[ "$FINAL" = success ] || fail "the run ended $FINAL ($(status reason)), expected success"
[ "$(status claimed_by)" != "$CLAIMED" ] || fail "the run finished under agent A's claim"
[ "$(status attempts)" = 2 ] || fail "expected 2 attempts, got $(status attempts)"
EVENTS=$(api "$URL/api/v1/runs/$RUN/events?limit=100" | "$PY" -c 'import json,sys; print(" ".join(e["status"] for e in json.load(sys.stdin)["items"]))')
case "$EVENTS" in *"running new pre-run running post-run success"*) ;; *) fail "unexpected events: $EVENTS" ;; esac
TESTS=$(api "$URL/api/v1/runs/$RUN/tests" | field "['items'].__len__()")
[ "$TESTS" = 4 ] || fail "expected 4 test cases, got $TESTS"
AGENTS=$(api "$URL/api/v1/agents?fields=name" | "$PY" -c 'import json,sys; print(",".join(sorted(a["name"] for a in json.load(sys.stdin)["items"])))')
[ "$AGENTS" = "agent-a,agent-b" ] || fail "agents listed: $AGENTS"
echo "agents.sh: ok (requeued after kill -9, finished on agent B; events: $EVENTS)"
