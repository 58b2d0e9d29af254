"""Every ```python block of docs/autograd.md runs as written, each in a fresh namespace."""
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "autograd.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_doc_has_code_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_code_block_runs(index, capsys):
    import tinygrad_cnn as tc
    was_enabled = tc.is_grad_enabled()
    exec(compile(BLOCKS[index], f"{DOC.name}[block {index}]", "exec"), {"__name__": "__doc_example__"})
    assert tc.is_grad_enabled() == was_enabled          # a block must not leak grad mode


def test_worked_example_output_is_what_the_doc_says(capsys):
    block = next(b for b in BLOCKS if "order = []" in b)
    exec(compile(block, "worked example", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["[('y', 1.0), ('b', 1.0), ('c', 1.0), ('a', 13.0)]", "tensor(40.)"]
