"""Graph rendering: `to_dot` (DOT text, no Graphviz needed), `draw_graph` (a renderable
`graphviz.Digraph`) and `capture_grads` (keep intermediate gradients for `show_grads`); the
module-level view `draw_model` / `model_to_dot`; the learning views (matplotlib, the `plot`
extra) `im2col`, `col2im`, `pool_switches`, `filters`, `feature_maps`, `saliency`.
See docs/visualization.md."""
from .graph import (INSTALL_HINT, GraphvizNotFoundError, capture_grads, draw_graph, op_arguments,
                    op_name, to_dot)
from .model import draw_model, model_to_dot
from .mechanics import col2im, im2col, pool_switches
from .inside import feature_maps, filters, saliency

__all__ = ["to_dot", "draw_graph", "capture_grads", "op_arguments", "op_name", "GraphvizNotFoundError",
           "INSTALL_HINT", "Graph", "draw_model", "model_to_dot", "im2col", "col2im",
           "pool_switches", "filters", "feature_maps", "saliency"]


def __getattr__(name: str):
    if name == "Graph":
        from .graph import _graph_class
        return _graph_class()
    raise AttributeError(f"module 'tinygrad_cnn.viz' has no attribute {name!r}")
