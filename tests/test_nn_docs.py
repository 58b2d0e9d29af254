"""Every ```python block in docs/nn.md runs, in order, in one namespace."""
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "nn.md"


def test_docs_nn_code_blocks_run(capsys):
    pytest.importorskip("torch")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace = {"__name__": "docs_nn"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"docs/nn.md code block {i} failed: {type(e).__name__}: {e}\n{code}")
