#!/usr/bin/env bash
# Benchmarks/lab.sh — a lab at scale (issue #20): REPLICAS `proctor serve` replicas on one PostgreSQL, AGENTS
# simulated agents and RUNS short runs over TESTBEDS testbeds (proctor-bench --lab-simulation). Prints whether
# every run executed exactly once and no testbed ever held two runs at once, the dispatch latency p50/p99 (launch
# to claim) and runs/s, with the machine's load average; exits non-zero when a run was lost, doubled or
# shared its testbed.
#
#   Benchmarks/lab.sh [RUNS] [AGENTS] [REPLICAS] [TESTBEDS]   default 20000 100 4 200
#   DATABASE_URL        a PostgreSQL server to use (else a throwaway one from scripts/postgres.sh)
#   PROCTOR_BIN         the proctor binary (default: a release build, .build/release/proctor)
#   PROCTOR_BENCH_BIN   the simulation (default: a release build, .build/release/proctor-bench)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-20000}
AGENTS=${2:-100}
REPLICAS=${3:-4}
TESTBEDS=${4:-200}
BIN=${PROCTOR_BIN:-.build/release/proctor}
BENCH=${PROCTOR_BENCH_BIN:-.build/release/proctor-bench}
[ -x "$BIN" ] || swift build -c release --product proctor
[ -x "$BENCH" ] || swift build -c release --product proctor-bench
PY=$(command -v python3)

mkdir -p .build/bench && chmod 755 .build/bench
WORK=$(mktemp -d "$PWD/.build/bench/lab.XXXXXX")
chmod 755 "$WORK"
PIDS=() PGDIR=
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -z "$PGDIR" ] || scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

URL_DB=${DATABASE_URL:-}
if [ -z "$URL_DB" ]; then PGDIR=$WORK/pg; URL_DB=$(scripts/postgres.sh start "$PGDIR"); fi
DB=proctor_lab_$$
psql "$URL_DB" -qc "CREATE DATABASE $DB" >/dev/null
URL_DB=${URL_DB%/*}/$DB

TOKEN=pt_bench_lab_admin_token_000000000
URLS=()
for i in $(seq 0 $((REPLICAS - 1))); do
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PROCTOR_ADMIN_TOKEN=$TOKEN "$BIN" serve --port "$port" --data-dir "$WORK/data$i" --database-url "$URL_DB" \
    --executor-slots 0 --work-root "$WORK/runs$i" --log-level warning >"$WORK/server$i.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/livez" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/livez" >/dev/null || { echo "lab.sh: replica $i did not start:" >&2; cat "$WORK/server$i.log" >&2; exit 1; }
  URLS+=("http://127.0.0.1:$port")
done
cpu() { local total=0; for pid in "${PIDS[@]}"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo $total; }
BEFORE=$(cpu)
(IFS=,; "$BENCH" --lab-simulation "${URLS[*]}" --token "$TOKEN" --runs "$RUNS" --agents "$AGENTS" --testbeds "$TESTBEDS")
awk -v ticks="$(($(cpu) - BEFORE))" -v hz="$(getconf CLK_TCK)" -v runs="$RUNS" -v n="$REPLICAS" \
  'BEGIN { printf "replicas CPU: %.1f s over %d replicas, %.2f ms per run\n", ticks / hz, n, 1000 * ticks / hz / runs }'
