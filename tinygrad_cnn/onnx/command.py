"""`tinygrad-cnn export --model lenet5 --checkpoint CKPT --out lenet5.onnx`: a registry model
with trained weights written as ONNX (batch axis dynamic), then, when onnxruntime is installed,
run there once and compared with our forward."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _state_dict(path: str, model_name: str) -> dict:
    """A state dict from a `tc.save`d state dict, a `tinygrad-cnn train` checkpoint (file, or
    the --checkpoint DIR it was written to), or anything else tc.load reads."""
    import tinygrad_cnn as tc
    from ..train import CHECKPOINT_NAME

    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    obj = tc.load(str(p))
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):     # a training checkpoint
        trained = (obj.get("config") or {}).get("model")
        if isinstance(trained, str) and trained.lower() != model_name.lower():
            raise SystemExit(f"export: {p} holds a {trained!r} model, not {model_name!r}; pass "
                             f"--model {trained}")
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise SystemExit(f"export: {p} holds a {type(obj).__name__}, not a state dict")
    return obj


def _cmd_export(args: argparse.Namespace) -> int:
    import tinygrad_cnn as tc
    from .. import models

    model = models.get_model(args.model, num_classes=args.num_classes)
    if args.checkpoint:
        model.load_state_dict(_state_dict(args.checkpoint, args.model))
    else:
        print("export: no --checkpoint given, exporting freshly initialised weights", file=sys.stderr)
    model.eval()
    example = tc.randn(args.batch_size, *model.input_size)
    dynamic = None if args.static_batch else {"input": {0: "batch"}, "output": {0: "batch"}}
    proto = tc.onnx.export(model, example, args.out, input_names=["input"], output_names=["output"],
                           dynamic_axes=dynamic, opset_version=args.opset)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes): opset {args.opset}, "
          f"{len(proto.graph.node)} nodes, {len(proto.graph.initializer)} initializers, "
          f"input 'input' {dims}")
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed: the file was checked with onnx.checker only")
        return 0
    batch = args.batch_size if args.static_batch else args.batch_size + 1
    x = np.random.default_rng(0).standard_normal((batch, *model.input_size)).astype(np.float32)
    sess = onnxruntime.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    with tc.no_grad():
        want = model(tc.from_numpy(x)).numpy()
    diff = float(np.abs(got - want).max())
    print(f"ONNX Runtime {onnxruntime.__version__} on a batch of {batch}: max |difference| from "
          f"tinygrad_cnn = {diff:.2e}")
    return 0 if diff <= 1e-4 else 1


def add_command(sub: argparse._SubParsersAction) -> None:
    from ..models import available_models

    p = sub.add_parser("export", help="write a model (with its checkpoint's weights) as ONNX",
                       description="Export a registry model to ONNX with tc.onnx.export, the batch "
                                   "axis dynamic, and check the file in ONNX Runtime if installed.")
    p.add_argument("--model", default="lenet5", choices=available_models(), help="model name (default lenet5)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="weights: a tc.save'd state dict, or a `tinygrad-cnn train` checkpoint (its file "
                        "or its --checkpoint DIR)")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="where to write the ONNX file")
    p.add_argument("--num-classes", type=int, default=10, help="outputs of the last layer (default 10)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the traced example (default 1)")
    p.add_argument("--static-batch", action="store_true", help="fix the batch size instead of a dynamic axis")
    p.set_defaults(func=_cmd_export)
