"""The public-surface fuzzer (tests/fuzz_surface.py; issue 11 item 12): what it finds, how it
classifies outcomes, and a 2,000-call slice that must give no raw error and no hang.

The long campaign (50,000 calls) runs with TINYGRAD_CNN_FUZZ_SURFACE=50000 (docs/safety.md
has the command, the count and the time)."""
import os
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import fuzz_surface as fz  # noqa: E402

LONG = int(os.environ.get("TINYGRAD_CNN_FUZZ_SURFACE", "0"))


def _target(name):
    return next(t for t in fz.surface() if t.name == name)


def test_the_surface_is_found_by_introspection():
    names = {t.name for t in fz.surface()}
    for expected in ["tc.zeros", "tc.cat", "tc.load", "Tensor.add", "Tensor.__getitem__",
                     "Tensor.backward", "tc.nn.functional.conv2d", "tc.nn.functional.interpolate",
                     "tc.nn.Conv2d", "tc.nn.Sequential", "tc.nn.init.kaiming_uniform_",
                     "tc.nn.utils.clip_grad_norm_", "tc.optim.SGD", "tc.optim.Adam",
                     "tc.optim.lr_scheduler.StepLR", "tc.data.TensorDataset", "DataLoader-iteration",
                     "tc.load-files", "tc.models.LeNet5", "tc.viz.to_dot"]:
        assert expected in names, expected
    assert len(names) > 300


def test_a_new_public_function_is_fuzzed_without_editing_the_fuzzer(monkeypatch):
    def brand_new_op(input, k=1):
        return input
    brand_new_op.__module__ = F.__name__             # defined in the package, as a real one would be
    monkeypatch.setattr(F, "brand_new_op", brand_new_op, raising=False)
    monkeypatch.setattr(F, "__all__", [*F.__all__, "brand_new_op"])
    assert "tc.nn.functional.brand_new_op" in {t.name for t in fz.surface()}


def _classify(fn, target_name="tc.zeros"):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return fz.classify(exc, _target(target_name), fz._library_errors())[0]
    return "works"


def test_the_classifier_tells_library_errors_from_raw_ones():
    assert _classify(lambda: tc.zeros(-1)) == "documented"                 # ArgumentError
    assert _classify(lambda: np.zeros(3)[5]) == "raw"                      # NumPy's IndexError
    assert _classify(lambda: np.sum(np.zeros(3), axis=4)) == "raw"         # AxisError
    assert _classify(lambda: bool(np.zeros(2))) == "raw"                   # truth value ambiguous
    assert _classify(lambda: int("x")) == "raw"                            # a bare Python message
    assert _classify(lambda: {}.pop("k")) == "raw"                         # KeyError
    assert _classify(lambda: tc.zeros(2, 3).sum(dim=5)) == "documented"
    assert _classify(lambda: tc.zeros(1, zz_unknown=2)) == "documented"    # Python's arity check
    assert _classify(lambda: open("/nonexistent/x")) == "documented"       # OSError naming the path


def test_a_hang_is_caught_and_reported():
    def forever():
        while True:
            pass
    with pytest.raises(fz.Hang):
        with fz._alarm(0.2):
            forever()


def test_calls_are_reproducible():
    targets = fz.surface()
    a = fz.build_call(targets[7], __import__("random").Random(123), "/tmp")[0]
    b = fz.build_call(targets[7], __import__("random").Random(123), "/tmp")[0]
    assert a == b


def _assert_clean(summary):
    bad = summary["raw_classes"]
    report = "\n".join(f"{k}\n    {v.get('call')}\n    {v.get('error')}" for k, v in list(bad.items())[:40])
    assert not bad, f"{len(bad)} raw/hang classes in {summary['calls']} calls:\n{report}"
    assert summary["calls"] >= 0.99 * summary.get("requested", summary["calls"])


def test_a_2000_call_slice_has_no_raw_error_and_no_hang():
    summary = fz.campaign(2000, seed=0)
    assert summary["calls"] == 2000
    assert summary["counts"].get("works", 0) > 300        # the fuzzer reaches real work, not only errors
    _assert_clean(summary)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set TINYGRAD_CNN_FUZZ_SURFACE=50000 for the long campaign")
