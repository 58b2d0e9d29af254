"""The runnable examples in examples/ run as a user runs them (a fresh process, its own working
directory) and produce what their docstrings promise. examples/sliding_window.py is covered in
test_models.py."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.models import LeNet5

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script: str, *args: str, cwd) -> str:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "examples", script), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_check_my_op_gradchecks_a_user_op(tmp_path):
    out = _run("check_my_op.py", cwd=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("swish")]
    assert len(rows) >= 3
    assert all(line.split()[-2] == "ok" for line in rows), out


def test_train_lenet_learns_and_saves_a_loadable_checkpoint(tmp_path):
    out = _run("train_lenet.py", "--epochs", "1", "--limit", "5000", cwd=tmp_path)
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
    assert accuracy > 85.0, out                  # 5,000 images, one epoch: ~92 % measured
    checkpoint = tc.load(tmp_path / "lenet5_mnist.npz")
    LeNet5().load_state_dict(checkpoint["model"])   # the same network as tc.models.LeNet5


def test_autoencoder_reconstructs_better_than_the_mean_image(tmp_path):
    out = _run("autoencoder.py", "--epochs", "1", "--limit", "5000", cwd=tmp_path)
    mean_image = float(re.search(r"mean image: ([\d.]+)", out).group(1))
    trained = float(re.search(r"epoch 1: .* test MSE ([\d.]+)", out).group(1))
    assert trained < 0.5 * mean_image, out        # measured: 0.0121 vs 0.0642


def test_gradient_penalty_critic_learns_and_keeps_gradient_norms_near_one(tmp_path):
    out = _run("gradient_penalty.py", "--steps", "75", cwd=tmp_path)
    steps = re.findall(r"Wasserstein estimate\s+([-\d.]+), penalty ([\d.]+), .* interpolates ([\d.]+)", out)
    first, last = [tuple(map(float, s)) for s in (steps[0], steps[-1])]
    assert last[0] > first[0] + 0.3, out          # the critic separates real from shuffled
    assert abs(last[2] - 1.0) < 0.3 < abs(first[2] - 1.0), out   # the penalty pulled ‖∇‖ to 1


def test_newton_converges_to_the_rosenbrock_minimum(tmp_path):
    out = _run("newton.py", cwd=tmp_path)
    m = re.search(r"converged to \(([\d.]+), ([\d.]+)\) in (\d+) Newton steps", out)
    assert m and abs(float(m.group(1)) - 1) < 1e-10 and abs(float(m.group(2)) - 1) < 1e-10, out
    assert int(m.group(3)) <= 10, out


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_draw_lenet_graph_writes_three_svgs(tmp_path):
    _run("draw_lenet_graph.py", cwd=tmp_path)
    for name in ("lenet5.svg", "lenet5_saved.svg", "lenet5_grads.svg"):
        text = (tmp_path / name).read_text()
        assert "<svg" in text and "Conv" in text, name


def test_look_inside_lenet_saves_every_view(tmp_path):
    pytest.importorskip("matplotlib")
    out = _run("look_inside_lenet.py", "views", "--steps", "30", cwd=tmp_path)
    names = ["im2col", "col2im", "pool_switches", "filters_conv1", "filters_conv2",
             "features_conv1", "features_relu2", "saliency"]
    for name in names:
        assert (tmp_path / "views" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert "trained LeNet-5 for 30 steps" in out and out.count("wrote ") == len(names)
