#!/usr/bin/env bash
# Tests/e2e/agents.sh — runs really execute on remote agents, survive an agent killed with -9, and never see the
# agent's token.
#
# Starts `proctor serve` with no local executor slots on a fresh SQLite data dir, applies a lab whose
# job targets agents labelled `linux`, and checks:
#  1. `proctor agent --token T` is refused (non-zero exit, the message points to PROCTOR_TOKEN / --token-file):
#     a command line is readable by every process of the machine. It never registers.
#  2. Agent A, given its token in PROCTOR_TOKEN only, executes a slow pytest run; A is killed with SIGKILL
#     mid-run; agent B starts, its token in a --token-file (mode 0600) only; the run is requeued when A's lease
#     expires and ends `success` on B with its test cases stored.
#  3. A job on agent B that dumps every /proc/*/cmdline and /proc/*/environ it can see, its own `env` and B's
#     token file succeeds, and its log holds neither the token nor a canary variable of the agent's environment
#     nor the agent's command line (it does hold the job's own variables, so the dump really happened).
# (Tests/e2e/killed.sh checks that no process of a run outlives its killed agent or server.)
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   PYTHON        an interpreter with pytest (default .venv/bin/python, else python3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup agents
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT

TOKEN=pt_e2e_agents_admin_token_000000
export PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN

fail() {
  { echo "agents.sh: FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -20 "$f"; done
    echo "--- processes mentioning $WORK"; e2e_leftovers; } >&2
  exit 1
}
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 0 \
  --lease-seconds 3 --workspace "$ROOT" --work-root "$WORK/server-runs" --log-level warning >"$WORK/server.log" 2>&1 &
PIDS+=($!); disown $!
wait_healthy "$URL" "${PIDS[-1]}" || fail "the server did not start"

# 1. A token on the command line is refused, even a valid one.
if timeout 20 "$BIN" agent --name agent-refused --label linux --token "$TOKEN" --work-dir "$WORK/agent-refused" \
     --log-level warning >"$WORK/agent-refused.log" 2>&1; then
  fail "the agent accepted --token on its command line"
fi
grep -qE 'PROCTOR_TOKEN|--token-file' "$WORK/agent-refused.log" || fail "the refusal does not point to PROCTOR_TOKEN or --token-file"

cat >"$WORK/lab.json" <<EOF
{"engines": [{"group": "default", "name": "agents", "type": "agent", "labels": ["linux"]}],
 "definitions": [{"group": "default", "name": "peek", "harness": "shell",
   "job_file": "for f in /proc/*/cmdline /proc/*/environ; do tr '\\\\0' '\\\\n' <\\"\$f\\" 2>/dev/null; done; echo ENV-DUMP; env; echo TOKEN-FILE; cat $WORK/agent-b.token 2>&1; true",
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "agents", "max_run_time": 60}]},
  {"group": "default", "name": "slow-pytest", "harness": "pytest", "job_file": "examples/tests",
   "config": {"python": "$PY"},
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "agents", "max_run_time": 120,
                 "envargs": [{"name": "PROCTOR_DEMO_STEP_SECONDS", "value": "2"}]}]}]}
EOF
api -X POST --data @"$WORK/lab.json" "$URL/api/v1/apply" >/dev/null || fail "apply"

# 2. Agents take their token from PROCTOR_TOKEN (exported above); the canary is a variable of their environment.
CANARY=agent_env_canary_$$
export PROCTOR_E2E_CANARY=$CANARY
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

(umask 077; echo "$TOKEN" >"$WORK/agent-b.token")
env -u PROCTOR_TOKEN "$BIN" agent --name agent-b --label linux --token-file "$WORK/agent-b.token" --work-dir "$WORK/agent-b" \
  --workspace "$ROOT" --log-level warning >"$WORK/agent-b.log" 2>&1 &
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

# 3. What a job on an agent can see of the agent.
RUN=$(api -X POST -d '{"definition": "peek"}' "$URL/api/v1/runs" | field "['id']")
for _ in $(seq 300); do
  case "$(status status)" in success|failure|error|killed) break ;; esac
  sleep 0.1
done
[ "$(status status)" = success ] || fail "the peek run ended $(status status) ($(status reason))"
api "$URL/api/v1/runs/$RUN/log" >"$WORK/peek.out" || fail "GET the peek run's log"
grep -q "^PROCTOR_RUN_ID=$RUN\$" "$WORK/peek.out" && grep -q '^ENV-DUMP$' "$WORK/peek.out" && grep -q '^TOKEN-FILE$' "$WORK/peek.out" \
  || fail "the peek run's log lacks its own environment: $(head -c 2000 "$WORK/peek.out")"
! grep -qF "$TOKEN" "$WORK/peek.out" || fail "a job on an agent saw the agent's token: $(grep -F "$TOKEN" "$WORK/peek.out" | head -5)"
! grep -qF "$CANARY" "$WORK/peek.out" || fail "a job on an agent saw the agent's environment: $(grep -F "$CANARY" "$WORK/peek.out" | head -5)"
! grep -qF -- "--work-dir" "$WORK/peek.out" || fail "a job on an agent saw the agent's command line: $(grep -F -- "--work-dir" "$WORK/peek.out" | head -5)"
echo "agents.sh: ok (--token on the command line refused; agents took PROCTOR_TOKEN and --token-file; a job dumping /proc/*/cmdline, /proc/*/environ, env and the token file on agent B saw neither the token nor the agent's environment or command line, $(wc -l <"$WORK/peek.out") lines)"
