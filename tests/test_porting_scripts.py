"""Scripts in the style of public PyTorch clients (pytorch/examples mnist/main.py), one source
text run twice: with `torch` and with only the import swapped to `tinygrad_cnn`. Tiny data,
float64; losses per step, accuracy and final parameters must agree. Dropout is kept in the
source but given p=0 so both runs draw the same (no) mask."""
import numpy as np
import pytest

import tinygrad_cnn as tc

MNIST_STYLE = '''
import argparse
nn, F, optim = torch.nn, torch.nn.functional, torch.optim
StepLR = torch.optim.lr_scheduler.StepLR  # "from torch.optim.lr_scheduler import StepLR" after the swap

class Net(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(p)
        self.dropout2 = nn.Dropout(p)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=4)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=1.0)
parser.add_argument("--gamma", type=float, default=0.7)
args = parser.parse_args([])
use_cuda = torch.cuda.is_available()
device = torch.device("cuda" if use_cuda else "cpu")
train_kwargs = {"batch_size": args.batch_size}
if use_cuda:
    train_kwargs.update({"num_workers": 1, "pin_memory": True, "shuffle": True})
dataset = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))
train_loader = torch.utils.data.DataLoader(dataset, **train_kwargs)
model = Net(0.0).double().to(device)
model.load_state_dict({k: torch.tensor(v) for k, v in INIT.items()})
optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
losses = []
for epoch in range(1, args.epochs + 1):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    scheduler.step()
model.eval()
test_loss, correct = 0, 0
with torch.no_grad():
    for data, target in train_loader:
        output = model(data)
        test_loss += F.nll_loss(output, target, reduction="sum").item()
        pred = output.argmax(dim=1, keepdim=True)
        correct += pred.eq(target.view_as(pred)).sum().item()
torch.save(model.state_dict(), SAVE)
params = {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}
'''


def run(source, framework, **inputs):
    scope = {"torch": framework, **inputs}
    exec(compile(source, "<script>", "exec"), scope)
    return scope


def test_mnist_main_style_agrees(torch, tmp_path):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((12, 1, 8, 8)), rng.integers(0, 10, 12)
    torch.manual_seed(0)
    # initial weights: from a torch build of the same Net, shared by both runs
    scope = {"torch": torch}
    exec(compile(MNIST_STYLE.split("parser =")[0], "<net>", "exec"), scope)
    init = {k: v.double().numpy() for k, v in scope["Net"](0.0).state_dict().items()}
    theirs = run(MNIST_STYLE, torch, X=X, Y=Y, INIT=init, SAVE=str(tmp_path / "t.pt"))
    ours = run(MNIST_STYLE, tc, X=X, Y=Y, INIT=init, SAVE=str(tmp_path / "o.pt"))
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-9)
    assert ours["correct"] == theirs["correct"]
    assert ours["test_loss"] == pytest.approx(theirs["test_loss"], rel=1e-9)
    for k, v in theirs["params"].items():
        np.testing.assert_allclose(ours["params"][k], v, rtol=1e-8, atol=1e-11, err_msg=k)
    saved = tc.load(str(tmp_path / "o.pt"))
    np.testing.assert_allclose(saved["fc2.weight"].numpy(), ours["params"]["fc2.weight"])
