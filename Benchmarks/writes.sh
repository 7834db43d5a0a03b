#!/usr/bin/env bash
# Benchmarks/writes.sh — the native API under a write load (issue #19): CLIENTS clients flat out for SECONDS s
# against one server on SQLite, each creating a bare run and reporting it running, then success; prints the
# acknowledged writes/s, their latency p50/p99, the machine's load average (proctor-bench --write-load) and the
# server's CPU time per acknowledged write (read from /proc: the stable figure on a busy machine).
#
#   Benchmarks/writes.sh [CLIENTS] [SECONDS]   default 200 clients, 30 s
#   PROCTOR_BIN         the proctor binary (default: a release build, .build/release/proctor)
#   PROCTOR_BENCH_BIN   the load's client (default: a release build, .build/release/proctor-bench)
#   DATABASE_URL        measure PostgreSQL at this URL instead of SQLite
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLIENTS=${1:-200}
DURATION=${2:-30}
BENCH=${PROCTOR_BENCH_BIN:-.build/release/proctor-bench}
[ -x "$BENCH" ] || swift build -c release --product proctor-bench
source Benchmarks/lib.sh
database=()
[ -z "${DATABASE_URL:-}" ] || database=(--database-url "$DATABASE_URL")
start_server writes --executor-slots 0 "${database[@]}"
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }   # the server's user + system time, in clock ticks
BEFORE=$(cpu)
"$BENCH" --write-load "$BASE" --token "$TOKEN" --clients "$CLIENTS" --seconds "$DURATION" | tee "$WORK/load.txt"
WRITES=$(awk '/^acknowledged writes:/ {print $3}' "$WORK/load.txt")
awk -v ticks="$(($(cpu) - BEFORE))" -v hz="$(getconf CLK_TCK)" -v writes="$WRITES" \
  'BEGIN { printf "server CPU: %.1f s, %.3f ms per acknowledged write\n", ticks / hz, writes ? 1000 * ticks / hz / writes : 0 }'
