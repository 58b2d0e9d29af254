"""The learning views draw the framework's own arrays: im2col's highlighted column is the
highlighted window, col2im marks exactly the entries that add into a pixel, pool_switches shows
F.max_pool2d's real gradient, filters/feature_maps/saliency show the layer's weights, a hooked
activation and the input gradient; `tinygrad-cnn show` writes each one."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.cli import main

pytest.importorskip("matplotlib")


def texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return out


def cell_numbers(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def highlighted(ax) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of the outlined rectangles of an axes."""
    return [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches]


def test_im2col_highlights_the_window_and_its_column_with_every_number():
    x = np.arange(1, 2 * 16 + 1).reshape(2, 1, 4, 4)
    fig = tc.viz.im2col(x, kernel_size=3, stride=1, padding=1, window=(1, 2, 3))
    img0, img1, matrix = fig.axes[:3]
    # column index n·L + oh·OW + ow = 16 + 8 + 3
    assert "becomes column 27" in fig.texts[0].get_text()
    assert "(K, N·L) = (9, 32)" in matrix.get_title()
    assert highlighted(matrix) == [(26.5, -0.5, 1, 9)]
    assert highlighted(img1) == [(2.5, 1.5, 3, 3)] and highlighted(img0) == []   # padded coords
    values = np.array(cell_numbers(matrix), dtype=float).reshape(9, 32)
    xp = np.pad(x[1, 0], 1)
    np.testing.assert_array_equal(values[:, 27], xp[2:5, 3:6].reshape(-1))
    assert len(cell_numbers(img0)) == 36                 # the padded 6×6 plane, every number


def test_im2col_bad_arguments_are_named():
    with pytest.raises(ValueError, match="window"):
        tc.viz.im2col(np.zeros((4, 4)), 3, window=99)
    with pytest.raises(tc.ShapeError, match="kernel"):
        tc.viz.im2col(np.zeros((2, 2)), 3)
    with pytest.raises(TypeError, match="x must be"):
        tc.viz.im2col("image", 3)


def test_col2im_marks_the_entries_that_add_into_the_pixel():
    fig = tc.viz.col2im((1, 1, 5, 5), kernel_size=3, stride=1, padding=1, pixel=(1, 1))
    counts_ax, matrix = fig.axes[:2]
    # an interior pixel of a 3×3 'same' conv is in 9 windows; a corner in 4
    counts = np.array(cell_numbers(counts_ax), dtype=float).reshape(5, 5)
    assert counts[1, 1] == 9 and counts[0, 0] == 4 and counts[0, 2] == 6
    assert "sum of 9 column entries" in fig.texts[0].get_text()
    assert len(highlighted(matrix)) == 9
    # each marked entry is in a different column and a different kernel position
    cols = {int(x + 0.5) for x, _, _, _ in highlighted(matrix)}
    rows = {int(y + 0.5) for _, y, _, _ in highlighted(matrix)}
    assert len(cols) == 9 and rows == set(range(9))


