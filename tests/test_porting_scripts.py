"""Scripts in the style of public PyTorch clients, one source text run twice: as written with
`torch`, and with only its imports swapped to `tinygrad_cnn` (`swap_imports`; the first script
binds the name `torch` instead). Tiny data, float64, the same initial weights; losses per step,
accuracies and final parameters must agree. The five: pytorch/examples mnist/main.py, the
PyTorch CIFAR-10 tutorial, d2l's LeNet, resnet18 transfer learning with checkpoint/resume, and
a mixed BatchNorm + OneCycleLR/ReduceLROnPlateau + DataLoader-workers script
(docs/porting.md, "Scripts that run after the swap"). Dropout is kept in the first source but
given p=0 so both runs draw the same (no) mask."""
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


# ----------------------------------------------------------------- import swapping, harness
def swap_imports(source):
    """The source with its torch import lines rewritten for tinygrad_cnn (the only edit a
    porting user makes): `import torch` -> `import tinygrad_cnn as torch`, `import torch.x as y`
    -> `import tinygrad_cnn.x as y`, `from torch[.x] import y` -> `from tinygrad_cnn[.x] import y`."""
    out = []
    for line in source.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped == "import torch":
            line = indent + "import tinygrad_cnn as torch"
        elif stripped.startswith(("import torch.", "from torch.", "from torch ")):
            assert " as " in stripped or stripped.startswith("from "), line
            line = indent + stripped.replace("torch", "tinygrad_cnn", 1)
        out.append(line)
    return "\n".join(out) + "\n"


def run_script(source, framework, **inputs):
    """Execute the script as written (torch) or with its imports swapped (tinygrad_cnn)."""
    text = source if framework == "torch" else swap_imports(source)
    scope = {"__name__": "__script__", **inputs}
    exec(compile(text, f"<{framework} script>", "exec"), scope)
    return scope


def test_swap_imports_rewrites_only_import_lines():
    src = "import torch\nimport torch.nn as nn\nfrom torch.optim import lr_scheduler\n" \
          "from torch import nn\nx = torch.zeros(1)  # torch stays\n"
    assert swap_imports(src) == (
        "import tinygrad_cnn as torch\nimport tinygrad_cnn.nn as nn\n"
        "from tinygrad_cnn.optim import lr_scheduler\nfrom tinygrad_cnn import nn\n"
        "x = torch.zeros(1)  # torch stays\n")


def torch_state(source, upto, build, torch, **inputs):
    """Initial weights both runs load: a torch build of the script's own model definition
    (the source up to `upto`, exec'd with torch), as float64 NumPy arrays."""
    scope = {"__name__": "__init__", **inputs}
    exec(compile(source.split(upto)[0], "<torch init>", "exec"), scope)
    torch.manual_seed(0)
    model = eval(build, scope)
    return {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items()}


def assert_params_close(ours, theirs, rtol=1e-8, atol=1e-11):
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        np.testing.assert_allclose(ours[k], v, rtol=rtol, atol=atol, err_msg=k)


# ------------------------------------------------ (a) the PyTorch CIFAR-10 tutorial's script
class TorchTransforms:
    """The three torchvision.transforms the CIFAR-10 tutorial uses, written with torch ops as
    torchvision writes them (there is no torchvision for this torch): the torch run's
    `transforms`."""

    def __init__(self, torch):
        self.torch = torch

    def ToTensor(self):
        torch = self.torch

        def to_tensor(pic):                     # ndarray (H, W, C) uint8 -> (C, H, W) in [0, 1]
            img = torch.from_numpy(pic.transpose((2, 0, 1))).contiguous()
            return img.to(dtype=torch.get_default_dtype()).div(255)
        return to_tensor

    def Normalize(self, mean, std):
        torch = self.torch

        def normalize(tensor):
            m = torch.as_tensor(mean, dtype=tensor.dtype).view(-1, 1, 1)
            s = torch.as_tensor(std, dtype=tensor.dtype).view(-1, 1, 1)
            return tensor.clone().sub_(m).div_(s)
        return normalize

    def Compose(self, ts):
        def compose(img):
            for t in ts:
                img = t(img)
            return img
        return compose


