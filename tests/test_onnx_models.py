"""ONNX export of whole networks: LeNet-5, torchvision's ResNet-18 and MobileNetV2 (from
tinygrad_cnn.vision.models: BasicBlocks with BatchNorm and residual adds; inverted residuals with
depthwise convs and ReLU6), SqueezeNet 1.1 and (in the slow set, 9 s) DenseNet-121 (concatenations, ceil_mode pooling),
and one model that uses every exportable op family in one forward. Each is exported with a
dynamic batch axis and run in ONNX Runtime at the traced batch size and another one, within
1e-5 of our forward (float32)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.vision import models as vision

from onnx_roundtrip import assert_roundtrip, onnx, randomize_batch_norm


# ------------------------------------------------------------------------- every op family
class EveryOp(nn.Module):
    """conv1d/2d (stride, 'same', dilation, groups, padding modes), conv_transpose2d, pools,
    batch norm, activations, softmax/log_softmax, flatten/reshape/transpose/cat, residual
    add/mul, dropout, pad modes and interpolation, in one forward with two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect")
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.seq = nn.Conv1d(4, 6, 3, padding="same", dilation=2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(6 * 8 * 8 // 4, 10)
        self.scale = nn.Parameter(np.full((1, 4, 1, 1), 0.5, np.float32))

    def forward(self, x):
        h = F.silu(self.bn(self.stem(x)))                       # (N, 8, 16, 16)
        d = F.hardswish(self.dw(h))                              # (N, 8, 8, 8)
        u = F.leaky_relu(self.up(d), 0.1)                        # (N, 4, 16, 16)
        u = u * self.scale + F.interpolate(self.avg(h[:, :4]), scale_factor=1, mode="nearest")
        p = self.pool(F.pad(u, (1, 1, 1, 1), mode="replicate"))  # (N, 4, 9, 9)
        p = F.interpolate(p, size=(8, 8), mode="bilinear")       # (N, 4, 8, 8)
        s = self.seq(p.reshape(p.shape[0], 4, 64)).tanh()       # (N, 6, 64)
        t = tc.cat([s.transpose(1, 2), F.gelu(s).transpose(1, 2)], dim=2)   # (N, 64, 12)
        z = self.fc(self.drop(t.reshape(t.shape[0], -1)[:, :96]).sigmoid())
        return F.softmax(z, dim=1), F.log_softmax(z, dim=1)


# ---------------------------------------------------------------------------------- tests
def test_lenet5_roundtrip_and_weights_named_as_state_dict():
    model = tc.models.LeNet5()
    data = assert_roundtrip(model, (4, 1, 28, 28), batches=(1, 7),
                            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    proto = onnx.load_from_string(data)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for name, p in model.state_dict().items():
        np.testing.assert_array_equal(inits[name], p.numpy())
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 28, 28]
    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == ["batch", 10]


def test_resnet18_roundtrip():
    model = vision.resnet18(num_classes=10)
    randomize_batch_norm(model)
    data = assert_roundtrip(model, (2, 3, 32, 32), batches=(3,))
    proto = onnx.load_from_string(data)
    names = {i.name for i in proto.graph.initializer}
    assert {"layer2.0.downsample.1.running_var", "layer4.1.bn2.running_mean", "fc.weight"} <= names
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 20 and ops.count("Add") == 8 and ops.count("Conv") == 20


def test_mobilenet_v2_roundtrip():
    model = vision.mobilenet_v2(num_classes=10)
    randomize_batch_norm(model)
    data = assert_roundtrip(model, (2, 3, 32, 32), batches=(1,))
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert ops.count("Clip") == 35 and ops.count("Add") == 10 and "Dropout" not in ops
    depthwise = [n for n in onnx.load_from_string(data).graph.node if n.op_type == "Conv"
                 and next(a.i for a in n.attribute if a.name == "group") > 1]
    assert len(depthwise) == 17


@pytest.mark.parametrize("name", ["squeezenet1_1", pytest.param("densenet121", marks=pytest.mark.slow)])
def test_more_torchvision_models_roundtrip(name):
    model = vision.get_model(name, num_classes=10)
    randomize_batch_norm(model)
    assert_roundtrip(model, (2, 3, 48, 48) if name.startswith("squeeze") else (2, 3, 32, 32), batches=(1,))


def test_every_op_model_two_outputs():
    model = EveryOp()
    randomize_batch_norm(model)
    assert_roundtrip(model, (2, 3, 16, 16), batches=(1, 5), output_names=["probs", "log_probs"])


if __name__ == "__main__":          # PYTHONPATH=. python tests/test_onnx_models.py: docs/interop.md's numbers
    import time

    from onnx_roundtrip import export_bytes, ours, session

    tc.manual_seed(0)
    rng = np.random.default_rng(0)
    for name, net, shape in [("LeNet-5", tc.models.LeNet5(), (1, 28, 28)), ("ResNet-18", vision.resnet18(num_classes=10), (3, 32, 32)),
                             ("MobileNetV2", vision.mobilenet_v2(num_classes=10), (3, 32, 32))]:
        randomize_batch_norm(net)
        start = time.perf_counter()
        blob = export_bytes(net, tc.from_numpy(rng.standard_normal((2,) + shape).astype(np.float32)),
                            dynamic_axes={"input": {0: "batch"}})
        seconds = time.perf_counter() - start
        x = rng.standard_normal((8,) + shape).astype(np.float32)
        got, want = session(blob).run(None, {"input": x})[0], ours(net, x)[0]
        print(f"{name:12s} export + check {seconds:.2f} s, {len(blob) / 1e6:.1f} MB; at batch 8: "
              f"max |difference| {np.abs(got - want).max():.1e}, max |output| {np.abs(want).max():.2f}")
