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
#  5. `proctor apply` of a lab larger than the server's body limit (a second server with --max-json-bytes 65536 and
#     a lab of about 450 KB): a raw POST of it is a 413 that names the limit and `proctor apply`; the CLI learns the
#     limit from that 413 and sends the lab in several batches; `--output json` counts exactly what the lab holds,
#     all created, and every definition, profile and bundle exists afterwards; a second apply prints the summary
#     table with every kind unchanged and `0 created, 0 updated, N unchanged`; on a terminal (a pty made by
#     `script`) the progress line (of the 600 items of the file) is drawn on stderr, and with stderr not a terminal nothing is.
#  6. `--output json|yaml`: whoami, get (a list and one item), runs list, runs get parse with jq and PyYAML and
#     carry the expected ids.
#  7. `serve --config FILE` takes its options from the YAML file; PROCTOR_<OPTION> variables win over the file and
#     the command line over both; an option the file names that serve does not have is refused (status 64).
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

# --- 6. --output json and yaml ------------------------------------------------------------------------------------
yaml_get() {   # yaml_get FILE EXPR: prints EXPR of the YAML document in FILE (bound to d), or fails
  "$PY" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
expect_exit 0 whoami-json "$BIN" whoami --output json
jq -e '.name == "admin" and .site_admin == true and ([.groups[].name] | index("default"))' "$WORK/whoami-json.out" \
  >/dev/null || fail "whoami --output json: $(cat "$WORK/whoami-json.out")"
expect_exit 0 whoami-yaml "$BIN" whoami --output yaml
[ "$(yaml_get "$WORK/whoami-yaml.out" 'd["name"], d["site_admin"]')" = "('admin', True)" ] \
  || fail "whoami --output yaml: $(cat "$WORK/whoami-yaml.out")"
expect_exit 0 whoami-table "$BIN" whoami
grep -q "^admin " "$WORK/whoami-table.out" || fail "whoami table: $(cat "$WORK/whoami-table.out")"
expect_exit 0 runs-json "$BIN" runs list --output json
"$PY" -m json.tool "$WORK/runs-json.out" >/dev/null || fail "runs list --output json is not JSON"
for id in "$PASSED" "$FAILED" "$LINGERING"; do
  jq -e --arg id "$id" '[.items[].id] | index($id)' "$WORK/runs-json.out" >/dev/null || fail "runs list --output json lacks $id"
done
expect_exit 0 runs-yaml "$BIN" runs list --output yaml
"$PY" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); ids = {r["id"] for r in d["items"]}; sys.exit(not set(sys.argv[2:]) <= ids)' \
  "$WORK/runs-yaml.out" "$PASSED" "$FAILED" "$LINGERING" || fail "runs list --output yaml: $(head -20 "$WORK/runs-yaml.out")"
expect_exit 0 run-json "$BIN" runs get "$FAILED" --output json
jq -e --arg id "$FAILED" '.id == $id and .status == "failure"' "$WORK/run-json.out" >/dev/null \
  || fail "runs get --output json: $(cat "$WORK/run-json.out")"
expect_exit 0 run-yaml "$BIN" runs get "$PASSED" --output yaml
[ "$(yaml_get "$WORK/run-yaml.out" 'd["id"], d["status"]')" = "('$PASSED', 'success')" ] \
  || fail "runs get --output yaml: $(cat "$WORK/run-yaml.out")"
expect_exit 0 defs-json "$BIN" get definitions --output json
DEF_ID=$(jq -r '.items[] | select(.name == "passes") | .id' "$WORK/defs-json.out")
[ -n "$DEF_ID" ] || fail "get definitions --output json lacks 'passes'"
expect_exit 0 def-yaml "$BIN" get definitions "$DEF_ID" --output yaml
[ "$(yaml_get "$WORK/def-yaml.out" 'd["id"], d["name"], d["job_file"]')" = "('$DEF_ID', 'passes', 'echo passing-job-says-hello')" ] \
  || fail "get definitions ID --output yaml: $(cat "$WORK/def-yaml.out")"
expect_exit 0 def-table "$BIN" get definitions "$DEF_ID"
grep -qx "id  *$DEF_ID" "$WORK/def-table.out" || fail "get definitions ID (table): $(cat "$WORK/def-table.out")"
echo "cli.sh: ok 6 (--output json and yaml of whoami, get, runs list, runs get parse and carry the ids)"

# --- 5. A lab larger than the body limit: batches, a summary, progress on a terminal --------------------------------
SMALL_PORT=$(free_port)
SMALL_URL=http://127.0.0.1:$SMALL_PORT
PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$SMALL_PORT" --data-dir "$WORK/data-small" --executor-slots 0 \
  --work-root "$WORK/runs" --max-json-bytes 65536 --log-level warning >"$WORK/small.log" 2>&1 &
