"""Test helper for tests/test_onnx*.py: export a model, check it with onnx.checker, run it in
ONNX Runtime and compare with our own forward pass."""
from __future__ import annotations

import io

import numpy as np
import pytest

import tinygrad_cnn as tc

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ATOL = RTOL = 1e-5          # float32, as the issue asks


def export_bytes(model, example, **kwargs) -> bytes:
    buf = io.BytesIO()
    tc.onnx.export(model, example, buf, **kwargs)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def session(data: bytes):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def ours(model, *xs: np.ndarray) -> list[np.ndarray]:
    model.eval()
    with tc.no_grad():
        out = model(*(tc.from_numpy(x) for x in xs))
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]


def assert_roundtrip(model, shape, batches=(3,), dynamic=True, seed=0, **kwargs) -> bytes:
    """Export at input shape `shape` with the batch axis dynamic, then compare ONNX Runtime with
    our forward at the traced batch size and at each of `batches`. Returns the file's bytes."""
    rng = np.random.default_rng(seed)
    example = tc.from_numpy(rng.standard_normal(shape).astype(np.float32))
    if dynamic:
        kwargs.setdefault("dynamic_axes", {"input": {0: "batch"}})
    data = export_bytes(model, example, **kwargs)
    sess = session(data)
    sizes = (shape[0],) + (tuple(batches) if dynamic else ())
    for n in sizes:
        x = rng.standard_normal((n,) + tuple(shape[1:])).astype(np.float32)
        got = sess.run(None, {sess.get_inputs()[0].name: x})
        want = ours(model, x)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"batch {n}")
    return data


def randomize_batch_norm(model, seed: int = 1) -> None:
    """Non-trivial running statistics and affine parameters, so eval-mode batch norm matters."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (tc.nn.BatchNorm1d, tc.nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.numpy()[...] = rng.standard_normal(c) * 0.1
            m.running_var.numpy()[...] = rng.uniform(0.5, 1.5, c)
            if m.weight is not None:
                m.weight.numpy()[...] = rng.uniform(0.5, 1.5, c)
                m.bias.numpy()[...] = rng.standard_normal(c) * 0.1