def test_pool_switches_show_where_the_gradient_goes():
    x = np.array([[1, 3, 2, 9], [7, 4, 1, 5], [8, 6, 3, 4], [2, 0, 5, 7]], dtype=float)
    fig = tc.viz.pool_switches(x, kernel_size=2)
    inp, out, grad_out, grad_in = fig.axes[:4]
    assert cell_numbers(out) == ["7", "9", "8", "7"]
    assert cell_numbers(grad_out) == ["1", "2", "3", "4"]
    gx = np.array(cell_numbers(grad_in), dtype=float).reshape(4, 4)
    expected = np.zeros((4, 4))
    expected[1, 0], expected[0, 3], expected[2, 0], expected[3, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(gx, expected)
    assert "25% nonzero" in grad_in.get_title()


def test_filters_draw_the_layers_weights_on_one_scale():
    conv = nn.Conv2d(2, 3, 3)
    fig = tc.viz.filters(conv)
    image = fig.axes[0].images[0]
    mosaic = np.ma.filled(image.get_array(), np.nan)
    assert mosaic.shape == (3 * 4 - 1, 2 * 4 - 1)          # 3 rows × 2 tiles of 3×3, 1-pixel gaps
    assert "weight (3, 2, 3, 3)" in fig.texts[0].get_text()
    np.testing.assert_allclose(mosaic[8:11, 4:7], conv.weight.numpy()[2, 1], rtol=1e-6)
    assert np.isnan(mosaic[3]).all()                        # the gap between rows
    scale = np.abs(conv.weight.numpy()).max()
    assert image.get_clim() == pytest.approx((-scale, scale))
    with pytest.raises(ValueError, match="weight of shape"):
        tc.viz.filters(nn.Linear(3, 2))


def test_feature_maps_are_the_hooked_activation_and_leave_no_hook():
    tc.manual_seed(0)
    model = tc.models.LeNet5()
    x = tc.randn(1, 28, 28)
    fig = tc.viz.feature_maps(model, x, layer="conv1")
    maps = [ax.images[0].get_array() for ax in fig.axes[1:] if ax.images]
    assert len(maps) == 6 and "conv1 (Conv2d) output (1, 6, 24, 24)" in fig.texts[0].get_text()
    with tc.no_grad():
        np.testing.assert_allclose(maps[2], model.conv1(x[None]).numpy()[0, 2], rtol=1e-6)
    assert not model.conv1._forward_hooks and model.training
    with pytest.raises(ValueError, match="no module 'conv9'"):
        tc.viz.feature_maps(model, x, layer="conv9")


def test_saliency_is_the_input_gradient_and_leaves_the_parameters_alone():
    tc.manual_seed(0)
    model = tc.models.LeNet5()
    x = tc.randn(1, 1, 28, 28)
    fig = tc.viz.saliency(model, x, target=3)
    shown = fig.axes[1].images[0].get_array()
    xg = x.detach().clone().requires_grad_()
    model(xg)[0, 3].backward()
    np.testing.assert_allclose(shown, np.abs(xg.grad.numpy()[0]).max(axis=0), rtol=1e-5)
    assert "saliency of class 3" in fig.texts[0].get_text()
    before = [p.grad.numpy().copy() for p in model.parameters()]     # from the backward above
    tc.viz.saliency(model, x)
    assert all(np.array_equal(p.grad.numpy(), b) for p, b in zip(model.parameters(), before))
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("argv", [
    ["im2col", "--batch", "2", "--padding", "1"],
    ["col2im", "--size", "5", "5", "--padding", "1", "--pixel", "0", "0"],
    ["switches", "--size", "4", "4"],
    ["filters", "--layer", "conv1"],
    ["features", "--layer", "relu1"],
    ["saliency", "--target", "7"],
])
def test_show_command_writes_each_view(tmp_path, capsys, argv):
    out = tmp_path / f"{argv[0]}.png"
    assert main(["show", *argv, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert ("untrained" in printed) == (argv[0] in ("filters", "features", "saliency"))


def test_show_command_loads_train_checkpoints_and_refuses_bad_input(tmp_path, capsys):
    model = tc.models.LeNet5()
    tc.save({"model": model.state_dict()}, tmp_path / "ck.npz")
    assert main(["show", "filters", "--weights", str(tmp_path / "ck.npz"),
                 "--out", str(tmp_path / "f.svg")]) == 0
    assert "untrained" not in capsys.readouterr().out
    assert main(["show", "filters", "--out", str(tmp_path / "f.xyz")]) == 2
    assert main(["show", "filters", "--layer", "nope", "--out", str(tmp_path / "f.png")]) == 2
    assert "no module 'nope'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "f.svg"]


@pytest.mark.parametrize("call, error, words", [
    (lambda m: tc.viz.col2im((4, 4), 3, pixel=5), TypeError, "pixel must be (h, w)"),
    (lambda m: tc.viz.filters(m.conv1, max_filters=0), ValueError, "max_filters"),
    (lambda m: tc.viz.feature_maps(m, np.zeros((1, 28, 28)), "conv1", max_maps=0), ValueError, "max_maps"),
    (lambda m: tc.viz.saliency(m, np.zeros((1, 28, 28)), target="a"), TypeError, "target must be"),
    (lambda m: tc.viz.pool_switches(np.zeros((2, 2, 4, 4)), 2), ValueError, "one plane"),
    (lambda m: tc.viz.im2col(np.zeros((4, 4)), 3, window=(0,)), TypeError, "window must be"),
    (lambda m: tc.summary(3, (1, 2)), TypeError, "model must be an nn.Module"),
    (lambda m: tc.viz.draw_model("net", (1, 2)), TypeError, "model must be an nn.Module"),
])
def test_bad_arguments_get_errors_that_name_them(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call(tc.models.LeNet5())
