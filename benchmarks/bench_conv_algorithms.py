"""Each conv algorithm of ops/conv_algorithms.py against im2col on the shapes of real CNNs
(ours only, same process, float32): forward and forward + backward (grad_input and
grad_weight), the minimum over --repeat calls, alternating the two for --rounds rounds.

    .venv/bin/python benchmarks/bench_conv_algorithms.py
    .venv/bin/python benchmarks/bench_conv_algorithms.py --only dw --threads 2
    .venv/bin/python benchmarks/bench_conv_algorithms.py --only wino --threads 1 --clock cpu

--clock cpu times with time.process_time (CPU time of the process): on a shared machine, at one
thread, it is less disturbed by other jobs than the wall clock.

This is the measurement behind the 'auto' rule (docs/derivations.md, "Conv algorithms").
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name: (algorithm, x shape, w shape, kwargs) — ResNet-50 / DenseNet-121 at 64×64 batch 8,
# MobileNetV2 / ResNet-18 at CIFAR size batch 32
CASES = {
    "pw_r50_256to64_16": ("pointwise", (8, 256, 16, 16), (64, 256, 1, 1), {}),
    "pw_r50_64to256_16": ("pointwise", (8, 64, 16, 16), (256, 64, 1, 1), {}),
    "pw_r50_1024to256_4": ("pointwise", (8, 1024, 4, 4), (256, 1024, 1, 1), {}),
    "pw_r50_512to2048_2": ("pointwise", (8, 512, 2, 2), (2048, 512, 1, 1), {}),
    "pw_r50_down_256to512_s2": ("pointwise", (8, 256, 16, 16), (512, 256, 1, 1), dict(stride=2)),
    "pw_mbv2_16to96_32": ("pointwise", (32, 16, 32, 32), (96, 16, 1, 1), {}),
    "pw_mbv2_960to160_4": ("pointwise", (32, 960, 4, 4), (160, 960, 1, 1), {}),
    # every depthwise shape of MobileNetV2-CIFAR (batch 32), then two wider ones
    "dw_mbv2_32_32": ("depthwise", (32, 32, 32, 32), (32, 1, 3, 3), dict(groups=32, padding=1)),
    "dw_mbv2_96_32_s2": ("depthwise", (32, 96, 32, 32), (96, 1, 3, 3), dict(groups=96, padding=1, stride=2)),
    "dw_mbv2_144_16": ("depthwise", (32, 144, 16, 16), (144, 1, 3, 3), dict(groups=144, padding=1)),
    "dw_mbv2_144_16_s2": ("depthwise", (32, 144, 16, 16), (144, 1, 3, 3), dict(groups=144, padding=1, stride=2)),
    "dw_mbv2_192_8": ("depthwise", (32, 192, 8, 8), (192, 1, 3, 3), dict(groups=192, padding=1)),
    "dw_mbv2_192_8_s2": ("depthwise", (32, 192, 8, 8), (192, 1, 3, 3), dict(groups=192, padding=1, stride=2)),
    "dw_mbv2_384_4": ("depthwise", (32, 384, 4, 4), (384, 1, 3, 3), dict(groups=384, padding=1)),
    "dw_mbv2_576_4": ("depthwise", (32, 576, 4, 4), (576, 1, 3, 3), dict(groups=576, padding=1)),
    "dw_mbv2_576_4_s2": ("depthwise", (32, 576, 4, 4), (576, 1, 3, 3), dict(groups=576, padding=1, stride=2)),
    "dw_mbv2_960_2": ("depthwise", (32, 960, 2, 2), (960, 1, 3, 3), dict(groups=960, padding=1)),
    "dw_384_8": ("depthwise", (32, 384, 8, 8), (384, 1, 3, 3), dict(groups=384, padding=1)),
    "dw_960_4": ("depthwise", (32, 960, 4, 4), (960, 1, 3, 3), dict(groups=960, padding=1)),
    "wino_r18_64_32": ("winograd", (32, 64, 32, 32), (64, 64, 3, 3), dict(padding=1)),
    "wino_r18_128_16": ("winograd", (32, 128, 16, 16), (128, 128, 3, 3), dict(padding=1)),
    "wino_r18_256_8": ("winograd", (32, 256, 8, 8), (256, 256, 3, 3), dict(padding=1)),
    "wino_r18_512_4": ("winograd", (32, 512, 4, 4), (512, 512, 3, 3), dict(padding=1)),
    "wino_r18_stem_3to64_32": ("winograd", (32, 3, 32, 32), (64, 3, 3, 3), dict(padding=1)),
    "wino_r50_64_16": ("winograd", (8, 64, 16, 16), (64, 64, 3, 3), dict(padding=1)),
    "wino_r50_128_8": ("winograd", (8, 128, 8, 8), (128, 128, 3, 3), dict(padding=1)),   # 128 tiles
    "wino_r50_256_4": ("winograd", (8, 256, 4, 4), (256, 256, 3, 3), dict(padding=1)),   # 32 tiles
    "wino_dn121_128to32_16": ("winograd", (8, 128, 16, 16), (32, 128, 3, 3), dict(padding=1)),
    "wino_dn121_128to32_8": ("winograd", (8, 128, 8, 8), (32, 128, 3, 3), dict(padding=1)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="case name prefixes (pw, dw, wino, ...)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(args.threads))
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    tc.set_blas_threads(1)
    with open("/proc/loadavg") as f:
        print(f"load average at start: {' '.join(f.read().split()[:3])}")
    print(f"{'case':<26} {'im2col fwd':>10} {'f+b':>8} | {'algorithm':<9} {'fwd':>8} {'f+b':>8} | f+b ratio")
    for name, (algo, xs, ws, kw) in CASES.items():
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        x, w = tc.randn(*xs, requires_grad=True), tc.randn(*ws, requires_grad=True)
        best: dict = {}
        for r in range(args.rounds):
            for a in ("im2col", algo) if r % 2 == 0 else (algo, "im2col"):
                tc.backends.conv_algorithm = a
                g = tc.ones(*F.conv2d(x, w, **kw).shape)
                for _ in range(args.repeat):
                    t0 = clock()
                    with tc.no_grad():
                        F.conv2d(x, w, **kw)
                    t1 = clock()
                    F.conv2d(x, w, **kw).backward(g)
                    t2 = clock()
                    x.grad = w.grad = None
                    f, fb = best.get(a, (1e9, 1e9))
                    best[a] = (min(f, (t1 - t0) * 1e3), min(fb, (t2 - t1) * 1e3))
        tc.backends.conv_algorithm = "auto"
        (i_f, i_fb), (a_f, a_fb) = best["im2col"], best[algo]
        print(f"{name:<26} {i_f:>10.2f} {i_fb:>8.2f} | {algo:<9} {a_f:>8.2f} {a_fb:>8.2f} | {a_fb / i_fb:.2f}",
              flush=True)
    with open("/proc/loadavg") as f:
        print(f"load average at end: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
