# Sourced by scripts/demo and scripts/test: make .venv and install the project
# (with the extras given as "$@") when what is installed is older than setup.cfg.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extras=$(IFS=,; echo "$*")
stamp=".venv/.installed-${extras:-base}"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  echo "installing into .venv (log: .venv/pip.log)..."
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e ".${extras:+[$extras]}"; } >.venv/pip.log 2>&1; then
    tail -30 .venv/pip.log
    exit 1
  fi
  touch "$stamp"
fi
