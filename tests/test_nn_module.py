"""nn.Module, Parameter and the containers: registration, names, state dicts, modes, hooks,
scopes, dtype conversion and repr (compared with PyTorch where PyTorch defines the answer)."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.autograd import grad_mode


class Affine(nn.Module):
    """A layer written only with Tensor ops (no nn.functional), as a user would."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(tc.randn(n_out, n_in))
        self.bias = nn.Parameter(tc.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(4, 3)
        self.scale = nn.Parameter(tc.ones(3))
        self.inner = nn.Sequential(Affine(3, 3), Affine(3, 2))
        self.register_buffer("count", tc.zeros(1))
        self.register_buffer("scratch", tc.zeros(2), persistent=False)
        self.plain = tc.ones(2, requires_grad=True)      # a plain attribute, not registered

    def forward(self, x):
        return self.inner(self.first(x) * self.scale)


def _torch_block(torch):
    class TAffine(torch.nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(n_out, n_in))
            self.bias = torch.nn.Parameter(torch.zeros(n_out))

    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = TAffine(4, 3)
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.inner = torch.nn.Sequential(TAffine(3, 3), TAffine(3, 2))
            self.register_buffer("count", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
    return TBlock()


# ------------------------------------------------------------------------------ registration
def test_names_and_order_match_pytorch(torch):
    ours, theirs = Block(), _torch_block(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == 7
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())


def test_plain_tensor_attribute_is_not_a_parameter():
    b = Block()
    assert not any(p is b.plain for p in b.parameters())
    assert "plain" not in b.state_dict()


def test_parameter_is_a_tensor_sharing_memory():
    t = tc.randn(3)
    p = nn.Parameter(t)
    assert isinstance(p, tc.Tensor) and p.requires_grad and p.is_leaf
    assert p.numpy() is t.numpy()
    assert repr(p).startswith("Parameter containing:\ntensor(")
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.numpy() is not p.numpy()
    np.testing.assert_array_equal(q.numpy(), p.numpy())
    with pytest.raises(tc.DTypeError):
        nn.Parameter(tc.tensor([1, 2]))


def test_gradients_reach_parameters():
    m = Affine(4, 2)
    x = tc.randn(5, 4)
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)), rtol=1e-5)
    np.testing.assert_allclose(m.bias.grad.numpy(), [5.0, 5.0])


def test_shared_parameter_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Affine(3, 3)
            self.b = Affine(3, 3)
            self.b.weight = self.a.weight
    m = Tied()
    assert [n for n, _ in m.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_reassignment_rules():
    m = Affine(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = tc.randn(2, 2)                       # a plain tensor over a parameter
    m.weight = None                                     # allowed, as in PyTorch
    assert [n for n, _ in m.named_parameters()] == ["bias"]
    m.weight = nn.Parameter(tc.zeros(2, 2))             # back, in its old place (as in PyTorch)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    del m.bias
    assert [n for n, _ in m.named_parameters()] == ["weight"]

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tc.zeros(1))           # before super().__init__()
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_get_submodule_and_dir():
    b = Block()
    assert b.get_submodule("inner.1") is b.inner[1]
    with pytest.raises(AttributeError, match="nope"):
        b.get_submodule("inner.nope")
    assert "first" in dir(b) and "scale" in dir(b)


# -------------------------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_names():
    s = nn.Sequential(Affine(4, 3), Affine(3, 3), Affine(3, 2))
    assert len(s) == 3 and s[-1] is s[2]
    assert [n for n, _ in s.named_parameters()][:2] == ["0.weight", "0.bias"]
    tail = s[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2
    assert list(tail.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]
    x = tc.randn(2, 4)
    np.testing.assert_allclose(s(x).data, tail(s[0](x)).data)
    with pytest.raises(IndexError):
        s[3]
    named = nn.Sequential(OrderedDict([("enc", Affine(2, 2)), ("dec", Affine(2, 2))]))
    assert list(named.state_dict())[0] == "enc.weight"
    s.append(Affine(2, 2))
    assert len(s) == 4 and "3.weight" in s.state_dict()


def test_modulelist_and_moduledict():
    ml = nn.ModuleList([Affine(2, 2) for _ in range(3)])
    ml.append(Affine(2, 1))
    assert len(ml) == 4 and [n for n, _ in ml.named_parameters()][-1] == "3.bias"
    ml.insert(0, Affine(1, 2))
    assert ml[0].weight.shape == (2, 1) and "4.weight" in ml.state_dict()
    del ml[0]
    assert ml[0].weight.shape == (2, 2)
    md = nn.ModuleDict({"a": Affine(2, 2)})
    md["b"] = Affine(2, 3)
    assert list(md.keys()) == ["a", "b"] and "b.weight" in md.state_dict()


def test_repr_matches_pytorch_for_containers(torch):
    ours = nn.ModuleList([nn.Identity(), nn.Identity(), nn.Identity(), nn.Flatten()])
    theirs = torch.nn.ModuleList([torch.nn.Identity(), torch.nn.Identity(), torch.nn.Identity(),
                                  torch.nn.Flatten()])
    assert repr(ours) == repr(theirs)
    nested = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Identity()), nn.Flatten(0, 1))
    tnested = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity()),
                                  torch.nn.Flatten(0, 1))
    assert repr(nested) == repr(tnested)


