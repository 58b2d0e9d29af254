"""Module.register_full_backward_hook / register_full_backward_pre_hook against torch's: what
the hooks receive (grad_input, grad_output), replacing gradients, removal, inputs without grad."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

RNG = np.random.default_rng(5)


def _pair(torch):
    tc.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=tc.float64), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5, dtype=tc.float64))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5, dtype=torch.float64))
    ours.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _arrays(grads):
    return [None if g is None else np.array(g.numpy() if hasattr(g, "numpy") else g.detach().numpy())
            for g in grads]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing:UserWarning")
@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hooks_see_what_torch_sees(torch, input_grad):
    ours, theirs = _pair(torch)
    seen = {"ours": [], "theirs": []}
    for key, model in (("ours", ours), ("theirs", theirs)):
        for i in (0, 3):
            model[i].register_full_backward_hook(
                lambda m, gi, go, key=key, i=i: seen[key].append((i, _arrays(gi), _arrays(go))))
    x = RNG.standard_normal((2, 2, 4, 4))
    X, T = tc.tensor(x, requires_grad=input_grad), torch.tensor(x, requires_grad=input_grad)
    g = RNG.standard_normal((2, 5))
    ours(X).backward(g)
    theirs(T).backward(torch.tensor(g))
    assert [s[0] for s in seen["ours"]] == [s[0] for s in seen["theirs"]] == [3, 0]
    for (_, gi, go), (_, tgi, tgo) in zip(seen["ours"], seen["theirs"]):
        assert len(gi) == len(tgi) and len(go) == len(tgo)
        for a, b in zip(gi + go, tgi + tgo):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_hook_can_replace_grad_input_and_pre_hook_grad_output(torch):
    ours, theirs = _pair(torch)
    for model in (ours, theirs):
        model[3].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
        model[0].register_full_backward_pre_hook(lambda m, go: (go[0] * 0.5,))
    x = RNG.standard_normal((2, 2, 4, 4))
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(X).sum().backward()
    theirs(T).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-12)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12, err_msg=name)


def test_removed_hook_no_longer_runs_and_no_grad_forward_skips_it():
    lin = nn.Linear(3, 2)
    calls = []
    handle = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = tc.randn(4, 3, requires_grad=True)
    lin(x).sum().backward()
    with tc.no_grad():
        lin(x)
    handle.remove()
    lin(x).sum().backward()
    assert calls == [1]


def test_hook_returning_wrong_number_of_gradients_is_an_error():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(ValueError, match="returned 2 input gradient"):
        lin(tc.randn(4, 3, requires_grad=True)).sum().backward()
