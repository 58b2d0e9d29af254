#!/usr/bin/env bash
# The main job, from nothing: venv + runtime deps, then the demo / training run.
# Extra arguments go to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh progress
exec .venv/bin/tinygrad-cnn demo "$@"
