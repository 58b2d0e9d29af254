"""LeNet-5 training, ours vs PyTorch CPU: one SGD step, one MNIST epoch, peak memory.

    .venv/bin/python benchmarks/bench_train.py                  # everything (~2-3 minutes)
    .venv/bin/python benchmarks/bench_train.py --only step      # step | epoch | rss | profile
    .venv/bin/python benchmarks/bench_train.py --only profile   # cProfile of our step

step   forward + backward + SGD(momentum 0.9) update of LeNet-5 on a batch of 64 (28x28x1),
       loss.item() included; both variants: `lenet5` (seed 004, 256 features into fc1) and
       `lenet5-classic` (conv1 padded, 400 features); `lenet5` is the CLI's default. Median over repeats of
       interleaved rounds, each peer in its own worker process (benchmarks/harness.py).
epoch  one pass over the 60,000 MNIST training images, batch 64, shuffled, batches converted
       from uint8 to normalised float32 on the fly in both peers (lenet5, SGD).
rss    peak resident memory (ru_maxrss from os.wait4) of a fresh process that loads MNIST
       (train + test), trains LeNet-5 for --rss-steps steps and evaluates the test set: ours is
       the real `tinygrad-cnn train` command (which also evaluates the 5,000 validation
       images); PyTorch's is the same loop written for torch (Adam, batch 64).

Settings of ours (the CLI's): NumPy's OpenBLAS at 1 thread (tc.set_blas_threads(1)) and glibc's
malloc keeping freed memory (done at import by tinygrad_cnn.ops.workspace). `--ours-config all`
also measures the step with the default allocator, and with OpenBLAS's default thread count
and the default allocator, to show what each setting is worth. PyTorch runs with its default thread count (the machine's cores).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import (REPO_ROOT, Case, format_table, machine_info, measure,  # noqa: E402
                                op_timings, run_cases)

THREADS = 1            # set by the harness worker
BATCH = 64
MNIST_DIR = os.path.join(REPO_ROOT, "data", "mnist")
# how our worker is configured: name -> (OpenBLAS threads (0 = leave default), tune malloc)
OURS_CONFIGS = {"cli": (1, True), "default-malloc": (1, False), "default-blas": (0, False)}


def _read_idx(path: str):
    """A minimal streaming IDX reader (no tinygrad_cnn import in the PyTorch peer)."""
    import zlib
    import numpy as np

    def chunks():
        d = zlib.decompressobj(31)
        with open(path, "rb") as f:
            while data := f.read(1 << 18):
                while data:
                    yield d.decompress(data, 1 << 18)
                    data = d.unconsumed_tail

    stream = chunks()
    head = b""
    while len(head) < 4 or len(head) < 4 + 4 * head[3]:
        head += next(stream)
    ndim = head[3]
    shape = tuple(int(s) for s in np.frombuffer(head[4:4 + 4 * ndim], ">i4"))
    out = np.empty(int(np.prod(shape)), np.uint8)
    rest = head[4 + 4 * ndim:]
    out[:len(rest)] = np.frombuffer(rest, np.uint8)
    pos = len(rest)
    for chunk in stream:
        out[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
        pos += len(chunk)
    assert pos == out.size, (path, pos, out.size)
    return out.reshape(shape)


def _configure_ours(config: str) -> None:
    """Called before tinygrad_cnn is first imported in the worker (the malloc tuning happens at
    import, in tinygrad_cnn.ops.workspace, unless TINYGRAD_CNN_MALLOC_TUNING=0)."""
    blas, malloc = OURS_CONFIGS[config]
    # our CNN ops split batches over threads (tinygrad_cnn/ops/parallel.py): as many as PyTorch's
    os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(THREADS))
    if not malloc:
        if "tinygrad_cnn" in sys.modules and os.environ.get("TINYGRAD_CNN_MALLOC_TUNING") != "0":
            raise RuntimeError("config default-malloc needs a fresh worker")
        os.environ["TINYGRAD_CNN_MALLOC_TUNING"] = "0"
    from tinygrad_cnn import set_blas_threads
    if blas:
        set_blas_threads(blas)


# ------------------------------------------------------------------------------------ step
def _batch():
    import numpy as np
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((BATCH, 1, 28, 28))).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    return x, y


def _sgd_step(F, net, opt, x, y) -> None:
    """One training step (any optimizer), written once for both peers: tinygrad_cnn and torch
    share this API."""
    loss = F.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    loss.item()


def ours_step(name: str, repeat: int, model: str, config: str) -> dict:
    _configure_ours(config)
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn import optim
    from tinygrad_cnn.models import get_model
    tc.manual_seed(0)
    net = get_model(model)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch()
    X, Y = tc.tensor(x), tc.tensor(y)

    def step():
        _sgd_step(F, net, opt, X, Y)
    return {"step": measure(step, repeat=repeat, warmup=10)}


def _torch_lenet(classic: bool):
    import torch.nn as nn
    pad = 2 if classic else 0
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400 if classic else 256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def torch_step(name: str, repeat: int, model: str, config: str) -> dict:
    import torch
    torch.manual_seed(0)
    net = _torch_lenet(model == "lenet5-classic")
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    F = torch.nn.functional

    def step():
        _sgd_step(F, net, opt, X, Y)
    return {"step": measure(step, repeat=repeat, warmup=10)}


# ----------------------------------------------------------------------------------- epoch
def ours_epoch(name: str, repeat: int, model: str, config: str) -> dict:
    _configure_ours(config)
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn import optim
    from tinygrad_cnn.data import MNIST, DataLoader
    from tinygrad_cnn.models import get_model
    tc.manual_seed(0)
    net = get_model(model)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(MNIST(train=True), batch_size=BATCH, shuffle=True, seed=0)

    def epoch():
        for x, y in loader:
            _sgd_step(F, net, opt, x, y)
    return {"epoch": measure(epoch, repeat=repeat, warmup=0)}


def torch_epoch(name: str, repeat: int, model: str, config: str) -> dict:
    import torch
    torch.manual_seed(0)
    images = torch.from_numpy(_read_idx(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz")))
    labels = torch.from_numpy(_read_idx(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz"))).long()
    net = _torch_lenet(model == "lenet5-classic")
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    F = torch.nn.functional
    g = torch.Generator().manual_seed(0)

    def epoch():
        perm = torch.randperm(images.shape[0], generator=g)
        for i in range(0, images.shape[0], BATCH):
            idx = perm[i:i + BATCH]
            x = ((images[idx].float() / 255.0 - 0.1307) / 0.3081).unsqueeze(1)
            _sgd_step(F, net, opt, x, labels[idx])
    return {"epoch": measure(epoch, repeat=repeat, warmup=0)}


# ------------------------------------------------------------------------------------- rss
def _torch_rss_main(steps: int) -> None:
    """Run inside a fresh process: PyTorch's version of the measured training run."""
    import torch
    root = MNIST_DIR
    train_x = torch.from_numpy(_read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")))
    train_y = torch.from_numpy(_read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz"))).long()
    test_x = torch.from_numpy(_read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")))
    test_y = torch.from_numpy(_read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz"))).long()
    torch.manual_seed(0)
    net = _torch_lenet(False)
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    F = torch.nn.functional
    norm = lambda u: ((u.float() / 255.0 - 0.1307) / 0.3081).unsqueeze(1)  # noqa: E731
    perm = torch.randperm(55000)
    for s in range(steps):
        idx = perm[(s * BATCH) % 55000:][:BATCH]
        _sgd_step(F, net, opt, norm(train_x[idx]), train_y[idx])   # Adam here: same calls
    correct = 0
    with torch.no_grad():
        for i in range(0, 10000, 250):
            correct += int((net(norm(test_x[i:i + 250])).argmax(1) == test_y[i:i + 250]).sum())
    print(f"torch test accuracy after {steps} steps: {correct / 100:.2f}%", file=sys.stderr)


def _peak_rss_mb(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a child process, from os.wait4's rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return usage.ru_maxrss / 1024.0, seconds


def measure_rss(steps: int, full: bool) -> list[dict]:
    cli = os.path.join(os.path.dirname(sys.executable), "tinygrad-cnn")
    ours_cmd = ([cli] if os.path.exists(cli) else [sys.executable, "-m", "tinygrad_cnn.cli"]) + ["train"]
    rows = []
    n = steps * BATCH
    ours_mb, ours_s = _peak_rss_mb(ours_cmd + ["--limit-train", str(n), "--epochs", "1"])
    torch_mb, torch_s = _peak_rss_mb([sys.executable, os.path.abspath(__file__), "--torch-rss-worker",
                                      str(steps)])
    rows.append({"case": f"peak RSS, {steps} steps + test eval", "ours_mb": round(ours_mb, 1),
                 "torch_mb": round(torch_mb, 1), "ratio": round(ours_mb / torch_mb, 3),
                 "ours_cmd": " ".join(ours_cmd[-1:] + ["--limit-train", str(n), "--epochs", "1"])})
    if full:
        mb, s = _peak_rss_mb(ours_cmd)
        rows.append({"case": "peak RSS, `tinygrad-cnn train` (3 epochs)", "ours_mb": round(mb, 1),
                     "torch_mb": None, "ratio": None, "seconds": round(s, 1), "ours_cmd": "train"})
    return rows


# --------------------------------------------------------------------------------- profile
def profile_step(model: str, steps: int = 300) -> None:
    """Wall time per op forward/backward inside a training step (the CNN ops run threads of
    their own, so cProfile's per-function times would miss work done off the main thread)."""
    import time as _time
    THREADS_ = os.cpu_count()
    os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(THREADS_))
    _configure_ours("cli")
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn import optim
    from tinygrad_cnn.autograd import Function
    from tinygrad_cnn.models import get_model
    tc.manual_seed(0)
    net = get_model(model)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch()
    X, Y = tc.tensor(x), tc.tensor(y)
    phases = {}

    def step():
        t0 = _time.perf_counter()
        loss = F.cross_entropy(net(X), Y)
        t1 = _time.perf_counter()
        opt.zero_grad()
        t2 = _time.perf_counter()
        loss.backward()
        t3 = _time.perf_counter()
        opt.step()
        loss.item()
        t4 = _time.perf_counter()
        for k, v in (("forward", t1 - t0), ("zero_grad", t2 - t1), ("backward", t3 - t2),
                     ("optimizer.step", t4 - t3)):
            phases[k] = phases.get(k, 0.0) + v

    for _ in range(20):
        step()
    phases.clear()
    t0 = _time.perf_counter()
    for _ in range(steps):
        step()
    plain = (_time.perf_counter() - t0) / steps * 1e3
    plain_phases = {k: v / steps * 1e3 for k, v in phases.items()}

    for _ in range(5):
        step()
    phases.clear()
    with op_timings(Function) as timings:
        for _ in range(steps):
            step()
    per = {k: v[0] / steps * 1e3 for k, v in timings.items()}
    in_ops = sum(per.values())
    total = sum(phases.values()) / steps * 1e3
    print(f"{model}: {plain:.2f} ms per training step (batch {BATCH}, {THREADS_} op threads, "
          f"OpenBLAS 1 thread): forward {plain_phases['forward']:.2f}, backward "
          f"{plain_phases['backward']:.2f}, zero_grad {plain_phases['zero_grad']:.2f}, "
          f"SGD step {plain_phases['optimizer.step']:.2f} ms")
    print(f"  inside ops (timed run, {total:.2f} ms/step): {in_ops:.2f} ms in op forward/backward, "
          f"{total - in_ops:.2f} ms elsewhere (engine, modules, optimizer, Python)")
    print(f"  {'ms/step':>8} {'share':>6}  op.phase (shape of the first array argument)")
    for (name, phase), ms in sorted(per.items(), key=lambda kv: -kv[1]):
        if ms >= 0.02:
            print(f"  {ms:>8.3f} {ms / total:>6.1%}  {name}.{phase}")


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["step", "epoch", "rss"],
                        choices=["step", "epoch", "rss", "profile"])
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for PyTorch (and OpenBLAS in the default-blas config)")
    parser.add_argument("--repeat", type=int, default=50, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epoch-rounds", type=int, default=2)
    parser.add_argument("--ours-config", default="cli", choices=list(OURS_CONFIGS) + ["all"])
    parser.add_argument("--rss-steps", type=int, default=300)
    parser.add_argument("--rss-full", action="store_true",
                        help="also measure the whole default `tinygrad-cnn train` run (3 epochs)")
    parser.add_argument("--torch-rss-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_rss_worker is not None:
        _torch_rss_main(args.torch_rss_worker)
        return

    if "profile" in args.only:
        for model in ("lenet5", "lenet5-classic"):
            profile_step(model)
            print()
        if args.only == ["profile"]:
            return

    configs = list(OURS_CONFIGS) if args.ours_config == "all" else [args.ours_config]
    rows = []
    if "step" in args.only:
        for config in configs:
            cases = [Case(f"{m} step b{BATCH} [{config}]", target=2.5, target_metric="step",
                          kwargs={"model": m, "config": config})
                     for m in ("lenet5", "lenet5-classic")]
            rows += run_cases(__file__, cases, ours="ours_step", peer="torch_step",
                              threads=args.threads, repeat=args.repeat, rounds=args.rounds)
    if "epoch" in args.only:
        case = Case("lenet5 MNIST epoch (60k, b64) [cli]", target=2.5, target_metric="epoch",
                    kwargs={"model": "lenet5", "config": "cli"})
        rows += run_cases(__file__, [case], ours="ours_epoch", peer="torch_epoch",
                          threads=args.threads, repeat=1, rounds=args.epoch_rounds)
    rss = measure_rss(args.rss_steps, args.rss_full) if "rss" in args.only else []

    if rows:
        print(format_table(rows))
    for r in rss:
        torch_part = f"{r['torch_mb']:>8.1f} MB  ratio {r['ratio']:.2f}" if r["torch_mb"] else ""
        print(f"{r['case']:<44} ours {r['ours_mb']:>7.1f} MB  torch {torch_part}   "
              f"(target ours <= 120 MB: {'ok' if r['ours_mb'] <= 120 else 'MISS'})")
    record = {"benchmark": "bench_train",
              "command": ".venv/bin/python benchmarks/bench_train.py " + " ".join(sys.argv[1:]),
              "machine": machine_info(args.threads), "rows": rows, "rss": rss}
    print(json.dumps(record))


if __name__ == "__main__":
    main()
