"""tc.viz: DOT text (no Graphviz needed), rendering (skipped without `dot`), the graph command.

The golden file tests/golden/viz_tiny_expression.dot is the expected DOT text of a tiny
expression; after a deliberate change to the drawing, regenerate it with
    .venv/bin/python tests/test_viz.py --regenerate
and review the diff.
"""
from __future__ import annotations

import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, viz
from tinygrad_cnn.viz.graph import GraphvizNotFoundError

GOLDEN = Path(__file__).parent / "golden" / "viz_tiny_expression.dot"
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz 'dot' program is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def tiny_expression():
    x = tc.tensor([[1., -2.], [3., 4.]], requires_grad=True)
    x.name = "x"
    w = tc.tensor([0.5, -1.0], requires_grad=True)
    w.name = "w"
    return ((x * w).relu().sum(dim=1) ** 2).mean(), x, w


def nodes(dot: str) -> dict[str, str]:
    """node id -> its attribute text, from DOT text."""
    out = {}
    for line in dot.splitlines():
        m = re.match(r"\s*([A-Za-z_][\w]*) \[(.*)\]$", line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            out[m.group(1)] = m.group(2)
    return out


def edges(dot: str) -> list[tuple[str, str, str]]:
    out = []
    for line in dot.splitlines():
        m = re.match(r"\s*(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3) or ""))
    return out


def label_of(attrs: str) -> str:
    """The visible text of an HTML-like label (tags removed, entities decoded)."""
    m = re.search(r"label=<(.*)>", attrs)
    import html
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))) if m else ""


def have_cnn() -> bool:
    F = tc.nn.functional
    return all(hasattr(F, n) for n in ("conv2d", "max_pool2d", "linear", "cross_entropy")) and \
        hasattr(tc, "models") and hasattr(tc.models, "LeNet5")


needs_cnn = pytest.mark.skipif(not have_cnn(), reason="the CNN ops / LeNet5 are not in this build yet")


def lenet_step(show_grads: bool = False):
    from tinygrad_cnn.viz.command import training_step_graph
    return training_step_graph("lenet5", batch_size=2, seed=0, keep_grads=show_grads)


# ------------------------------------------------------------------------------ DOT text
def test_golden_dot_for_a_tiny_expression():
    y, _, _ = tiny_expression()
    assert viz.to_dot(y) == GOLDEN.read_text(encoding="utf-8")


def test_dot_is_deterministic_across_runs():
    assert viz.to_dot(tiny_expression()[0]) == viz.to_dot(tiny_expression()[0])


def test_ops_and_tensors_of_the_tiny_expression():
    y, _, _ = tiny_expression()
    dot = viz.to_dot(y)
    ns = nodes(dot)
    ops = [label_of(a).split()[0] for k, a in ns.items() if k.startswith("op")]
    assert ops == ["Expand", "Mul", "ReLU", "Sum", "Pow", "Mean"]
    # the root shows its value, leaves their names, every tensor its shape and dtype
    labels = {k: label_of(a) for k, a in ns.items()}
    assert any("= 4.25" in v for v in labels.values())
    assert any(v.startswith(" x ") and "(2, 2) float32" in v for v in labels.values())
    # dataflow edges: every op has an outgoing edge to its output tensor
    es = edges(dot)
    assert {s for s, _, _ in es if s.startswith("op")} == {k for k in ns if k.startswith("op")}
    assert len(es) == 13


def test_op_nodes_show_non_default_arguments_by_forward_parameter_name():
    class Scale(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, factor, mode="fast", eps=1e-5):
            ctx.factor = factor
            return a * factor

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor, None

    x = tc.randn(3, requires_grad=True)
    y = Scale.apply(x, 2.5, mode="exact")
    ctx = y.grad_fn
    assert viz.op_arguments(ctx) == [("factor", 2.5), ("mode", "exact")]   # eps at default: hidden
    text = label_of(nodes(viz.to_dot(y))["op0"])
    assert "Scale" in text and "factor=2.5" in text and "mode='exact'" in text and "eps" not in text


