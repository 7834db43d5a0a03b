#!/usr/bin/env bash
# Tests/e2e/schemathesis.sh — schemathesis (from PyPI, in the repo venv) fuzzes the native API described by
# /openapi.json on a live server: no 5xx, and every response conforms to the document.
#
# Long-polls and endless event streams (`/api/v1/events`, `/events/stream`, `/log/stream`, the agent claim)
# are left out of the fuzzing: they answer after up to a minute by design; their tests are in Swift. Other
# routes may long-poll too (`wait` up to 60 s), hence the 75 s request timeout.
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   ST_EXAMPLES   examples per operation (default 5)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup st
ST=$ROOT/.venv/bin/schemathesis
[ -x "$ST" ] || { echo "schemathesis.sh: no schemathesis in .venv (scripts/test installs it)" >&2; exit 1; }
SERVER=
trap '[ -z "$SERVER" ] || kill -9 $SERVER 2>/dev/null || true; e2e_kill_leftovers; rm -rf "$WORK"' EXIT
TOKEN=pt_e2e_schemathesis_token_000000
PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --work-root "$WORK/runs" --executor-slots 0 \
  --log-level error >"$WORK/server.log" 2>&1 &
SERVER=$!
disown $SERVER
wait_healthy "$URL" "$SERVER" || { echo "schemathesis.sh: FAIL: the server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN "$BIN" apply -f examples/lab.yaml >/dev/null

"$ST" run "$URL/openapi.json" -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,fuzzing -n "${ST_EXAMPLES:-5}" --seed 20261123 --request-timeout 75 \
  --exclude-path-regex '^/api/v1/(events|events/stream|runs/\{id\}/log/stream|agents/\{id\}/claim)$'
echo "schemathesis.sh: ok"
