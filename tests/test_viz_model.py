"""tc.viz.draw_model / model_to_dot: modules as nodes at a chosen depth, shapes on the edges,
repeated identical blocks rolled up, residual and concat edges visible; the graph CLI's
--depth, --out checks and model names."""
from __future__ import annotations

import re
import shutil

import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, viz
from tinygrad_cnn.cli import main

from test_viz import label_of, nodes
from viz_models import TinyDenseNet, TinyResNet

HAVE_DOT = shutil.which("dot") is not None


def labels(dot: str) -> dict[str, str]:
    return {k: label_of(a) for k, a in nodes(dot).items()}


def edge_list(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r'^\s*(\w+) -> (\w+) \[label=" ([^"]*)"\]', dot, flags=re.M)


def test_depth_1_and_2_of_a_resnet_roll_identical_blocks_only():
    tc.manual_seed(0)
    model = TinyResNet()
    d2 = viz.model_to_dot(model, (1, 3, 16, 16), depth=2)
    text = list(labels(d2).values())
    rolled = [t for t in text if "× 2" in t]
    assert len(rolled) == 1 and "layer1.0 … layer1.1" in rolled[0] and "BasicBlock" in rolled[0]
    # layer2.0 has a downsample, layer2.1 not: different modules, two nodes
    assert sum("layer2.0" in t and "BasicBlock" in t for t in text) == 1
    assert sum("layer2.1" in t and "BasicBlock" in t for t in text) == 1
    assert all("skip connection" in t for t in text if "BasicBlock" in t)
    shapes = [e[2] for e in edge_list(d2)]
    assert "(1, 8, 16, 16)" in shapes and "(1, 16, 8, 8)" in shapes and "(1, 10)" in shapes
    assert 'cluster_layer1' in d2 and 'cluster_layer2' in d2
    d1 = viz.model_to_dot(model, (1, 3, 16, 16), depth=1)
    names = {re.sub(r":.*", "", t).strip() for t in labels(d1).values()}
    assert {"conv1", "bn1", "relu", "layer1", "layer2", "avgpool", "fc", "input", "output"} <= names
    assert "cluster" not in d1                      # nothing open at depth 1
    unrolled = viz.model_to_dot(model, (1, 3, 16, 16), depth=2, roll=False)
    assert "× 2" not in unrolled and len(edge_list(unrolled)) == len(edge_list(d2)) + 1


def test_open_blocks_show_the_residual_edge():
    tc.manual_seed(0)
    dot = viz.model_to_dot(TinyResNet(), (1, 3, 16, 16), depth=3)
    lab = labels(dot)
    adds = [k for k, t in lab.items() if t.strip() == "Add"]
    assert len(adds) == 4                           # one per BasicBlock
    into = {k: [e for e in edge_list(dot) if e[1] == k] for k in adds}
    assert all(len(v) == 2 for v in into.values())  # the block's branch and its skip
    first = into[adds[0]]
    relu = next(k for k, t in lab.items() if t.split()[:1] == ["relu"])
    assert any(src == relu for src, _, _ in first)  # the skip comes straight from the stem's ReLU


def test_dense_blocks_show_their_concatenations():
    tc.manual_seed(0)
    model = TinyDenseNet()
    d2 = viz.model_to_dot(model, (1, 3, 16, 16), depth=2)
    lab = labels(d2)
    cat = [k for k, t in lab.items() if t.strip() == "Cat"]
    assert len(cat) == 2                            # each block's final torch.cat, in the open block
    ins = [e for e in edge_list(d2) if e[1] == cat[0]]
    assert len(ins) == 4 and {e[2] for e in ins} == {"(1, 8, 16, 16)", "(1, 4, 16, 16)"}
    assert all("concatenates" in t for t in lab.values() if "DenseLayer" in t)
    assert not any("× " in t for t in lab.values())  # dense layers differ in width: no rolling


def test_depth_0_is_one_node_and_bad_arguments_are_named():
    dot = viz.model_to_dot(tc.models.LeNet5(), (1, 1, 28, 28), depth=0)
    assert len([k for k in nodes(dot) if k.startswith("m")]) == 1
    with pytest.raises(ValueError, match="depth"):
        viz.model_to_dot(tc.models.LeNet5(), (1, 1, 28, 28), depth=-1)
    with pytest.raises(TypeError, match="example_input"):
        viz.model_to_dot(tc.models.LeNet5(), "image")


def test_resnet18_from_vision_models():
    vision = pytest.importorskip("tinygrad_cnn.vision.models")
    tc.manual_seed(0)
    dot = viz.model_to_dot(vision.resnet18(), tc.randn(1, 3, 64, 64), depth=2)
    assert "11,689,512 parameters" in dot            # torchvision's count for resnet18
    text = labels(dot).values()
    assert any("layer1.0 … layer1.1" in t for t in text)
    assert "(1, 512, 2, 2)" in dot and "(1, 1000)" in dot


def test_graph_repr_is_short_and_says_how_to_see_it():
    pytest.importorskip("graphviz")
    g = viz.draw_model(tc.models.LeNet5(), (1, 1, 28, 28), depth=1)
    r = repr(g)
    assert len(r) < 200 and "nodes" in r and "edges" in r and ".render(" in r and "LeNet5" in r
    loss = (tc.randn(2, 2, requires_grad=True) * 2).sum()
    r = repr(viz.draw_graph(loss))
    assert r.startswith("<tc.viz.Graph '2 ops · 3 tensors': 5 nodes, 4 edges;") and len(r) < 200


def test_cli_graph_depth_writes_the_module_view(tmp_path, capsys):
    out = tmp_path / "lenet.dot"
    assert main(["graph", "--model", "lenet5", "--depth", "1", "--out", str(out)]) == 0
    dot = out.read_text()
    assert "LeNet5: modules at depth 1" in dot and "conv1" in dot and "(2, 6, 24, 24)" in dot


def test_cli_graph_refuses_an_unknown_suffix_and_writes_nothing(tmp_path, capsys):
    assert main(["graph", "--out", str(tmp_path / "foo.xyz")]) == 2
    err = capsys.readouterr().err
    assert "foo.xyz" in err and ".svg" in err and ".dot" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz 'dot' program is not installed")
def test_cli_graph_svg_leaves_no_dot_file_beside_it(tmp_path, capsys):
    assert main(["graph", "--model", "mlp", "--depth", "1", "--out", str(tmp_path / "m.svg")]) == 0
    assert main(["graph", "--model", "mlp", "--out", str(tmp_path / "g.svg")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg", "m.svg"]


def test_graph_summary_and_train_accept_the_same_model_names():
    from tinygrad_cnn.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    choices = {name: next(a.choices for a in sub.choices[name]._actions if a.dest == "model")
               for name in ("graph", "summary", "train")}
    assert choices["graph"] == choices["summary"] == choices["train"]
    assert {"lenet5", "mlp", "seed003"} <= set(choices["graph"])
    if tc.models._vision_builders() is not None:
        assert {"resnet18", "densenet121"} <= set(choices["graph"])