def test_long_campaign():
    summary = fz.campaign(LONG, seed=1)
    print(f"\n{summary['calls']} calls in {summary['seconds']} s: {summary['counts']}")
    assert summary["calls"] == LONG
    _assert_clean(summary)


# ---------------------------------------------------------------- regressions, one per kind of argument
# (the classes the campaign found in the targets once listed as pending: each error names the argument)
def _raises(exc_type, match, fn):
    with pytest.raises(exc_type, match=match):
        fn()


def test_flags_refuse_arrays_instead_of_asking_their_truth_value():
    from tinygrad_cnn.data import DataLoader
    _raises(tc.ArgumentError if hasattr(tc, "ArgumentError") else ValueError, "in_order must be a bool",
            lambda: DataLoader([1, 2], in_order=np.zeros(0)))
    _raises(ValueError, "create_graph must be a bool",
            lambda: tc.autograd.backward(tc.tensor(2.0, requires_grad=True), create_graph=np.ones(2)))
    _raises(ValueError, "use_reentrant must be a bool",
            lambda: tc.utils.checkpoint.checkpoint(lambda x: x, tc.randn(2), use_reentrant=np.array([1, 2])))


def test_choices_refuse_unhashable_and_foreign_values():
    from tinygrad_cnn.vision import transforms as T
    _raises(ValueError, "indexing must be one of", lambda: tc.meshgrid(tc.zeros(2), indexing=np.zeros(2)))
    _raises(ValueError, "padding_mode must be one of", lambda: T.Pad(2, padding_mode=np.ones((2, 3), object)))
    _raises(ValueError, "rankdir must be one of",
            lambda: tc.viz.model_to_dot(tc.nn.Linear(3, 2), (1, 3), rankdir=np.zeros(0)))
    _raises(ValueError, "p must be one of 'fro'", lambda: tc.randn(2, 3).norm("nuc"))
    _raises(ValueError, "p must be a number", lambda: tc.randn(2, 3).norm(np.zeros(2)))


def test_sequences_and_iterables_are_checked_before_iterating():
    from tinygrad_cnn.vision import transforms as T
    _raises(TypeError, "datasets must be an iterable", lambda: tc.data.ChainDataset(7))
    _raises(TypeError, "transforms must be a sequence", lambda: T.Compose(np.int32(-1)))
    _raises(TypeError, "batch must be a sequence", lambda: tc.data.default_collate(-3))
    _raises(tc.errors.BackwardError, "inputs must be a Tensor or a sequence",
            lambda: tc.autograd.grad(tc.randn(2, requires_grad=True).sum(), tc.nn.Conv2d(3, 2, 3)))
    _raises(ValueError, "functions\\[0\\] must be a callable",
            lambda: tc.utils.checkpoint.checkpoint_sequential([tc.randn(2)], 1, tc.randn(2)))


def test_self_containing_containers_are_refused_not_recursed_into():
    loop: list = []
    loop.append(loop)
    _raises(ValueError, "batch contains itself", lambda: tc.data.default_collate(loop))
    _raises(ValueError, "data contains itself", lambda: tc.data.default_convert(loop))
    _raises(ValueError, "contains itself", lambda: tc.randn(2).__array_function__(np.concatenate, (), (loop,), {}))
    _raises(ValueError, "example_input contains itself",
            lambda: tc.viz.model_to_dot(tc.nn.Linear(3, 2), loop))


def test_array_likes_of_numbers_name_the_argument():
    from tinygrad_cnn.vision.transforms import functional as TF
    _raises(ValueError, "weights must be array-like of numbers",
            lambda: tc.data.WeightedRandomSampler("float64", 3))
    _raises(ValueError, "mean must be array-like of numbers",
            lambda: TF.normalize(tc.randn(1, 3, 4, 4), "same", (1.0,)))
    _raises(ValueError, "std must be a \\(non-ragged\\) array-like",
            lambda: TF.normalize(tc.randn(1, 3, 4, 4), (0.0,), [[1], [1, 2]]))


