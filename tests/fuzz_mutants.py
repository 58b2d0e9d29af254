"""Deliberate bugs, to show that each fuzz property can fail (docs/safety.md, "Errors and fuzzing").

As a pytest plugin it injects the bug named by the environment variable TINYGRAD_CNN_MUTANT
before the tests run; run as a script it tries every mutant against the property meant to
catch it, with the default short fuzz profile, and prints whether the property failed:

    .venv/bin/python tests/fuzz_mutants.py                 # all mutants
    .venv/bin/python tests/fuzz_mutants.py maxpool_last_tie
    TINYGRAD_CNN_MUTANT=var_biased .venv/bin/python -m pytest -p fuzz_mutants \\
        tests/test_fuzz_core.py -k reductions               # one by hand (tests/ is on sys.path)

Nothing here is active in a normal test run: without the variable the plugin does nothing, and
pytest only loads it when asked with -p.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

CORE, CNN = "tests/test_fuzz_core.py::", "tests/test_fuzz_cnn.py::"
TARGETS = {   # mutant -> the property that must catch it
    "add_backward_x2": CORE + "test_binary_ops_broadcast_match_loops_and_gradcheck",
    "exp_forward_off_by_1e-7": CORE + "test_unary_ops_match_loops_and_gradcheck",
    "sum_keepdims_ignored": CORE + "test_reductions_match_loops_and_gradcheck",
    "var_biased": CORE + "test_reductions_match_loops_and_gradcheck",
    "permute_backward_not_inverted": CORE + "test_reshape_permute_transpose_match_loops_and_gradcheck",
    "index_backward_assigns": CORE + "test_indexing_and_setitem_match_loops_and_gradcheck",
    "pad_backward_swapped_sides": CORE + "test_pad_cat_stack_match_loops_and_gradcheck",
    "matmul_backward_off_by_1e-4": CORE + "test_matmul_matches_loops_and_gradcheck",
    "where_backward_swapped": CORE + "test_where_matches_loops_and_gradcheck",
    "expand_backward_no_sum": CORE + "test_expand_squeeze_unsqueeze_flatten_match_loops_and_gradcheck",
    "dim_check_removed": CORE + "test_dims_out_of_range_raise_argument_error",
    "clamp_bounds_unchecked": CORE + "test_garbage_arguments_work_or_raise_documented_errors",
    "conv_col2im_ignores_padding": CNN + "test_conv_matches_the_direct_loop_convolution_and_gradcheck",
    "conv_same_padding_symmetric": CNN + "test_conv_matches_the_direct_loop_convolution_and_gradcheck",
    "conv_weight_grad_off_with_groups_or_dilation": CNN + "test_conv_matches_the_direct_loop_convolution_and_gradcheck",
    "unfold_dilation_ignored": CNN + "test_unfold_and_fold_match_loops_and_gradcheck",
    "maxpool_last_tie": CNN + "test_max_pool2d_matches_the_loop_pool_with_first_max_ties_and_gradcheck",
    "avgpool_count_include_pad_ignored": CNN + "test_avg_pool2d_matches_the_loop_pool_and_gradcheck",
    "linear_bias_grad_mean": CNN + "test_linear_matches_loops_and_gradcheck",
    "softmax_backward_sign": CNN + "test_softmax_and_log_softmax_match_seed_004_loops_and_gradcheck",
    "cross_entropy_mean_by_count": CNN + "test_cross_entropy_matches_the_loop_loss_and_gradcheck",
    "nll_weight_ignored": CNN + "test_nll_and_mse_losses_match_loops_and_gradcheck",
    "mse_target_grad_sign": CNN + "test_nll_and_mse_losses_match_loops_and_gradcheck",
    "batch_norm_running_var_biased": CNN + "test_batch_norm_matches_loops_and_gradcheck",
    "dropout_without_rescale": CNN + "test_dropout_zeroes_or_rescales_each_element_and_gradcheck",
    "conv_groups_check_raises_valueerror": CNN + "test_known_invalid_cnn_arguments_raise_the_documented_type",
}


def _apply(name: str) -> None:
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn.ops import activation as A, conv as CV, elementwise as E, linalg as L
    from tinygrad_cnn.ops import loss as LS, movement as M, norm as NM, pool as P, reduce as R
    T = sys.modules["tinygrad_cnn.tensor"]           # (tinygrad_cnn.tensor is also the factory)

    def patch(cls, attr, fn):
        setattr(cls, attr, staticmethod(fn))

    def wrap_backward(cls, change):                  # backward's outputs -> change(outputs, ctx, g)
        orig = cls.backward
        patch(cls, "backward", lambda ctx, *g: change(orig(ctx, *g), ctx, g[0]))

    if name == "add_backward_x2":
        patch(E.Add, "backward", lambda ctx, g: (2 * g, g))
    elif name == "exp_forward_off_by_1e-7":
        orig = E.Exp.forward
        patch(E.Exp, "forward", lambda ctx, a: orig(ctx, a) * (1 + 1e-7))
    elif name == "sum_keepdims_ignored":
        orig = R.Sum.forward
        patch(R.Sum, "forward", lambda ctx, a, axes, keepdims=False: orig(ctx, a, axes, False))
    elif name == "var_biased":
        orig = R.Var.forward
        patch(R.Var, "forward", lambda ctx, a, axes, correction=1, keepdims=False: orig(ctx, a, axes, 0, keepdims))
    elif name == "permute_backward_not_inverted":
        patch(M.Permute, "backward", lambda ctx, g: (np.transpose(g, ctx.dims), None))
    elif name == "index_backward_assigns":           # repeated indices overwrite instead of adding
        def backward(ctx, g):
            grad = np.zeros(ctx.in_shape, g.dtype)
            grad[ctx.index] = g
            return grad, None
        patch(M.Index, "backward", backward)
    elif name == "pad_backward_swapped_sides":
        patch(M.Pad, "backward", lambda ctx, g: (g[tuple(slice(hi, n - lo) for (lo, hi), n
                                                           in zip(ctx.pad_width, g.shape))], None))
    elif name == "matmul_backward_off_by_1e-4":
        wrap_backward(L.MatMul, lambda r, ctx, g: tuple(None if x is None else x * 1.0001 for x in r))
    elif name == "where_backward_swapped":
        wrap_backward(E.Where, lambda r, ctx, g: (r[0], r[2], r[1]))
    elif name == "expand_backward_no_sum":           # sums new leading dims, forgets size-1 dims
        def backward(ctx, g):
            lead = g.ndim - len(ctx.in_shape)
            g = g.sum(axis=tuple(range(lead))) if lead else g
            return g[tuple(slice(0, n) for n in ctx.in_shape)], None
        patch(M.Expand, "backward", backward)
    elif name == "dim_check_removed":
        T._normalize_dim = lambda dim, ndim, op: dim % max(ndim, 1) if isinstance(dim, int) else dim
    elif name == "clamp_bounds_unchecked":
        T._number = lambda value, name, op, allow_none=False: value
    elif name == "conv_col2im_ignores_padding":
        orig = CV._col2im_into
        CV._col2im_into = lambda dx, gcol, kernel, stride, pad, dilation, layout: orig(
            dx, gcol, kernel, stride, [(0, 0)] * len(pad), dilation, layout)
    elif name == "conv_same_padding_symmetric":     # wrong for even kernels: PyTorch pads 1 more after
        orig = CV.conv_padding

        def conv_padding(padding, kernel, stride, dilation, op):
            if padding == "same":
                return tuple((dl * (k - 1) // 2,) * 2 for k, dl in zip(kernel, dilation))
            return orig(padding, kernel, stride, dilation, op)
        CV.conv_padding = conv_padding
    elif name == "conv_weight_grad_off_with_groups_or_dilation":
        def change(r, ctx, g):
            kw = ctx.kwargs
            special = kw["groups"] > 1 or any(d != 1 for d in kw["dilation"])
            return r[0], None if r[1] is None else r[1] * (1.01 if special else 1.0), r[2]
        wrap_backward(CV.ConvNd, change)
    elif name == "unfold_dilation_ignored":
        orig = CV.im2col
        CV.im2col = lambda x, kernel, stride, pad, dilation, out, buffer=None: orig(
            x, kernel, stride, pad, (1,) * len(dilation), out, buffer)
    elif name == "maxpool_last_tie":                 # a tiny increasing ramp: later elements win ties
        orig = P.MaxPool2d.forward

        def forward(ctx, x, **kw):
            return orig(ctx, x + np.arange(x.size, dtype=x.dtype).reshape(x.shape) * x.dtype.type(1e-13), **kw)
        patch(P.MaxPool2d, "forward", forward)
    elif name == "avgpool_count_include_pad_ignored":
        orig = P._divisor
        P._divisor = lambda size, kernel, stride, padding, out, include, override: orig(
            size, kernel, stride, padding, out, True, override)
    elif name == "linear_bias_grad_mean":
        wrap_backward(L.Linear, lambda r, ctx, g: (r[0], r[1], None if r[2] is None
                                                   else r[2] / g.reshape(-1, g.shape[-1]).shape[0]))
    elif name == "softmax_backward_sign":
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return y * (g + np.sum(g * y, axis=ctx.kwargs["dim"], keepdims=True))
        patch(A.Softmax, "backward", backward)
    elif name == "cross_entropy_mean_by_count":      # 'mean' over all elements, not the weights
        orig = LS._reduce
        LS._reduce = lambda loss, reduction, denominator: orig(
            loss, reduction, loss.size if reduction == "mean" else denominator)
    elif name == "nll_weight_ignored":
        orig = LS.NLLLoss.forward
        patch(LS.NLLLoss, "forward", lambda ctx, x, target, weight=None, **kw: orig(ctx, x, target, None, **kw))
    elif name == "mse_target_grad_sign":
        wrap_backward(LS.MSELoss, lambda r, ctx, g: (r[0], None if r[1] is None else -r[1]))
    elif name == "batch_norm_running_var_biased":
        orig = NM.BatchNorm.forward

        def forward(ctx, x, weight, bias, rm, rv, *, training, momentum, eps):
            y = orig(ctx, x, weight, bias, rm, rv, training=training, momentum=momentum, eps=eps)
            m = x.size // x.shape[1]
            if training and rv is not None and m > 1:
                rv *= (m - 1) / m
            return y
        patch(NM.BatchNorm, "forward", forward)
    elif name == "dropout_without_rescale":
        orig = A.Dropout.forward

        def forward(ctx, x, *, p):
            orig(ctx, x, p=p)
            if p < 1:
                ctx.scale = ctx.scale * x.dtype.type(1 - p)
            return x * ctx.scale
        patch(A.Dropout, "forward", forward)
    elif name == "conv_groups_check_raises_valueerror":
        orig = F._conv

        def conv(op, d, input, weight, bias, stride, padding, dilation, groups):
            if isinstance(groups, int) and groups > 0 and input.ndim in (d + 1, d + 2) \
                    and input.shape[-d - 1] % groups:
                raise ValueError("a NumPy-style error")
            return orig(op, d, input, weight, bias, stride, padding, dilation, groups)
        F._conv = conv
    else:
        raise ValueError(f"unknown mutant {name!r}; known: {', '.join(TARGETS)}")


def pytest_configure(config) -> None:
    name = os.environ.get("TINYGRAD_CNN_MUTANT")
    if name:
        _apply(name)


def main(names: list[str]) -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    missed = 0
    for name in names or list(TARGETS):
        env = dict(os.environ, TINYGRAD_CNN_MUTANT=name,
                   PYTHONPATH=os.path.join(repo, "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("TINYGRAD_CNN_FUZZ", None)           # the default short profile
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "fuzz_mutants", "-p",
                              "no:cacheprovider", TARGETS[name]], cwd=repo, env=env,
                             capture_output=True, text=True)
        caught = run.returncode == 1 and "failed" in run.stdout.splitlines()[-1]
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {name:48s} {TARGETS[name].split('::')[1]}")
    print(f"{len(names or TARGETS) - missed} of {len(names or TARGETS)} mutants caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