CIFAR_TUTORIAL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset
# `transforms` is torchvision.transforms (tinygrad_cnn.vision.transforms after the swap)

transform = transforms.Compose(
    [transforms.ToTensor(),
     transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

batch_size = 4


class CIFAR10Like(Dataset):
    """What torchvision.datasets.CIFAR10 serves: uint8 (H, W, C) images, int targets."""

    def __init__(self, data, targets, transform=None):
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        return img, target


trainset = CIFAR10Like(TRAIN_IMAGES, TRAIN_LABELS, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                          shuffle=False, num_workers=0)
testset = CIFAR10Like(TEST_IMAGES, TEST_LABELS, transform=transform)
testloader = DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=0)
classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

dataiter = iter(trainloader)
images, labels = next(dataiter)
first_images = images.numpy().copy()
first_names = ' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
net = Net()
net.to(device, torch.float64)                 # float64 so the two runs can agree to 1e-9
net.load_state_dict({k: torch.from_numpy(v) for k, v in INIT.items()})   # shared init

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

losses, log = [], []
for epoch in range(2):  # loop over the dataset multiple times
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data[0].to(device, torch.float64), data[1].to(device)

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        # print statistics
        losses.append(loss.item())
        running_loss += loss.item()
        if i % 2 == 1:
            log.append(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2:.3f}')
            running_loss = 0.0

PATH = SAVE
torch.save(net.state_dict(), PATH)
net = Net().to(device, torch.float64)
net.load_state_dict(torch.load(PATH, weights_only=True))

correct = 0
total = 0
# since we're not training, we don't need to calculate the gradients for our outputs
with torch.no_grad():
    for data in testloader:
        images, labels = data
        # calculate outputs by running images through the network
        outputs = net(images.to(device, torch.float64))
        # the class with the highest energy is what we choose as prediction
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

# prepare to count predictions for each class
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}

with torch.no_grad():
    for data in testloader:
        images, labels = data
        outputs = net(images.to(device, torch.float64))
        _, predictions = torch.max(outputs, 1)
        # collect the correct predictions for each class
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                correct_pred[classes[label]] += 1
            total_pred[classes[label]] += 1

class_accuracy = {}
for classname, correct_count in correct_pred.items():
    accuracy = 100 * float(correct_count) / total_pred[classname]
    class_accuracy[classname] = accuracy
params = {k: v.cpu().numpy().copy() for k, v in net.state_dict().items()}
'''


def cifar_data(seed=5):
    """uint8 HWC 32x32x3 images; the label shifts the image's mean colour, so there is
    something to learn. Test: every class twice (the per-class loop divides by its count)."""
    rng = np.random.default_rng(seed)

    def make(labels):
        base = rng.integers(0, 256, (len(labels), 32, 32, 3)).astype(np.int64)
        shift = (labels[:, None, None, None] * 12 - 54) * np.array([1, -1, 0.5])
        return np.clip(base // 2 + 64 + shift, 0, 255).astype(np.uint8), labels.astype(np.int64)
    return make(rng.integers(0, 10, 16)), make(np.tile(np.arange(10), 2))


def test_cifar10_tutorial_style_agrees(torch, tmp_path):
    from tinygrad_cnn.vision import transforms
    (train_x, train_y), (test_x, test_y) = cifar_data()
    data = dict(TRAIN_IMAGES=train_x, TRAIN_LABELS=train_y, TEST_IMAGES=test_x,
                TEST_LABELS=test_y)
    data["INIT"] = torch_state(CIFAR_TUTORIAL, "device = torch.device", "Net()", torch,
                               transforms=TorchTransforms(torch), **data)
    theirs = run_script(CIFAR_TUTORIAL, "torch", transforms=TorchTransforms(torch),
                        SAVE=str(tmp_path / "t.pth"), **data)
    ours = run_script(CIFAR_TUTORIAL, "tinygrad_cnn", transforms=transforms,
                      SAVE=str(tmp_path / "o.pth"), **data)
    # the transform pipeline: float32 ToTensor + Normalize agree exactly
    assert ours["first_images"].dtype == theirs["first_images"].dtype == np.float32
    np.testing.assert_array_equal(ours["first_images"], theirs["first_images"])
    assert ours["first_names"] == theirs["first_names"]
    assert len(ours["losses"]) == 8
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-9)
    assert ours["log"] == theirs["log"]
    assert ours["losses"][-1] < ours["losses"][0]
    assert (ours["correct"], ours["total"]) == (theirs["correct"], theirs["total"])
    assert ours["total"] == 20
    assert ours["class_accuracy"] == theirs["class_accuracy"]
    assert ours["total_pred"] == theirs["total_pred"] == {c: 2 for c in theirs["classes"]}
    assert_params_close(ours["params"], theirs["params"])


# ------------------------------------------------------------ (b) d2l's LeNet (chapter 7.6)
D2L_LENET = '''
import torch
from torch import nn

