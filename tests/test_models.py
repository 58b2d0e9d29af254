"""tc.models: seed layouts and parameter counts, PyTorch state dicts in both directions with the
same outputs and gradients, fully-convolutional versions, the registry and the CLI."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import cli, nn
from tinygrad_cnn.models import LeNet5, Seed003Net, get_model


def _conv_params(c_in, c_out, k):
    return c_out * (c_in * k * k + 1)


def _fc_params(n_in, n_out):
    return n_out * (n_in + 1)


def _counts(model):
    return {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()
            if any(True for _ in m.parameters())}


def test_lenet5_seed004_layout():
    side = ((28 - 4) // 2 - 4) // 2                         # 4
    expected = {"conv1": _conv_params(1, 6, 5), "conv2": _conv_params(6, 16, 5),
                "fc1": _fc_params(16 * side * side, 120), "fc2": _fc_params(120, 84), "fc3": _fc_params(84, 10)}
    m = LeNet5()
    assert _counts(m) == expected and m.fc1.in_features == 256
    assert m(tc.randn(3, 1, 28, 28)).shape == (3, 10)


def test_lenet5_classic_layout_has_seed004_counts():
    m = LeNet5(classic=True)
    counts = _counts(m)
    assert counts["conv1"] == 6 * (1 * 25 + 1) == 156            # seed 004's C1
    assert counts["fc1"] == 120 * (16 * 5 * 5 + 1) == 48120      # C5
    assert counts["fc2"] == 84 * (120 + 1) == 10164              # F6
    assert m.fc1.in_features == 400 and m.conv1.padding == (2, 2)
    assert m(tc.randn(2, 1, 28, 28)).shape == (2, 10)


def test_seed003_layout():
    m = Seed003Net()
    assert _counts(m) == {"conv1": _conv_params(1, 16, 3), "fc1": _fc_params(16 * 14 * 14, 512),
                          "fc2": _fc_params(512, 10)}
    assert m.conv1.padding == (1, 1) and m(tc.randn(2, 1, 28, 28)).shape == (2, 10)


def _torch_lenet(torch, classic):
    F = torch.nn.functional

    class TLeNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2 if classic else 0)
            self.conv2 = torch.nn.Conv2d(6, 16, 5)
            self.fc1 = torch.nn.Linear(400 if classic else 256, 120)
            self.fc2 = torch.nn.Linear(120, 84)
            self.fc3 = torch.nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
    return TLeNet()


def _torch_seed003(torch):
    F = torch.nn.functional

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
            self.fc1 = torch.nn.Linear(16 * 14 * 14, 512)
            self.fc2 = torch.nn.Linear(512, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2).flatten(1)
            return self.fc2(F.relu(self.fc1(x)))
    return TNet()


@pytest.mark.parametrize("make,make_torch", [
    (lambda: LeNet5(), lambda t: _torch_lenet(t, False)),
    (lambda: LeNet5(classic=True), lambda t: _torch_lenet(t, True)),
    (lambda: Seed003Net(), _torch_seed003),
])
def test_pytorch_state_dict_loads_and_matches(torch, make, make_torch):
    ours, theirs = make(), make_torch(torch)
    ours.load_state_dict(theirs.state_dict())                  # torch tensors, unchanged
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    y = np.array([3, 1, 4, 1])
    out_o, out_t = ours(tc.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    tc.nn.functional.cross_entropy(out_o, tc.tensor(y)).backward()
    torch.nn.functional.cross_entropy(out_t, torch.tensor(y)).backward()
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    # and back: our state dict loads strictly into the torch model
    fresh = make_torch(torch)
    fresh.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(fresh(torch.tensor(x)).detach().numpy(), out_o.numpy(), rtol=1e-4, atol=1e-5)


def test_lenet5_fully_convolutional_slides_the_classifier():
    m = LeNet5().eval()
    fcn = m.fully_convolutional()
    assert [n for n, _ in fcn.named_parameters()] == [n for n, _ in m.named_parameters()]
    x = tc.randn(2, 1, 28, 28)
    np.testing.assert_allclose(fcn(x).data.reshape(2, 10), m(x).data, rtol=1e-4, atol=1e-5)
    big = tc.randn(1, 1, 36, 40)
    scores = fcn(big).data                                     # windows every 4 pixels
    assert scores.shape == (1, 10, 3, 4)
    for i in range(3):
        for j in range(4):
            crop = tc.tensor(big.numpy()[:, :, 4 * i:4 * i + 28, 4 * j:4 * j + 28])
            np.testing.assert_allclose(scores[0, :, i, j], m(crop).data[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", [LeNet5(classic=True), Seed003Net()])
def test_padded_models_fully_convolutional_on_trained_size(model):
    fcn = model.fully_convolutional()
    x = tc.randn(2, 1, 28, 28)
    np.testing.assert_allclose(fcn(x).data.reshape(2, 10), model(x).data, rtol=1e-4, atol=1e-5)
    assert fcn(tc.randn(1, 1, 44, 44)).shape[2:] in ((5, 5), (9, 9))


def test_registry():
    assert isinstance(get_model("lenet5"), LeNet5)
    assert get_model("lenet5-classic").fc1.in_features == 400
    assert isinstance(get_model("seed003", num_classes=3), Seed003Net)
    assert get_model("LeNet5", in_channels=3).conv1.in_channels == 3
    with pytest.raises(ValueError, match="available: .*lenet5.*mlp"):
        get_model("resnet")


def test_cli_summary(capsys):
    assert cli.main(["summary", "--model", "lenet5-classic"]) == 0
    out = capsys.readouterr().out
    assert "(fc1): Linear(in_features=400, out_features=120, bias=True)" in out
    total = sum(p.numel() for p in LeNet5(classic=True).parameters())
    assert "48,120" in out and "10,164" in out and f"Total params: {total:,}" in out
    assert cli.main(["summary", "--model", "seed003", "--input-size", "1", "32", "32"]) == 0
    out = capsys.readouterr().out
    assert "[1, 16, 32, 32]" in out and "note:" not in out


def test_sliding_window_example_runs():
    """examples/sliding_window.py end to end on a small training set: the one-pass score map
    equals the classifier run on every crop."""
    import pathlib
    import re
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[1]
    try:
        tc.data.MNIST(train=False)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"MNIST not available: {e}")
    proc = subprocess.run([sys.executable, str(root / "examples" / "sliding_window.py"),
                           "--train-samples", "640"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "100×100 canvas -> 19×19 score map in one pass" in proc.stdout
    diff = float(re.search(r"max \|difference\| between the two: (\S+)", proc.stdout).group(1))
    assert diff < 1e-4
