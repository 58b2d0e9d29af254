"""`tinygrad-cnn export`: a registry model with checkpoint weights to ONNX, checked in ONNX Runtime."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.cli import main

from onnx_roundtrip import session


def _trained_lenet():
    tc.manual_seed(3)
    model = tc.models.LeNet5()
    for p in model.parameters():                 # weights that differ from a fresh model's
        p.numpy()[...] += 0.01
    return model


def test_export_from_a_training_checkpoint_dir(tmp_path, capsys):
    model = _trained_lenet()
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    tc.save({"format": "tinygrad_cnn.train", "epoch": 1, "config": {"model": "lenet5"},
             "model": model.state_dict()}, ckpt / "checkpoint.npz")
    out = tmp_path / "lenet5.onnx"
    assert main(["export", "--model", "lenet5", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "['batch', 1, 28, 28]" in printed and "max |difference|" in printed
    x = np.random.default_rng(1).standard_normal((5, 1, 28, 28)).astype(np.float32)
    got = session(out.read_bytes()).run(None, {"input": x})[0]
    model.eval()
    with tc.no_grad():
        np.testing.assert_allclose(got, model(tc.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_export_from_a_state_dict_file_with_a_static_batch(tmp_path, capsys):
    path = tmp_path / "weights.npz"
    tc.save(_trained_lenet().state_dict(), path)
    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(path), "--out", str(out), "--static-batch",
                 "--batch-size", "2", "--opset", "18"]) == 0
    assert "input 'input' [2, 1, 28, 28]" in capsys.readouterr().out


def test_export_refuses_a_checkpoint_of_another_model(tmp_path):
    path = tmp_path / "seed.npz"
    tc.save({"config": {"model": "seed003"}, "model": tc.models.Seed003Net().state_dict()}, path)
    with pytest.raises(SystemExit, match="holds a 'seed003' model, not 'lenet5'"):
        main(["export", "--checkpoint", str(path), "--out", str(tmp_path / "x.onnx")])