net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))

X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
shapes = []
for layer in net:
    X = layer(X)
    shapes.append((layer.__class__.__name__, tuple(X.shape)))
x_type = X.type()


class Accumulator:
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def try_gpu(i=0):
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f'cuda:{i}')
    return torch.device('cpu')


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Compute the accuracy for a model on a dataset using a GPU."""
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                X = [x.to(device) for x in X]
            else:
                X = X.to(device).type(torch.float64)
            y = y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def init_weights(m):
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


net.apply(init_weights)
applied = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
net.load_state_dict({k: torch.tensor(v) for k, v in INIT.items()})   # the same draw in both runs


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train a model with a GPU (the init is applied above)."""
    net.to(device)
    net.type(torch.float64)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    history = []
    for epoch in range(num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples
        metric = Accumulator(3)
        net.train()
        for i, (X, y) in enumerate(train_iter):
            optimizer.zero_grad()
            X, y = X.to(device).type(torch.float64), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
            train_l = metric[0] / metric[2]
            train_acc = metric[1] / metric[2]
            history.append((train_l, train_acc))
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        history.append(test_acc)
    return history


train_iter = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.from_numpy(TRAIN_X), torch.from_numpy(TRAIN_Y)),
    batch_size=4, shuffle=False)
test_iter = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.from_numpy(TEST_X), torch.from_numpy(TEST_Y)),
    batch_size=4, shuffle=False)
