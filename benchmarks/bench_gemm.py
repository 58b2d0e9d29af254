"""Float32 GEMM speed of NumPy's OpenBLAS on the conv GEMM shapes of the real CNNs, one thread,
and the kernel set OpenBLAS chose ('SkylakeX', 'Haswell', ...; OPENBLAS_CORETYPE forces one).

    .venv/bin/python benchmarks/bench_gemm.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_gemm.py

Everything the convs do rests on this number (docs/performance.md, "BLAS kernels"): on an
AVX-512 CPU, forcing the AVX2 'Haswell' kernels halves it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (M, K, N): im2col forward (CO, 9C)·(9C, positions) of ResNet-18-CIFAR's stages for one
# image, a LeNet conv2 step, 1×1 convs of ResNet-50, a square reference
SHAPES = [(64, 576, 1024), (128, 1152, 256), (256, 2304, 64), (512, 4608, 16), (16, 150, 4096),
          (256, 1024, 128), (2048, 512, 32), (1024, 1024, 1024)]


def gflops(m: int, k: int, n: int, seconds: float) -> float:
    import numpy as np
    a = np.random.default_rng(0).standard_normal((m, k)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((k, n)).astype(np.float32)
    a @ b
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="per shape (the best call counts)")
    args = parser.parse_args()
    import tinygrad_cnn as tc
    tc.set_blas_threads(1)
    print(f"OpenBLAS kernels: {tc.get_blas_core()} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r})")
    for m, k, n in SHAPES:
        print(f"  ({m:>4} x {k:>4}) · ({k:>4} x {n:>4})  {gflops(m, k, n, args.seconds):6.0f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
