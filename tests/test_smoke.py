"""The README quick start, run as written."""
import numpy as np

import tinygrad_cnn as tc


def test_quick_start_backward_matches_closed_form():
    x = tc.randn(3, 4, requires_grad=True)
    y = ((x @ x.T).relu().sum(dim=1) ** 2).mean()
    y.backward()
    # closed form: y = mean_i s_i², s_i = Σ_j relu(x_i·x_j); dy/dx via the mask m_ij = [x_i·x_j > 0]
    X = x.numpy().astype(np.float64)
    G = X @ X.T
    m = (G > 0).astype(np.float64)
    s = (G * m).sum(axis=1)
    c = 2 * s / 3                                   # dy/ds_i
    dG = c[:, None] * m                             # dy/dG_ij
    expected = (dG + dG.T) @ X
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_x_times_x_at_3_gives_6():
    x = tc.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0
