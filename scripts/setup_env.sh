#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what a command needs.
#   scripts/setup_env.sh [EXTRAS]     e.g. "dev,progress,plot" for the tests
# Also installs graphviz's `dot` binary when it is missing and we are root (apt-get);
# otherwise prints how to install it (graph rendering is then skipped, DOT text still works).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${TINYGRAD_CNN_VENV:-.venv}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; install Python >= 3.10 (e.g. apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || {
    echo "error: could not create a virtual environment in $venv (on Debian: apt-get install python3-venv)" >&2
    exit 1
  }
fi
# Reinstall only when pyproject.toml or the requested extras change.
stamp="$venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  echo "installing tinygrad_cnn${extras:+[$extras]} into $venv ..." >&2
  # (pip's warnings about this machine's missing local index folders are noise: filter them)
  "$venv/bin/python" -m pip install -q -e ".${extras:+[$extras]}" 2> >(grep -v "is ignored: it is neither" >&2)
  touch "$stamp"
fi

if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing graphviz (the dot binary) with apt-get ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null 2>&1 \
      || echo "warning: apt-get install graphviz failed; graph rendering will be skipped" >&2
  else
    echo "note: graphviz's 'dot' binary is missing, so rendering graphs to svg/png/pdf (and its tests)" \
         "is skipped. Install it: sudo apt-get install graphviz | brew install graphviz | conda install graphviz" >&2
  fi
fi
