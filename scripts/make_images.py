"""Regenerate the pictures in docs/img from the code, or check that they are current.

    .venv/bin/python scripts/make_images.py            # rewrite them and docs/img/images.json
    .venv/bin/python scripts/make_images.py --check    # exit 1 naming every stale or missing one
    .venv/bin/python scripts/make_images.py --only im2col.png lenet5.svg

Each picture has a signature in docs/img/images.json, computed from what the code would draw,
not from pixels (which vary with the Graphviz and matplotlib versions and their fonts):
  *.svg (graphs)   sha256 of the DOT text the code produces (tc.viz.to_dot / model_to_dot);
  *.png (figures)  tc.viz.figures.signature: every text the figure shows (titles, labels,
                   printed numbers) and the shape of every image; for the views of the trained
                   LeNet decimal numbers are masked, since their last digits depend on the BLAS.
--check recomputes the signatures (no Graphviz needed) and compares; tests/test_viz_images.py
runs it. Writing the SVGs needs the Graphviz `dot` program, the PNGs matplotlib.

Not produced here: docs/img/lenet5_mnist_curves.png, which is a full training run
(`tinygrad-cnn train --plot docs/img/lenet5_mnist_curves.png`, see docs/training.md).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
MANIFEST = IMG / "images.json"
sys.path.insert(0, str(REPO))

import tinygrad_cnn as tc  # noqa: E402


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lenet_graphs() -> dict[str, tuple[str, Callable]]:
    return {name: _graph_item(g) for name, g in _example("draw_lenet_graph").graphs().items()}


def _module_views() -> dict[str, tuple[str, Callable]]:
    vision = tc.models._vision_builders()
    if vision is None:
        return {}
    tc.manual_seed(0)
    resnet = vision.resnet18()
    x = tc.randn(1, 3, 224, 224)
    return {"resnet18_depth1.svg": _graph_item(tc.viz.draw_model(resnet, x, depth=1)),
            "resnet18_depth2.svg": _graph_item(tc.viz.draw_model(resnet, x, depth=2)),
            "densenet121_depth2.svg": _graph_item(tc.viz.draw_model(vision.densenet121(), x, depth=2))}


def _mechanics() -> dict[str, tuple[str, Callable]]:
    return {name: _figure_item(fig, False)
            for name, fig in _example("look_inside_lenet").mechanics_figures().items()}


def _trained_lenet_views() -> dict[str, tuple[str, Callable]]:
    look = _example("look_inside_lenet")
    model, _ = look.train_lenet(300)
    image, _ = tc.data.MNIST(train=False)[0]
    return {name: _figure_item(fig, True) for name, fig in look.model_figures(model, image).items()}


def _graph_item(graph: Any) -> tuple[str, Callable]:
    return ("dot:" + hashlib.sha256(graph.source.encode()).hexdigest(),
            lambda path: graph.render(str(path)))


def _figure_item(fig: Any, mask: bool) -> tuple[str, Callable]:
    from tinygrad_cnn.viz.figures import signature
    return "fig:" + signature(fig, mask_decimals=mask), lambda path: fig.savefig(path, dpi=100)


# which pictures each producer makes (so --only runs just the producers it needs)
GROUPS: dict[Callable, tuple[str, ...]] = {
    _lenet_graphs: ("lenet5.svg", "lenet5_saved.svg", "lenet5_grads.svg"),
    _module_views: ("resnet18_depth1.svg", "resnet18_depth2.svg", "densenet121_depth2.svg"),
    _mechanics: ("im2col.png", "col2im.png", "pool_switches.png"),
    _trained_lenet_views: ("filters_conv1.png", "filters_conv2.png", "features_conv1.png",
                           "features_relu2.png", "saliency.png"),
}
ALL = tuple(n for names in GROUPS.values() for n in names)


def signatures(only: set | None = None) -> tuple[dict[str, str], dict[str, Callable[[Path], None]]]:
    """({file: signature}, {file: write(path)}) for every picture (or those in `only`)."""
    unknown = set(only or ()) - set(ALL)
    if unknown:
        raise SystemExit(f"make_images: unknown pictures {sorted(unknown)}; known: {', '.join(ALL)}")
    sigs: dict[str, str] = {}
    writers: dict[str, Callable[[Path], None]] = {}
    for produce, names in GROUPS.items():
        if only is not None and not set(names) & only:
            continue
        for name, (sig, write) in produce().items():
            if only is None or name in only:
                sigs[name], writers[name] = sig, write
    return sigs, writers


def check(only: set | None = None) -> list[str]:
    """Problems found (empty when every picture is current)."""
    recorded = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    sigs, _ = signatures(only)
    problems = []
    for name, sig in sigs.items():
        if not (IMG / name).exists():
            problems.append(f"{name}: missing from docs/img")
        elif recorded.get(name) != sig:
            problems.append(f"{name}: stale (the code now draws something else)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument("--only", nargs="+", metavar="FILE", help="just these pictures")
    args = parser.parse_args(argv)
    only = set(args.only) if args.only else None
    if args.check:
        problems = check(only)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("regenerate with: .venv/bin/python scripts/make_images.py", file=sys.stderr)
            return 1
        print("docs/img is current")
        return 0
    sigs, writers = signatures(only)
    recorded = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    for name, write in writers.items():
        write(IMG / name)
        recorded[name] = sigs[name]
        print("wrote", IMG / name)
    MANIFEST.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
