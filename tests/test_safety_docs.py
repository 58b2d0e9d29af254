"""Every ```python block of docs/safety.md runs as written, each in a fresh namespace."""
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "safety.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_doc_has_code_blocks():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_code_block_runs(index):
    import tinygrad_cnn as tc
    limit, anomaly = tc.get_workspace_limit(), tc.autograd.is_anomaly_enabled()
    exec(compile(BLOCKS[index], f"{DOC.name}[block {index}]", "exec"), {"__name__": "__doc_example__"})
    assert tc.is_grad_enabled() and tc.get_workspace_limit() == limit       # nothing leaks out
    assert tc.autograd.is_anomaly_enabled() == anomaly