PIDS+=($!); disown $!
wait_healthy "$SMALL_URL" "${PIDS[-1]}" || fail "the server with a small body limit did not start"
# 40 groups, each with a user, an engine, a testbed, 10 jobs of one profile each (with long descriptions) and a bundle.
"$PY" - "$WORK/big.yaml" <<'PYEOF'
import sys, yaml
pad = "a long description " * 50
groups = [f"lab-{g}" for g in range(40)]
lab = {
    "groups": [{"name": g, "description": pad} for g in groups],
    "users": [{"name": f"user-{g}", "groups": {g: "admin"}} for g in groups],
    "engines": [{"group": g, "name": "local", "type": "local"} for g in groups],
    "testbeds": [{"group": g, "name": "bench"} for g in groups],
    "definitions": [{"group": g, "name": f"job-{j}", "harness": "shell", "job_file": f"echo {g} {j}",
                     "description": pad, "profiles": [{"name": "DEFAULT", "is_default": True, "engine": "local",
                                                        "testbeds": ["bench"]}]}
                    for g in groups for j in range(10)],
    "bundles": [{"group": g, "name": "all", "profiles": [f"job-{j}/DEFAULT" for j in range(10)]} for g in groups],
}
yaml.safe_dump(lab, open(sys.argv[1], "w"))
PYEOF
"$PY" -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
  "$WORK/big.yaml" "$WORK/big.json"
BIG_BYTES=$(stat -c %s "$WORK/big.json")
[ "$BIG_BYTES" -gt 300000 ] || fail "the big lab is only $BIG_BYTES bytes"
STATUS=$(curl -s -o "$WORK/big-raw.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" "$SMALL_URL/api/v1/apply")
[ "$STATUS" = 413 ] || fail "a raw POST of $BIG_BYTES bytes answered $STATUS, not 413"
jq -e '.error.limit == ["65536"] and (.error.message | test("65536 bytes.*`proctor apply -f LAB` sends a big lab in batches"))' \
  "$WORK/big-raw.out" >/dev/null || fail "the 413 does not say the way out: $(cat "$WORK/big-raw.out")"
expect_exit 0 big-first "$BIN" apply -f "$WORK/big.yaml" --server "$SMALL_URL" --token "$TOKEN" --output json
[ ! -s "$WORK/big-first.err" ] || fail "apply wrote on stderr, which is no terminal: $(cat "$WORK/big-first.err")"
"$PY" -m json.tool "$WORK/big-first.out" >/dev/null || fail "apply --output json is not JSON"
BATCHES=$(jq .batches "$WORK/big-first.out")
[ "$BATCHES" -ge $((BIG_BYTES / 65536 + 1)) ] || fail "$BIG_BYTES bytes went in $BATCHES batches"
# Each kind's counts: 40 groups, users, memberships, engines, testbeds, bundles; 400 definitions and profiles.
WANT='{"bundle":[40,0,0],"definition":[400,0,0],"engine":[40,0,0],"group":[40,0,0],"membership":[40,0,0],"profile":[400,0,0],"testbed":[40,0,0],"user":[40,0,0]}'
GOT=$(jq -c '.summary | map_values([.created, .updated, .unchanged])' "$WORK/big-first.out")
[ "$GOT" = "$WANT" ] || fail "first apply's summary: $GOT, expected $WANT"
jq -e '.created == 1040 and .updated == 0 and .unchanged == 0 and (.changes | length) == 1040
       and all(.changes[]; .action == "created" and (.id | length) > 0)' "$WORK/big-first.out" >/dev/null \
  || fail "first apply's totals or changes: $(jq -c '{created, updated, unchanged, n: (.changes | length)}' "$WORK/big-first.out")"
# Every item is there: the ids the apply reported are the rows the server lists.
for kind in definitions profiles bundles groups; do
  expect_exit 0 "list-$kind" "$BIN" get "$kind" --server "$SMALL_URL" --token "$TOKEN" --limit 1000 --output json
done
[ "$(jq '[.items[] | select(.name | startswith("job-"))] | length' "$WORK/list-definitions.out")" = 400 ] \
  || fail "the server lists $(jq '.items | length' "$WORK/list-definitions.out") definitions, not 400"
for kind in definition profile bundle group; do
  jq -r --arg kind "$kind" '.changes[] | select(.kind == $kind) | .id' "$WORK/big-first.out" | sort >"$WORK/applied-$kind.ids"
  jq -r '.items[].id' "$WORK/list-${kind}s.out" | sort >"$WORK/listed-$kind.ids"
  [ -z "$(comm -23 "$WORK/applied-$kind.ids" "$WORK/listed-$kind.ids")" ] || fail "applied ${kind}s missing on the server"
