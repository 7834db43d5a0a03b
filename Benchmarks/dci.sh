#!/usr/bin/env bash
# Benchmarks/dci.sh — the DCI door over HTTP as the real DCI server was measured (issue #19, reference/anchors.md
# §9): one release server on SQLite with examples/lab.yaml applied; the real dciclient seeds JOBS jobs as a remote
# CI does (job, jobstate, JUnit file, jobstate; 8 threads), then wrk replays signed requests (a job list of 50, a
# job by id, a jobstate posted) at 8 and 32 connections (Tests/compat/dci_bench.py). Prints req/s, p50/p99 and the
# server's CPU time per seeded job and per request, read from /proc: the client's own work is not in it.
#
#   Benchmarks/dci.sh [JOBS] [SECONDS]   default 2000 jobs, 10 s per wrk run
#   PROCTOR_BIN   the proctor binary (default: a release build, .build/release/proctor)
# Needs wrk (apt-get install wrk) and the venv of scripts/test (dciclient).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${1:-2000}
DURATION=${2:-10}
[ -x .venv/bin/python ] || { echo "dci.sh: no .venv (scripts/test creates it)" >&2; exit 1; }
source Benchmarks/lib.sh
start_server dci --executor-slots 0
"$BIN" apply --file examples/lab.yaml --server "$BASE" --token "$TOKEN" >/dev/null
echo "dci.sh: $JOBS jobs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
.venv/bin/python Tests/compat/dci_bench.py --url "$BASE" --jobs "$JOBS" --seconds "$DURATION" --server-pid "$SERVER"
echo "dci.sh: done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
