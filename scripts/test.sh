#!/usr/bin/env bash
# The whole test suite, from nothing: venv + dev extras (pytest, hypothesis, torch==2.13.0 CPU).
# Extra arguments go to pytest (e.g. scripts/test.sh -m slow for the full-training tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev,progress,plot
exec .venv/bin/python -m pytest -q "$@"
