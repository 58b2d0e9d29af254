"""ONNX export of whole networks: LeNet-5, a ResNet-18 and a MobileNetV2 (torchvision's
layouts, built here from our layers: BasicBlock with BatchNorm and residual add; inverted
residual with depthwise conv and ReLU6), and one model that uses every exportable op family in
one forward. Each is exported with a dynamic batch axis and run in ONNX Runtime at the traced
batch size and another one, within 1e-5 of our forward (float32)."""
from __future__ import annotations

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from onnx_roundtrip import assert_roundtrip, onnx, randomize_batch_norm


# ------------------------------------------------------------------------------ ResNet-18
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        layers, cin = [], 64
        for i, cout in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


# ---------------------------------------------------------------------------- MobileNetV2
def conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        layers = [conv_bn_relu6(cin, hidden, 1)] if expand != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),     # depthwise
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))                    # t, c, n, s (the paper's table 2)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers, cin = [conv_bn_relu6(3, 32, 3, stride=2)], 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.flatten(1))


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
    model = ResNet18()
    randomize_batch_norm(model)
    data = assert_roundtrip(model, (2, 3, 32, 32), batches=(3,))
    proto = onnx.load_from_string(data)
    names = {i.name for i in proto.graph.initializer}
    assert {"layer2.0.downsample.1.running_var", "layer4.1.bn2.running_mean", "fc.weight"} <= names
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 20 and ops.count("Add") == 8 and ops.count("Conv") == 20


def test_mobilenet_v2_roundtrip():
    model = MobileNetV2()
    randomize_batch_norm(model)
    data = assert_roundtrip(model, (2, 3, 32, 32), batches=(1,))
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert ops.count("Clip") == 35 and ops.count("Add") == 10 and "Dropout" not in ops
    depthwise = [n for n in onnx.load_from_string(data).graph.node if n.op_type == "Conv"
                 and next(a.i for a in n.attribute if a.name == "group") > 1]
    assert len(depthwise) == 17


def test_every_op_model_two_outputs():
    model = EveryOp()
    randomize_batch_norm(model)
    assert_roundtrip(model, (2, 3, 16, 16), batches=(1, 5), output_names=["probs", "log_probs"])


if __name__ == "__main__":          # PYTHONPATH=. python tests/test_onnx_models.py: docs/interop.md's numbers
    import time

    from onnx_roundtrip import export_bytes, ours, session

    rng = np.random.default_rng(0)
    for name, net, shape in [("LeNet-5", tc.models.LeNet5(), (1, 28, 28)), ("ResNet-18", ResNet18(), (3, 32, 32)),
                             ("MobileNetV2", MobileNetV2(), (3, 32, 32))]:
        randomize_batch_norm(net)
        start = time.perf_counter()
        blob = export_bytes(net, tc.from_numpy(rng.standard_normal((2,) + shape).astype(np.float32)),
                            dynamic_axes={"input": {0: "batch"}})
        seconds = time.perf_counter() - start
        x = rng.standard_normal((8,) + shape).astype(np.float32)
        got, want = session(blob).run(None, {"input": x})[0], ours(net, x)[0]
        print(f"{name:12s} export + check {seconds:.2f} s, {len(blob) / 1e6:.1f} MB; at batch 8: "
              f"max |difference| {np.abs(got - want).max():.1e}, max |output| {np.abs(want).max():.2f}")
