# Benchmarks/lib.sh — sourced by the benchmark scripts: a release server on a fresh data dir.
#
#   start_server NAME [serve flags...]   sets WORK, TOKEN, BASE, SERVER and PY; the server and WORK go on exit.
#   PROCTOR_BIN                          the proctor binary (default: a release build, .build/release/proctor)
BIN=${PROCTOR_BIN:-.build/release/proctor}
PY=$(command -v python3)
SERVER=

start_server() {
  local name=$1
  shift
  [ -x "$BIN" ] || swift build -c release --product proctor
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/proctor-bench-$name.XXXXXX")
  trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
  TOKEN=pt_bench_${name}_admin_token_00000000
  local port
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$port" --data-dir "$WORK/data" --log-level warning "$@" \
    >"$WORK/server.log" 2>&1 &
  SERVER=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "$BASE/livez" >/dev/null && return 0; sleep 0.1; done
  echo "$name: the server did not start; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}
