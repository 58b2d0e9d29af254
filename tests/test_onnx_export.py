"""tc.onnx.export's contract beyond the op table: optional dependency, argument checks, clear
errors for what cannot be exported (naming the op and the module), user converters, opsets,
files, and the model left as it was."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from onnx_roundtrip import assert_roundtrip, onnx, session


class Cube(tc.autograd.Function):
    """y = x³;  dy/dx = 3x²."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class CubeLayer(nn.Module):
    def forward(self, x):
        return Cube.apply(x)


class Net(nn.Module):
    def __init__(self, forward=None):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.block = nn.Sequential(nn.ReLU(), CubeLayer())
        self._fn = forward

    def forward(self, x):
        return self._fn(self, x) if self._fn else self.block(self.fc(x))


X = tc.tensor(np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32))   # fixed values: mixed signs, so a frozen mask is detected


def test_import_does_not_need_onnx_and_export_says_how_to_get_it():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import tinygrad_cnn as tc\n"
            "try:\n"
            "    tc.onnx.export(tc.nn.Linear(2, 2), tc.randn(1, 2), 'never.onnx')\n"
            "except ImportError as e:\n"
            "    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install tinygrad_cnn[onnx]" in out.stdout


def test_unsupported_op_names_the_function_and_the_module():
    with pytest.raises(tc.onnx.ExportError, match=r"cannot export Cube \(called in module 'block.1' "
                                                  r"\(CubeLayer\)\): no ONNX converter"):
        tc.onnx.export(Net(), X, io.BytesIO())


def test_a_registered_converter_exports_a_user_function():
    saved = dict(tc.onnx.CONVERTERS)
    try:
        @tc.onnx.register(Cube)
        def cube(c):
            return c.g.op("Pow", c.inputs[0], c.g.const(3.0, c.dtype))
        assert_roundtrip(Net(), (2, 4), batches=(5,))
    finally:
        tc.onnx.CONVERTERS.clear()
        tc.onnx.CONVERTERS.update(saved)


def test_a_mask_computed_outside_the_graph_is_an_error_not_a_frozen_constant():
    net = Net(lambda m, x: m.fc(x) * (x[:, :3] > 0))
    with pytest.raises(tc.onnx.ExportError, match=r"Mul .*computed from the model input outside the "
                                                  r"recorded graph — its values changed"):
        tc.onnx.export(net, X, io.BytesIO())


def test_an_output_outside_the_graph_is_an_error():
    with pytest.raises(tc.onnx.ExportError, match=r"output 0 \('output'\) was not computed by recorded ops"):
        tc.onnx.export(Net(lambda m, x: m.fc(x).argmax(dim=1)), X, io.BytesIO())


def test_a_path_that_depends_on_the_batch_size_is_an_error():
    net = Net(lambda m, x: m.fc(x).relu() if x.shape[0] > 2 else m.fc(x))
    with pytest.raises(tc.onnx.ExportError, match="took a different path"):
        tc.onnx.export(net, X, io.BytesIO(), dynamic_axes={"input": {0: "batch"}})
    tc.onnx.export(net, X, io.BytesIO())            # fine with a static batch


def test_a_hard_coded_batch_size_cannot_be_dynamic():
    net = Net(lambda m, x: m.fc(x).reshape(2, 3))
    with pytest.raises(tc.onnx.ExportError, match=r"failed on a companion input .* more elements "
                                                  r"along its dynamic axes"):
        tc.onnx.export(net, X, io.BytesIO(), dynamic_axes={"input": {0: "batch"}})


def test_dropout_in_training_mode_is_an_error():
    net = Net(lambda m, x: F.dropout(m.fc(x), 0.5, training=True))
    with pytest.raises(tc.onnx.ExportError, match=r"cannot export Dropout .*training mode"):
        tc.onnx.export(net, X, io.BytesIO())