history = train_ch6(net, train_iter, test_iter, num_epochs=3, lr=0.9, device=try_gpu())
params = {k: v.numpy().copy() for k, v in net.state_dict().items()}
'''


def xavier_bound(w):
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    fan_out = w.shape[0] * int(np.prod(w.shape[2:]))
    return np.sqrt(6.0 / (fan_in + fan_out))


def test_d2l_lenet_style_agrees(torch):
    rng = np.random.default_rng(11)
    # float32 images as d2l's ToTensor() FashionMNIST gives them; the script converts with .type
    data = dict(TRAIN_X=rng.random((12, 1, 28, 28), dtype=np.float32),
                TRAIN_Y=rng.integers(0, 10, 12), TEST_X=rng.random((8, 1, 28, 28), dtype=np.float32),
                TEST_Y=rng.integers(0, 10, 8))
    data["INIT"] = torch_state(D2L_LENET, "X = torch.rand", "net", torch, **data)
    theirs = run_script(D2L_LENET, "torch", **data)
    ours = run_script(D2L_LENET, "tinygrad_cnn", **data)
    assert ours["shapes"] == theirs["shapes"]
    assert ours["shapes"][-1] == ("Linear", (1, 10))
    assert ours["x_type"] == theirs["x_type"] == "torch.FloatTensor"
    # net.apply(init_weights): each framework draws its own numbers, so compare what the
    # draws are -- xavier_uniform_ on exactly the weights of Linear/Conv2d, U(-b, b) --
    # then both load the same state for the trajectory
    for k, w in theirs["applied"].items():
        mine = ours["applied"][k]
        assert mine.shape == w.shape and mine.dtype == w.dtype == np.float32, k
        if k.endswith("weight"):
            b = xavier_bound(w)
            assert np.abs(mine).max() <= b and np.abs(w).max() <= b, k
            # U(-b, b) has std b/sqrt(3); 150 draws (conv 0) estimate it to ~7 %
            assert np.std(mine) == pytest.approx(b / np.sqrt(3), rel=0.2), k
            assert np.std(mine) == pytest.approx(np.std(w), rel=0.3), k
            assert not np.allclose(mine, data["INIT"][k]), k    # apply did overwrite the init
        else:
            # biases are untouched by init_weights: still the layer's default init, which for
            # both frameworks is U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            weight = theirs["applied"][k[:-4] + "weight"]
            fan_in = int(np.prod(weight.shape[1:]))
            assert np.abs(mine).max() <= 1 / np.sqrt(fan_in), k
    np.testing.assert_allclose(np.array(ours["history"][-1]), theirs["history"][-1])
    assert len(ours["history"]) == len(theirs["history"]) == 3 * 4
    for o, t in zip(ours["history"], theirs["history"]):
        if isinstance(t, tuple):
            assert o[0] == pytest.approx(t[0], rel=1e-9) and o[1] == t[1]
        else:
            assert o == t
    assert_params_close(ours["params"], theirs["params"])
    assert ours["params"]["0.weight"].dtype == np.float64


# ------------------------------ (c) transfer learning with resnet18, checkpoint and resume
# The PyTorch transfer-learning tutorial's shape: a "pretrained" resnet18 (weights given as a
# state dict: nothing is downloaded), a new `fc`, the backbone frozen except layer4[1], two
# param_groups with different lr, StepLR plus a manual `g['lr'] *= 0.1`, train/val phases with
# torch.set_grad_enabled, best weights by copy.deepcopy; then a checkpoint dict saved with
# torch.save after epoch STOP, a fresh model/optimizer/scheduler loaded from it, and training
# resumed. `models` is torchvision.models (tinygrad_cnn.vision.models after the swap).
RESNET_TRANSFER = '''
import copy
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
num_epochs = 2


def make_model():
    model = models.resnet18(num_classes=10)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in PRETRAINED.items()})
    for param in model.parameters():
        param.requires_grad = False
    for param in model.layer4[1].parameters():   # fine-tune the last block
        param.requires_grad = True
    num_ftrs = model.fc.in_features
    model.fc = nn.Linear(num_ftrs, 2)            # a new head: requires_grad=True
    model.fc.load_state_dict({k: torch.from_numpy(v) for k, v in FC_INIT.items()})
    model = model.to(device, torch.float64)
    optimizer = optim.SGD([{"params": model.layer4[1].parameters(), "lr": 1e-3},
                           {"params": model.fc.parameters()}], lr=1e-2, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    return model, optimizer, scheduler


def train_model(model, criterion, optimizer, scheduler, start_epoch, end_epoch, log):
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = -1.0
    for epoch in range(start_epoch, end_epoch):
        if epoch == 1:
            for g in optimizer.param_groups:
                g["lr"] *= 0.1
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            running_loss = 0.0
            running_corrects = 0
            for inputs, labels in dataloaders[phase]:
                inputs = inputs.to(device)
                labels = labels.to(device)
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                log.append((epoch, phase, loss.item()))
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
            if phase == "train":
                scheduler.step()
            epoch_loss = running_loss / dataset_sizes[phase]
            epoch_acc = running_corrects.double() / dataset_sizes[phase]
            log.append((epoch, phase + " acc", epoch_acc.item(),
                        [g["lr"] for g in optimizer.param_groups]))
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
    return best_model_wts


image_datasets = {x: torch.utils.data.TensorDataset(torch.from_numpy(IMAGES[x]),
                                                    torch.from_numpy(LABELS[x]))
                  for x in ["train", "val"]}
dataloaders = {x: torch.utils.data.DataLoader(image_datasets[x], batch_size=4, shuffle=False)
               for x in ["train", "val"]}
dataset_sizes = {x: len(image_datasets[x]) for x in ["train", "val"]}
criterion = nn.CrossEntropyLoss()

model, optimizer, scheduler = make_model()
frozen = sorted(n for n, p in model.named_parameters() if not p.requires_grad)
log = []
if STOP is None:
    best = train_model(model, criterion, optimizer, scheduler, 0, num_epochs, log)
else:
    train_model(model, criterion, optimizer, scheduler, 0, STOP + 1, log)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": STOP}, CKPT)
    del model, optimizer, scheduler
    model, optimizer, scheduler = make_model()
    checkpoint = torch.load(CKPT)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    for state in optimizer.state.values():       # the usual "move the state to the device" loop
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)
    scheduler.load_state_dict(checkpoint["scheduler"])
    start_epoch = checkpoint["epoch"] + 1
    best = train_model(model, criterion, optimizer, scheduler, start_epoch, num_epochs, log)
