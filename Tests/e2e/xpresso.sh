#!/usr/bin/env bash
# Tests/e2e/xpresso.sh — the XPRESSO front door on a real `proctor serve`: the documents' example lab applied
# with `proctor apply`, a Polaris image built by a stand-in builder (`--image-builder`) into `--image-storage`
# (one build `built`, one `failed`), a request that runs a job on the local executor to COMPLETED/PASSED
# with its test cases in the native API, and a request running a real pyATS job (examples/pyats, pyATS from
# .venv) to FAILED: one case per section from its archive's results.json, its console log, its archive kept. The builder is itself a sandboxed run: it lives in WORK (not under
# /tmp, which a job cannot see) and writes its tarball into the one image folder the server lets it write.
#
#   PROCTOR_BIN   the proctor binary (default .build/debug/proctor)
#   PYTHON        a Python 3 interpreter (default .venv/bin/python, else python3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup xpresso
SERVER=
cleanup() { [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT

ADMIN=pt_e2e_xpresso_admin_token_0000
USER_TOKEN=xp_user_automation_token_0001

fail() { { echo "xpresso.sh: FAIL: $*"; tail -20 "$WORK/server.log"; echo "--- processes mentioning $WORK"; e2e_leftovers; } >&2; exit 1; }
xp() { curl -s -H "Authorization: Token $USER_TOKEN" -H 'X-Xpresso-Group: myGroup' -H 'Content-Type: application/json' "$@"; }
field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

cat >"$WORK/builder.sh" <<'SH'
#!/bin/sh
# Stands in for `docker build`: a tarball for any ref but `broken`.
echo "builder: $*"
[ "$PROCTOR_GIT_REF" = broken ] && exit 1
echo "image $PROCTOR_IMAGE_NAME:$PROCTOR_IMAGE_TAG at $PROCTOR_GIT_REF" > "$PROCTOR_IMAGE_TARBALL"
SH
chmod +x "$WORK/builder.sh"

PROCTOR_ADMIN_TOKEN=$ADMIN "$BIN" serve --port "$PORT" --data-dir "$WORK/data" --executor-slots 2 --workspace "$ROOT" \
  --work-root "$WORK/runs" --image-builder "$WORK/builder.sh" --image-storage "$WORK/images" --log-level warning >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_healthy "$URL" "$SERVER" || fail "the server did not start"
"$BIN" apply -f examples/xpresso-lab.yaml --server "$URL" --token "$ADMIN" >/dev/null || fail "apply"

declare -A BUILD
for ref in main broken; do
  BUILD[$ref]=$(xp -X POST -d "{\"name\": \"polaris-image\", \"tag\": \"$ref\", \"git_ref\": \"$ref\", \"groups\": [\"myGroup\"]}" \
    "$URL/xpresso/api/v2/images/polaris_build" | field "['uuid']") || fail "polaris_build $ref"
done
status() { curl -s -H "Authorization: Bearer $ADMIN" "$URL/api/v1/image_builds/$1" | field "['status']"; }
for _ in $(seq 300); do
  [ "$(status "${BUILD[main]}")" != building ] && [ "$(status "${BUILD[broken]}")" != building ] && break
  sleep 0.1
done
[ "$(status "${BUILD[main]}")" = built ] || fail "the main build is $(status "${BUILD[main]}"), expected built"
[ "$(status "${BUILD[broken]}")" = failed ] || fail "the broken build is $(status "${BUILD[broken]}"), expected failed"
grep -q "polaris-image:main at main" "$WORK/images/myGroup/polaris-image/main.tar" || fail "no tarball"

PROFILE=$(xp "$URL/xpresso/api/v2/profiles" | "$PY" -c 'import json,sys; print(next(p["id"] for p in json.load(sys.stdin) if p["name"] == "LOCAL"))')
REQ=$(xp -X POST -d "{\"profile\": \"$PROFILE\", \"testbeds\": [\"MyTestbed\"]}" "$URL/xpresso/api/v2/requests" | field "['request_id']") \
  || fail "POST /requests"
for _ in $(seq 300); do [ "$(xp "$URL/xpresso/api/v2/requests/$REQ" | field "['state']")" = COMPLETED ] && break; sleep 0.1; done
RESULT=$(xp "$URL/xpresso/api/v2/requests/$REQ" | field "['result']")
[ "$RESULT" = PASSED ] || fail "request $REQ ended $RESULT"
RUN=$(xp "$URL/xpresso/api/v2/requests/$REQ" | field "['items'][0]['run_id']")
TESTS=$(curl -s -H "Authorization: Bearer $ADMIN" "$URL/api/v1/runs/$RUN/tests" | field "['items'].__len__()")
[ "$TESTS" = 2 ] || fail "expected 2 test cases, got $TESTS"

# A real pyATS job (examples/pyats) through a request: pyATS from the test venv, named by the harness's path.
PYATS=$ROOT/.venv/bin/pyats
[ -x "$PYATS" ] || fail "no $PYATS (scripts/test installs pyats into .venv from scripts/requirements-test.txt)"
cat >"$WORK/pyats-lab.yaml" <<YAML
harnesses:
  - {name: PyATS, group: myGroup, harness: pyats, path: $PYATS, site: SJC, bldg: ALL, created_by: user}
jobs:
  - name: pyATS_Smoke
    group: myGroup
    harness: pyats
    job_file: examples/pyats/smoke_job.py
    description: A real pyATS job, results from its archive
    created_by: user
    profiles:
      - {name: PYATS, is_default: true, priority: 4, engine: ExecEngine, harnesses: [PyATS], testbeds: [MyTestbed],
         max_run_time: 300, created_by: user}
YAML
"$BIN" apply -f "$WORK/pyats-lab.yaml" --server "$URL" --token "$ADMIN" >/dev/null || fail "apply the pyATS job"
PYATS_PROFILE=$(xp "$URL/xpresso/api/v2/profiles" | "$PY" -c 'import json,sys; print(next(p["id"] for p in json.load(sys.stdin) if p["name"] == "PYATS"))')
PYATS_REQ=$(xp -X POST -d "{\"profile\": \"$PYATS_PROFILE\", \"testbeds\": [\"MyTestbed\"]}" "$URL/xpresso/api/v2/requests" \
  | field "['request_id']") || fail "POST /requests (pyATS)"
for _ in $(seq 600); do [ "$(xp "$URL/xpresso/api/v2/requests/$PYATS_REQ" | field "['state']")" = COMPLETED ] && break; sleep 0.1; done
PYATS_RESULT=$(xp "$URL/xpresso/api/v2/requests/$PYATS_REQ" | field "['result']")
PYATS_RUN=$(xp "$URL/xpresso/api/v2/requests/$PYATS_REQ" | field "['items'][0]['run_id']")
native() { curl -s -H "Authorization: Bearer $ADMIN" "$URL/api/v1/$1"; }
[ "$PYATS_RESULT" = FAILED ] || { native "runs/$PYATS_RUN/log" | tail -40 >&2; fail "pyATS request $PYATS_REQ ended $PYATS_RESULT, expected FAILED (one section fails)"; }
# One case per section, pyATS's own words kept: the failing test's reason is its message.
CASES=$(native "runs/$PYATS_RUN/tests?limit=100" | "$PY" -c '
import json,sys
items = json.load(sys.stdin)["items"]
print(" ".join(sorted(i["classname"] + "." + i["name"] + "=" + i["status"] for i in items)))
print(next(i.get("message") or "" for i in items if i["name"] == "lossless"))')
EXPECTED="Ping.lossless=failed Ping.reach=passed common_cleanup.disconnect=passed common_setup.connect=passed"
[ "$(echo "$CASES" | head -1)" = "$EXPECTED" ] || fail "pyATS cases: $(echo "$CASES" | head -1), expected $EXPECTED"
echo "$CASES" | tail -1 | grep -q "lost 1 of 5 packets" || fail "the failed section's message is: $(echo "$CASES" | tail -1)"
# Read the whole log before grepping: `grep -q` stops at the first match, and under pipefail
# the writer it leaves behind (a SIGPIPE) would fail the check.
PYATS_LOG=$(native "runs/$PYATS_RUN/log")
grep -q "%AETEST-INFO" <<<"$PYATS_LOG" || fail "the run's console log has no aetest output"
# The archive is kept as pyATS wrote it, and downloads as a zip holding results.json.
ARCHIVE=$(native "runs/$PYATS_RUN/files" | "$PY" -c '
import json,sys
print(next(f["id"] for f in json.load(sys.stdin)["items"] if f["name"] == "archive/pyats-archive.zip"))') \
  || fail "no archive among the run's files"
native "files/$ARCHIVE/content" >"$WORK/archive.zip"
"$PY" -c 'import sys,zipfile; n=zipfile.ZipFile(sys.argv[1]).namelist(); assert "results.json" in n, n' "$WORK/archive.zip" \
  || fail "the downloaded archive holds no results.json"
echo "xpresso.sh: ok (image built and failed as the builder said; $REQ ran $RUN with $TESTS test cases; pyATS $PYATS_REQ: $PYATS_RESULT, $(echo "$CASES" | head -1))"
