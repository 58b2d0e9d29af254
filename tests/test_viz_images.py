"""docs/img cannot go stale: scripts/make_images.py --check recomputes what the code would draw
(DOT text for graphs, texts and image shapes for figures) and compares with docs/img/images.json.
The fast test covers the LeNet op graphs and the im2col/col2im/max-pool pictures; the slow one
everything (the module views of ResNet-18/DenseNet-121 at 224×224 and a 300-step LeNet training
for the filter, feature-map and saliency pictures)."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_images", REPO / "scripts" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_picture_is_in_the_manifest_and_committed():
    make = _script()
    recorded = json.loads(make.MANIFEST.read_text())
    assert set(recorded) == set(make.ALL)
    assert all((make.IMG / name).stat().st_size > 1000 for name in make.ALL)


def test_fast_pictures_are_current():
    pytest.importorskip("matplotlib")
    make = _script()
    assert make.check({"lenet5.svg", "lenet5_saved.svg", "lenet5_grads.svg", "im2col.png",
                       "col2im.png", "pool_switches.png"}) == []


def test_check_reports_a_stale_picture(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    make = _script()
    manifest = tmp_path / "images.json"
    recorded = json.loads(make.MANIFEST.read_text())
    recorded["im2col.png"] = "fig:0"
    manifest.write_text(json.dumps(recorded))
    monkeypatch.setattr(make, "MANIFEST", manifest)
    assert make.check({"im2col.png", "col2im.png"}) == ["im2col.png: stale (the code now draws something else)"]


@pytest.mark.slow
def test_all_pictures_are_current():
    pytest.importorskip("matplotlib")
    assert _script().check() == []
