"""A training script in the style of pytorch/examples, using torch.utils.data (a Dataset
subclass, Subset, ConcatDataset, TensorDataset, explicit samplers, worker processes) and
torch.utils.checkpoint, run once with torch and once with only the import swapped: losses,
gradients and final weights agree in float64."""
import numpy as np
import pytest


def script(torch, weights, num_workers):
    """The client script; `torch` is either library. Returns (losses, final weights, loader length)."""
    from_numpy = torch.from_numpy
    nn, F = torch.nn, torch.nn.functional
    data = torch.utils.data
    checkpoint = torch.utils.checkpoint.checkpoint

    class Points(data.Dataset):
        def __init__(self, n, offset):
            g = np.random.default_rng(offset)
            self.x = g.standard_normal((n, 6))
            self.y = (self.x[:, 0] + self.x[:, 1] > 0).astype(np.int64)

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.x[i], int(self.y[i])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
            self.fc = nn.Linear(8, 2)

        def forward(self, x):
            return self.fc(checkpoint(self.block, x, use_reentrant=False))

    device = torch.device("cpu")
    train = data.ConcatDataset([Points(40, 1), data.Subset(Points(40, 2), list(range(0, 40, 2)))])
    extra = data.TensorDataset(from_numpy(np.linspace(-1, 1, 12).reshape(2, 6)),
                               from_numpy(np.array([0, 1])))
    batches = [[5, 3, 59, 0], [12, 44, 7], list(range(20, 30)), [58, 1]]
    loader = data.DataLoader(train, batch_sampler=batches, num_workers=num_workers)
    model = Net().double().to(device)
    model.load_state_dict({k: from_numpy(v.copy()) for k, v in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for epoch in range(2):
        model.train()
        for batch_idx, (x, target) in enumerate(loader):
            x, target = x.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    for x, target in data.DataLoader(extra, batch_size=2, sampler=[1, 0]):
        losses.append(F.cross_entropy(model(x), target, reduction="sum").item())
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return losses, state, len(loader)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_the_same_data_pipeline_gives_the_same_training(torch, num_workers):
    import tinygrad_cnn
    g = np.random.default_rng(0)
    weights = {"block.0.weight": g.standard_normal((8, 6)) * 0.5, "block.0.bias": g.standard_normal(8) * 0.1,
               "fc.weight": g.standard_normal((2, 8)) * 0.5, "fc.bias": np.zeros(2)}
    theirs = script(torch, weights, num_workers)
    ours = script(tinygrad_cnn, weights, num_workers)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    assert len(ours[0]) == 9 and ours[2] == theirs[2] == 4
    assert ours[1].keys() == theirs[1].keys()
    for k in theirs[1]:
        np.testing.assert_allclose(ours[1][k], theirs[1][k], rtol=1e-10, atol=1e-12)
