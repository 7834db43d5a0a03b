# Benchmarks/lib.sh — sourced by the benchmark scripts: a release server on a fresh data dir.
#
#   start_server NAME [serve flags...]   sets WORK, TOKEN, BASE, SERVER and PY; the server and WORK go on exit
#                                        (or at stop_server, after which start_server may be called again).
#   PROCTOR_BIN                          the proctor binary (default: a release build, .build/release/proctor)
#   BENCH_DIR                            where WORK is made (default .build/bench)
#
# Runs execute in a sandbox as an unprivileged user (nobody when this is root) who must be able to traverse every
# folder above the work root: WORK is mode 755 under BENCH_DIR (not a 0700 mktemp folder under /tmp), and the
# server's work root is WORK/runs.
BIN=${PROCTOR_BIN:-.build/release/proctor}
PY=$(command -v python3)
SERVER=
WORK=
trap stop_server EXIT

start_server() {
  local name=$1
  shift
  [ -x "$BIN" ] || swift build -c release --product proctor
  local base=${BENCH_DIR:-$PWD/.build/bench}
  mkdir -p "$base"
  chmod 755 "$base"
  WORK=$(mktemp -d "$base/$name.XXXXXX")
  chmod 755 "$WORK"
  TOKEN=pt_bench_${name}_admin_token_00000000
  local port
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$port" --data-dir "$WORK/data" --work-root "$WORK/runs" \
    --log-level warning "$@" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 150); do
    curl -sf "$BASE/livez" >/dev/null && return 0
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name: the server did not start; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

# stop_server: stops the server (SIGTERM, then SIGKILL after 10 s) and removes WORK.
stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  SERVER=
  [ -z "$WORK" ] || rm -rf "$WORK"
  WORK=
}
