#!/usr/bin/env bash
# The main job, from nothing: venv + runtime deps, then LeNet-5 trained on MNIST (the copy in
# data/mnist, so no network is needed for the data): 3 epochs, >= 99.0 % test accuracy, about a
# minute on 2 cores. Extra arguments go to `tinygrad-cnn train` (e.g. --epochs 1,
# --dataset fashion-mnist --model lenet5-classic --epochs 10, --plot runs/loss.png with the
# "plot" extra); `tinygrad-cnn demo` is the old demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh progress
exec .venv/bin/tinygrad-cnn train "$@"
