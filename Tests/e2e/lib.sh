# Tests/e2e/lib.sh — sourced (not run: it is not executable) by the end-to-end scripts that start their own
# server. `e2e_setup NAME` goes to the repository root and sets:
#   ROOT   the repository root
#   BIN    the proctor binary (PROCTOR_BIN, default .build/debug/proctor)
#   PY     a Python 3 (PYTHON, default .venv/bin/python, else python3)
#   WORK   a fresh scratch directory (the caller removes it)
#   PORT, URL   a free loopback port and its base URL
e2e_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  ROOT=$PWD
  BIN=${PROCTOR_BIN:-$ROOT/.build/debug/proctor}
  PY=${PYTHON:-$ROOT/.venv/bin/python}
  [ -x "$PY" ] || PY=$(command -v python3)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/proctor-e2e-$1.XXXXXX")
  PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  URL=http://127.0.0.1:$PORT
}
