#!/usr/bin/env bash
# scripts/postgres.sh — a throwaway PostgreSQL for tests and benchmarks.
#
#   scripts/postgres.sh start [DIR]   create and start a fresh cluster in DIR
#                                     (default: a new temp dir); prints exactly
#                                     one line on stdout, the connection URL
#                                     postgres://proctor:proctor@127.0.0.1:PORT/proctor
#   scripts/postgres.sh stop DIR      stop that cluster and delete DIR
#
# Installs the Debian `postgresql` package if initdb is missing. When run as
# root, the server runs as the `postgres` OS user (initdb refuses root). The
# server listens on 127.0.0.1 only (first free port from 54329 up), keeps its
# unix socket in DIR, trusts every local connection, skips fsync and takes
# 200 connections — it is for tests only. DIR holds: pgdata/ (the cluster),
# url, postgres.log.
# All diagnostics go to stderr.
set -Eeuo pipefail   # -E: the ERR trap below also fires inside functions

# stdout (kept as fd 3) is reserved for the URL; everything else -> stderr.
# The server must not inherit fd 3, or `URL=$(postgres.sh start)` never returns.
exec 3>&1 1>&2

die() { echo "postgres.sh: error: $*"; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

# Directory holding initdb/pg_ctl: newest /usr/lib/postgresql/*/bin, else PATH.
find_bin() {
  local d
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null && dirname "$(readlink -f "$(command -v initdb)")"
  return 0
}

# Run a command as the OS user that owns the cluster.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() {
  local dir=${1:-}
  BIN=$(find_bin)
  if [ -z "$BIN" ]; then
    echo "postgres.sh: initdb not found; installing the Debian postgresql package"
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq </dev/null &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql </dev/null \
      || die "apt-get install postgresql failed"
    BIN=$(find_bin)
    [ -n "$BIN" ] || die "postgresql installed but initdb still not found"
  fi
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user to run the server"
  fi

  [ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/proctor-pg.XXXXXX")
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local data=$dir/pgdata log=$dir/postgres.log

  # Already a cluster here (start called twice): make sure it runs, reprint URL.
  if [ -f "$data/PG_VERSION" ] && [ -f "$dir/url" ]; then
    cd "$dir"
    if ! as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 3>&- \
        || die "could not restart the cluster in $dir (see $log)"
    fi
    cat "$dir/url" >&3
    return
  fi
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty and holds no cluster; give an empty or new DIR"

  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  cd "$dir"   # the postgres user may not be allowed into the caller's cwd
  as_pg test -w "$dir" || die "the postgres OS user cannot write to $dir (pick a DIR under /tmp)"

  echo "postgres.sh: creating cluster in $dir"
  as_pg sh -c 'echo proctor > "$1"' sh "$dir/pwfile"
  as_pg "$BIN/initdb" -D "$data" -U proctor --pwfile="$dir/pwfile" --auth=trust \
    --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { tail -n 20 "$dir/initdb.log"; die "initdb failed (see $dir/initdb.log)"; }
  rm -f "$dir/pwfile"
  cat >>"$data/postgresql.conf" <<EOF

# --- throwaway test settings (scripts/postgres.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
# the test suite's parallel stores peak at about 80 connections; keep clear of the default 100
max_connections = 200
EOF

  # Pick a free port; if another process grabs it first, try the next one.
  local port=54329 attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "port = $port" >>"$data/postgresql.conf"
    if as_pg "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >"$dir/pg_ctl.out" 2>&1 3>&-; then
      break
    fi
    grep -qE 'could not (bind|create any TCP/IP sockets)|already in use' "$log" 2>/dev/null \
      || { tail -n 20 "$dir/pg_ctl.out" "$log" 2>/dev/null; die "pg_ctl start failed (see $log)"; }
    echo "postgres.sh: port $port was taken meanwhile; trying the next one"
    port=$((port + 1))
    [ "$attempt" -lt 10 ] || die "no free port found from 54329 to $port"
  done

  "$BIN/createdb" -h 127.0.0.1 -p "$port" -U proctor -O proctor proctor \
    || { as_pg "$BIN/pg_ctl" -D "$data" -m fast stop >/dev/null || true; die "createdb proctor failed"; }

  local url="postgres://proctor:proctor@127.0.0.1:$port/proctor"
  echo "$url" >"$dir/url"
  echo "postgres.sh: PostgreSQL running on 127.0.0.1:$port (stop: scripts/postgres.sh stop $dir)"
  echo "$url" >&3
}

cmd_stop() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: postgres.sh stop DIR"
  [ -d "$dir" ] || { echo "postgres.sh: $dir does not exist; nothing to stop"; return; }
  dir=$(cd "$dir" && pwd)
  # Refuse to delete anything that does not look like one of our dirs.
  [ -d "$dir/pgdata" ] || [ -f "$dir/url" ] || [ -z "$(ls -A "$dir")" ] \
    || die "$dir does not look like a postgres.sh cluster dir; not touching it"
  if [ -f "$dir/pgdata/PG_VERSION" ]; then
    BIN=$(find_bin)
    [ -n "$BIN" ] || die "pg_ctl not found; cannot stop the cluster in $dir"
    cd "$dir"
    if as_pg "$BIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null \
        || die "pg_ctl stop failed for $dir"
    fi
    cd /
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop)  shift; cmd_stop "$@" ;;
  *)     die "usage: postgres.sh start [DIR] | stop DIR" ;;
esac
