"""The issue-12 surface in one PyTorch-style training script, run twice — with torch and with
tinygrad_cnn in its place — from the same weights and data: every step's loss, the learning
rates, the hook's gradients and the final parameters must agree in float64."""
import numpy as np
import pytest

import tinygrad_cnn as tc

RNG = np.random.default_rng(1212)
N, L, VOCAB = 4, 6, 11


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 4, padding_idx=0)
            self.text = nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.InstanceNorm1d(4, affine=True), nn.ReLU())
            self.shuffle = nn.PixelShuffle(2)
            self.conv = nn.Conv2d(1, 3, 3, padding=1)
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)
            self.norm2d = nn.InstanceNorm2d(3, track_running_stats=True)
            self.vol = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.BatchNorm3d(2), nn.ReLU(),
                                     nn.MaxPool3d(2), nn.AvgPool3d(2))
            self.scales = nn.ParameterList([nn.Parameter(torch.ones(1)) for _ in range(2)])
            self.extra = nn.ParameterDict({"bias": nn.Parameter(torch.zeros(3))})
            self.fc = nn.Linear(4 * L + 3 * 36 + 2, 3)

        def forward(self, ids, image, volume):
            t = self.text(self.embed(ids).permute(0, 2, 1)).flatten(1)
            grid_y, grid_x = torch.meshgrid(torch.linspace(-1, 1, 12, dtype=torch.float64),
                                            torch.linspace(-1, 1, 12, dtype=torch.float64), indexing="xy")
            img = self.shuffle(image) + torch.sin(grid_x) * torch.cos(grid_y)
            feat, idx = self.pool(self.conv(img))
            feat = F.avg_pool2d(self.norm2d(self.unpool(feat, idx)), 2).flatten(1)
            v = self.vol(volume).flatten(1)
            if not torch.jit.is_scripting():
                v = v * self.scales[0] + self.scales[1]
            return self.fc(torch.cat([t, feat, v], axis=1)) + self.extra["bias"]
    return Net()


def run(torch, state, data, steps=5):
    """The training script; returns (losses, lrs, hook gradients, final state)."""
    F = torch.nn.functional
    model = build(torch).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    seen = []
    model.fc.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].detach().numpy().copy()))
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5, centered=True, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.005, total_steps=steps)
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    ids, image, volume, labels, soft = (torch.tensor(a) for a in data)
    losses, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        out = model(ids.long(), image, volume)
        loss = bce(out, labels) + 0.1 * F.smooth_l1_loss(out, labels, beta=0.5) \
            + F.kl_div(F.log_softmax(out, dim=1), soft, reduction="batchmean") + 0.01 * F.l1_loss(out, labels)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    final = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return losses, lrs, seen, final


def test_the_issue_12_surface_trains_the_same_as_torch(torch):
    torch.manual_seed(0)
    state = {k: v.detach().numpy().copy() for k, v in build(torch).double().state_dict().items()}
    ids = RNG.integers(0, VOCAB, (N, L))
    ids[:, -1] = 0                                                  # padding tokens
    soft = RNG.random((N, 3))
    data = (ids, RNG.standard_normal((N, 4, 6, 6)), RNG.standard_normal((N, 1, 4, 4, 4)),
            (RNG.random((N, 3)) > 0.5).astype(np.float64), soft / soft.sum(1, keepdims=True))
    theirs, ours = run(torch, state, data), run(tc, state, data)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)      # losses
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)      # learning rates
    assert len(ours[2]) == len(theirs[2]) == 5
    for a, b in zip(ours[2], theirs[2]):                            # the hook's grad_output
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert list(ours[3]) == list(theirs[3])
    for k in theirs[3]:
        np.testing.assert_allclose(ours[3][k], theirs[3][k], rtol=1e-9, atol=1e-11, err_msg=k)
    assert theirs[0][-1] < theirs[0][0]                            # it trains
