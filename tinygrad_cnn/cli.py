"""The `tinygrad-cnn` command. Each subcommand is one `_cmd_<name>` function plus its parser."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _cmd_demo(args: argparse.Namespace) -> int:
    """Build a small graph, backpropagate, and gradient-check a custom op and built-in ops."""
    import tinygrad_cnn as tc

    tc.manual_seed(args.seed)
    x = tc.randn(3, 4, requires_grad=True)
    y = ((x @ x.T).relu().sum(dim=1) ** 2).mean()
    y.backward()
    print("x =", x)
    print("y = ((x @ x.T).relu().sum(dim=1) ** 2).mean() =", y)
    print("dy/dx =", x.grad)

    class Cube(tc.autograd.Function):
        """y = a³;  dy/da = 3a²."""

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 3 * a ** 2 * g

    checks = {
        "Cube (custom Function)": (Cube.apply, 1),
        "matmul + relu + sum + pow + mean": (lambda a: ((a @ a.T).relu().sum(dim=1) ** 2).mean(), 1),
        "broadcast mul + tanh": (lambda a, b: (a * b).tanh(), 2),
        "sigmoid + log": (lambda a: a.sigmoid().log(), 1),
    }
    failed = 0
    for name, (fn, n_inputs) in checks.items():
        shapes = [(3, 4), (4,)][:n_inputs]
        inputs = [tc.randn(*s, dtype=tc.float64, requires_grad=True) for s in shapes]
        try:
            tc.gradcheck(fn, inputs)
            print(f"gradcheck {name:35s} ok")
        except tc.GradcheckError as e:
            failed += 1
            print(f"gradcheck {name:35s} FAILED\n{e}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-cnn",
        description="tinygrad_cnn: NumPy deep learning with reverse-mode autodiff.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"tinygrad-cnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="build a small graph, backpropagate and gradcheck")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_demo)

    # `graph` and `gradcheck`: parser and _cmd function live next to their code
    from .gradcheck_suite import add_command as _add_gradcheck
    from .viz.command import add_command as _add_graph
    _add_graph(sub)        # tinygrad-cnn graph --model lenet5 --out lenet5.svg [--show-grads]
    _add_gradcheck(sub)    # tinygrad-cnn gradcheck OP [--KEY VALUE ...] | --all
    from .models.command import add_command as _add_summary
    _add_summary(sub)      # tinygrad-cnn summary --model lenet5 [--input-size 1 28 28]
    from .train import add_command as _add_train
    _add_train(sub)        # tinygrad-cnn train [--model lenet5 --dataset mnist --epochs 3 ...]
    from .onnx.command import add_command as _add_export
    _add_export(sub)       # tinygrad-cnn export --model lenet5 --checkpoint CKPT --out lenet5.onnx
    from .viz.show_command import add_command as _add_show
    _add_show(sub)         # tinygrad-cnn show im2col|col2im|switches|filters|features|saliency
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