def test_ints_shapes_and_dtypes_are_checked_with_their_names():
    import tinygrad_cnn.multiprocessing as mp
    _raises(ValueError, "shape must be an int or a sequence of ints", lambda: mp.shared_array(np.zeros((2, 3))))
    _raises(TypeError, "dtype must be a dtype", lambda: mp.shared_array(2, [1]))
    _raises(TypeError, "dtype must be a dtype", lambda: tc.logspace(0, 1, 3, dtype=10 ** 30))
    _raises(ValueError, "image_size must be \\(C, H, W\\)", lambda: tc.vision.datasets.FakeData(image_size=np.int64(2)))
    _raises(ValueError, "x_shape must not have negative sizes", lambda: tc.viz.col2im((1, -1), 3))
    _raises(ValueError, "does not fit in int64", lambda: tc.randn(2, 3).__rpow__(10 ** 30))
    _raises(ValueError, "max=int 1000.* does not fit in int64", lambda: tc.tensor([True, False]).clip(max=10 ** 30))
    _raises(ValueError, "min=300 cannot be converted", lambda: tc.tensor([1, 2], dtype=tc.uint8).clip(min=300))


def test_paths_modules_and_callables_are_checked_with_their_names():
    _raises(ValueError, "path must be a path", lambda: tc.vision.datasets.default_loader(1))  # not fd 1
    _raises(ValueError, "directory must be a path", lambda: tc.vision.datasets.folder.find_classes(None))
    _raises(ValueError, "fp must be a path", lambda: tc.vision.utils.save_image(tc.rand(3, 4, 4), np.array([1])))
    _raises(ValueError, "model must be an nn.Module", lambda: tc.viz.saliency("sum", tc.randn(1, 3, 8, 8)))
    _raises(ValueError, "model must be an nn.Module", lambda: tc.viz.feature_maps(np.int64, tc.randn(1, 3, 8, 8), "x"))
    _raises(ValueError, "fn must be a callable", lambda: tc.gradgradcheck(3, (tc.randn(2, requires_grad=True),)))


def test_enums_look_members_up_and_refuse_anything_else():
    from tinygrad_cnn.vision.models import ResNet50_Weights, WeightsEnum
    from tinygrad_cnn.vision.transforms import InterpolationMode
    assert ResNet50_Weights("IMAGENET1K_V2") is ResNet50_Weights.DEFAULT
    assert InterpolationMode("bilinear") is InterpolationMode.BILINEAR
    _raises(ValueError, "'x' is not a valid ResNet50_Weights; expected one of", lambda: ResNet50_Weights("x"))
    _raises(ValueError, "is not a valid InterpolationMode", lambda: InterpolationMode(np.zeros(3)))
    _raises(ValueError, "cannot be extended", lambda: ResNet50_Weights("a", [("b", "c")]))
    _raises(ValueError, "names must be a sequence", lambda: WeightsEnum("X", 3))
    assert [m.value for m in WeightsEnum("X", [("A", "a"), ("B", "b")])] == ["a", "b"]


def test_numpy_dispatch_names_the_numpy_function():
    t = tc.randn(2, 3)
    _raises(tc.errors.NumpyArgumentError, "np.cumsum .*axis 4 is out of bounds", lambda: np.cumsum(t, axis=4))
    _raises(IndexError, "np.take", lambda: np.take(t, 100))               # an IndexError too, as NumPy's
    _raises(TypeError, "ufunc must be a numpy.ufunc", lambda: t.__array_ufunc__(tc.nn.Linear(3, 2), "__call__", t))
    _raises(TypeError, "method must be one of", lambda: t.__array_ufunc__(np.add, np.zeros(2), t, t))
    _raises(TypeError, "kwargs must be a dict", lambda: t.__array_function__(np.sum, (), (t,), t))
    np.testing.assert_allclose(np.add.reduce(t, axis=1).numpy(), t.numpy().sum(axis=1), rtol=1e-6)


def test_allocations_the_machine_cannot_hold_are_allocation_errors(monkeypatch):
    T = sys.modules["tinygrad_cnn.tensor"]

    class NoMemory:
        def permutation(self, *a, **k):
            raise MemoryError("Unable to allocate")
    monkeypatch.setattr(sys.modules["tinygrad_cnn.rng"], "generator", lambda: NoMemory())  # randperm draws through rng.resolve
    _raises(tc.errors.AllocationError, "randperm: cannot allocate", lambda: tc.randperm(10))
