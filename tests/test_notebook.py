"""In Jupyter: training shows tqdm.auto's notebook bar (a widget) and its epoch lines, graphs
and model views display inline as SVG with a short text repr, learning views as PNG. A small
notebook runs in a real kernel (nbclient) and its outputs' mime types are checked."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]

CELLS = [
    "import numpy as np\nimport tinygrad_cnn as tc\nfrom tinygrad_cnn.train import fit",
    "r = fit(limit_train=256, valid_size=128, limit_test=128, epochs=1)",
    "tc.viz.draw_model(tc.models.LeNet5(), (1, 1, 28, 28), depth=1)",
    "loss = (tc.randn(3, requires_grad=True) * 2).sum()\ntc.viz.draw_graph(loss)",
    "tc.viz.im2col(np.arange(16.).reshape(4, 4), kernel_size=3)",
]


def _mimes(cell) -> set[str]:
    out = set()
    for o in cell.outputs:
        if o.output_type == "stream":
            out.add(f"stream:{o.name}")
        out.update(o.get("data", {}).keys())
    return out


@pytest.fixture
def kernel_for_this_python(tmp_path, monkeypatch):
    """A kernelspec that runs this interpreter (the default one runs whatever `python` is on PATH)."""
    spec = tmp_path / "jupyter" / "kernels" / "tinygrad-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tinygrad_cnn test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return "tinygrad-test"


def test_notebook_outputs(kernel_for_this_python, tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(nb, kernel_name=kernel_for_this_python, timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    train, model_view, graph, figure = nb.cells[1:]
    mimes = _mimes(train)
    assert "stream:stdout" in mimes                      # the epoch and test-accuracy lines
    text = "".join(o.text for o in train.outputs if o.output_type == "stream" and o.name == "stdout")
    assert "epoch 1/1" in text and "test accuracy" in text
    try:
        import ipywidgets  # noqa: F401
        assert "application/vnd.jupyter.widget-view+json" in mimes   # tqdm.auto's notebook bar
    except ImportError:
        assert "stream:stderr" in mimes                  # tqdm's text bar
    for cell in (model_view, graph):
        data = cell.outputs[0]["data"]
        assert "image/svg+xml" in data and data["text/plain"].startswith("<tc.viz.Graph")
        assert len(data["text/plain"]) < 200
    assert "image/png" in _mimes(figure)
    text = figure.outputs[0]["data"]["text/plain"]
    assert text.startswith("<tc.viz figure 'im2col of x (1, 1, 4, 4)") and len(text) < 200