# -------------------------------------------------------------------------------- state dicts
def test_state_dict_shares_memory_and_keep_vars():
    b = Block()
    sd = b.state_dict()
    assert isinstance(sd["first.weight"], tc.Tensor) and not isinstance(sd["first.weight"], nn.Parameter)
    assert np.shares_memory(sd["first.weight"].numpy(), b.first.weight.numpy())
    assert b.state_dict(keep_vars=True)["first.weight"] is b.first.weight
    assert "scratch" not in sd and "count" in sd


def test_load_state_dict_copies_in_place_and_keeps_identity():
    src, dst = Block(), Block()
    arrays_before = [p.numpy() for p in dst.parameters()]
    dst.load_state_dict(src.state_dict())
    for a, p, q in zip(arrays_before, dst.parameters(), src.parameters()):
        assert p.numpy() is a                              # same array object: optimizers stay valid
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_accepts_numpy_and_torch(torch):
    ours, theirs = Block(), _torch_block(torch)
    ours.load_state_dict(theirs.state_dict())                    # torch tensors as they come
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), tp.detach().numpy())
    ours2 = Block()
    ours2.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours2.first.weight.numpy(), theirs.first.weight.detach().numpy())


def test_load_state_dict_errors_list_everything_and_change_nothing():
    m = Block()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    bad = {k: v.numpy().copy() + 1 for k, v in Block().state_dict().items()}
    del bad["inner.1.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["first.weight"] = np.zeros((3, 5))
    with pytest.raises(nn.StateDictError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Block" in msg
    assert 'Missing key(s) in state_dict: "inner.1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for first.weight: copying a param with shape (3, 5) from checkpoint, " \
           "the shape in current model is (3, 4)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])        # nothing was copied


def test_load_state_dict_non_strict_reports_keys():
    m = Block()
    sd = {k: v.numpy().copy() for k, v in Block().state_dict().items()}
    del sd["scale"]
    sd["bogus"] = np.zeros(1)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(m.first.weight.numpy(), sd["first.weight"])
    sd["first.weight"] = np.zeros((1, 1))
    with pytest.raises(nn.StateDictError, match="size mismatch"):
        m.load_state_dict(sd, strict=False)                       # shapes always checked


def test_load_casts_dtype_and_bumps_version():
    m = Affine(2, 2)
    v = m.weight._version
    m.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": np.zeros(2, np.float64)})
    assert m.weight.dtype == np.float32 and m.weight._version == v + 1


# ---------------------------------------------------------------------- modes, grads, dtypes
def test_train_eval_propagate():
    b = Block()
    assert b.training and b.inner[0].training
    assert b.eval() is b
    assert not any(m.training for m in b.modules())
    b.train()
    assert all(m.training for m in b.modules())


def test_zero_grad_both_ways():
    m = Affine(3, 2)
    m(tc.randn(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert np.all(m.weight.grad.numpy() == 0)
    m(tc.randn(4, 3)).sum().backward()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_apply_visits_children_first():
    b = Block()
    order = []
    b.apply(lambda mod: order.append(type(mod).__name__))
    assert order == ["Affine", "Affine", "Affine", "Sequential", "Block"]


def test_to_double_keeps_parameter_identity():
    b = Block()
    params = list(b.parameters())
    b.double()
    assert [p for p in b.parameters()] == params or all(p is q for p, q in zip(b.parameters(), params))
    assert all(p.dtype == np.float64 for p in b.parameters())
    assert b.count.dtype == np.float64
    out = b(tc.randn(2, 4, dtype=tc.float64))
    assert out.dtype == np.float64
    b.float()
    assert all(p.dtype == np.float32 for p in b.parameters())
    assert b.to("cpu") is b


def test_requires_grad_():
    b = Block().requires_grad_(False)
    assert not any(p.requires_grad for p in b.parameters())


# ------------------------------------------------------------------------------ scopes, hooks
def test_call_pushes_module_stack_and_records_scope():
    b = Block()
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(list(grad_mode.module_stack))
            return x * 2

    b.inner.append(Probe())
    x = tc.randn(2, 4, requires_grad=True)
    out = b(x)
    assert grad_mode.module_stack == []
    assert seen[0] == [b, b.inner, b.inner[2]]
    assert out.grad_fn.scope == (b, b.inner, b.inner[2])        # the Mul made inside Probe
    assert b.first(x).grad_fn.scope == (b.first,)


def test_module_stack_popped_after_exception():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        nn.Sequential(Boom())(tc.zeros(1))
    assert grad_mode.module_stack == []


def test_forward_hooks_and_removal():
    m = Affine(2, 2)
    calls = []
    h1 = m.register_forward_hook(lambda mod, args, out: calls.append((mod, args[0].shape, out.shape)))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    x = tc.zeros(3, 2)
    out = m(x)
    assert calls == [(m, (3, 2), (3, 2))]
    assert np.all(out.numpy() == 0)
    h2.remove()
    pre.remove()
    np.testing.assert_allclose(m(x).data, np.broadcast_to(m.bias.numpy(), (3, 2)))
    h1.remove()
    m(x)
    assert len(calls) == 2
    with m.register_forward_hook(lambda *a: calls.append(1)):
        m(x)
    m(x)
    assert calls[-1] == 1 and len(calls) == 3


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tc.zeros(1))


def test_to_device_arguments():
    m = Affine(2, 2)
    assert m.to("cpu", tc.float64) is m and m.weight.dtype == np.float64
    m.to(device="cpu", dtype=tc.float32)
    assert m.weight.dtype == np.float32
    with pytest.raises(tc.DeviceError, match="computes on the CPU"):
        m.to("cuda")
    with pytest.raises(tc.DeviceError, match="computes on the CPU"):
        m.to(tc.float64, device="cuda:0")
