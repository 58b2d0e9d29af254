"""Draw LeNet-5's graph for one training step: forward, cross-entropy, backward.

    .venv/bin/python examples/draw_lenet_graph.py [OUT_DIR]

writes OUT_DIR/lenet5.svg (the forward graph, ops clustered by module),
OUT_DIR/lenet5_saved.svg (the same graph before backward(), with what each op saved for
backward and the statistics of every tensor's values) and OUT_DIR/lenet5_grads.svg (the same
step after backward(): gradient statistics on every tensor, edges coloured by gradient size). Without the Graphviz `dot` program it writes the .dot text
instead and says how to install Graphviz. The same pictures come from the command line:

    tinygrad-cnn graph --model lenet5 --out lenet5.svg [--show-grads]
"""
from __future__ import annotations

import sys
from pathlib import Path

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F


def graphs() -> dict:
    """{file name: tc.viz.Graph} for the three pictures (scripts/make_images.py uses this too)."""
    tc.manual_seed(0)
    model = tc.models.LeNet5()
    images = tc.randn(2, *model.input_size)
    images.name = "images"
    labels = tc.randint(0, 10, (2,))
    labels.name = "labels"

    loss = F.cross_entropy(model(images), labels)
    loss.name = "loss"
    forward_only = tc.viz.draw_graph(loss, title="LeNet-5: forward pass and loss (batch of 2)")
    saved = tc.viz.draw_graph(loss, show_saved=True, show_values=True,
                              title="LeNet-5 before backward(): saved arrays and value statistics")

    tc.viz.capture_grads(loss)        # keep every intermediate gradient for the third picture
    loss.backward()
    with_grads = tc.viz.draw_graph(loss, show_grads=True,
                                   title="LeNet-5 after backward(): gradient at every tensor")
    return {"lenet5.svg": forward_only, "lenet5_saved.svg": saved, "lenet5_grads.svg": with_grads}


def main(out_dir: str = ".") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, graph in graphs().items():
        try:
            print("wrote", graph.render(str(out / name)))
        except tc.viz.GraphvizNotFoundError as e:
            print(e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
