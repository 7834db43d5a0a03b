# Tests/e2e/lib.sh — sourced (not run: it is not executable) by the end-to-end scripts that start their own
# server. `e2e_setup NAME` goes to the repository root and sets:
#   ROOT   the repository root
#   BIN    the proctor binary (PROCTOR_BIN, default .build/debug/proctor)
#   PY     a Python 3 (PYTHON, default .venv/bin/python, else python3)
#   WORK   a fresh scratch directory (the caller removes it; `e2e_workdir`)
#   PORT, URL   a free loopback port and its base URL
#
# Every run executes in a bubblewrap sandbox as an unprivileged user (nobody when the executor is root) with a
# private /tmp: a job sees nothing of the host's /tmp, and a work root (`serve --work-root`, `agent --work-dir`)
# must sit below folders that user can traverse. So WORK is not under /tmp but under E2E_DIR (default
# .build/e2e, git-ignored) and is mode 755: a job can read what a script puts there (a builder script), and
# "$WORK/runs" serves as a work root. The data dir and the work root themselves are hidden from jobs.
e2e_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  ROOT=$PWD
  BIN=${PROCTOR_BIN:-$ROOT/.build/debug/proctor}
  PY=${PYTHON:-$ROOT/.venv/bin/python}
  [ -x "$PY" ] || PY=$(command -v python3)
  WORK=$(e2e_workdir "$1")
  PORT=$(free_port)
  URL=http://127.0.0.1:$PORT
}

# e2e_workdir NAME: prints a fresh directory E2E_DIR/NAME.XXXXXX (mode 755, below folders of mode 755) that a
# sandboxed job can traverse and read.
e2e_workdir() {
  local base=${E2E_DIR:-$ROOT/.build/e2e} dir
  mkdir -p "$base"
  chmod 755 "$base"
  dir=$(mktemp -d "$base/$1.XXXXXX")
  chmod 755 "$dir"
  echo "$dir"
}

# e2e_leftovers: the processes whose command line mentions WORK (only this script's servers, agents, runs and
# helpers do): pid, parent, state, wait channel, command. e2e_kill_leftovers kills them (cleanup: a server or
# agent that died may leave a child behind, such as a forked child stuck before exec).
e2e_leftovers() {
  local pid
  for pid in $(pgrep -f -- "$WORK"); do ps -o pid=,ppid=,stat=,wchan:24=,args= -p "$pid" | cut -c1-240 || true; done
}
e2e_kill_leftovers() {   # after up to 2 s for those stopping by themselves (a server told to stop)
  local pid
  for _ in $(seq 20); do pgrep -f -- "$WORK" >/dev/null || return 0; sleep 0.1; done
  for pid in $(pgrep -f -- "$WORK"); do kill -9 "$pid" 2>/dev/null || true; done
}

# free_port: a free loopback port.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_healthy BASE_URL [PID]: waits up to 15 s for BASE_URL/healthz, and fails (1) at once when the server PID
# has exited.
wait_healthy() {
  for _ in $(seq 150); do
    curl -sf "$1/healthz" >/dev/null && return 0
    [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  curl -sf "$1/healthz" >/dev/null
}

# e2e_counter FILE: starts (in the background) a loopback TCP server that appends every line it receives to FILE
# and answers "ok" once the line is written; sets COUNTER_PORT and COUNTER_PID (the caller stops it). Jobs report
# to it with the command `report_command WORD` prints: a sandboxed job cannot write a file of the host, but
# it shares the host's network, loopback included.
e2e_counter() {
  local file=$1 portfile=$WORK/counter.port
  : >"$file"
  rm -f "$portfile"
  "$PY" -c '
import os, socketserver, sys, threading
path, portfile = sys.argv[1], sys.argv[2]
lock, out = threading.Lock(), open(sys.argv[1], "a")
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            text = line.decode(errors="replace").strip()
            if not text: continue
            with lock:
                out.write(text + "\n")
                out.flush()
            self.wfile.write(b"ok\n")
            self.wfile.flush()
class Server(socketserver.ThreadingTCPServer):
    daemon_threads, allow_reuse_address, request_queue_size = True, True, 512
server = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f: f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
' "$file" "$portfile" >"$WORK/counter.log" 2>&1 &
  COUNTER_PID=$!
  disown "$COUNTER_PID"
  for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.05; done
  [ -s "$portfile" ] || { echo "lib.sh: the loopback counter did not start" >&2; cat "$WORK/counter.log" >&2; return 1; }
  COUNTER_PORT=$(cat "$portfile")
}

# report_command WORD: a shell command (for a job's /bin/sh) that sends "WORD $PROCTOR_RUN_ID" to the counter of
# e2e_counter and succeeds only once the counter has written it down.
report_command() {
  printf '%s' "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$COUNTER_PORT && echo \"$1 \$PROCTOR_RUN_ID\" >&3 && read -r ack <&3 && [ \"\$ack\" = ok ]'"
}

# e2e_serve DATA_DIR LOGNAME [DATABASE_URL]: starts `proctor serve` with no executor slot on PORT over DATA_DIR
# (or the PostgreSQL database at DATABASE_URL), admin token TOKEN, its log appended to WORK/LOGNAME.log; sets
# SERVER (disowned: the caller kills it) and fails (1) when it does not become healthy.
e2e_serve() {
  local database=()
  [ -z "${3:-}" ] || database=(--database-url "$3")
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$PORT" --data-dir "$1" "${database[@]}" --executor-slots 0 \
    --work-root "$WORK/runs" --log-level warning >>"$WORK/$2.log" 2>&1 &
  SERVER=$!
  disown "$SERVER"
  wait_healthy "$URL" "$SERVER"
}

# e2e_each_store FUNCTION: runs `FUNCTION sqlite WORK/data-sqlite`, then, when PROCTOR_TEST_POSTGRES_URL is set,
# `FUNCTION postgres WORK/data-postgres DATABASE_URL` on a fresh database of that server (dropped afterwards),
# each on a port of its own.
e2e_each_store() {
  "$1" sqlite "$WORK/data-sqlite"
  PORT=$(free_port)
  URL=http://127.0.0.1:$PORT
  [ -n "${PROCTOR_TEST_POSTGRES_URL:-}" ] || return 0
  local database=proctor_e2e_$$_$RANDOM
  psql "$PROCTOR_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database" >/dev/null
  "$1" postgres "$WORK/data-postgres" "${PROCTOR_TEST_POSTGRES_URL%/*}/$database"
  psql "$PROCTOR_TEST_POSTGRES_URL" -qc "DROP DATABASE $database" >/dev/null 2>&1 || true
}
