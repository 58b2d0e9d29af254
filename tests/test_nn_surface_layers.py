"""Layers real PyTorch scripts needed (issue 12): InstanceNorm1d/2d/3d, BatchNorm3d,
MaxPool3d/AvgPool3d, MaxUnpool2d, PixelShuffle/PixelUnshuffle, Embedding, LazyLinear/LazyConv2d,
ParameterList/ParameterDict, init.orthogonal_. Each against torch in float64: outputs, input
and parameter gradients, running statistics, indices."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim

RNG = np.random.default_rng(12)
TOL = dict(rtol=1e-11, atol=1e-12)


def _same_params(ours, theirs):
    """Copy torch module parameters and buffers into ours (float64)."""
    sd = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict({k: tc.tensor(v) for k, v in sd.items()})


def _compare_module(torch, ours, theirs, x, steps=1):
    """Forward + backward `steps` times; outputs, input grads, param grads and buffers agree."""
    for _ in range(steps):
        X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(X), theirs(T)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
        g = RNG.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), **TOL)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), **TOL)
    buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), buffers[name].numpy(), **TOL)


@pytest.mark.parametrize("dims, affine, track", [(d, a, t) for d in (1, 2, 3) for a in (False, True)
                                                  for t in (False, True)])
def test_instance_norm_matches_torch_train_and_eval(torch, dims, affine, track):
    shape = (3, 4) + (5, 4, 3)[:dims]
    ours = getattr(nn, f"InstanceNorm{dims}d")(4, affine=affine, track_running_stats=track, dtype=tc.float64)
    theirs = getattr(torch.nn, f"InstanceNorm{dims}d")(4, affine=affine, track_running_stats=track,
                                                        dtype=torch.float64)
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2)
            theirs.bias.normal_()
        _same_params(ours, theirs)
    x = RNG.standard_normal(shape) * 3 + 1
    _compare_module(torch, ours, theirs, x, steps=2)
    ours.eval(), theirs.eval()
    _compare_module(torch, ours, theirs, x[:2] * 0.5)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_instance_norm_unbatched_matches_torch(torch):
    x = RNG.standard_normal((4, 6))
    _compare_module(torch, nn.InstanceNorm1d(4, affine=True, dtype=tc.float64),
                    torch.nn.InstanceNorm1d(4, affine=True, dtype=torch.float64), x)


def test_batch_norm3d_matches_torch(torch):
    ours, theirs = nn.BatchNorm3d(3, dtype=tc.float64), torch.nn.BatchNorm3d(3, dtype=torch.float64)
    x = RNG.standard_normal((2, 3, 3, 4, 2))
    _compare_module(torch, ours, theirs, x, steps=3)
    ours.eval(), theirs.eval()
    _compare_module(torch, ours, theirs, x)
    with pytest.raises(tc.ShapeError, match=r"5-D \(N, C, D, H, W\)"):
        ours(tc.randn(2, 3, 4, 4))


POOL3D = [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 3, 1), stride=(1, 2, 1)),
          dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), dict(kernel_size=2, stride=1, dilation=2)]


@pytest.mark.parametrize("kw", POOL3D)
def test_max_pool3d_matches_torch_with_indices(torch, kw):
    x = RNG.standard_normal((2, 3, 5, 6, 7))
    x[0, 0, :2, :2, :2] = 1.5                                   # ties: the first in (d, h, w) wins
    ours, theirs = nn.MaxPool3d(**kw), torch.nn.MaxPool3d(**kw)
    _compare_module(torch, ours, theirs, x)
    v, i = F.max_pool3d(tc.tensor(x), return_indices=True, **kw)
    tv, ti = torch.nn.functional.max_pool3d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_array_equal(v.numpy(), tv.numpy())


AVG3D = [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
         dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
         dict(kernel_size=(1, 2, 3), stride=(1, 1, 2), divisor_override=4)]


@pytest.mark.parametrize("kw", AVG3D)
def test_avg_pool3d_matches_torch(torch, kw):
    x = RNG.standard_normal((2, 2, 5, 6, 7))
    _compare_module(torch, nn.AvgPool3d(**kw), torch.nn.AvgPool3d(**kw), x)


def test_pool3d_unbatched_and_errors(torch):
    x = RNG.standard_normal((2, 4, 4, 4))
    np.testing.assert_allclose(F.max_pool3d(tc.tensor(x), 2).numpy(),
                               torch.nn.functional.max_pool3d(torch.tensor(x), 2).numpy(), **TOL)
    with pytest.raises(tc.ShapeError, match="5-D input"):
        F.avg_pool3d(tc.randn(2, 3, 4), 2)
    with pytest.raises(tc.ArgumentError, match="kernel_size"):
        F.max_pool3d(tc.randn(1, 1, 4, 4, 4), (2, 2))
    with pytest.raises(tc.ShapeError, match=r"D size 0 < 1: input D=1, kernel KD=2"):
        F.max_pool3d(tc.randn(1, 1, 1, 4, 4), 2)
    with pytest.raises(tc.ArgumentError, match="PD=2 is more than half the kernel KD=3"):
        F.avg_pool3d(tc.randn(1, 1, 4, 4, 4), 3, padding=(2, 1, 1))


@given(d=st.integers(1, 5), h=st.integers(1, 5), w=st.integers(1, 5), k=st.integers(1, 3),
       s=st.integers(1, 3), ceil=st.booleans())
def test_pool3d_match_torch_on_any_shape(d, h, w, k, s, ceil):
    torch = pytest.importorskip("torch")
    if min(d, h, w) < k:
        return
    x = RNG.standard_normal((1, 2, d, h, w))
    for ours, theirs in ((F.max_pool3d, torch.nn.functional.max_pool3d),
                         (F.avg_pool3d, torch.nn.functional.avg_pool3d)):
        X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(X, k, s, ceil_mode=ceil), theirs(T, k, s, ceil_mode=ceil)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
        y.sum().backward(), ty.sum().backward()
        np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), **TOL)


@pytest.mark.parametrize("k, s, size, out", [(2, 2, (8, 8), None), (3, 2, (9, 9), None), (2, 2, (9, 9), (9, 9)),
                                             (3, 3, (9, 10), (2, 3, 9, 10))])
def test_max_unpool2d_matches_torch(torch, k, s, size, out):
    x = RNG.standard_normal((2, 3) + size)
    v, i = F.max_pool2d(tc.tensor(x), k, s, return_indices=True)
    tv, ti = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, return_indices=True)
    V, TV = tc.tensor(v.numpy(), requires_grad=True), torch.tensor(tv.numpy(), requires_grad=True)
    y, ty = nn.MaxUnpool2d(k, s)(V, i, out), torch.nn.MaxUnpool2d(k, s)(TV, ti, out)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g = RNG.standard_normal(y.shape)
    y.backward(g), ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(V.grad.numpy(), TV.grad.numpy())


def test_max_unpool2d_errors():
    v, i = F.max_pool2d(tc.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(tc.ShapeError, match="indices"):
        F.max_unpool2d(v, i.reshape(1, 1, 4), 2)
    with pytest.raises(tc.ArgumentError, match="output_size"):
        F.max_unpool2d(v, i, 2, output_size=(9, 9))
    with pytest.raises(tc.ArgumentError, match="out of range"):
        F.max_unpool2d(v, i * 10, 2)


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((2, 1, 4, 3, 2), 1)])
def test_pixel_shuffle_and_unshuffle_match_torch(torch, shape, r):
    x = RNG.standard_normal(shape)
    _compare_module(torch, nn.PixelShuffle(r), torch.nn.PixelShuffle(r), x)
    up = F.pixel_shuffle(tc.tensor(x), r)
    _compare_module(torch, nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), up.numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(up, r).numpy(), x)
    with pytest.raises(tc.ShapeError, match="divisible"):
        F.pixel_shuffle(tc.randn(1, 3, 2, 2), 2)
    with pytest.raises(tc.ArgumentError, match="upscale_factor"):
        F.pixel_shuffle(tc.randn(1, 4, 2, 2), 0)


@pytest.mark.parametrize("kw", [dict(), dict(padding_idx=1), dict(padding_idx=-2), dict(scale_grad_by_freq=True),
                                dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0, padding_idx=0)])
def test_embedding_matches_torch(torch, kw):
    theirs = torch.nn.Embedding(7, 4, dtype=torch.float64, **kw)
    ours = nn.Embedding(7, 4, dtype=tc.float64, **kw)
    _same_params(ours, theirs)
    idx = np.array([[1, 2, 2, 0], [6, 1, 5, 2]])
    for _ in range(2):
        y, ty = ours(tc.tensor(idx)), theirs(torch.tensor(idx))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
        g = RNG.standard_normal(y.shape)
        y.backward(g), ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), **TOL)   # max_norm renorm


def test_embedding_init_from_pretrained_and_errors(torch):
    e = nn.Embedding(5, 3, padding_idx=2)
    assert e.weight.dtype == np.float32 and np.all(e.weight.numpy()[2] == 0)
    w = tc.randn(4, 2)
    frozen = nn.Embedding.from_pretrained(w)
    assert frozen.weight.numpy() is w.numpy() and not frozen.weight.requires_grad
    assert repr(nn.Embedding(5, 3, padding_idx=2)) == repr(torch.nn.Embedding(5, 3, padding_idx=2))
    with pytest.raises(tc.ArgumentError, match="out of range for 5 embeddings"):
        e(tc.tensor([1, 5]))
    with pytest.raises(tc.DTypeError, match="integer indices"):
        e(tc.tensor([1.0]))
    with pytest.raises(tc.ArgumentError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)


def test_lazy_layers_infer_sizes_and_keep_optimizer_references(torch):
    model = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    tmodel = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.LazyLinear(2))
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1)               # built before the dry run
    x = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    model(tc.tensor(x)), tmodel(torch.tensor(x))
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in tmodel.state_dict().items()}
    assert repr(model[0]) == repr(tmodel[0]) and repr(model[3]) == repr(tmodel[3])
    assert all(p is q for p, q in zip(params, model.parameters()))
    bound = 1 / np.sqrt(4 * 5 * 5)                             # kaiming_uniform(a=√5): U(±1/√fan_in)
    assert np.abs(model[3].weight.numpy()).max() <= bound
    before = model[3].weight.numpy().copy()
    F.cross_entropy(model(tc.tensor(x)), tc.tensor([0, 1])).backward()
    opt.step()
    assert not np.array_equal(before, model[3].weight.numpy())
    with pytest.raises(tc.ShapeError, match="groups=2"):
        nn.LazyConv2d(4, 3, groups=2)(tc.randn(1, 3, 5, 5))


def test_lazy_layers_load_a_checkpoint_before_the_first_forward(torch):
    eager = tc.nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    lazy = tc.nn.Sequential(nn.LazyConv2d(4, 3), nn.Flatten(), nn.LazyLinear(2))
    lazy.load_state_dict(eager.state_dict())
    x = tc.randn(2, 3, 5, 5)
    np.testing.assert_array_equal(lazy(x).numpy(), eager(x).numpy())
    assert repr(lazy) == repr(eager)
    with pytest.raises(nn.StateDictError, match="Missing key"):
        nn.LazyLinear(2).load_state_dict({})


def test_parameter_list_and_dict_register_like_torch(torch):
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 2)) for _ in range(2)])
                self.extra = lib.nn.ParameterDict({"scale": lib.nn.Parameter(lib.ones(1))})
                self.ws.append(lib.nn.Parameter(lib.zeros(3)))
                self.extra["shift"] = lib.nn.Parameter(lib.zeros(1))
        return Net()

    ours, theirs = build(tc), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["ws.0", "ws.1", "ws.2", "extra.scale", "extra.shift"]
    assert len(ours.ws) == 3 and ours.ws[-1].shape == (3,) and "scale" in ours.extra
    assert len(list(ours.parameters())) == 5
    plain = nn.ParameterList([tc.ones(2)])                    # a Tensor becomes a Parameter
    assert isinstance(plain[0], nn.Parameter) and plain[0].requires_grad
    with pytest.raises(TypeError, match="Parameter or a Tensor"):
        nn.ParameterDict({"a": 3})


@pytest.mark.parametrize("shape, gain", [((3, 5), 1.0), ((5, 3), 2.0), ((4, 2, 3, 3), 0.5), ((6, 6), 1.0)])
def test_orthogonal_init_gives_orthonormal_rows_or_columns(torch, shape, gain):
    w = tc.empty(*shape, dtype=tc.float64)
    arr = w.numpy()
    assert nn.init.orthogonal_(w, gain=gain) is w and w.numpy() is arr
    m = arr.reshape(shape[0], -1) / gain
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
    t = torch.empty(*shape, dtype=torch.float64)               # torch's has the same property and scale
    torch.nn.init.orthogonal_(t, gain=gain)
    np.testing.assert_allclose(np.linalg.norm(t.numpy()), np.linalg.norm(arr), rtol=1e-12)
    with pytest.raises(tc.ShapeError, match="2 or more dimensions"):
        nn.init.orthogonal_(tc.empty(3))
