"""`tinygrad-cnn graph`: render the graph of one training step of a built-in model.

    tinygrad-cnn graph --model lenet5 --out lenet5.svg                # forward graph + loss
    tinygrad-cnn graph --model lenet5 --out lenet5_grads.svg --show-grads
    tinygrad-cnn graph --model lenet5 --out lenet5.dot                # DOT text, no Graphviz needed

One step: a random batch (seeded), the model's logits, cross-entropy against random labels,
backward(). With --show-grads every tensor's gradient is kept (tc.viz.capture_grads) and drawn.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

# name -> (factory, input shape without the batch dimension (None: the model's .input_size), classes)
MODELS: dict[str, tuple[Callable[[], Any], Any, int]] = {}


def _builtin_models() -> dict:
    if not MODELS:
        def lenet5() -> Any:
            from tinygrad_cnn.models import LeNet5
            return LeNet5()

        def mlp() -> Any:
            from tinygrad_cnn import nn
            return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))

        MODELS["lenet5"] = (lenet5, None, 10)
        MODELS["mlp"] = (mlp, (1, 28, 28), 10)
    return MODELS


def add_command(sub: Any) -> Any:
    """Add the `graph` subcommand to the `tinygrad-cnn` parser (see cli.py)."""
    p = sub.add_parser(
        "graph", help="render the autograd graph of one training step of a model",
        description="Run one training step (random batch, cross-entropy loss, backward) and "
                    "render its graph. The output format follows --out's extension (svg, png, "
                    "pdf; .dot writes the DOT text and needs no Graphviz).")
    p.add_argument("--model", default="lenet5", help="lenet5 (default) or mlp")
    p.add_argument("--out", default=None, help="output file (default MODEL.svg)")
    p.add_argument("--show-grads", action="store_true",
                   help="gradient norm/min/max on every tensor, edges coloured by gradient size")
    p.add_argument("--show-saved", action="store_true", help="arrays each op keeps for backward")
    p.add_argument("--show-values", action="store_true", help="data statistics of every tensor")
    p.add_argument("--max-depth", type=int, default=None, help="module nesting levels to cluster")
    p.add_argument("--no-clusters", action="store_true", help="do not group ops by module")
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"],
                   help="layout direction (default TB: top to bottom)")
    p.add_argument("--batch-size", type=int, default=2, help="batch size of the random batch (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run_command)
    return p


def training_step_graph(model_name: str, batch_size: int = 2, seed: int = 0,
                        keep_grads: bool = False, retain_graph: bool = False) -> tuple:
    """(loss, model) after one forward + backward on a random batch."""
    import tinygrad_cnn as tc
    from tinygrad_cnn.nn import functional as F
    from tinygrad_cnn.viz import capture_grads

    models = _builtin_models()
    if model_name not in models:
        raise KeyError(f"unknown model {model_name!r}; choose one of {', '.join(models)}")
    factory, in_shape, classes = models[model_name]
    tc.manual_seed(seed)
    model = factory()
    in_shape = in_shape or tuple(model.input_size)
    x = tc.randn(batch_size, *in_shape)
    x.name = "images"
    y = tc.randint(0, classes, (batch_size,))
    y.name = "labels"
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.name = "loss"
    if keep_grads:
        capture_grads(loss)
    loss.backward(retain_graph=retain_graph)
    return loss, model


def run_command(args: Any) -> int:
    from tinygrad_cnn.viz import GraphvizNotFoundError, draw_graph, to_dot

    out = Path(args.out or f"{args.model}.svg")
    try:
        loss, model = training_step_graph(args.model, args.batch_size, args.seed,
                                          keep_grads=args.show_grads, retain_graph=args.show_saved)
    except (KeyError, ImportError) as e:
        print(f"graph: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    opts = dict(params=dict(model.named_parameters()), show_saved=args.show_saved,
                show_values=args.show_values, show_grads=args.show_grads,
                cluster_modules=not args.no_clusters, max_depth=args.max_depth,
                rankdir=args.rankdir,
                title=f"{args.model}: one training step (batch {args.batch_size}, cross-entropy"
                      f" {loss.item():.4f})")
    if out.suffix.lower() in (".dot", ".gv"):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(to_dot(loss, **opts), encoding="utf-8")
        print(f"wrote {out} (DOT text)")
        return 0
    try:
        path = draw_graph(loss, **opts).render(str(out))
    except GraphvizNotFoundError as e:
        print(f"graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
