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