params = {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}
momentum = [optimizer.state[p]["momentum_buffer"].numpy().copy()
            for g in optimizer.param_groups for p in g["params"]]
best = {k: v.numpy().copy() for k, v in best.items()}
'''


def resnet_inputs(torch):
    from torch_twin import twin_module
    rng = np.random.default_rng(21)
    pretrained = twin_module("tinygrad_cnn.vision.models.resnet").resnet18(num_classes=10)
    with torch.no_grad():          # trained-looking batch-norm statistics and affines
        for m in pretrained.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.1, m.num_features)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.num_features)))
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.num_features)))
                m.bias.copy_(torch.from_numpy(rng.normal(0, 0.1, m.num_features)))
                m.num_batches_tracked.fill_(1000)
    fc = torch.nn.Linear(512, 2)
    return dict(
        PRETRAINED={k: v.numpy().copy() for k, v in pretrained.state_dict().items()},
        FC_INIT={k: v.detach().double().numpy().copy() for k, v in fc.state_dict().items()},
        IMAGES={"train": rng.standard_normal((8, 3, 16, 16)), "val": rng.standard_normal((4, 3, 16, 16))},
        LABELS={"train": np.array([0, 1, 1, 0, 1, 0, 0, 1]), "val": np.array([1, 0, 1, 0])})


@pytest.mark.slow      # about 10 s on a quiet machine (four runs of an 11.7 M-parameter model)
def test_resnet18_transfer_resume_agrees(torch, tmp_path):
    from tinygrad_cnn.vision import models as our_models
    from torch_twin import twin_module
    their_models = twin_module("tinygrad_cnn.vision.models.resnet")
    data = resnet_inputs(torch)
    runs = {}
    for name, framework, models in (("torch", "torch", their_models),
                                    ("ours", "tinygrad_cnn", our_models)):
        for stop in (None, 0):
            runs[name, stop] = run_script(RESNET_TRANSFER, framework, models=models, STOP=stop,
                                          CKPT=str(tmp_path / f"{name}-{stop}.pt"), **data)
    theirs, ours = runs["torch", None], runs["ours", None]
    assert ours["frozen"] == theirs["frozen"]
    assert not any(n.startswith(("layer4.1.", "fc.")) for n in ours["frozen"])
    assert "conv1.weight" in ours["frozen"] and "layer4.0.bn2.bias" in ours["frozen"]
    # the lr sequence: StepLR (step_size=2, gamma=0.1) on top of the manual *0.1 at epoch 1
    lrs = [entry[3] for entry in theirs["log"] if entry[1] == "train acc"]
    np.testing.assert_allclose(lrs, [[1e-3, 1e-2], [1e-5, 1e-4]], rtol=1e-12)
    for name in ("torch", "ours"):
        # resumed from the checkpoint == uninterrupted, within each framework
        straight, resumed = runs[name, None], runs[name, 0]
        assert [e[:2] for e in resumed["log"]] == [e[:2] for e in straight["log"]]
        for a, b in zip(resumed["log"], straight["log"]):
            np.testing.assert_allclose(a[2], b[2], rtol=1e-12, err_msg=f"{name} {a[:2]}")
            if len(a) > 3:
                np.testing.assert_allclose(a[3], b[3], rtol=1e-12)
        assert_params_close(resumed["params"], straight["params"], rtol=1e-12, atol=1e-15)
        for a, b in zip(resumed["momentum"], straight["momentum"]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for stop in (None, 0):          # and across frameworks
        theirs, ours = runs["torch", stop], runs["ours", stop]
        assert [e[:2] for e in ours["log"]] == [e[:2] for e in theirs["log"]]
        for a, b in zip(ours["log"], theirs["log"]):
            np.testing.assert_allclose(a[2], b[2], rtol=1e-9, err_msg=str(a[:2]))
            if len(a) > 3:
                np.testing.assert_allclose(a[3], b[3], rtol=1e-12)
        assert_params_close(ours["params"], theirs["params"])
        assert_params_close(ours["best"], theirs["best"])
        assert len(ours["momentum"]) == len(theirs["momentum"]) == 6 + 2     # layer4[1] (2 convs, 2 norms) and fc
        for a, b in zip(ours["momentum"], theirs["momentum"]):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    # the frozen stages did not move; their batch-norm statistics did (train mode)
    for k in ("conv1.weight", "layer1.0.conv1.weight"):
        np.testing.assert_array_equal(ours["params"][k], data["PRETRAINED"][k].astype(np.float32))
    assert not np.allclose(ours["params"]["bn1.running_mean"], data["PRETRAINED"]["bn1.running_mean"])


# ---------- (d) a mixed script: BatchNorm, OneCycleLR then ReduceLROnPlateau, workers, clipping
# pytorch.org's reproducibility recipe (seed_worker + a torch.Generator for the loader),
# BatchNorm2d in train/eval, phase 1 SGD + OneCycleLR stepped per batch, phase 2 Adam +
# ReduceLROnPlateau stepped per epoch on the validation loss, clip_grad_norm_ every step.
# ORDER (per-epoch index lists for a Sampler) replaces shuffle=True when the two frameworks
# are compared: their generators draw different permutations (docs/porting.md).
MIXED = '''
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau


