"""The README's Python blocks run as written, in order, in one namespace (they build on each other)."""
import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    if shutil.which("dot") is None:
        pytest.skip("the README renders an SVG, which needs graphviz's dot")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)                  # the blocks write graph.svg and ckpt.npz
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["tc"].gradcheck(namespace["Cube"].apply, (
        namespace["tc"].randn(2, 3, dtype=namespace["tc"].float64, requires_grad=True),))
    assert namespace["h"].shape == (8, 16, 16, 16) and namespace["cols"].shape == (8, 27, 1024)
    assert (tmp_path / "graph.svg").stat().st_size > 0 and (tmp_path / "ckpt.npz").exists()


DOCS = sorted((README.parent / "docs").glob("*.md"))


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name == "training.md" else [])
                                  for p in DOCS if "```python" in p.read_text()])
def test_docs_python_blocks_run(page, tmp_path, monkeypatch):
    """Every docs page's Python blocks run as written, in order, in one namespace
    (training.md trains LeNet for ~20 s: in the slow set)."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)   # the property: no block raises
    assert "tc" in namespace                          # the pages import tinygrad_cnn as tc
