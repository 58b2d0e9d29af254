"""MNIST training written as a torchvision script, with the imports swapped:

    import torch                      ->  import tinygrad_cnn as tc
    from torchvision import datasets, transforms, models, utils
                                      ->  from tinygrad_cnn.vision import datasets, transforms, ...

Augmentation (random crop with padding, small rotations), ToTensor + Normalize per item, a
DataLoader over a Subset of the training set, LeNet-5 from vision.models, one epoch by default,
then the test accuracy and a PNG grid of one augmented batch (vision.utils.save_image).

    python examples/vision_mnist.py          # 4,000 images, 1 epoch: 79 % test accuracy, ~11 s CPU
"""
import argparse

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import DataLoader, Subset
from tinygrad_cnn.vision import datasets, models, transforms, utils


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=4000, help="training images used")
    parser.add_argument("--test-limit", type=int, default=2000, help="test images scored")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--data", default="data", help="root folder (root/MNIST/raw or root/mnist)")
    parser.add_argument("--grid", default="augmented_batch.png")
    args = parser.parse_args()
    tc.manual_seed(0)

    normalize = transforms.Normalize((0.1307,), (0.3081,))
    train_tf = transforms.Compose([transforms.RandomCrop(28, padding=2),
                                   transforms.RandomRotation(10),
                                   transforms.ToTensor(), normalize])
    test_tf = transforms.Compose([transforms.ToTensor(), normalize])
    train_set = datasets.MNIST(args.data, train=True, transform=train_tf)
    test_set = datasets.MNIST(args.data, train=False, transform=test_tf)
    train_set = Subset(train_set, range(min(args.limit, len(train_set))))
    test_set = Subset(test_set, range(min(args.test_limit, len(test_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)

    model = models.lenet5(num_classes=10)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, count = 0.0, 0
        for images, targets in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        print(f"epoch {epoch}: train loss {total / count:.4f}")

    model.eval()
    correct = 0
    with tc.no_grad():
        for images, targets in test_loader:
            correct += int((model(images).argmax(1) == targets).sum().item())
    print(f"test accuracy {100.0 * correct / len(test_set):.2f}% on {len(test_set)} images")

    images, _ = next(iter(train_loader))
    utils.save_image(images[:32], args.grid, nrow=8, normalize=True)   # what the model saw
    print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
