"""`tinygrad-cnn summary --model NAME [--input-size C H W] [--batch-size N] [--depth D]`:
print a model and the table of what its forward ran (nn.utils.summary)."""
from __future__ import annotations

import argparse
import sys


def _cmd_summary(args: argparse.Namespace) -> int:
    from .. import models
    from ..nn.utils import summary

    kwargs = {"num_classes": args.num_classes}
    if args.input_size:
        if len(args.input_size) != 3 or args.input_size[1] != args.input_size[2]:
            print(f"summary: --input-size must be C H W with H == W for {args.model}, got "
                  f"{' '.join(map(str, args.input_size))}", file=sys.stderr)
            return 2
        kwargs.update(in_channels=args.input_size[0], input_size=args.input_size[1])
    try:
        model = models.get_model(args.model, **kwargs)
    except (TypeError, ValueError) as e:
        print(f"summary: {e}", file=sys.stderr)
        return 2
    print(model)
    print()
    sample = tuple(args.input_size) if args.input_size else tuple(model.input_size)
    summary(model, (args.batch_size, *sample), depth=args.depth)
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    from . import available_models

    p = sub.add_parser("summary", help="print a model's layers, output shapes, parameters and MACs",
                       description="Print the model, then a table of one forward pass: each "
                                   "module call's output shape, parameters, multiply-accumulates "
                                   "(MACs) and the bytes its ops keep for backward, with totals. "
                                   "FLOPs = 2 x MACs.")
    p.add_argument("--model", default="lenet5", choices=available_models(),
                   help="model name (default lenet5)")
    p.add_argument("--input-size", type=int, nargs="+", metavar="N",
                   help="one sample's shape C H W, e.g. 1 32 32; the model is built for that "
                        "size (default: the model's own, 1 28 28 for lenet5)")
    p.add_argument("--batch-size", type=int, default=1, help="batch of the example input (default 1)")
    p.add_argument("--depth", type=int, default=3, help="module nesting levels shown (default 3)")
    p.add_argument("--num-classes", type=int, default=10, help="outputs of the last layer (default 10)")
    p.set_defaults(func=_cmd_summary)
