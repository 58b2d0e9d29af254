"""`tinygrad-cnn show VIEW ...`: write one learning view as PNG/SVG/PDF (matplotlib).

    tinygrad-cnn show im2col --size 4 4 --batch 2 --kernel 3 --padding 1 --window 5
    tinygrad-cnn show col2im --size 5 5 --kernel 3 --padding 1 --pixel 1 1
    tinygrad-cnn show switches --size 4 4 --kernel 2
    tinygrad-cnn show filters --model lenet5 --layer conv1 --weights runs/ck/checkpoint.npz
    tinygrad-cnn show features --model lenet5 --layer conv1 --weights runs/ck/checkpoint.npz
    tinygrad-cnn show saliency --model lenet5 --weights runs/ck/checkpoint.npz --index 0

filters/features/saliency draw a model: with --weights (a `tinygrad-cnn train --checkpoint`
file or a saved state dict) the trained one, else freshly initialised weights (and it says so).
features/saliency use test image --index of the dataset (found as `train` finds it).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

VIEWS = ("im2col", "col2im", "switches", "filters", "features", "saliency")
FORMATS = ("png", "svg", "pdf")


def add_command(sub: Any) -> Any:
    from ..models import available_models

    p = sub.add_parser("show", help="write a learning view: im2col, col2im, switches, filters, "
                                    "features, saliency (needs matplotlib)",
                       description=__doc__.split("\n\n")[0] + " filters/features/saliency draw a "
                       "model (--weights for trained ones); the others small example arrays.")
    p.add_argument("view", choices=VIEWS, help="what to draw")
    p.add_argument("--out", default=None, help="output file (default VIEW.png); .png, .svg or .pdf")
    p.add_argument("--size", type=int, nargs=2, default=(4, 4), metavar=("H", "W"),
                   help="im2col/col2im/switches: input height and width (default 4 4)")
    p.add_argument("--batch", type=int, default=1, help="im2col/col2im: images N (default 1)")
    p.add_argument("--channels", type=int, default=1, help="im2col/col2im: channels C (default 1)")
    p.add_argument("--kernel", type=int, default=None, help="kernel size (default 3; switches 2)")
    p.add_argument("--stride", type=int, default=None, help="stride (default 1; switches = kernel)")
    p.add_argument("--padding", type=int, default=0, help="im2col/col2im: zero padding (default 0)")
    p.add_argument("--window", type=int, default=0, help="im2col: the column to highlight (default 0)")
    p.add_argument("--pixel", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="col2im: the input pixel to follow (default the centre)")
    p.add_argument("--seed", type=int, default=0, help="switches: seed of the random input (default 0)")
    p.add_argument("--model", default="lenet5", choices=available_models(), metavar="MODEL",
                   help="filters/features/saliency: model name (default lenet5)")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="a train --checkpoint file or a tc.save'd state dict")
    p.add_argument("--layer", default="conv1", help="filters/features: module name (default conv1)")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"),
                   help="features/saliency: dataset of the test image (default mnist)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="as for train")
    p.add_argument("--index", type=int, default=0, help="features/saliency: test image index (default 0)")
    p.add_argument("--target", type=int, default=None, help="saliency: class (default the predicted one)")
    p.set_defaults(func=run_command)
    return p


def _model(args: Any) -> tuple[Any, str]:
    import tinygrad_cnn as tc
    from ..models import get_model

    tc.manual_seed(0)
    model = get_model(args.model, num_classes=10)
    if args.weights is None:
        return model.eval(), " (untrained: random initial weights; pass --weights)"
    state = tc.load(args.weights)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]                    # a `tinygrad-cnn train --checkpoint` file
    model.load_state_dict(state)
    return model.eval(), ""


def _image(args: Any) -> Any:
    from ..train import DATASETS
    test = DATASETS[args.dataset](root=args.data_root, train=False)
    if not 0 <= args.index < len(test):
        raise ValueError(f"--index {args.index} is outside the {len(test)} test images")
    return test[args.index][0]


def _figure(args: Any) -> tuple[Any, str]:
    import numpy as np
    import tinygrad_cnn as tc

    h, w = args.size
    if args.view in ("im2col", "col2im"):
        kernel = args.kernel or 3
        stride = args.stride or 1
        shape = (args.batch, args.channels, h, w)
        if args.view == "im2col":
            x = np.arange(1, np.prod(shape) + 1, dtype=np.float64).reshape(shape)
            return tc.viz.im2col(x, kernel, stride, args.padding, window=args.window), ""
        return tc.viz.col2im(shape, kernel, stride, args.padding, pixel=args.pixel), ""
    if args.view == "switches":
        kernel = args.kernel or 2
        x = np.random.default_rng(args.seed).integers(0, 10, (h, w)).astype(np.float64)
        return tc.viz.pool_switches(x, kernel, args.stride or kernel), ""
    model, note = _model(args)
    if args.view == "filters":
        layer = dict(model.named_modules()).get(args.layer)
        if layer is None:
            raise ValueError(f"{args.model} has no module {args.layer!r}")
        return tc.viz.filters(layer, title=f"{args.model}.{args.layer}"), note
    image = _image(args)
    if args.view == "features":
        return tc.viz.feature_maps(model, image, layer=args.layer), note
    return tc.viz.saliency(model, image, args.target), note


def run_command(args: Any) -> int:
    from ..data import DatasetNotFoundError
    from ..serialization import CheckpointError

    out = Path(args.out or f"{args.view}.png")
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        print(f"show: cannot write {out}: the suffix picks the format, one of "
              f"{', '.join('.' + f for f in FORMATS)}", file=sys.stderr)
        return 2
    try:
        fig, note = _figure(args)
    except ImportError as e:                      # matplotlib missing: the message says how
        print(f"show: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, DatasetNotFoundError, CheckpointError) as e:
        print(f"show {args.view}: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}{note}")
    return 0
