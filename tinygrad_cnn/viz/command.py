"""`tinygrad-cnn graph`: render the graph of one training step of a built-in model.

    tinygrad-cnn graph --model lenet5 --out lenet5.svg                # forward graph + loss
    tinygrad-cnn graph --model lenet5 --out lenet5_grads.svg --show-grads
    tinygrad-cnn graph --model lenet5 --out lenet5.dot                # DOT text, no Graphviz needed
    tinygrad-cnn graph --model resnet18 --depth 1 --out resnet18.svg  # modules, not ops

One step: a random batch (seeded), the model's logits, cross-entropy against random labels,
backward(). With --show-grads every tensor's gradient is kept (tc.viz.capture_grads) and drawn.
With --depth N the module-level view (tc.viz.draw_model) is drawn instead: one forward pass,
modules N levels deep as single nodes, repeated blocks rolled up (--no-roll keeps them apart).
Model names are those of `tinygrad-cnn train` and `summary` (tinygrad_cnn.models.available_models).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

# --out suffixes the command can write: DOT text, or what Graphviz renders
OUT_FORMATS = ("svg", "png", "pdf", "dot", "gv")


def add_command(sub: Any) -> Any:
    """Add the `graph` subcommand to the `tinygrad-cnn` parser (see cli.py)."""
    p = sub.add_parser(
        "graph", help="render the autograd graph of one training step of a model",
        description="Run one training step (random batch, cross-entropy loss, backward) and "
                    "render its graph. The output format follows --out's extension (svg, png, "
                    "pdf; .dot writes the DOT text and needs no Graphviz).")
    from tinygrad_cnn.models import available_models
    p.add_argument("--model", default="lenet5", choices=available_models(), metavar="MODEL",
                   help="model name, as for train and summary (default lenet5): "
                        + ", ".join(available_models()))
    p.add_argument("--out", default=None,
                   help=f"output file (default MODEL.svg); the suffix picks the format: "
                        f"{', '.join('.' + f for f in OUT_FORMATS)}")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="draw modules instead of ops: N levels of submodules opened (1: the "
                        "model's children as nodes)")
    p.add_argument("--no-roll", action="store_true",
                   help="with --depth: draw repeated identical blocks one by one")
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
    from tinygrad_cnn.models import get_model
    from tinygrad_cnn.nn import functional as F
    from tinygrad_cnn.viz import capture_grads

    classes = 10
    tc.manual_seed(seed)
    model = get_model(model_name, num_classes=classes)
    x = tc.randn(batch_size, *model.input_size)
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
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in OUT_FORMATS:
        print(f"graph: cannot write {out}: the suffix picks the format, and "
              f"{'.' + suffix if suffix else 'no suffix'} is not one of "
              f"{', '.join('.' + f for f in OUT_FORMATS)}", file=sys.stderr)
        return 2
    if args.depth is not None:
        return _run_model_view(args, out, suffix)
    try:
        loss, model = training_step_graph(args.model, args.batch_size, args.seed,
                                          keep_grads=args.show_grads, retain_graph=args.show_saved)
    except (ValueError, ImportError) as e:
        print(f"graph: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    opts = dict(params=dict(model.named_parameters()), show_saved=args.show_saved,
                show_values=args.show_values, show_grads=args.show_grads,
                cluster_modules=not args.no_clusters, max_depth=args.max_depth,
                rankdir=args.rankdir,
                title=f"{args.model}: one training step (batch {args.batch_size}, cross-entropy"
                      f" {loss.item():.4f})")
    if suffix in ("dot", "gv"):
        return _write_dot(out, to_dot(loss, **opts))
    return _render(draw_graph(loss, **opts), out)


def _run_model_view(args: Any, out: Path, suffix: str) -> int:
    import tinygrad_cnn as tc
    from tinygrad_cnn.models import get_model
    from tinygrad_cnn.viz import draw_model, model_to_dot

    try:
        tc.manual_seed(args.seed)
        model = get_model(args.model, num_classes=10)
        opts = dict(depth=args.depth, roll=not args.no_roll, rankdir=args.rankdir)
        x = tc.randn(args.batch_size, *model.input_size)
        if suffix in ("dot", "gv"):
            return _write_dot(out, model_to_dot(model, x, **opts))
        graph = draw_model(model, x, **opts)
    except (ValueError, ImportError) as e:
        print(f"graph: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    return _render(graph, out)


def _write_dot(out: Path, text: str) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} (DOT text)")
    return 0


def _render(graph: Any, out: Path) -> int:
    from tinygrad_cnn.viz import GraphvizNotFoundError
    try:
        path = graph.render(str(out))
    except GraphvizNotFoundError as e:
        print(f"graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
