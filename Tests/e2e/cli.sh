#!/usr/bin/env bash
# Tests/e2e/cli.sh — the command line as an operator and a script use it, against a real server.
#
#  1. The bootstrap token with output that is not a terminal: `proctor serve >serve.log 2>&1 &` on a fresh data
#     dir has written the token line to serve.log within 5 s while it still runs, and <data-dir>/admin-token
#     (mode 0600) holds the same token, which then works. The next start leaves the file alone.
#  2. A server that is down: a client command against a closed port prints one line,
#     `proctor: cannot reach URL/ (connection refused)`, and exits 3, well within 10 s (the measured time is
#     printed; it used to take 90 s). Against a socket that accepts no connection it gives up after the 3 s
#     connect timeout, with `(no connection within 3 s)`.
#  3. Exit codes for scripts: `runs launch --wait` exits 0 for a run that succeeds, 1 for one that fails, 2 for
#     one that is cancelled while the command waits (its id is printed first, so the script can cancel it);
#     `--follow` prints the run's console meanwhile; the ending is one line on stderr. `logs RUN -f` exits
#     with the same codes; `logs RUN` (not following) exits 0.
#  4. `proctor login` takes the password from stdin when stdin is not a terminal; on a terminal (a pty made by
#     `script`) it prompts, the password typed is not echoed, echo is back on afterwards, and also after Ctrl-C
#     at the prompt (the command then dies of SIGINT, status 130).
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup cli
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT

