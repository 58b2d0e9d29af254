"""The graph says true things: values freed by backward are not called "overwritten in place",
real in-place writes are, and show_saved counts every array an op keeps (conv's column lists)."""
from __future__ import annotations

import re

import tinygrad_cnn as tc
from tinygrad_cnn import viz
from tinygrad_cnn.viz.command import training_step_graph

from test_viz import label_of, nodes


def _tensor_labels(dot: str) -> list[str]:
    return [label_of(a) for k, a in nodes(dot).items() if re.fullmatch(r"t\d+", k)]


def test_after_backward_intermediates_are_freed_not_overwritten():
    loss, model = training_step_graph("lenet5")            # forward + backward, graph freed
    labels = _tensor_labels(viz.to_dot(loss, dict(model.named_parameters())))
    freed = [t for t in labels if "freed by backward" in t]
    assert not any("overwritten" in t for t in labels)
    # every intermediate (not the images, labels, parameters or the loss) is reported freed
    n_ops = len(viz.graph._walk((loss,))[1])
    assert len(freed) == n_ops - 1


def test_a_real_in_place_write_is_named_with_the_version():
    a = tc.randn(3, requires_grad=True)
    h = a.tanh()
    y = h * 2
    h.add_(1)                                                # Mul read h before this write
    labels = _tensor_labels(viz.to_dot((y + h).sum()))
    overwritten = [t for t in labels if "overwritten in place" in t]
    assert len(overwritten) == 1 and "now version 1" in overwritten[0]
    assert not any("freed by backward" in t for t in labels)


def test_show_saved_counts_conv_column_lists():
    loss, model = training_step_graph("lenet5", retain_graph=True)
    dot = viz.to_dot(loss, dict(model.named_parameters()), show_saved=True)
    notes = [label_of(a) for k, a in nodes(dot).items() if re.fullmatch(r"s\d+", k)]
    # the im2col columns (groups, K, N·L) that each conv keeps for grad_weight, batch 2:
    # conv1 K = 1·5·5, L = 24·24;  conv2 K = 6·5·5, L = 8·8
    assert any("(1, 25, 1152) float32" in n for n in notes)
    assert any("(1, 150, 128) float32" in n for n in notes)
    held = re.search(r"saved for backward: ([\d.]+) KB", dot)
    column_kb = (25 * 1152 + 150 * 128) * 4 / 1024
    # columns plus at least the conv2 input and the three Linear inputs
    assert held and float(held.group(1)) > column_kb + (2 * 6 * 12 * 12 + 2 * (256 + 120 + 84)) * 4 / 1024