def seed_worker(worker_id):
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class Standardized(Dataset):
    """Per-sample work in __getitem__ (what workers are for): each image standardised."""

    def __init__(self, x, y):
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i]
        return (x - x.mean()) / (x.std() + 1e-6), self.y[i]


class EpochOrder(Sampler):
    """A fixed index order per epoch."""

    def __init__(self, orders):
        self.orders, self.epoch = orders, 0

    def __iter__(self):
        order = self.orders[self.epoch % len(self.orders)]
        self.epoch += 1
        return iter(order)

    def __len__(self):
        return len(self.orders[0])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8, momentum=0.2)
        self.fc = nn.Linear(8 * 2 * 2, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.adaptive_avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


g = torch.Generator()
g.manual_seed(0)
train_set, val_set = Standardized(TRAIN_X, TRAIN_Y), Standardized(VAL_X, VAL_Y)
if ORDER is None:
    train_loader = DataLoader(train_set, batch_size=4, shuffle=True, num_workers=NUM_WORKERS,
                              worker_init_fn=seed_worker, generator=g)
else:
    train_loader = DataLoader(train_set, batch_size=4, sampler=EpochOrder(ORDER),
                              num_workers=NUM_WORKERS, worker_init_fn=seed_worker, generator=g)
val_loader = DataLoader(val_set, batch_size=4, num_workers=NUM_WORKERS)

model = Net().double()
model.load_state_dict({k: torch.from_numpy(v) for k, v in INIT.items()})
criterion = nn.CrossEntropyLoss()
losses, norms, lrs, val_losses, seen, plateau_lrs = [], [], [], [], [], []


def train_epoch(optimizer, scheduler=None):
    model.train()
    for x, y in train_loader:
        seen.append(y.tolist())
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)))
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())


