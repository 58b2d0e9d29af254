"""The worked examples of the design documents (../shared/seeds/), reproduced by the framework.

Each test names the seed file and section it reproduces. Expected numbers are the ones the
seeds print; everything else is computed independently (the seeds' own loop code, or the
element-by-element formulas they write out).
"""
import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv as CV


def _t(a, **kw):
    return tc.tensor(np.asarray(a, dtype=np.float64), **kw)


# ------------------------------------------------------------------------------- seed 002
def test_002_two_d_cross_correlation_3x3_by_2x2():
    """002 §3 二维交叉相关: [[0,1,2],[3,4,5],[6,7,8]] ⋆ [[0,1],[2,3]] = [[19,25],[37,43]]."""
    x = _t(np.arange(9).reshape(1, 1, 3, 3))
    k = _t(np.arange(4).reshape(1, 1, 2, 2))
    assert F.conv2d(x, k).data[0, 0].tolist() == [[19, 25], [37, 43]]


def test_002_two_input_channels_sum_to_56():
    """002 多输入通道: (1×1+2×2+4×3+5×4) + (0×0+1×1+3×2+4×3) = 56 at the top-left."""
    x = _t([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])[None]
    k = _t([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])[None]
    y = F.conv2d(x, k)
    assert y.shape == (1, 1, 2, 2) and y.numpy()[0, 0, 0, 0] == 56
    # each output channel is the sum over input channels of the per-channel correlations
    per_channel = sum(F.conv2d(x[:, i:i + 1], k[:, i:i + 1]).data for i in range(2))
    np.testing.assert_array_equal(y.numpy(), per_channel)