@pytest.mark.parametrize("kwargs, match", [
    ({"opset_version": 12}, "opset_version must be an int from 14"),
    ({"dynamic_axes": {"images": {0: "batch"}}}, "'images', which is neither an input name"),
    ({"dynamic_axes": {"input": {2: "batch"}}}, "axis 2, out of range for a 2-D tensor"),
    ({"dynamic_axes": {"input": {0: ""}}}, "must be a dim name"),
    ({"input_names": ["a", "b"]}, "input_names must be 1 non-empty string"),
    ({"output_names": []}, "output_names must be 1 non-empty string"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(tc.ArgumentError, match=match):
        tc.onnx.export(nn.Linear(4, 3), X, io.BytesIO(), **kwargs)


def test_bad_example_inputs_are_named():
    with pytest.raises(tc.ArgumentError, match="example_input 0 must be a Tensor"):
        tc.onnx.export(nn.Linear(4, 3), [[1.0] * 4], io.BytesIO())
    with pytest.raises(tc.ArgumentError, match="example_input 0 has dtype bool"):
        tc.onnx.export(nn.Linear(4, 3), tc.tensor([[True, False, True, True]]), io.BytesIO())


def test_model_state_is_restored():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Dropout(0.3))
    model[0].weight.requires_grad = False
    model.train()
    tc.onnx.export(model, X, io.BytesIO())
    assert model.training and all(m.training for m in model.modules())
    assert not model[0].weight.requires_grad and model[0].bias.requires_grad
    assert model[1].num_batches_tracked.item() == 0        # eval mode: the stats were not updated


@pytest.mark.parametrize("opset", [14, 17, 18, 21])
def test_opsets(opset):
    model = Net(lambda m, x: F.hardswish(F.layer_norm(m.fc(x), (3,))).amax(dim=1) + x.mean(dim=1))
    data = assert_roundtrip(model, (2, 4), batches=(3,), opset_version=opset)
    assert onnx.load_from_string(data).opset_import[0].version == opset


def test_writes_a_file_and_returns_the_model(tmp_path):
    path = tmp_path / "fc.onnx"
    model = nn.Linear(4, 3)
    proto = tc.onnx.export(model, X, path, input_names=["features"], output_names=["scores"])
    assert isinstance(proto, onnx.ModelProto)
    loaded = onnx.load(str(path))
    assert [i.name for i in loaded.graph.input] == ["features"]
    assert [o.name for o in loaded.graph.output] == ["scores"]
    got = session(path.read_bytes()).run(None, {"features": X.numpy()})[0]
    np.testing.assert_allclose(got, model(X).numpy(), rtol=1e-5, atol=1e-6)


def test_an_output_that_is_the_input_or_repeated_gets_an_identity():
    model = Net(lambda m, x: (x, m.fc(x), m.fc(x) * 1.0, x))
    data = assert_roundtrip(model, (2, 4), batches=(3,))
    assert [o.name for o in onnx.load_from_string(data).graph.output] == [f"output_{k}" for k in range(4)]


class Bag(nn.Module):
    """Token ids -> embeddings -> mean over the sequence -> scores."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6, padding_idx=0)
        self.fc = nn.Linear(6, 3)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


def test_integer_token_ids_feed_an_embedding_with_dynamic_batch_and_length():
    model = Bag()
    rng = np.random.default_rng(0)
    ids = tc.from_numpy(rng.integers(0, 20, (2, 5)))
    buf = io.BytesIO()
    tc.onnx.export(model, ids, buf, dynamic_axes={"input": {0: "batch", 1: "length"}})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    sess = session(buf.getvalue())
    for shape in [(2, 5), (4, 9)]:
        x = rng.integers(0, 20, shape)
        got = sess.run(None, {"input": x})[0]
        with tc.no_grad():
            np.testing.assert_allclose(got, model(tc.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_ids_computed_inside_the_model_are_refused():
    model = Net(lambda m, x: m.emb(x.argmax(dim=1)))
    model.emb = nn.Embedding(4, 2)
    with pytest.raises(tc.onnx.ExportError, match=r"Embedding .*depends on the input"):
        tc.onnx.export(model, X, io.BytesIO())


def test_two_dynamic_axes_of_equal_example_size_stay_apart():
    """Batch and length are both 3 in the example; an Expand to (batch, length, 4) must read
    each from its own axis at run time."""
    model = Net(lambda m, x: tc.cat([m.token.expand(x.shape[0], x.shape[1], 4), x], dim=2))
    model.token = nn.Parameter(np.arange(4, dtype=np.float32).reshape(1, 1, 4))
    buf = io.BytesIO()
    tc.onnx.export(model, tc.randn(3, 3, 2), buf, dynamic_axes={"input": {0: "batch", 1: "length"}})
    sess = session(buf.getvalue())
    x = np.random.default_rng(0).standard_normal((2, 5, 2)).astype(np.float32)
    got = sess.run(None, {"input": x})[0]
    with tc.no_grad():
        np.testing.assert_allclose(got, model(tc.from_numpy(x)).numpy(), rtol=1e-6)