def validate():
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in val_loader:
            total += criterion(model(x), y).item() * len(y)
    return total / len(val_set)


epochs = 2
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                            weight_decay=5e-4)
scheduler = OneCycleLR(optimizer, max_lr=0.5, epochs=epochs, steps_per_epoch=len(train_loader))
for epoch in range(epochs):
    train_epoch(optimizer, scheduler)
    val_losses.append(validate())

optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
plateau = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0, threshold=0.5)
for epoch in range(3):
    train_epoch(optimizer)
    val_loss = validate()
    plateau.step(val_loss)
    val_losses.append(val_loss)
    plateau_lrs.append(optimizer.param_groups[0]["lr"])

stats = {k: v.numpy().copy() for k, v in model.state_dict().items() if "running" in k}
tracked = [int(m.num_batches_tracked) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
params = {k: v.numpy().copy() for k, v in model.state_dict().items()}
'''


def mixed_data():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((12, 1, 8, 8)) + np.repeat(np.arange(3), 4)[:, None, None, None]
    y = np.repeat(np.arange(3), 4)
    return dict(TRAIN_X=x, TRAIN_Y=y, VAL_X=x[::3] + 0.1 * rng.standard_normal((4, 1, 8, 8)),
                VAL_Y=y[::3])


def assert_mixed_close(ours, theirs, rtol=1e-9):
    assert ours["seen"] == theirs["seen"]
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=rtol)
    np.testing.assert_allclose(ours["norms"], theirs["norms"], rtol=rtol)
    np.testing.assert_allclose(ours["lrs"], theirs["lrs"], rtol=1e-12)
    np.testing.assert_allclose(ours["plateau_lrs"], theirs["plateau_lrs"], rtol=1e-12)
    np.testing.assert_allclose(ours["val_losses"], theirs["val_losses"], rtol=rtol)
    assert ours["tracked"] == theirs["tracked"]
    assert_params_close(ours["stats"], theirs["stats"])
    assert_params_close(ours["params"], theirs["params"])


def test_mixed_script_agrees_across_frameworks(torch):
    data = mixed_data()
    data["INIT"] = torch_state(MIXED, "g = torch.Generator()", "Net().double()", torch, **data)
    orders = [list(np.random.default_rng(e).permutation(12)) for e in range(5)]
    orders = [[int(i) for i in o] for o in orders]
    theirs = run_script(MIXED, "torch", ORDER=orders, NUM_WORKERS=0, **data)
    ours = run_script(MIXED, "tinygrad_cnn", ORDER=orders, NUM_WORKERS=0, **data)
    assert len(ours["losses"]) == 5 * 3
    assert ours["tracked"] == [15, 15]
    assert max(ours["norms"]) > 0.5            # clipping was active
    lrs = theirs["lrs"]
    assert max(lrs[:6]) == pytest.approx(0.5, rel=0.2) and lrs[5] < 1e-3   # one cycle
    assert theirs["plateau_lrs"] == [0.05, 0.025, 0.025]     # one reduction on the plateau
    assert_mixed_close(ours, theirs)


@pytest.mark.parametrize("framework", ["torch", "tinygrad_cnn"])
def test_mixed_script_workers_equal_no_workers(torch, framework):
    """shuffle=True with a seeded torch.Generator: two worker processes give the run that no
    workers give (same order, same losses, same statistics), in each framework."""
    data = mixed_data()
    data["INIT"] = torch_state(MIXED, "g = torch.Generator()", "Net().double()", torch, **data)
    runs = [run_script(MIXED, framework, ORDER=None, NUM_WORKERS=n, **data) for n in (0, 2)]
    assert sorted(sum(runs[0]["seen"][:3], [])) == sorted(data["TRAIN_Y"].tolist())
    assert runs[0]["seen"][:3] != runs[0]["seen"][3:6]     # reshuffled each epoch
    assert_mixed_close(runs[1], runs[0], rtol=1e-13)
