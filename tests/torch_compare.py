"""One-input PyTorch comparisons shared by the op tests: forward values, dtype and shape, then
the input gradient for the same random upstream gradient."""
import numpy as np

TOLERANCES = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=1e-5, atol=1e-6)}


def assert_like_torch(torch, ours, theirs, x: np.ndarray, rng: np.random.Generator,
                      tol: dict | None = None, grad_tol: dict | None = None) -> None:
    """ours(Tensor) and theirs(torch.Tensor) agree on x: values, then d(sum(g·y))/dx."""
    import tinygrad_cnn as tc
    tol = tol or TOLERANCES[str(x.dtype)]
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(X), theirs(T)
    assert y.shape == tuple(ty.shape) and y.dtype == X.dtype
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    g = rng.standard_normal(y.shape).astype(x.dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), **(grad_tol or tol))
