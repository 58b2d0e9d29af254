"""`tinygrad-cnn summary --model NAME [--input-size C H W]`: print a model's layer table."""
from __future__ import annotations

import argparse


def _cmd_summary(args: argparse.Namespace) -> int:
    from .. import models
    from ..nn.utils import summary

    kwargs = {"num_classes": args.num_classes}
    if args.input_size:
        if len(args.input_size) != 3 or args.input_size[1] != args.input_size[2]:
            raise SystemExit(f"summary: --input-size must be C H W with H == W for "
                             f"{args.model}, got {' '.join(map(str, args.input_size))}")
        kwargs.update(in_channels=args.input_size[0], input_size=args.input_size[1])
    model = models.get_model(args.model, **kwargs)
    input_size = model.input_size
    print(model)
    print()
    summary(model, input_size)
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    from . import available_models

    p = sub.add_parser("summary", help="print a model's layers, output shapes, parameters and MACs",
                       description="Print the model, then a table with each layer's output shape, "
                                   "parameter count and multiply-accumulates (MACs) per sample, "
                                   "with totals. FLOPs = 2 x MACs.")
    p.add_argument("--model", default="lenet5", choices=available_models(),
                   help="model name (default lenet5)")
    p.add_argument("--input-size", type=int, nargs="+", metavar="N",
                   help="one sample's shape C H W (no batch dim), e.g. 1 32 32; the model is "
                        "built for that size (default 1 28 28)")
    p.add_argument("--num-classes", type=int, default=10, help="outputs of the last layer (default 10)")
    p.set_defaults(func=_cmd_summary)
