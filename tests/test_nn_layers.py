"""Layers against torch.nn: the same weights (loaded from torch's state dict) give the same
outputs and gradients; reprs match; float64 gradchecks through the modules; shape errors name
the layer."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def _close(actual, desired, rtol, atol, err_msg=""):
    """float32 sums of many terms: the absolute tolerance scales with the largest value."""
    desired = np.asarray(desired)
    scale = float(np.abs(desired).max()) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=max(atol, rtol * scale), err_msg=err_msg)


def _compare(torch, ours, theirs, x, *, train=True, rtol=1e-5, atol=1e-6, grad=True):
    ours.load_state_dict(theirs.state_dict())
    ours.train(train)
    theirs.train(train)
    xo = tc.tensor(x, requires_grad=grad)
    xt = torch.tensor(x, requires_grad=grad)
    yo, yt = ours(xo), theirs(xt)
    _close(yo.numpy(), yt.detach().numpy(), rtol, atol)
    if grad:
        g = np.random.default_rng(1).standard_normal(yo.shape).astype(x.dtype)
        yo.backward(tc.tensor(g))
        yt.backward(torch.tensor(g))
        _close(xo.grad.numpy(), xt.grad.numpy(), rtol, atol)
        tp = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            _close(p.grad.numpy(), tp[name].grad.numpy(), rtol, atol, err_msg=name)
    return yo


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


LAYERS = [
    ("Linear", (7, 5), {}, (3, 7)),
    ("Linear", (7, 5), {"bias": False}, (2, 3, 7)),
    ("Conv2d", (3, 8, 3), {}, (2, 3, 9, 9)),
    ("Conv2d", (3, 8, 3), {"stride": 2, "padding": 1}, (2, 3, 9, 8)),
    ("Conv2d", (4, 6, (3, 2)), {"padding": (1, 0), "dilation": (2, 1)}, (2, 4, 10, 7)),
    ("Conv2d", (4, 8, 3), {"groups": 2, "bias": False}, (1, 4, 6, 6)),
    ("Conv2d", (3, 4, 3), {"padding": "same"}, (2, 3, 7, 7)),
    ("Conv1d", (3, 5, 3), {"stride": 2, "padding": 1}, (2, 3, 11)),
    ("Conv3d", (2, 3, 2), {"padding": 1}, (1, 2, 4, 5, 3)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9, 9)),
    ("MaxPool2d", (2,), {"ceil_mode": True}, (1, 2, 7, 7)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3, 2, 1), {"count_include_pad": False}, (2, 3, 9, 9)),
    ("ReLU", (), {}, (4, 5)),
    ("LeakyReLU", (0.2,), {}, (4, 5)),
    ("Sigmoid", (), {}, (4, 5)),
    ("Tanh", (), {}, (4, 5)),
    ("Softmax", (), {"dim": 1}, (4, 5)),
    ("LogSoftmax", (), {"dim": -1}, (2, 4, 5)),
    ("Flatten", (), {}, (2, 3, 4, 5)),
    ("Flatten", (0, 2), {}, (2, 3, 4, 5)),
    ("Identity", (), {}, (3, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=lambda v: str(v))
def test_layer_matches_torch(torch, name, args, kwargs, shape):
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    _compare(torch, ours, theirs, _x(*shape))


def test_conv_accepts_unbatched_input(torch):
    ours, theirs = nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    out = _compare(torch, ours, theirs, _x(3, 6, 6))
    assert out.shape == (4, 4, 4)


BATCHNORMS = [("BatchNorm2d", (3, 3)), ("BatchNorm1d", (7,)), ("BatchNorm1d", ())]   # spatial dims


@pytest.mark.parametrize("name, spatial", BATCHNORMS)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_then_eval_matches_torch(torch, momentum, name, spatial):
    ours, theirs = getattr(nn, name)(4, momentum=momentum), getattr(torch.nn, name)(4, momentum=momentum)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for step in range(3):
        _compare(torch, ours, theirs, _x(5, 4, *spatial, seed=step) * (step + 1) + step, train=True, rtol=1e-4, atol=1e-5)
        ours.zero_grad(), theirs.zero_grad()
    sd = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.numpy(), sd[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(ours.num_batches_tracked.item()) == 3
    _compare(torch, ours, theirs, _x(2, 4, *spatial, seed=9), train=False, rtol=1e-4, atol=1e-5)
    assert int(ours.num_batches_tracked.item()) == 3           # eval does not count


@pytest.mark.parametrize("name, spatial", BATCHNORMS)
def test_batchnorm_without_running_stats(torch, name, spatial):
    ours = getattr(nn, name)(3, affine=False, track_running_stats=False)
    theirs = getattr(torch.nn, name)(3, affine=False, track_running_stats=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    _compare(torch, ours, theirs, _x(4, 3, *spatial), train=False, rtol=1e-4, atol=1e-5)


def test_batchnorm_input_rank_errors_name_the_layouts():
    with pytest.raises(tc.ShapeError, match=r"BatchNorm1d\(5\) expects a 2-D \(N, C\) or 3-D \(N, C, L\) input, got shape \(2, 5, 3, 3\)"):
        nn.BatchNorm1d(5)(tc.randn(2, 5, 3, 3))
    with pytest.raises(tc.ShapeError, match=r"BatchNorm2d\(5\) expects a 4-D \(N, C, H, W\) input, got shape \(2, 5, 3\)"):
        nn.BatchNorm2d(5)(tc.randn(2, 5, 3))
    with pytest.raises(tc.ShapeError, match=r"BatchNorm1d\(4\) got input with 3 channels"):
        nn.BatchNorm1d(4)(tc.randn(2, 3))


def test_dropout_train_and_eval():
    d = nn.Dropout(0.25)
    assert repr(d) == "Dropout(p=0.25, inplace=False)"
    x = tc.ones(200, 500)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    with pytest.raises(tc.ArgumentError):
        nn.Dropout(1.5)


@pytest.mark.parametrize("make,targets", [
    (lambda m: m.CrossEntropyLoss(), "index"),
    (lambda m: m.CrossEntropyLoss(reduction="sum", label_smoothing=0.1), "index"),
    (lambda m: m.CrossEntropyLoss(ignore_index=2, reduction="none"), "index"),
    (lambda m: m.NLLLoss(), "index"),
    (lambda m: m.MSELoss(), "float"),
    (lambda m: m.MSELoss(reduction="sum"), "float"),
])
def test_losses_match_torch(torch, make, targets):
    x = _x(6, 5)
    t = np.array([0, 2, 4, 1, 2, 3]) if targets == "index" else _x(6, 5, seed=3)
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    xo, xt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if isinstance(ours, nn.NLLLoss):
        lo, lt = ours(xo.log_softmax(1), tc.tensor(t)), theirs(xt.log_softmax(1), torch.tensor(t))
    else:
        lo, lt = ours(xo, tc.tensor(t)), theirs(xt, torch.tensor(t))
    np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
    lo.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_weighted_cross_entropy_matches_torch_and_weight_is_a_buffer(torch):
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
    ours, theirs = nn.CrossEntropyLoss(weight=tc.tensor(w)), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    x, t = _x(6, 5), np.array([0, 2, 4, 1, 2, 3])
    np.testing.assert_allclose(ours(tc.tensor(x), tc.tensor(t)).item(),
                               theirs(torch.tensor(x), torch.tensor(t)).item(), rtol=1e-5)


# ---------------------------------------------------------------------------- gradchecks
@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Linear(4, 3), (2, 4)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
    (lambda: nn.Conv1d(2, 2, 2, dilation=2), (1, 2, 6)),
    (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2)),
    (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.BatchNorm1d(3), (4, 3, 5)),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3),
                           nn.LogSoftmax(dim=1)), (2, 1, 6, 6)),
])
def test_gradcheck_through_modules(make, shape):
    m = make().double()
    params = list(m.parameters())
    x = tc.randn(*shape, dtype=tc.float64, requires_grad=True)
    assert tc.gradcheck(lambda x, *ps: m(x), [x, *params])


# ---------------------------------------------------------------------------- shape errors
def test_linear_shape_error_names_the_layer():
    with pytest.raises(tc.ShapeError, match=r"Linear\(400→120\) got input with 256 features \(input shape \(64, 256\)\)"):
        nn.Linear(400, 120)(tc.randn(64, 256))


def test_error_inside_a_model_names_the_module():
    model = tc.models.LeNet5(classic=True)         # sized for 28×28: fc1 takes 16·5·5 = 400
    with pytest.raises(tc.ShapeError) as e:
        model(tc.randn(2, 1, 24, 24))               # 24×24 leaves 16·4·4 = 256 features
    msg = str(e.value)
    assert "Linear(400→120) got input with 256 features" in msg and "module 'fc1' of LeNet5" in msg


def test_conv_channel_and_size_errors_name_the_layer():
    with pytest.raises(tc.ShapeError, match=r"Conv2d\(3→6, kernel 5×5\) got input with 1 channel \("):
        nn.Conv2d(3, 6, 5)(tc.randn(2, 1, 28, 28))
    with pytest.raises(tc.ShapeError, match=r"expects a 4-D input"):
        nn.Conv2d(3, 6, 5)(tc.randn(28, 28))
    with pytest.raises((tc.ShapeError, tc.ArgumentError), match=r"Conv2d\(1→6, kernel 5×5\)"):
        nn.Conv2d(1, 6, 5)(tc.randn(1, 1, 3, 3))
    with pytest.raises(tc.ShapeError, match=r"BatchNorm2d\(4\) got input with 3 channels"):
        nn.BatchNorm2d(4)(tc.randn(2, 3, 2, 2))
    with pytest.raises(TypeError, match=r"Linear\(3→2\) expects a tc.Tensor"):
        nn.Linear(3, 2)(np.zeros((1, 3), np.float32))


def test_constructor_argument_errors():
    with pytest.raises(tc.ArgumentError, match="divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(tc.ArgumentError, match="padding='same'"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(tc.ArgumentError, match="reduction"):
        nn.MSELoss(reduction="avg")
