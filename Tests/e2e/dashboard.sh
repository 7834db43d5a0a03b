#!/usr/bin/env bash
# Tests/e2e/dashboard.sh — the web dashboard in a real headless Chromium (issue #9).
#
# Installs the Debian `chromium` package when missing, starts `proctor serve` on a fresh SQLite data dir,
# applies examples/lab.yaml (user alice, password alice-password), runs the pytest demo (one passing, one
# failing run) and a client-reported run whose name, console line and test message hold <script> and quotes,
# then drives Chromium through the DevTools protocol (Tests/e2e/dashboard_driver.py): login, the runs table,
# a run's log and tests, a launch from the job page appearing in an open runs table without a reload, the live
# log, cancel, escaping, logout; why a queued run waits, the runs table's search, the raw log download, a test's
# history, the comparison of two runs, and /docs at a phone's width. Screenshots of every page at 1280 and 390 px go to test-artifacts/screenshots/
# (git-ignored).
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   PYTHON        an interpreter with pytest and websocket-client (default .venv/bin/python)
#   CHROMIUM      the browser (default: chromium on PATH, installed with apt-get when missing)
#   SCREENSHOTS   where the screenshots go (default test-artifacts/screenshots)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup dashboard
PY=${PYTHON:-${PROCTOR_TEST_PYTHON:-$ROOT/.venv/bin/python}}
[ -x "$PY" ] || PY=$(command -v python3)
OUT=${SCREENSHOTS:-$ROOT/test-artifacts/screenshots}
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT

fail() {
  { echo "dashboard.sh: FAIL: $*"; for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
    echo "--- processes mentioning $WORK"; e2e_leftovers; } >&2
  exit 1
}

# --- Chromium (the same sudo/apt pattern as scripts/postgres.sh) ----------------------------------------------
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  echo "dashboard.sh: chromium not found; installing the Debian chromium package" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq </dev/null >&2 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null >&2 \
    || fail "apt-get install chromium failed"
  CHROMIUM=$(command -v chromium) || fail "chromium installed but not on PATH"
fi
"$PY" -c 'import websocket, pytest' 2>/dev/null || fail "$PY lacks websocket-client or pytest (scripts/requirements-test.txt)"
[ -x "$BIN" ] || fail "no proctor binary at $BIN (swift build first)"

# --- The server, the lab, a few runs ------------------------------------------------------------------------
TOKEN=pt_e2e_dashboard_admin_token_0000
PROCTOR_ADMIN_TOKEN=$TOKEN PROCTOR_PYTHON=$PY "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 2 \
  --workspace "$ROOT" --work-root "$WORK/runs" --log-level warning >"$WORK/server.log" 2>&1 &
PIDS+=($!); disown $!
wait_healthy "$URL" "${PIDS[-1]}" || fail "the server did not start"
"$BIN" apply -f examples/lab.yaml --server "$URL" --token "$TOKEN" >"$WORK/apply.log" 2>&1 || fail "apply examples/lab.yaml"
# A launch sets values of declared parameters only (profile envargs, definition args): declare those the runs
# below and the browser's launch set on pytest-demo (the example lab's DEFAULT profile declares PYTHONPATH only).
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -X POST "$URL/api/v1/apply" -d '{"definitions": [
  {"group": "default", "name": "pytest-demo", "args": [{"name": "-s", "flag": true}],
   "profiles": [{"name": "DEFAULT", "envargs": [{"name": "PYTHONPATH", "value": "examples"},
     {"name": "PROCTOR_DEMO_FAIL", "value": "0"}, {"name": "PROCTOR_DEMO_STEP_SECONDS", "value": "0.2"}]}]},
  {"group": "default", "name": "agent-job", "harness": "shell", "job_file": "true",
   "profiles": [{"name": "ON-AGENTS", "is_default": true, "engine": "agents"}]}]}' \
  >>"$WORK/apply.log" || fail "declaring pytest-demo's launch parameters"

ALICE=pt_alice_automation_token_0001
"$PY" - "$URL" "$ALICE" "$WORK/runs.json" <<'EOF' || fail "preparing the runs"
import json, sys, time, urllib.parse, urllib.request
base, token, out = sys.argv[1:4]
def call(method, path, body=None, raw=None, content="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": content})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)
passing = call("POST", "/api/v1/runs", {"definition": "pytest-demo", "tags": ["nightly"]})["id"]
failing = call("POST", "/api/v1/runs", {"definition": "pytest-demo", "profile": "FAILING"})["id"]
for run in (passing, failing):
    for _ in range(600):
        status = call("GET", f"/api/v1/runs/{run}")["status"]
        if status in ("success", "failure", "error", "killed"): break
        time.sleep(0.1)
assert call("GET", f"/api/v1/runs/{passing}")["status"] == "success", call("GET", f"/api/v1/runs/{passing}")
assert call("GET", f"/api/v1/runs/{failing}")["status"] == "failure", call("GET", f"/api/v1/runs/{failing}")
# The DEFAULT profile again, told to fail: its failing test is REGRESSED against the passing run before it.
regressed = call("POST", "/api/v1/runs", {"definition": "pytest-demo", "options": {"PROCTOR_DEMO_FAIL": "1"}})["id"]
for _ in range(600):
    if call("GET", f"/api/v1/runs/{regressed}")["status"] in ("success", "failure", "error", "killed"): break
    time.sleep(0.1)
assert call("GET", f"/api/v1/runs/{regressed}")["status"] == "failure", call("GET", f"/api/v1/runs/{regressed}")
hostile = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">'q"
run = call("POST", "/api/v1/runs", {"group": "default", "name": hostile, "comment": hostile, "tags": [hostile]})["id"]
call("POST", f"/api/v1/runs/{run}/log", raw=f"starting\nERROR {hostile}\n".encode(), content="text/plain")
escaped = hostile.replace("&", "&amp;").replace("<", "&lt;").replace("\"", "&quot;")
junit = f'<testsuite name="s"><testcase classname="{escaped}" name="t"><failure message="{escaped}">{escaped}</failure></testcase></testsuite>'
call("POST", f"/api/v1/runs/{run}/files?name={urllib.parse.quote(hostile)}&results=junit", raw=junit.encode(), content="application/xml")
# No agent runs in this test: a run on the example lab's agents (label linux) waits, and says why.
waiting = call("POST", "/api/v1/runs", {"definition": "agent-job", "name": "waits for an agent"})["id"]
json.dump({"passing": passing, "failing": failing, "regressed": regressed, "hostile": run, "waiting": waiting},
          open(out, "w"))
EOF
field() { "$PY" -c "import json; print(json.load(open('$WORK/runs.json'))['$1'])"; }

# --- The browser ----------------------------------------------------------------------------------------------
rm -rf "$OUT"
"$PY" Tests/e2e/dashboard_driver.py --url "$URL" --chromium "$CHROMIUM" --out "$OUT" --user alice --password alice-password \
  --token "$ALICE" --finished-run "$(field passing)" --failing-run "$(field failing)" --regressed-run "$(field regressed)" --hostile-run "$(field hostile)" \
  --waiting-run "$(field waiting)" \
  || fail "the browser checks failed"
echo "dashboard.sh: ok (screenshots in ${OUT#$ROOT/})"
