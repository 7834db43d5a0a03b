#!/usr/bin/env bash
# Tests/e2e/package.sh — the release tarball works where Swift is not installed: scripts/package's tarball is
# unpacked into an empty directory and started inside a bubblewrap sandbox in which the Swift toolchain's folder
# is an empty tmpfs and PATH holds only /usr/bin and /bin. It must report its version, start on its sample
# configuration (with the port and folders overridden by PROCTOR_* variables), answer /healthz, serve the
# dashboard's page and assets from the resources beside the binary, and stop on SIGTERM. `ldd` of the binary must
# name no libswift library. (The server runs with --sandbox none: a bubblewrap sandbox cannot be made inside the
# one that hides the toolchain, and the sandbox is not what this test is about.)
#
#   PROCTOR_PACKAGE   a tarball to test (default: build one with scripts/package, a release build with the Swift
#                     standard library linked in; that build is the slow part)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup package
SERVER=
cleanup() { [ -z "$SERVER" ] || kill -9 "$SERVER" 2>/dev/null || true; e2e_kill_leftovers; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { { echo "package.sh: FAIL: $*"; [ -f "$WORK/serve.log" ] && tail -20 "$WORK/serve.log"; } >&2; exit 1; }

TARBALL=${PROCTOR_PACKAGE:-}
if [ -z "$TARBALL" ]; then
  TARBALL=$(scripts/package "$WORK/out" | tail -1) || fail "scripts/package failed"
fi
[ -f "$TARBALL" ] || fail "no tarball at $TARBALL"
mkdir "$WORK/install"
tar -xzf "$TARBALL" -C "$WORK/install"
DIR=$(echo "$WORK"/install/proctor-*)
[ -x "$DIR/bin/proctor" ] || fail "the tarball has no bin/proctor"
for f in share/proctor/proctor.service share/proctor/proctor.yaml bin/proctor_ProctorDashboard.resources/Templates; do
  [ -e "$DIR/$f" ] || fail "the tarball has no $f"
done
if grep -q libswift <<<"$(ldd "$DIR/bin/proctor")"; then fail "bin/proctor links the toolchain's Swift libraries: $(ldd "$DIR/bin/proctor" | grep libswift | head -3)"; fi

# The toolchain's folder (where swift is) hidden under an empty tmpfs, PATH without it.
TOOLCHAIN=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
PORT=$(free_port)
run_hidden() {
  bwrap --bind / / --dev /dev --proc /proc --tmpfs "$TOOLCHAIN" --chdir "$WORK" \
    --setenv PATH /usr/bin:/bin "$@"
}
VERSION=$(run_hidden "$DIR/bin/proctor" --version) || fail "bin/proctor --version failed without the toolchain"
echo "package.sh: $(basename "$TARBALL"): version $VERSION; toolchain $TOOLCHAIN hidden"

run_hidden env -u PROCTOR_DASHBOARD_DIR PROCTOR_PORT="$PORT" PROCTOR_HOST=127.0.0.1 PROCTOR_DATA_DIR="$WORK/data" \
  PROCTOR_WORK_ROOT="$WORK/work" PROCTOR_LOG_FORMAT=text PROCTOR_SANDBOX=none \
  "$DIR/bin/proctor" serve --config "$DIR/share/proctor/proctor.yaml" >"$WORK/serve.log" 2>&1 &
SERVER=$!
wait_healthy "http://127.0.0.1:$PORT" "$SERVER" || fail "the unpacked server did not start"
[ -s "$WORK/data/admin-token" ] || fail "no admin token file"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "/healthz"
PAGE=$(curl -sf "http://127.0.0.1:$PORT/login") || fail "the dashboard's login page"
grep -q "<html" <<<"$PAGE" || fail "the dashboard page is not HTML"
ASSET=$(grep -o '/assets/[^"?]*' <<<"$PAGE" | head -1)
[ -n "$ASSET" ] || fail "the dashboard page names no asset"
curl -sf "http://127.0.0.1:$PORT$ASSET" >/dev/null || fail "the dashboard asset $ASSET"
kill -TERM "$SERVER"
for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER" 2>/dev/null && fail "the server did not stop on SIGTERM"
SERVER=
echo "package.sh: ok (unpacked into an empty directory; started, served the dashboard and stopped without the Swift toolchain)"
