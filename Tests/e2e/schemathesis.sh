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
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BIN=${PROCTOR_BIN:-$ROOT/.build/debug/proctor}
ST=$ROOT/.venv/bin/schemathesis
[ -x "$ST" ] || { echo "schemathesis.sh: no schemathesis in .venv (scripts/test installs it)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/proctor-e2e-st.XXXXXX")
SERVER=
trap '[ -n "$SERVER" ] && kill -9 $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
TOKEN=pt_e2e_schemathesis_token_000000
PORT=$("$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 0 --log-level error \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
disown $SERVER
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN "$BIN" apply -f examples/lab.yaml >/dev/null

"$ST" run "$URL/openapi.json" -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,fuzzing -n "${ST_EXAMPLES:-5}" --seed 20261123 --request-timeout 75 \
  --exclude-path-regex '^/api/v1/(events|events/stream|runs/\{id\}/log/stream|agents/\{id\}/claim)$'
echo "schemathesis.sh: ok"
