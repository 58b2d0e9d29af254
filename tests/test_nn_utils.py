"""nn.utils: summary (parameters and MACs from closed forms, seeds 002/004), linear_to_conv2d
(equal on the trained size; sliding-window scores on larger inputs, seeds 000/001), gradient
clipping against torch."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.models import LeNet5
from tinygrad_cnn.nn.utils import (clip_grad_norm_, clip_grad_value_, linear_to_conv2d,
                                   parameters_to_vector, summary, vector_to_parameters)


def test_summary_lenet5_classic_counts_and_macs():
    model = LeNet5(classic=True)
    printed = []
    s = summary(model, (1, 1, 28, 28), print_fn=printed.append)
    assert printed == [s] and isinstance(s, str)
    rows = {r["name"]: r for r in s.rows}
    assert s.rows[0]["type"] == "LeNet5" and s.rows[0]["depth"] == 0
    assert rows["conv1"]["params"] == 6 * (1 * 5 * 5 + 1) == 156          # C1
    assert rows["fc1"]["params"] == 120 * (16 * 5 * 5 + 1) == 48120       # C5
    assert rows["fc2"]["params"] == 84 * (120 + 1) == 10164               # F6
    assert rows["conv1"]["output_shape"] == "[1, 6, 28, 28]"
    assert rows["pool2"]["output_shape"] == "[1, 16, 5, 5]"
    assert rows["conv1"]["macs"] == 1 * 6 * 5 * 5 * 28 * 28
    assert rows["conv2"]["macs"] == 6 * 16 * 5 * 5 * 10 * 10
    assert rows["fc1"]["macs"] == 400 * 120
    assert rows["relu1"]["macs"] == 0 and rows["relu1"]["params"] == 0
    assert s.total_params == sum(p.numel() for p in model.parameters()) == sum(r["params"] for r in s.rows)
    assert s.total_macs == sum(r["macs"] for r in s.rows) and s.total_flops == 2 * s.total_macs
    for text in ("156", "48,120", "10,164", f"Total params: {s.total_params:,}",
                 f"Total MACs: {s.total_macs:,}"):
        assert text in s
    assert [r["name"] for r in s.rows][1:4] == ["conv1", "relu1", "pool1"]
    assert "note:" not in s


def test_summary_old_input_size_without_batch_is_read_as_batch_1_with_a_note():
    model = LeNet5(classic=True)
    new, old = (summary(model, size, print_fn=None) for size in ((1, 1, 28, 28), (1, 28, 28)))
    assert old.input_size == new.input_size == [(1, 1, 28, 28)]
    assert "note: input_size (1, 28, 28) has no batch dimension" in old
    assert old.rows == new.rows


def test_summary_conv_100_channels_is_seed002s_gigaflop():
    conv = nn.Conv2d(100, 100, 5, padding=2)
    s = summary(conv, (1, 100, 64, 64), print_fn=None)
    macs = 100 * 100 * 5 * 5 * 64 * 64                      # c_i c_o k_h k_w m_h m_w
    assert s.total_macs == macs == 1_024_000_000
    assert s.rows[0]["output_shape"] == "[1, 100, 64, 64]"
    assert "1.02 GMAC" in s and "FLOPs = 2 x MACs = 2.05 GFLOP" in s


def test_summary_counts_functional_calls_inside_forward():
    F = nn.functional

    class FunctionalConv(nn.Module):                  # no layer modules: F.conv2d on a Parameter
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tc.randn(6, 1, 5, 5))
            self.head = nn.Linear(6 * 24 * 24, 10)

        def forward(self, x):
            return self.head(F.relu(F.conv2d(x, self.w)).flatten(1))

    s = summary(FunctionalConv(), (2, 1, 28, 28), print_fn=None)
    top, head = s.rows
    assert top["macs"] == 2 * 6 * 25 * 24 * 24 == 172_800 and top["params"] == 150
    assert head["macs"] == 2 * 6 * 24 * 24 * 10 and s.batch_size == 2
    assert s.total_macs == top["macs"] + head["macs"] and s.macs_per_sample == s.total_macs / 2


def test_summary_depth_folds_deeper_calls_into_their_ancestor():
    block = lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())   # noqa: E731
    model = nn.Sequential(block(), block(), nn.Flatten(), nn.Linear(2 * 8 * 8, 3))
    deep, shallow = (summary(model, (1, 2, 8, 8), depth=d, print_fn=None) for d in (2, 1))
    assert [r["name"] for r in deep.rows] == ["Sequential", "0", "0.0", "0.1", "1", "1.0", "1.1", "2", "3"]
    assert [r["name"] for r in shallow.rows][1:] == ["0", "1", "2", "3"]
    conv_macs = 2 * 2 * 9 * 64
    assert shallow.rows[1]["macs"] == conv_macs and shallow.rows[1]["params"] == 2 * 2 * 9 + 2
    assert deep.rows[1]["macs"] == 0 and deep.rows[2]["macs"] == conv_macs
    assert deep.total_macs == shallow.total_macs and deep.saved_bytes == shallow.saved_bytes


def test_summary_saved_bytes_are_measured_from_the_graph():
    # one ReLU on a (1, 3, 4, 4) float32 input keeps its output: 192 bytes, nothing else
    model = nn.Sequential(nn.Conv2d(3, 3, 1, bias=False), nn.ReLU())
    s = summary(model, (1, 3, 4, 4), print_fn=None)
    conv, relu = s.rows[1], s.rows[2]
    assert relu["saved_bytes"] == 3 * 4 * 4 * 4
    # the conv keeps its (1, K=3, N*L=16) columns (its weight is a parameter: not counted again)
    assert conv["saved_bytes"] == 3 * 16 * 4
    assert "Saved for backward: 384 B" in s


def test_summary_several_inputs_and_input_data():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    s = summary(Two(), [(4, 3), (4, 5)], print_fn=None)
    assert s.input_size == [(4, 3), (4, 5)] and s.total_macs == 4 * 3 * 2 + 4 * 5 * 2
    t = summary(Two(), input_data=(tc.randn(4, 3), tc.randn(4, 5)), print_fn=None)
    assert t.total_macs == s.total_macs
    with pytest.raises(tc.ArgumentError, match="input_size"):
        summary(Two(), "big", print_fn=None)


def test_summary_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.train()
    for mode in ("eval", "train"):
        summary(model, (2, 1, 8, 8), mode=mode, print_fn=None)
        assert all(m.training for m in model.modules())
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), before[k])    # no running-stat update
    assert all(p.grad is None for p in model.parameters())


def test_summary_shared_module_counts_params_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    s = summary(model, (1, 4), print_fn=None)
    assert [r["params"] for r in s.rows[1:]] == [20, 0, 0]
    assert [r["macs"] for r in s.rows[1:]] == [16, 0, 16]
    assert s.total_params == 20 and "(recursive)" in s


# ------------------------------------------------------------------------- linear_to_conv2d
def test_linear_to_conv2d_equal_on_trained_size():
    lin = nn.Linear(16 * 4 * 4, 10)
    conv = linear_to_conv2d(lin, (16, 4, 4))
    assert conv.kernel_size == (4, 4) and conv.weight.shape == (10, 16, 4, 4)
    assert not np.shares_memory(conv.weight.numpy(), lin.weight.numpy())
    x = tc.randn(3, 16, 4, 4)
    np.testing.assert_allclose(conv(x).data.reshape(3, 10), lin(x.flatten(1)).data, rtol=1e-5, atol=1e-6)
    one = linear_to_conv2d(nn.Linear(10, 7, bias=False), 10)
    assert one.kernel_size == (1, 1) and one.bias is None


def test_linear_to_conv2d_slides_over_a_larger_map():
    lin = nn.Linear(3 * 4 * 5, 6)
    conv = linear_to_conv2d(lin, (3, 4, 5))
    x = tc.randn(2, 3, 7, 9)
    out = conv(x).data
    assert out.shape == (2, 6, 7 - 4 + 1, 9 - 5 + 1)
    for i in range(4):
        for j in range(5):
            window = tc.tensor(x.numpy()[:, :, i:i + 4, j:j + 5].reshape(2, -1))
            np.testing.assert_allclose(out[:, :, i, j], lin(window).data, rtol=1e-5, atol=1e-5)


def test_224_to_384_gives_6x6_scores_like_seeds_000_001():
    """A stand-in for the seeds' network: its features shrink the image 32× (a 1×1 conv, then
    32×32 average pooling), so 224×224 gives a 7×7 map and the classifier is a Linear on 7·7·C.
    Converted, the net takes 384×384 and returns 6×6 scores: (384 - 224) / 32 + 1 = 6, each
    equal to the original network on the 224×224 crop at stride 32."""
    features = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.AvgPool2d(32))
    classifier = nn.Linear(4 * 7 * 7, 5)
    net = nn.Sequential(features, nn.Flatten(), classifier)
    fcn = nn.Sequential(features, linear_to_conv2d(classifier, (4, 7, 7)))
    img = tc.rand(1, 3, 384, 384)
    scores = fcn(img).data
    assert scores.shape == (1, 5, 6, 6)
    for i in range(6):
        for j in range(6):
            crop = tc.tensor(img.numpy()[:, :, 32 * i:32 * i + 224, 32 * j:32 * j + 224])
            np.testing.assert_allclose(scores[0, :, i, j], net(crop).data[0], rtol=1e-4, atol=1e-5)


def test_linear_to_conv2d_errors():
    with pytest.raises(tc.ShapeError, match=r"Linear\(256→120\) takes 256 features, but input_shape \(16, 5, 5\) flattens to 400"):
        linear_to_conv2d(nn.Linear(256, 120), (16, 5, 5))
    with pytest.raises(TypeError):
        linear_to_conv2d(nn.Conv2d(1, 1, 1), (1, 1, 1))


# ------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_matches_torch(torch, norm_type):
    grads = [np.random.default_rng(i).standard_normal(s).astype(np.float32) * 3 for i, s in enumerate([(4, 3), (5,)])]
    ours = [nn.Parameter(tc.zeros(*g.shape)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tc.tensor(g), torch.tensor(g)
    n_o = clip_grad_norm_(ours, 1.5, norm_type)
    n_t = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
    assert n_o.item() == pytest.approx(n_t.item(), rel=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_value_and_vectors():
    p = nn.Parameter(tc.zeros(4))
    p.grad = tc.tensor([-3.0, -0.5, 0.5, 3.0])
    clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [-1, -0.5, 0.5, 1])
    m = nn.Linear(3, 2)
    v = parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    vector_to_parameters(v * 2, m.parameters())
    np.testing.assert_allclose(parameters_to_vector(m.parameters()).data, v.numpy() * 2)