fail() {
  { echo "cli.sh: FAIL: $*"; for f in "$WORK"/*.log "$WORK"/*.out "$WORK"/*.err; do
      [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
    echo "--- processes mentioning $WORK"; e2e_leftovers; } >&2
  exit 1
}
# expect_exit CODE NAME COMMAND...: runs COMMAND (stdout to WORK/NAME.out, stderr to WORK/NAME.err) and fails
# unless it exits with CODE.
expect_exit() {
  local want=$1 name=$2 got=0
  shift 2
  timeout 60 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || got=$?
  [ "$got" = "$want" ] || fail "$name: exit status $got, expected $want"
}

PASSWORD=cli-e2e-password-4711
export HOME=$WORK/home   # `proctor login` saves its credentials under ~/.config/proctor
mkdir -p "$HOME"

# --- 1. The bootstrap token reaches a file at once ----------------------------------------------------------------
PROCTOR_ADMIN_PASSWORD=$PASSWORD "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 2 \
  --workspace "$ROOT" --work-root "$WORK/runs" >"$WORK/serve.log" 2>&1 &
SERVER=$!
PIDS+=($SERVER); disown $SERVER
for _ in $(seq 50); do grep -q "API token" "$WORK/serve.log" && break; sleep 0.1; done
kill -0 "$SERVER" 2>/dev/null || fail "the server exited"
grep -q "API token" "$WORK/serve.log" || fail "no token line in serve.log within 5 s of the start"
TOKEN_FILE=$WORK/data/admin-token
grep -qF "also in $TOKEN_FILE, mode 0600" "$WORK/serve.log" || fail "the token line does not name $TOKEN_FILE"
TOKEN=$(grep -A1 "API token" "$WORK/serve.log" | tail -1)
[[ $TOKEN == pt_* ]] || fail "the line after the token line is not a token: $TOKEN"
[ "$(stat -c %a "$TOKEN_FILE")" = 600 ] || fail "$TOKEN_FILE has mode $(stat -c %a "$TOKEN_FILE"), not 600"
[ "$(cat "$TOKEN_FILE")" = "$TOKEN" ] || fail "$TOKEN_FILE does not hold the printed token"
wait_healthy "$URL" "$SERVER" || fail "the server did not start"
export PROCTOR_URL=$URL PROCTOR_TOKEN=$TOKEN
expect_exit 0 whoami "$BIN" get groups
grep -qx "default" <(awk 'NR > 1 {print $2}' "$WORK/whoami.out") || fail "the token from the file does not list the default group"
echo "cli.sh: ok 1 (token line in serve.log while the server runs; $TOKEN_FILE mode 600 holds it; it works)"

# --- 2. A server that is down: one line, exit 3, fast ------------------------------------------------------------
CLOSED=$(free_port)
START=$(date +%s%3N)
expect_exit 3 down env -u PROCTOR_URL -u PROCTOR_TOKEN "$BIN" runs list --server "http://127.0.0.1:$CLOSED" --token x
ELAPSED=$(($(date +%s%3N) - START))
[ "$(cat "$WORK/down.err")" = "proctor: cannot reach http://127.0.0.1:$CLOSED/ (connection refused)" ] \
  || fail "unexpected message for a closed port: $(cat "$WORK/down.err")"
[ ! -s "$WORK/down.out" ] || fail "output on stdout for a closed port"
[ "$ELAPSED" -lt 10000 ] || fail "a closed port took $ELAPSED ms"
# A server that accepts no connection (a listening socket whose queue is full drops new SYNs): the connect
# timeout, 3 s.
"$PY" -c '
import socket, sys, time
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(0)
queued = []
for _ in range(3):
    client = socket.socket(); client.setblocking(False)
    try: client.connect(server.getsockname())
    except BlockingIOError: pass
    queued.append(client)
print(server.getsockname()[1], flush=True)
time.sleep(30)
' >"$WORK/stuck.port" &
STUCK=$!
PIDS+=($STUCK)
for _ in $(seq 50); do [ -s "$WORK/stuck.port" ] && break; sleep 0.1; done
STUCK_PORT=$(cat "$WORK/stuck.port")
START=$(date +%s%3N)
expect_exit 3 stuck env -u PROCTOR_URL -u PROCTOR_TOKEN "$BIN" runs list --server "http://127.0.0.1:$STUCK_PORT" --token x
STUCK_MS=$(($(date +%s%3N) - START))
kill "$STUCK" 2>/dev/null || true
[ "$(cat "$WORK/stuck.err")" = "proctor: cannot reach http://127.0.0.1:$STUCK_PORT/ (no connection within 3 s)" ] \
  || fail "unexpected message for a server that accepts nothing: $(cat "$WORK/stuck.err")"
[ "$STUCK_MS" -ge 2900 ] && [ "$STUCK_MS" -lt 6000 ] || fail "the connect timeout took $STUCK_MS ms, not about 3 s"
echo "cli.sh: ok 2 (closed port: one line, exit 3, in $ELAPSED ms; no connection accepted: exit 3 after $STUCK_MS ms)"

# --- 3. Exit codes of runs launch --wait and logs -f ------------------------------------------------------------
cat >"$WORK/lab.json" <<'EOF'
{"engines": [{"group": "default", "name": "local", "type": "local"}],
 "definitions": [
  {"group": "default", "name": "passes", "harness": "shell", "job_file": "echo passing-job-says-hello",
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 60}]},
  {"group": "default", "name": "fails", "harness": "shell", "job_file": "echo failing-job-says-bye; exit 3",
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 60}]},
  {"group": "default", "name": "lingers", "harness": "shell", "job_file": "echo lingering; sleep 60",
   "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 120}]}]}
EOF
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data @"$WORK/lab.json" \
  "$URL/api/v1/apply" >/dev/null || fail "apply"

expect_exit 0 passes "$BIN" runs launch passes --wait
PASSED=$(head -1 "$WORK/passes.out")
[ "$(cat "$WORK/passes.err")" = "run $PASSED ended success" ] || fail "passes: stderr $(cat "$WORK/passes.err")"
grep -q passing-job-says-hello "$WORK/passes.out" && fail "passes: --wait without --follow printed the console"

expect_exit 1 fails "$BIN" runs launch fails --follow
FAILED=$(head -1 "$WORK/fails.out")
grep -qx failing-job-says-bye "$WORK/fails.out" || fail "fails: --follow did not print the console"
grep -qx "run $FAILED ended failure: .*" "$WORK/fails.err" || fail "fails: stderr $(cat "$WORK/fails.err")"

timeout 60 "$BIN" runs launch lingers --wait >"$WORK/lingers.out" 2>"$WORK/lingers.err" &
WAITER=$!
for _ in $(seq 100); do [ -s "$WORK/lingers.out" ] && break; sleep 0.1; done
LINGERING=$(head -1 "$WORK/lingers.out")
[ -n "$LINGERING" ] || fail "lingers: no run id printed before the wait"
for _ in $(seq 100); do
  [ "$(curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs/$LINGERING" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = running ] && break
  sleep 0.1
done
expect_exit 0 cancel "$BIN" runs cancel "$LINGERING"
KILLED_EXIT=0
wait "$WAITER" || KILLED_EXIT=$?
[ "$KILLED_EXIT" = 2 ] || fail "lingers: launch --wait of a cancelled run exited $KILLED_EXIT, expected 2"
grep -qx "run $LINGERING ended killed: canceled" "$WORK/lingers.err" || fail "lingers: stderr $(cat "$WORK/lingers.err")"

expect_exit 0 logs-passed "$BIN" logs "$PASSED" -f
grep -qx passing-job-says-hello "$WORK/logs-passed.out" || fail "logs -f did not print the console"
expect_exit 1 logs-failed "$BIN" logs "$FAILED" --follow
expect_exit 0 logs-failed-no-follow "$BIN" logs "$FAILED"
grep -qx failing-job-says-bye "$WORK/logs-failed-no-follow.out" || fail "logs did not print the console"
expect_exit 2 logs-killed "$BIN" logs "$LINGERING" -f
echo "cli.sh: ok 3 (launch --wait: success 0, failure 1, cancelled 2; --follow prints the console; logs -f: 0, 1, 2; logs: 0)"

# --- 4. proctor login: the password from stdin, or without echo on a terminal -----------------------------------
unset PROCTOR_URL PROCTOR_TOKEN
CREDENTIALS=$HOME/.config/proctor/credentials.json
printf '%s\n' "$PASSWORD" | expect_exit 0 login-pipe "$BIN" login --server "$URL" --name admin
[ -s "$CREDENTIALS" ] || fail "login from a pipe saved no credentials"
expect_exit 0 after-login "$BIN" runs list
rm -f "$CREDENTIALS"
printf '%s\n' wrong-password | expect_exit 1 login-wrong "$BIN" login --server "$URL" --name admin

# A terminal session (run by `script` on a pty): the login, its exit status, then the terminal's echo flag, "echo"
# (on) or "-echo" (off). With `interruptible`, the session's shell survives a Ctrl-C that ends the login.
cat >"$WORK/session.sh" <<EOF
#!/usr/bin/env bash
[ "\${1:-}" = interruptible ] && trap : INT
"$BIN" login --server "$URL" --name admin
echo status=\$?
stty -a | tr ' ;' '\n\n' | grep -x -- '-\?echo'
EOF
chmod +x "$WORK/session.sh"
# `script -c` runs its command through $SHELL: bash, which execs the session. dash (the /bin/sh of a machine
# without SHELL set, such as CI) stays as the session's parent and dies of the Ctrl-C below itself.
export SHELL=/bin/bash
# The password is typed 1 s after the start, once the prompt has turned echo off.
(sleep 1; printf '%s\r' "$PASSWORD") | timeout 30 script -qfec "$WORK/session.sh" /dev/null >"$WORK/pty.out" 2>&1 \
  || fail "login on a pty failed"
tr -d '\r' <"$WORK/pty.out" >"$WORK/pty.txt"
grep -q "^Password for admin: " "$WORK/pty.txt" || fail "no prompt on the terminal"
grep -qF "$PASSWORD" "$WORK/pty.txt" && fail "the password was echoed on the terminal"
grep -qx "status=0" "$WORK/pty.txt" || fail "login on a pty did not succeed"
grep -q "logged in to $URL as admin" "$WORK/pty.txt" || fail "login on a pty did not say it logged in"
[ "$(tail -1 "$WORK/pty.txt")" = echo ] || fail "echo is not on again after the login"
[ -s "$CREDENTIALS" ] || fail "login on a pty saved no credentials"

# Ctrl-C at the prompt: the terminal gets its echo back and the command dies of SIGINT.
(sleep 1; printf '\003') | timeout 30 script -qfec "$WORK/session.sh interruptible" /dev/null \
  >"$WORK/pty-interrupt.out" 2>&1 || fail "the interrupted login's session failed"
tr -d '\r' <"$WORK/pty-interrupt.out" >"$WORK/pty-interrupt.txt"
grep -qx "status=130" "$WORK/pty-interrupt.txt" || fail "Ctrl-C at the prompt did not end the login with SIGINT"
[ "$(tail -1 "$WORK/pty-interrupt.txt")" = echo ] || fail "echo is not on again after Ctrl-C at the prompt"
echo "cli.sh: ok 4 (login: password from a pipe; on a pty prompted without echo, echo restored, also after Ctrl-C)"

# --- 1b. A restart leaves the token file alone ---------------------------------------------------------------------
kill "$SERVER"
for _ in $(seq 50); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
"$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 0 >"$WORK/restart.log" 2>&1 &
PIDS+=($!); disown $!
wait_healthy "$URL" "${PIDS[-1]}" || fail "the server did not restart"
grep -q "API token" "$WORK/restart.log" && fail "the restart printed a token again"
[ "$(cat "$TOKEN_FILE")" = "$TOKEN" ] || fail "the restart changed $TOKEN_FILE"
echo "cli.sh: ok (all)"