done
[ "$(jq '[.items[] | select(.name == "all") | .profile_ids | length] | add' "$WORK/list-bundles.out")" = 400 ] \
  || fail "the bundles do not name their 400 profiles"
# Again, as a table: every kind unchanged.
expect_exit 0 big-again "$BIN" apply -f "$WORK/big.yaml" --server "$SMALL_URL" --token "$TOKEN"
[ "$(tail -1 "$WORK/big-again.out")" = "0 created, 0 updated, 1040 unchanged" ] \
  || fail "second apply's last line: $(tail -1 "$WORK/big-again.out")"
head -1 "$WORK/big-again.out" | grep -qx "KIND  *CREATED  *UPDATED  *UNCHANGED" || fail "no summary table: $(cat "$WORK/big-again.out")"
for row in "group 0 0 40" "user 0 0 40" "membership 0 0 40" "definition 0 0 400" "profile 0 0 400" "bundle 0 0 40"; do
  grep -qx "$(echo "$row" | sed 's/ /  */g')" "$WORK/big-again.out" || fail "no row '$row' in $(cat "$WORK/big-again.out")"
done
[ "$(wc -l <"$WORK/big-again.out")" -eq 10 ] || fail "second apply printed $(wc -l <"$WORK/big-again.out") lines, not 10"
expect_exit 0 big-yaml "$BIN" apply -f "$WORK/big.yaml" --server "$SMALL_URL" --token "$TOKEN" --output yaml
[ "$(yaml_get "$WORK/big-yaml.out" 'd["unchanged"], len(d["changes"]), d["summary"]["profile"]["unchanged"]')" = "(1040, 1040, 400)" ] \
  || fail "apply --output yaml: $(head -20 "$WORK/big-yaml.out")"
# On a terminal: the progress line on stderr, then the summary.
timeout 60 script -qfec "$BIN apply -f $WORK/big.yaml --server $SMALL_URL --token $TOKEN" /dev/null \
  >"$WORK/big-pty.out" 2>&1 || fail "apply on a pty failed"
grep -q "applying $WORK/big.yaml: [0-9]*/600 items ([0-9]*%), batch [0-9]* of [0-9]*" "$WORK/big-pty.out" \
  || fail "no progress on a terminal: $(head -c 600 "$WORK/big-pty.out")"
grep -qx "0 created, 0 updated, 1040 unchanged" <<<"$(tr -d '\r' <"$WORK/big-pty.out")" || fail "no summary on a terminal"
echo "cli.sh: ok 5 ($BIG_BYTES bytes under a 65536-byte limit: 413 names the way out; $BATCHES batches; counts exact; all unchanged again; progress on a pty)"

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
# --- 7. serve's options from a configuration file and PROCTOR_* variables -------------------------------------------
CONFIG=$WORK/proctor.yaml
P_FILE=$(free_port) P_ENV=$(free_port) P_FLAG=$(free_port)
cat >"$CONFIG" <<EOF
port: $P_FILE
data_dir: $WORK/cfg-data
work-root: $WORK/cfg-runs
executor-slots: 0
trusted-proxy: [10.0.0.1, 10.0.0.2]
EOF
# serve_with NAME PORT ENV... -- ARGS...: starts serve with the environment and arguments given, waits until PORT
# answers, and stops it.
serve_with() {
  local name=$1 port=$2 pid
  shift 2
  env "$@" >"$WORK/$name.log" 2>&1 &
  pid=$!
  PIDS+=($pid); disown $pid
  wait_healthy "http://127.0.0.1:$port" "$pid" || fail "$name: nothing answered on port $port"
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
serve_with config-file "$P_FILE" "$BIN" serve --config "$CONFIG"
[ -f "$WORK/cfg-data/proctor.sqlite" ] || fail "serve --config did not use the file's data_dir"
serve_with config-env "$P_ENV" PROCTOR_PORT="$P_ENV" PROCTOR_CONFIG="$CONFIG" "$BIN" serve
serve_with config-flag "$P_FLAG" PROCTOR_PORT="$P_ENV" "$BIN" serve --config "$CONFIG" --port "$P_FLAG"
printf 'port: 1\nno-such-option: 2\n' >"$WORK/bad.yaml"
expect_exit 64 config-bad "$BIN" serve --config "$WORK/bad.yaml"
grep -q "'no-such-option' is not an option of proctor serve" "$WORK/config-bad.err" \
  || fail "a configuration file's unknown option was not named"
echo "cli.sh: ok 7 (serve --config: the file's options; PROCTOR_PORT over the file; --port over both; an unknown option refused)"

echo "cli.sh: ok (all)"
