"""A PyTorch model ports by changing imports: one model source, built once with torch and once
with tinygrad_cnn, the torch weights loaded into ours; eval outputs, a training step's loss and
every parameter gradient must agree. The model uses the idioms PyTorch CNN code is made of."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc

RNG = np.random.default_rng(21)


def build(torch):
    """The model source, written against `torch` (either library)."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, inp, out, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out)
            self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out)
            self.shortcut = nn.Sequential()
            if stride != 1 or inp != out:
                self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(OrderedDict([
                ("conv", nn.Conv2d(3, 8, 3, padding=1, bias=False)), ("bn", nn.BatchNorm2d(8)),
                ("act", nn.ReLU(inplace=True))]))
            self.layer1 = Block(8, 16, 2)
            self.mix = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.GroupNorm(4, 16),
                                     nn.SiLU(), nn.Dropout2d(0.0))
            self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
            self.head = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Hardswish(),
                                      nn.MaxPool2d(2), nn.AdaptiveAvgPool2d((1, 1)))
            self.fc = nn.Sequential(nn.Linear(8, 12), nn.LayerNorm(12), nn.GELU(), nn.Dropout(0.0),
                                    nn.Linear(12, 10))

        def forward(self, x):
            x = self.layer1(self.stem(x))
            x = x + F.interpolate(self.mix(x), scale_factor=1)
            x = self.head(self.up(x))
            x = torch.flatten(x, 1)
            return self.fc(x.view(x.size(0), -1))
    return Net()


def test_the_same_source_gives_the_same_numbers(torch):
    torch.manual_seed(0)
    theirs = build(torch).double()
    ours = build(tc).double()
    ours.load_state_dict(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    x = RNG.standard_normal((4, 3, 16, 16))
    target = np.array([1, 2, 3, 4])

    ours.eval(), theirs.eval()
    with tc.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(tc.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-9, atol=1e-10)

    ours.train(), theirs.train()
    loss = tc.nn.functional.cross_entropy(ours(tc.tensor(x)), tc.tensor(target))
    tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(target))
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=name)
    for name, b in ours.named_buffers():                    # running statistics after one step
        np.testing.assert_allclose(b.numpy(), dict(theirs.named_buffers())[name].numpy(), rtol=1e-10,
                                   err_msg=name)
