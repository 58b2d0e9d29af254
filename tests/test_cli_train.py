"""`tinygrad-cnn train`: output, progress bar, --plot, --checkpoint/--resume, clear errors."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_cnn import train as train_module
from tinygrad_cnn.cli import main
from tinygrad_cnn.data import FashionMNIST
from tinygrad_cnn.data import mnist as data_mnist

REPO = Path(__file__).resolve().parents[1]
QUICK = ["train", "--limit-train", "512", "--valid-size", "256", "--limit-test", "256",
         "--epochs", "1"]


def test_train_prints_epochs_and_test_accuracy_without_a_bar_when_not_a_tty(capsys):
    assert main(QUICK) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("lenet5 on MNIST") and "512 train / 256 valid images" in lines[0]
    assert "1 epoch, seed" in lines[0]                         # singular
    assert lines[1].startswith("epoch 1/1  train loss") and "valid acc" in lines[1] and "time" in lines[1]
    assert lines[2].startswith("test accuracy") and "256 images" in lines[2]
    assert "it/s" not in err and "epoch 1/1:" not in err       # no tqdm bar: stdout is not a TTY


def test_progress_bar_can_be_forced(capsys):
    pytest.importorskip("tqdm")
    assert main(QUICK + ["--progress"]) == 0
    assert "epoch 1/1" in capsys.readouterr().err


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves" / "loss.png"
    assert main(QUICK + ["--epochs", "2", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000
    assert f"wrote {png}" in capsys.readouterr().out


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(train_module, "matplotlib_available", lambda: False)
    assert main(QUICK + ["--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err and "tinygrad_cnn[plot]" in err


def test_checkpoint_and_resume_from_the_cli(tmp_path, capsys):
    ck = tmp_path / "ck"
    assert main(QUICK + ["--checkpoint", str(ck)]) == 0
    assert (ck / "checkpoint.npz").exists()
    capsys.readouterr()
    assert main(QUICK + ["--checkpoint", str(ck), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 1/1" not in out and "test accuracy" in out


def test_resume_needs_a_checkpoint_dir(capsys):
    assert main(QUICK + ["--resume"]) == 2
    assert "--resume needs --checkpoint" in capsys.readouterr().err


def test_wrong_dataset_path_says_where_it_looked(monkeypatch, tmp_path, capsys):
    # every default place points into tmp_path, so what the machine has installed (Debian's
    # /usr/share/datasets/fashion-mnist, a user cache, ./data) cannot change the outcome
    system = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    monkeypatch.setattr(FashionMNIST, "system_paths", classmethod(lambda cls: [system]))
    monkeypatch.setattr(data_mnist, "_REPO", tmp_path / "not-a-checkout")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    assert main(QUICK + ["--dataset", "fashion-mnist", "--data-root", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: FashionMNIST: could not find")
    for place in (tmp_path / "mine", tmp_path / "mine" / "fashion-mnist", tmp_path / "data" / "fashion-mnist",
                  tmp_path / "env", tmp_path / "cache" / "tinygrad_cnn" / "fashion-mnist", system):
        assert f"  {place}  (" in err
    assert "--data-root" in err and "TINYGRAD_CNN_DATA" in err and "--download" in err
    assert "apt install dataset-fashion-mnist" in err
    assert "Traceback" not in err


def test_corrupt_checkpoint_is_reported_not_a_traceback(tmp_path, capsys):
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(QUICK + ["--checkpoint", str(ck), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "checkpoint.npz" in err


def test_console_script_runs_in_a_fresh_process():
    exe = Path(sys.executable).with_name("tinygrad-cnn")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "tinygrad_cnn.cli"]
    proc = subprocess.run(cmd + ["train", "--help"], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 0 and "--checkpoint DIR" in proc.stdout and "--plot PNG" in proc.stdout



def test_plot_accuracy_axis_follows_the_data():
    assert train_module.accuracy_limits([98.9, 99.1, 99.05]) == pytest.approx((98.4, 99.6))
    assert train_module.accuracy_limits([10.0, 90.0]) == pytest.approx((0.0, 100.0))
    assert train_module.accuracy_limits([99.8]) == pytest.approx((99.3, 100.0))
    assert train_module.accuracy_limits([]) == (0.0, 100.0)


def test_progress_default_follows_stderr_and_the_notebook(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr(train_module, "in_notebook", lambda: False)
    monkeypatch.setattr(sys, "stderr", Stream(True))
    assert train_module.default_progress()
    monkeypatch.setattr(sys, "stderr", Stream(False))        # `train 2> log`: no bar in the log
    assert not train_module.default_progress()
    monkeypatch.setattr(train_module, "in_notebook", lambda: True)
    assert train_module.default_progress()


def test_not_in_a_notebook_under_pytest():
    assert train_module.in_notebook() is False