def test_graph_label_and_nd_names():
    class Fancy(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def graph_label(ctx):
            return "Fancy[custom]"

    class ShiftNd(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a + 0.0

        @staticmethod
        def backward(ctx, g):
            return g

    x = tc.randn(2, 3, 4, 4, requires_grad=True)
    assert viz.op_name(Fancy.apply(x).grad_fn) == "Fancy[custom]"
    assert viz.op_name(ShiftNd.apply(x).grad_fn) == "Shift2d"
    assert viz.op_name(ShiftNd.apply(tc.randn(2, 3, 5, requires_grad=True)).grad_fn) == "Shift1d"


def test_the_python_blocks_of_docs_visualization_md_run():
    doc = Path(__file__).resolve().parent.parent / "docs" / "visualization.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:                         # in order, in one namespace, as a reader runs them
        if "LeNet5" in block and not have_cnn():
            pytest.skip("the CNN ops / LeNet5 are not in this build yet")
        if "matplotlib" not in sys.modules and "tc.viz.im2col" in block:
            pytest.importorskip("matplotlib")
        exec(compile(block, str(doc), "exec"), namespace)
    assert namespace["dot_text"].startswith("digraph")
    assert "∇" in namespace["with_grads"].source
    assert "× 2" in namespace["view"].source and namespace["text"].startswith("digraph")


def test_tuple_root_and_multi_output_op():
    x = tc.randn(3, 4, requires_grad=True)
    values, indices = x.max(1)
    other = (x * 2).sum()
    dot = viz.to_dot((values, other))
    ns = nodes(dot)
    texts = [label_of(a) for a in ns.values()]
    assert sum("MaxDim" in t for t in texts) == 1
    assert sum(t.strip().startswith("Sum") for t in texts) == 1
    # both roots are drawn as roots (orange)
    assert sum('fillcolor="#fcd5b4"' in a for a in ns.values()) == 2
    # a multi-output op labels its output edges
    assert any(lab and "out0" in lab for _, _, lab in edges(dot))


def test_in_place_ops_keep_the_values_apart():
    x = tc.randn(3, requires_grad=True)
    y = x * 2
    a = y + 1                     # reads y before the in-place relu
    y.relu_()
    dot = viz.to_dot((a + y).sum())
    ns = nodes(dot)
    ops = {label_of(v).split()[0]: k for k, v in ns.items() if k.startswith("op")}
    es = edges(dot)
    mul_out = next(d for s_, d, _ in es if s_ == ops["Mul"])
    # the value Mul produced feeds both the first Add and the in-place ReLU
    assert {d for s_, d, _ in es if s_ == mul_out} == {ops["ReLU"], next(
        k for k, v in ns.items() if k.startswith("op") and "b=1" in label_of(v))}


def test_a_leaf_root_is_one_node():
    x = tc.randn(2, requires_grad=True)
    assert len(nodes(viz.to_dot(x))) == 1


def test_ten_thousand_op_chain_without_recursion_error():
    x = tc.randn(4, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)                      # any recursion in the walk would now fail
    try:
        start = time.perf_counter()
        dot = viz.to_dot(y)
        elapsed = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)
    ns = nodes(dot)
    assert sum(k.startswith("op") for k in ns) == 10_000
    assert sum(k.startswith("t") for k in ns) == 10_001
    assert elapsed < 20, elapsed


def test_bad_arguments_are_reported():
    y, _, _ = tiny_expression()
    with pytest.raises(ValueError, match="rankdir"):
        viz.to_dot(y, rankdir="XY")
    with pytest.raises(ValueError, match="max_depth"):
        viz.to_dot(y, max_depth=-1)
    with pytest.raises(TypeError, match="Tensor"):
        viz.to_dot([1, 2])


# ----------------------------------------------------------------------------- modules
class Block(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.w = nn.Parameter(tc.randn(n, n))
        self.b = nn.Parameter(tc.zeros(n))

    def forward(self, x):
        return (x @ self.w + self.b).relu()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(Block(4), Block(4))
        self.head = Block(4)

    def forward(self, x):
        return self.head(self.blocks(x)).sum()


def clusters(dot: str) -> list[str]:
    return re.findall(r'subgraph "(cluster_[^"]+)"', dot)


def test_ops_are_clustered_by_module_with_dotted_names():
    y = Net()(tc.randn(2, 4))
    dot = viz.to_dot(y)
    assert clusters(dot) == ["cluster_Net", "cluster_blocks", "cluster_blocks.0",
                             "cluster_blocks.1", "cluster_head"]
    # parameter names found automatically from the module, placed in their module's cluster
    block0 = dot.split('subgraph "cluster_blocks.0"')[1].split("}")[0]
    assert "blocks.0.w" in block0 and "blocks.0.b" in block0 and "MatMul" in block0
    assert "head.w" not in block0


def test_max_depth_and_cluster_modules_off():
    y = Net()(tc.randn(2, 4))
    assert clusters(viz.to_dot(y, max_depth=1)) == ["cluster_Net"]
    assert clusters(viz.to_dot(y, max_depth=2)) == ["cluster_Net", "cluster_blocks", "cluster_head"]
    assert clusters(viz.to_dot(y, cluster_modules=False)) == []
    assert clusters(viz.to_dot(y, max_depth=0)) == []


def test_explicit_params_names_override():
    net = Net()
    y = net(tc.randn(2, 4))
    dot = viz.to_dot(y, params={"W_head": net.head.w})
    assert "W_head" in dot and "blocks.0.w" not in dot


# ------------------------------------------------------------------------ saved, grads
def test_show_saved_lists_arrays_and_their_aliases_then_freed():
    x = tc.randn(3, 4, requires_grad=True)
    w = tc.randn(4, 2, requires_grad=True)
    y = (x @ w).relu().sum()
    dot = viz.to_dot(y, show_saved=True)
    saved = {k: label_of(a) for k, a in nodes(dot).items() if k.startswith("s")}
    assert len(saved) == 3                                 # MatMul saves x and w, ReLU its output
    assert sum("= input 0" in v for v in saved.values()) == 1
    assert sum("= input 1" in v for v in saved.values()) == 1
    assert any("(3, 2) float32" in v for v in saved.values())
    assert "saved for backward" in dot
    y.backward()
    dot = viz.to_dot(y, show_saved=True)
    assert not any(k.startswith("s") for k in nodes(dot))
    assert dot.count("freed by backward()") == 3


def test_show_grads_with_captured_intermediate_gradients():
    x = tc.randn(3, 4, requires_grad=True)
    w = tc.randn(4, 2, requires_grad=True)
    y = ((x @ w) * 1e-4).relu().sum()
    assert viz.capture_grads(y) == 4                        # every non-leaf tensor
    y.backward()
    dot = viz.to_dot(y, show_grads=True)
    ns = nodes(dot)
    grads = [label_of(a) for k, a in ns.items() if k.startswith("t")]
    assert all("∇" in g for g in grads), grads
    assert "grad_legend" in ns and "capture_grads" not in dot
    # the gradient of w is 1e-4 times smaller than the gradient reaching x@w: different colours
    colors = {(s, d): re.search(r'color="(#\w+)"', a).group(1) for s, d, a in edges(dot) if "color" in a}
    assert len(set(colors.values())) >= 2
    # stats agree with the numbers
    g = w.grad.numpy()
    wid = next(k for k, a in ns.items() if "(4, 2)" in label_of(a) and k.startswith("t"))
    assert f"norm {float(np.linalg.norm(g)):.4g}" in label_of(ns[wid]) or \
        f"norm {float(np.linalg.norm(g)):.2e}" in label_of(ns[wid])


def test_show_grads_without_capture_says_how():
    x = tc.randn(3, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    dot = viz.to_dot(y, show_grads=True)
    assert "capture_grads" in dot                      # the title explains the missing grads
    assert "∇" in label_of(nodes(dot)["t0"])           # the leaf's gradient is there


def test_zero_and_nonfinite_are_flagged():
    x = tc.tensor([-1.0, -2.0], requires_grad=True)
    y = x.relu().sum()                                  # dead relu: zero gradient
    viz.capture_grads(y)
    y.backward()
    assert "∇ all zero" in viz.to_dot(y, show_grads=True)
    z = tc.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        bad = z.log()                                   # -inf
    dot = viz.to_dot(bad)
    assert "Inf ×1" in dot and "#d7191c" in dot


def test_show_values_statistics():
    x = tc.tensor([0.0, 2.0, 4.0, 0.0], requires_grad=True)
    y = x.relu()
    text = label_of(nodes(viz.to_dot(y, show_values=True))["t1"])
    assert "μ 1.5" in text and "[0, 4]" in text and "zeros 50%" in text


# --------------------------------------------------------------------------- rendering
def test_draw_graph_is_a_digraph_with_the_same_source():
    graphviz = pytest.importorskip("graphviz")
    y, _, _ = tiny_expression()
    g = viz.draw_graph(y)
    assert isinstance(g, graphviz.Digraph)
    assert g.source == viz.to_dot(y)
    assert not re.search(r"[\s\[]size=", g.source)     # nothing scales or clips the output


def test_render_without_dot_raises_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no dot on PATH
    y, _, _ = tiny_expression()
    assert viz.to_dot(y).startswith("digraph")            # DOT text needs no binary
    g = viz.draw_graph(y)
    with pytest.raises(GraphvizNotFoundError) as info:
        g.render(str(tmp_path / "out" / "graph.svg"))
    msg = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert hint in msg
    dot_file = tmp_path / "out" / "graph.dot"
    assert str(dot_file) in msg and dot_file.read_text() == viz.to_dot(y)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # Jupyter display falls back to text instead of a traceback
    bundle = g._repr_mimebundle_()
    assert "text/plain" in bundle and "install graphviz" in bundle["text/plain"]


@needs_dot
@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_render_takes_the_format_from_the_extension(tmp_path, ext):
    y, _, _ = tiny_expression()
    out = tmp_path / f"graph.{ext}"
    path = viz.draw_graph(y).render(str(out))
    assert Path(path) == out and out.exists()
    head = out.read_bytes()[:8]
    assert {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF"}[ext] in head
    assert not (tmp_path / "graph.dot").exists()         # the intermediate source is cleaned up
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@needs_dot
def test_jupyter_display_is_unscaled_svg():
    y, _, _ = tiny_expression()
    bundle = viz.draw_graph(y)._repr_mimebundle_()
    svg = bundle["image/svg+xml"]
    root = ET.fromstring(svg)
    width = float(root.get("width").removesuffix("pt"))
    height = float(root.get("height").removesuffix("pt"))
    vb = [float(v) for v in root.get("viewBox").split()]
    assert abs(vb[2] - width) < 2 and abs(vb[3] - height) < 2    # natural size: no scaling


def svg_tree(path: Path):
    root = ET.parse(path).getroot()
    node_text, cluster_titles = {}, []
    for g in root.iter(SVG + "g"):
        cls = g.get("class")
        title = g.find(SVG + "title")
        if cls == "node":
            node_text[title.text] = " ".join(t.text or "" for t in g.iter(SVG + "text"))
        elif cls == "cluster":
            cluster_titles.append(title.text)
    return node_text, cluster_titles


@needs_dot
def test_rendered_svg_of_a_module_has_nodes_labels_and_clusters(tmp_path):
    y = Net()(tc.randn(2, 4))
    out = tmp_path / "net.svg"
    viz.draw_graph(y).render(str(out))
    node_text, cluster_titles = svg_tree(out)
    assert cluster_titles == ["cluster_Net", "cluster_blocks", "cluster_blocks.0",
                              "cluster_blocks.1", "cluster_head"]
    assert sum("MatMul" in t for t in node_text.values()) == 3
    assert any("blocks.1.w" in t for t in node_text.values())


# -------------------------------------------------------------------------------- LeNet
LENET_CLUSTERS = ["cluster_conv1", "cluster_relu1", "cluster_pool1", "cluster_conv2",
                  "cluster_relu2", "cluster_pool2", "cluster_flatten", "cluster_fc1",
                  "cluster_relu3", "cluster_fc2", "cluster_relu4", "cluster_fc3"]


@needs_cnn
def test_lenet_dot_text_names_ops_params_and_modules():
    loss, model = lenet_step()
    dot = viz.to_dot(loss)
    found = clusters(dot)
    assert found[0] == "cluster_LeNet5"
    assert [c for c in found if c in LENET_CLUSTERS] == [c for c in LENET_CLUSTERS if c in found]
    for c in ("cluster_conv1", "cluster_conv2", "cluster_fc1", "cluster_fc2", "cluster_fc3"):
        assert c in found
    for name, _ in model.named_parameters():
        assert f"<B>{name}</B>" in dot, name
    labels = [label_of(a) for a in nodes(dot).values()]
    for op in ("Conv2d", "MaxPool2d", "Linear", "ReLU", "CrossEntropy"):
        assert any(t.split() and t.split()[0].startswith(op) for t in labels), (op, labels)


@needs_cnn
@needs_dot
def test_lenet_svg_with_grads(tmp_path):
    from tinygrad_cnn.cli import main
    out = tmp_path / "lenet5.svg"
    assert main(["graph", "--model", "lenet5", "--out", str(out), "--show-grads"]) == 0
    node_text, cluster_titles = svg_tree(out)
    for c in ("cluster_LeNet5", "cluster_conv1", "cluster_conv2", "cluster_fc1", "cluster_fc2",
              "cluster_fc3"):
        assert c in cluster_titles
    texts = list(node_text.values())
    for op in ("Conv2d", "MaxPool2d", "Linear", "ReLU", "CrossEntropy"):
        assert any(op in t for t in texts), op
    assert any("conv1.weight" in t and "(6, 1, 5, 5)" in t for t in texts)
    assert any("fc3.bias" in t for t in texts)
    # every tensor that requires grad shows its gradient, and the legend is there
    assert sum("∇" in t for t in texts) >= 20
    assert "grad_legend" in node_text
    # edges are coloured by gradient size: several colours on the solid edges
    root = ET.parse(out).getroot()
    colours = {p.get("stroke") for g in root.iter(SVG + "g") if g.get("class") == "edge"
               for p in g.iter(SVG + "path")}
    assert len(colours - {"#9e9e9e", "#404040"}) >= 3


@needs_cnn
def test_graph_command_writes_dot_without_graphviz(tmp_path, monkeypatch, capsys):
    from tinygrad_cnn.cli import main
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "lenet5.dot"
    assert main(["graph", "--model", "lenet5", "--out", str(out)]) == 0
    assert "cluster_conv1" in out.read_text()
    # an image format without dot: exit status 1 and the install hint
    assert main(["graph", "--model", "lenet5", "--out", str(tmp_path / "x.svg")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and str(tmp_path / "x.dot") in err


if __name__ == "__main__" and "--regenerate" in sys.argv:
    GOLDEN.write_text(viz.to_dot(tiny_expression()[0]), encoding="utf-8")
    print(f"wrote {GOLDEN}")
