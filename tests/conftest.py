"""Shared test settings: a deterministic Hypothesis profile and the optional PyTorch oracle."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic, bounded property tests: the same examples on every run and in CI.
# TINYGRAD_CNN_FUZZ=N raises the example count for a long fuzz campaign.
settings.register_profile(
    "default",
    max_examples=int(os.environ.get("TINYGRAD_CNN_FUZZ", "20")),
    deadline=None,
    derandomize=not os.environ.get("TINYGRAD_CNN_FUZZ"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("default")


@pytest.fixture
def torch():
    """PyTorch as the test oracle; tests that use it are skipped cleanly when it is missing."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(autouse=True)
def _seed():
    import tinygrad_cnn as tc
    tc.manual_seed(0)
    np.random.seed(0)
    yield
    # a test (or a ported script) that turned cudnn.benchmark on must not time later tests' convs
    tc.backends.cudnn.benchmark = False
    tc.ops.conv_tuning.clear()