def test_002_padding_1_with_stride_3_by_2():
    """002 步幅 例: 高度3 宽度2 的步幅 on the 1-padded 3×3 input: 0×0+0×1+1×2+2×3 = 8 and
    0×0+6×1+0×2+0×3 = 6; shape ⌊(n_h-k_h+p_h+s_h)/s_h⌋ × ⌊(n_w-k_w+p_w+s_w)/s_w⌋ = 2×2."""
    x = _t(np.arange(9).reshape(1, 1, 3, 3))
    k = _t(np.arange(4).reshape(1, 1, 2, 2))
    y = F.conv2d(x, k, padding=1, stride=(3, 2))
    assert y.shape == (1, 1, (3 - 2 + 2 + 3) // 3, (3 - 2 + 2 + 2) // 2) == (1, 1, 2, 2)
    assert y.numpy()[0, 0, 0, 1] == 8 and y.numpy()[0, 0, 1, 0] == 6


def test_002_output_shape_formulas():
    """002 填充/步幅: (n_h - k_h + p_h + 1) with p_h total padding rows, and with p_h = k_h - 1
    and stride s_h: ⌊(n_h + s_h - 1)/s_h⌋ (odd kernel: p_h/2 on each side)."""
    for n, k, s in [(32, 5, 1), (224, 5, 1), (7, 3, 2), (9, 5, 3)]:
        x = tc.zeros(1, 1, n, n)
        w = tc.zeros(1, 1, k, k)
        assert F.conv2d(x, w).shape[-1] == n - k + 1
        assert F.conv2d(x, w, padding=(k - 1) // 2, stride=s).shape[-1] == (n + s - 1) // s


def test_002_one_d_and_three_d_correlation_formulas():
    """002 §6: y_i = Σ_a w_a x_{i+a} (text, series); y_ijk = Σ_abc w_abc x_{i+a,j+b,k+c}
    (video, medical images), checked element by element."""
    rng = np.random.default_rng(0)
    x1, w1 = rng.standard_normal(9), rng.standard_normal(3)
    y1 = F.conv1d(_t(x1[None, None]), _t(w1[None, None])).data[0, 0]
    np.testing.assert_allclose(y1, [sum(w1[a] * x1[i + a] for a in range(3)) for i in range(7)])
    x3, w3 = rng.standard_normal((4, 5, 3)), rng.standard_normal((2, 3, 2))
    y3 = F.conv3d(_t(x3[None, None]), _t(w3[None, None])).data[0, 0]
    expected = np.array([[[sum(w3[a, b, c] * x3[i + a, j + b, k + c]
                                for a in range(2) for b in range(3) for c in range(2))
                           for k in range(2)] for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(y3, expected)


def test_002_one_by_one_conv_is_a_fully_connected_layer_per_pixel():
    """002 §4 1×1 卷积层: input n_h n_w × c_i, weight c_o × c_i."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((6, 3))
    y = F.conv2d(_t(x), _t(w[:, :, None, None])).data
    np.testing.assert_allclose(y, np.einsum("oc,nchw->nohw", w, x))


# ------------------------------------------------------------------------------- seed 003
def test_003_8_1_1_book_example():
    """003 §8.1.1 卷积运算 (figures 8-3..8-6): 0×(-1)+4×0.5+(-1)×0+0×1 = 2, then 5, 3, 3."""
    x = _t([[0, 4, 2], [-1, 0, 8], [3, 2, -1]])[None, None]
    k = _t([[-1, 0.5], [0, 1]])[None, None]
    assert F.conv2d(x, k).data[0, 0].tolist() == [[2, 5], [3, 3]]


def test_003_8_1_5_element_by_element_gradients():
    """003 §8.1.5 卷积层求导: ∂L/∂w_ab = Σ_ij ∂L/∂h_ij X_{i+a-1, j+b-1}, and each ∂L/∂X_ij is
    the sum over the h it feeds, written out exactly as the book does."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 3))
    w = rng.standard_normal((2, 2))
    dh = rng.standard_normal((2, 2))             # ∂L/∂h from the layers above
    x_t, w_t = _t(X[None, None], requires_grad=True), _t(w[None, None], requires_grad=True)
    F.conv2d(x_t, w_t).backward(dh[None, None])
    (X11, X12, X13), (X21, X22, X23), (X31, X32, X33) = X
    (w11, w12), (w21, w22) = w
    (h11, h12), (h21, h22) = dh
    dw = [[h11 * X11 + h12 * X12 + h21 * X21 + h22 * X22, h11 * X12 + h12 * X13 + h21 * X22 + h22 * X23],
          [h11 * X21 + h12 * X22 + h21 * X31 + h22 * X32, h11 * X22 + h12 * X23 + h21 * X32 + h22 * X33]]
    dX = [[h11 * w11, h11 * w12 + h12 * w11, h12 * w12],
          [h11 * w21 + h21 * w11, h11 * w22 + h12 * w21 + h21 * w12 + h22 * w11, h12 * w22 + h22 * w12],
          [h21 * w21, h21 * w22 + h22 * w21, h22 * w22]]
    np.testing.assert_allclose(w_t.grad.numpy()[0, 0], dw, rtol=1e-14)
    np.testing.assert_allclose(x_t.grad.numpy()[0, 0], dX, rtol=1e-14)


# figure 8-17: two 4×4 images (zero-padded to 6×6), figure 8-18/8-19: two 3×3 kernels as a 9×2 matrix
IMAGE_1 = [[1, -1, 1, 0], [-1, 0, 1, 0], [0, 0, 1, -1], [-1, 1, 1, 1]]
IMAGE_2 = [[0, 1, -1, 2], [-1, 2, 1, 0.1], [0, 0.1, 1, -1], [3, 1, 1, 1]]
KERNELS_9x2 = [[1, 0], [0.5, 5], [0, 1], [1, 0], [-1, 0], [1, 0], [0, 0], [0.5, 1], [-1, 1]]
LAYER_32x9 = [  # figure 8-17, right: one row per 3×3 window, image 1 then image 2
    [0, 0, 0, 0, 1, -1, 0, -1, 0],
    [0, 0, 0, 1, -1, 1, -1, 0, 1],
    [0, 0, 0, -1, 1, 0, 0, 1, 0],
    [0, 0, 0, 1, 0, 0, 1, 0, 0],
    [0, 1, -1, 0, -1, 0, 0, 0, 0],
    [1, -1, 1, -1, 0, 1, 0, 0, 1],
    [-1, 1, 0, 0, 1, 0, 0, 1, -1],
    [1, 0, 0, 1, 0, 0, 1, -1, 0],
    [0, -1, 0, 0, 0, 0, 0, -1, 1],
    [-1, 0, 1, 0, 0, 1, -1, 1, 1],
    [0, 1, 0, 0, 1, -1, 1, 1, 1],
    [1, 0, 0, 1, -1, 0, 1, 1, 0],
    [0, 0, 0, 0, -1, 1, 0, 0, 0],
    [0, 0, 1, -1, 1, 1, 0, 0, 0],
    [0, 1, -1, 1, 1, 1, 0, 0, 0],
    [1, -1, 0, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 1, 0, -1, 2],
    [0, 0, 0, 0, 1, -1, -1, 2, 1],
    [0, 0, 0, 1, -1, 2, 2, 1, 0.1],
    [0, 0, 0, -1, 2, 0, 1, 0.1, 0],
    [0, 0, 1, 0, -1, 2, 0, 0, 0.1],
    [0, 1, -1, -1, 2, 1, 0, 0.1, 1],
    [1, -1, 2, 2, 1, 0.1, 0.1, 1, -1],
    [-1, 2, 0, 1, 0.1, 0, 1, -1, 0],
    [0, -1, 2, 0, 0, 0.1, 0, 3, 1],
    [-1, 2, 1, 0, 0.1, 1, 3, 1, 1],
    [2, 1, 0.1, 0.1, 1, -1, 1, 1, 1],
    [1, 0.1, 0, 1, -1, 0, 1, 1, 0],
    [0, 0, 0.1, 0, 3, 1, 0, 0, 0],
    [0, 0.1, 1, 3, 1, 1, 0, 0, 0],
    [0.1, 1, -1, 1, 1, 1, 0, 0, 0],
    [1, -1, 0, 1, 1, 0, 0, 0, 0],
]
RESULT_32x2 = [[-2.5, -1], [2, 1], [-1.5, 1], [1, 0], [1.5, 4], [-0.5, -3], [0, 5], [1.5, -1],
               [-2, -5], [-0.5, 3], [-2, 7], [3.5, 1], [2, 0], [-1, 1], [1.5, 4], [0.5, -0.5],
               [-1.5, 1], [-2, 3], [4.4, 1.1], [-2.95, 0.1], [2.9, 1.1], [-2.45, 5.1], [3.1, -3],
               [0.4, 9], [0.1, 1], [0.4, 13], [0.1, 7.1], [3.55, 1.5], [-2, 0.1], [3.05, 1.5],
               [1.6, 4], [0.5, -0.5]]


def _figure_8_19():
    images = _t([[IMAGE_1], [IMAGE_2]])                          # (2, 1, 4, 4)
    weight = _t(np.array(KERNELS_9x2).T.reshape(2, 1, 3, 3))     # column j = kernel j, row-major
    return images, weight


def test_003_figure_8_17_im2col_of_two_padded_images():
    """003 §8.1.6 conv_reshape (figure 8-17): 2 images → a 32 × 9 matrix, one row per window."""
    images, _ = _figure_8_19()
    cols = F.unfold(images, 3, padding=1)                        # (2, 9, 16)
    layer = cols.permute(0, 2, 1).reshape(32, 9)                 # the seed's row-per-window layout
    np.testing.assert_array_equal(layer.numpy(), LAYER_32x9)
    # and the seed's own loop code gives the same matrix
    padded = np.pad(images.numpy()[:, 0], ((0, 0), (1, 1), (1, 1)))
    sections = [padded[:, r:r + 3, c:c + 3].reshape(-1, 1, 3, 3) for r in range(4) for c in range(4)]
    expanded = np.concatenate(sections, axis=1)
    np.testing.assert_array_equal(layer.numpy(), expanded.reshape(32, -1))


def test_003_figure_8_19_layer_times_kernels_is_32x2():
    """003 figure 8-19: layer (32×9) × kernels (9×2) = the 32×2 matrix printed in the book;
    column j, rows 16n..16n+15, is image n convolved with kernel j."""
    images, weight = _figure_8_19()
    y = F.conv2d(images, weight, padding=1)                      # (2, 2, 4, 4)
    as_matrix = y.permute(0, 2, 3, 1).reshape(32, 2).data
    printed = np.array(RESULT_32x2)
    # Rows 15 and 31 of column 2 are printed as -0.5, but the book's own factors give -5: both
    # rows of the printed layer are [1, -1, 0, 1, 1, 0, 0, 0, 0] and kernel 2 is
    # [0, 5, 1, 0, 0, 0, 0, 1, 1], so the product is -1 × 5 = -5 (a typo in the figure).
    last_row, kernel_2 = np.array([1, -1, 0, 1, 1, 0, 0, 0, 0]), np.array(KERNELS_9x2)[:, 1]
    assert last_row @ kernel_2 == -5 and printed[15, 1] == printed[31, 1] == -0.5
    printed[15, 1] = printed[31, 1] = -5
    np.testing.assert_allclose(as_matrix, printed, atol=1e-12)


def test_003_8_2_1_max_pooling_and_8_2_2_its_gradient():
    """003 §8.2.1: pooling image 2's map under kernel 1 (the figure 8-19 column) gives
    max(...) = 2.9, 4.4, 3.05, 3.55. §8.2.2 / figure 8-27: the gradient flows only to the
    maxima, ∂L/∂a = ∂L/∂m where m = a, so 25% of the 4×4 positions are non-zero."""
    images, weight = _figure_8_19()
    fmap = F.conv2d(images, weight, padding=1)[1:2, 0:1].detach().requires_grad_()   # (1, 1, 4, 4)
    pooled = F.max_pool2d(fmap, 2, stride=2)
    np.testing.assert_allclose(pooled.numpy()[0, 0], [[2.9, 4.4], [3.05, 3.55]])
    dm = _t([[[[0.1, -0.2], [0.3, 0.4]]]])
    pooled.backward(dm)
    grad = fmap.grad.numpy()[0, 0]
    assert np.count_nonzero(grad) == 4 == grad.size // 4
    for (i, j), g in zip([(0, 0), (0, 1), (1, 0), (1, 1)], dm.numpy().ravel()):
        window = fmap.numpy()[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        wgrad = grad[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        assert wgrad[np.unravel_index(np.argmax(window), (2, 2))] == g
        assert np.count_nonzero(wgrad) == 1


# ---------------------------------------------------------------------------- seed 000
def test_000_batched_im2col_matrix_is_12288_by_144():
    """000 批处理数据的卷积层矩阵乘法: batch 8 of 32×48×16 maps, 3×3 kernel, stride 1, padding 1
    → matric_data of shape (12288, 144); the seed's loop code (NHWC, rows (kh, kw, c)) gives the
    same numbers as F.unfold with its (c, kh, kw) rows."""
    rng = np.random.default_rng(0)
    batch, in_height, in_width, in_depth, filter_size, stride, padding = 8, 32, 48, 16, 3, 1, 1
    in_data = rng.standard_normal((batch, in_height, in_width, in_depth))
    cols = F.unfold(_t(in_data.transpose(0, 3, 1, 2)), filter_size, padding=padding)
    assert cols.shape == (8, 144, 32 * 48)
    ours = cols.numpy().reshape(8, 16, 3, 3, -1).transpose(0, 4, 2, 3, 1).reshape(12288, 144)
    # the seed's code, verbatim up to names
    out_height = (in_height - filter_size + 2 * padding) // stride + 1
    out_width = (in_width - filter_size + 2 * padding) // stride + 1
    out_size = out_height * out_width
    matric_data = np.zeros((out_size * batch, filter_size * filter_size * in_depth))
    padding_data = np.zeros((batch, in_height + 2 * padding, in_width + 2 * padding, in_depth))
    padding_data[:, padding:-padding, padding:-padding, :] = in_data
    height_ef = padding_data.shape[1] - filter_size + 1
    width_ef = padding_data.shape[2]
    for i_batch in range(batch):
        i_batch_size = i_batch * out_size
        for i_h, i_height in zip(range(out_height), range(0, height_ef, stride)):
            i_height_size = i_batch_size + i_h * out_width
            for i_w, i_width in zip(range(out_width), range(0, width_ef, stride)):
                matric_data[i_height_size + i_w, :] = padding_data[
                    i_batch, i_height:i_height + filter_size, i_width:i_width + filter_size, :].ravel()
    assert matric_data.shape == (12288, 144)
    np.testing.assert_array_equal(ours, matric_data)


def test_000_pooling_56x56x96_by_2x2_stride_2():
    """000 池化层代码实现: 56×56×96 input, 2×2 windows, stride 2 → 28×28, 784×96 = 75264 windows."""
    y = F.max_pool2d(tc.randn(1, 96, 56, 56), 2, stride=2)
    assert y.shape == (1, 96, 28, 28) and y.numel() == 75264


def test_000_001_fully_connected_equals_convolution_with_a_map_sized_kernel():
    """000 全连接层转化为卷积层 / 001 §2.4.2: an FC layer on a 7×7×C map is a conv with F=7, P=0,
    S=1 (output 1×1×K); on a 12×12 map the same conv gives 6×6 outputs ((12-7)//1 + 1 = 6),
    each the FC layer applied to one 7×7 window. (C=8, K=10 here instead of 512, 1000.)"""
    rng = np.random.default_rng(5)
    c, k = 8, 10
    fc_w, fc_b = rng.standard_normal((k, 7 * 7 * c)), rng.standard_normal(k)
    conv_w = _t(fc_w.reshape(k, c, 7, 7))
    small = rng.standard_normal((2, c, 7, 7))
    fc = F.linear(_t(small.reshape(2, -1)), _t(fc_w), _t(fc_b))
    conv = F.conv2d(_t(small), conv_w, _t(fc_b))
    assert conv.shape == (2, k, 1, 1)
    np.testing.assert_allclose(conv.numpy()[:, :, 0, 0], fc.numpy(), rtol=1e-12)
    big = rng.standard_normal((1, c, 12, 12))
    y = F.conv2d(_t(big), conv_w, _t(fc_b))
    assert y.shape == (1, k, 6, 6)
    for i, j in [(0, 0), (2, 3), (5, 5)]:
        window = big[:, :, i:i + 7, j:j + 7].reshape(1, -1)
        np.testing.assert_allclose(y.numpy()[0, :, i, j], (window @ fc_w.T + fc_b)[0], rtol=1e-12)


# ---------------------------------------------------------------------------- seed 001
def test_001_alexnet_conv1_im2col_363_by_3025_and_34944_parameters():
    """001 §2.1.7 用矩阵乘法计算卷积: 227×227×3 input, 96 filters of 11×11×3, stride 4 →
    X_col 363 × 3025 (55×55 windows), W_row 96 × 363, np.dot(W_row, X_col) is 96 × 3025;
    §2.1.4: 96×11×11×3 = 34848 weights + 96 biases = 34944 parameters."""
    x = tc.randn(1, 3, 227, 227)
    w = tc.randn(96, 3, 11, 11) * 0.01
    b = tc.randn(96)
    x_col = F.unfold(x, 11, stride=4)
    assert x_col.shape == (1, 363, 3025)
    w_row = w.reshape(96, 363)
    y = F.conv2d(x, w, b, stride=4)
    assert y.shape == (1, 96, 55, 55)
    np.testing.assert_allclose((w_row @ x_col[0]).data + b.numpy()[:, None], y.numpy().reshape(96, 3025),
                               rtol=1e-4, atol=1e-5)
    assert w.numel() == 34848 and w.numel() + b.numel() == 34944


# ---------------------------------------------------------------------------- seed 004
def test_004_rotated_kernel_backward_single_channel():
    """004 卷积层(反向传播): delta_backward = the padded delta correlated with k_180 =
    k[::-1, ::-1]. For the 3×3/2×2 case of 003 §8.1.5 it is the full correlation of ∂L/∂h
    (padded by KH-1 = 1) with the rotated kernel."""
    rng = np.random.default_rng(8)
    X, w, dh = rng.standard_normal((3, 3)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    x_t = _t(X[None, None], requires_grad=True)
    F.conv2d(x_t, _t(w[None, None])).backward(dh[None, None])
    pad_delta = np.pad(dh, 1)
    k_180 = w[::-1, ::-1]
    by_rotation = F.conv2d(_t(pad_delta[None, None]), _t(k_180[None, None].copy())).data[0, 0]
    np.testing.assert_allclose(x_t.grad.numpy()[0, 0], by_rotation, rtol=1e-14)


def test_004_rotated_kernel_backward_multichannel_strided():
    """The same identity with channels, stride, padding and dilation: the stride-dilated
    grad_output correlated with the rotated, channel-transposed kernel (see ops/conv.py)."""
    x = tc.randn(2, 3, 9, 8, dtype=tc.float64, requires_grad=True)
    w = tc.randn(4, 3, 3, 3, dtype=tc.float64)
    y = F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2))
    g = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(
        x.grad.numpy(), CV.grad_input_by_rotated_kernel(g, w.numpy(), x.shape, (2, 2), ((1, 1), (1, 1)), (1, 2)),
        rtol=1e-12, atol=1e-12)


def test_004_max_pool_switches_like_the_seed_code():
    """004 Pool: forward records feature_mask (the argmax of each 2×2 window), backward is
    np.repeat(np.repeat(delta, 2, axis=1), 2, axis=2) * feature_mask (NHWC, the seed's code)."""
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 6 * 6 * 3).reshape(2, 6, 6, 3).astype(np.float64)   # no ties
    b, w, h, c = x.shape
    feature_w = w // 2
    feature = np.zeros((b, feature_w, feature_w, c))
    feature_mask = np.zeros((b, w, h, c))
    for bi in range(b):
        for ci in range(c):
            for i in range(feature_w):
                for j in range(feature_w):
                    feature[bi, i, j, ci] = np.max(x[bi, i * 2:i * 2 + 2, j * 2:j * 2 + 2, ci])
                    index = np.argmax(x[bi, i * 2:i * 2 + 2, j * 2:j * 2 + 2, ci])
                    feature_mask[bi, i * 2 + index // 2, j * 2 + index % 2, ci] = 1
    delta = rng.standard_normal(feature.shape)
    seed_grad = np.repeat(np.repeat(delta, 2, axis=1), 2, axis=2) * feature_mask
    x_t = _t(x.transpose(0, 3, 1, 2), requires_grad=True)
    y = F.max_pool2d(x_t, 2)
    np.testing.assert_array_equal(y.numpy(), feature.transpose(0, 3, 1, 2))
    y.backward(delta.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(x_t.grad.numpy(), seed_grad.transpose(0, 3, 1, 2))


def test_004_linear_backward_like_the_seed_code():
    """004 Linear.backward: W_gradient = x.T @ delta, b_gradient = Σ delta,
    delta_backward = delta @ W.T (the seed stores W as (in, out); we store it as PyTorch)."""
    rng = np.random.default_rng(6)
    x, W, b, delta = (rng.standard_normal(s) for s in ((32, 256), (256, 10), (10,), (32, 10)))
    xt, wt, bt = _t(x, requires_grad=True), _t(W.T, requires_grad=True), _t(b, requires_grad=True)
    y = F.linear(xt, wt, bt)
    np.testing.assert_allclose(y.numpy(), np.dot(x, W) + b, rtol=1e-12)
    y.backward(delta)
    np.testing.assert_allclose(wt.grad.numpy().T, np.dot(x.transpose(), delta), rtol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), np.sum(delta, axis=0), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), np.dot(delta, W.transpose()), rtol=1e-12)


def test_004_softmax_minus_one_hot():
    """004 Softmax.cal_loss: loss = -Σ log(softmax)·label / batch, delta = softmax - label;
    F.cross_entropy's gradient is that delta / batch (the seed divides in the update)."""
    rng = np.random.default_rng(9)
    predict = rng.standard_normal((32, 10)) * 3
    labels = rng.integers(0, 10, 32)
    label = np.eye(10)[labels]
    batchsize = 32
    softmax = np.zeros(predict.shape)
    for i in range(batchsize):
        predict_tmp = np.exp(predict[i] - np.max(predict[i]))
        softmax[i] = predict_tmp / np.sum(predict_tmp)
    delta = softmax - label
    loss = -np.sum(np.log(softmax) * label) / batchsize
    x = _t(predict, requires_grad=True)
    out = F.cross_entropy(x, tc.tensor(labels))
    out.backward()
    np.testing.assert_allclose(out.item(), loss, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy() * batchsize, delta, rtol=1e-12, atol=1e-15)


def test_004_lenet_shapes_and_parameter_counts():
    """004 LeNet (MNIST): 28×28 → conv 6@5×5 → 24×24 → pool → 12×12 → conv 16@5×5 → 8×8 →
    pool → 4×4, 16·4·4 = 256 → Linear(256, 10). 作业讲解 (LeNet-5, 32×32 input): C1 has
    6×25+6 = 156 parameters, C5 120×(16×25+1) = 48120, F6 84×(120+1) = 10164."""
    x = tc.randn(4, 1, 28, 28)
    h = F.max_pool2d(F.relu(F.conv2d(x, tc.randn(6, 1, 5, 5))), 2)
    assert h.shape == (4, 6, 12, 12)
    h = F.max_pool2d(F.relu(F.conv2d(h, tc.randn(16, 6, 5, 5))), 2)
    assert h.shape == (4, 16, 4, 4)
    assert F.linear(h.reshape(4, -1), tc.randn(10, 256)).shape == (4, 10)
    # LeNet-5 on 32×32: C1 → 28×28, S2 → 14×14, C3 → 10×10, S4 → 5×5, C5 → 1×1 (F = map size)
    c1, c5, f6 = (6, 1, 5, 5), (120, 16, 5, 5), (84, 120)
    y = F.conv2d(tc.randn(1, 1, 32, 32), tc.randn(*c1))
    assert y.shape[-1] == 28
    assert F.conv2d(tc.randn(1, 16, 5, 5), tc.randn(*c5)).shape == (1, 120, 1, 1)
    assert int(np.prod(c1)) + c1[0] == 156
    assert int(np.prod(c5)) + c5[0] == 48120
    assert int(np.prod(f6)) + f6[0] == 10164
