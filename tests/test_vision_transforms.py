"""tinygrad_cnn.vision.transforms against the behaviour torchvision documents, reproduced here:
its PIL path is Pillow itself (so NumPy/Tensor results are compared with Pillow's), its tensor
path is torch's F.interpolate / F.pad (compared in float64)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.vision import transforms as T
from tinygrad_cnn.vision.transforms import functional as VF

RNG = np.random.default_rng(5)


@pytest.fixture
def Image():
    return pytest.importorskip("PIL.Image")


def gray(h=28, w=28):
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def rgb(h=20, w=30):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ ToTensor
def test_to_tensor_is_hwc_uint8_to_chw_float_in_unit_range(Image):
    img = rgb()
    t = T.ToTensor()(img)
    assert t.shape == (3, 20, 30) and t.dtype == tc.float32
    np.testing.assert_array_equal(t.numpy(), img.transpose(2, 0, 1).astype(np.float32) / 255)
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(img)).numpy(), t.numpy())
    g = gray()
    assert T.ToTensor()(g).shape == (1, 28, 28)
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(g)).numpy(), T.ToTensor()(g).numpy())


def test_to_tensor_keeps_non_uint8_values_and_refuses_tensors():
    f = RNG.standard_normal((4, 5, 2))
    t = T.ToTensor()(f)
    assert t.dtype == tc.float64 and t.shape == (2, 4, 5)
    np.testing.assert_array_equal(t.numpy(), f.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be a PIL Image or a numpy array.*Tensor"):
        T.ToTensor()(tc.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_pil_round_trip(Image):
    img = rgb()
    back = T.ToPILImage()(T.ToTensor()(img))
    assert back.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), img)
    np.testing.assert_array_equal(T.PILToTensor()(Image.fromarray(img)).numpy(), img.transpose(2, 0, 1))


# ----------------------------------------------------------------------------- Normalize
def test_normalize_per_channel_and_differentiable():
    x = tc.tensor(RNG.random((3, 4, 5)), requires_grad=True)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.Normalize(mean, std)(x)
    expected = (x.numpy() - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(1 / np.array(std)[:, None, None], x.shape))
    batch = tc.tensor(RNG.random((2, 1, 3, 3)).astype(np.float32))
    assert T.Normalize((0.5,), (0.5,))(batch).dtype == tc.float32


@pytest.mark.parametrize("arg,exc,match", [
    (np.zeros((3, 4, 4), np.float32), TypeError, "Tensor image.*ToTensor first"),
    (tc.zeros(3, 4, 4, dtype=tc.int64), TypeError, "float tensor"),
    (tc.zeros(4, 4), ValueError, r"\(\.\.\., C, H, W\)"),
])
def test_normalize_errors(arg, exc, match):
    with pytest.raises(exc, match=match):
        T.Normalize((0.5,), (0.5,))(arg)


def test_normalize_refuses_zero_std_and_wrong_channel_count():
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(tc.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="mean has 2 values for a tensor with 3 channels"):
        T.Normalize((0.5, 0.5), (1.0,))(tc.zeros(3, 2, 2))


# -------------------------------------------------------------------------------- Resize
@pytest.mark.parametrize("size", [(14, 14), (11, 9), (40, 33), (28, 17)])
def test_resize_bilinear_of_numpy_images_is_pils_within_one_level(Image, size):
    for img in (gray(), rgb(28, 28)):
        ours = T.Resize(size)(img)
        theirs = np.asarray(T.Resize(size)(Image.fromarray(img)))
        assert ours.shape == theirs.shape and ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


@pytest.mark.parametrize("size", [(14, 14), (11, 9), (40, 33), (7, 50)])
def test_resize_tensor_is_torch_interpolate(torch, size):
    x = RNG.random((2, 3, 28, 28))
    ours = T.Resize(size)(tc.tensor(x)).numpy()
    theirs = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode="bilinear",
                                             antialias=True, align_corners=False).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    no_aa = T.Resize(size, antialias=False)(tc.tensor(x)).numpy()
    np.testing.assert_allclose(no_aa, torch.nn.functional.interpolate(
        torch.tensor(x), size=size, mode="bilinear", align_corners=False).numpy(), atol=1e-12)
    for mode, torch_mode in [(T.InterpolationMode.NEAREST, "nearest"),
                             (T.InterpolationMode.NEAREST_EXACT, "nearest-exact")]:
        np.testing.assert_array_equal(T.Resize(size, mode)(tc.tensor(x)).numpy(),
                                      torch.nn.functional.interpolate(torch.tensor(x), size=size,
                                                                      mode=torch_mode).numpy())


def test_resize_int_matches_the_smaller_edge(Image):
    img = rgb(20, 30)
    assert T.Resize(10)(img).shape == (10, 15, 3)
    assert T.Resize(10)(Image.fromarray(img)).size == (15, 10)
    assert T.Resize(10)(tc.zeros(3, 30, 20)).shape == (3, 15, 10)
    assert T.Resize(10, max_size=12)(img).shape == (8, 12, 3)
    with pytest.raises(ValueError, match="max_size=10 must be strictly greater"):
        T.Resize(10, max_size=10)(img)
    with pytest.raises(ValueError, match="size must be an int or a \\(height, width\\) pair"):
        T.Resize((1, 2, 3))


# ------------------------------------------------------------------------ crops and pads
def test_crop_and_center_crop_equal_pils(Image):
    img = rgb(20, 30)
    pil = Image.fromarray(img)
    for args in [(2, 3, 10, 12), (-2, 25, 8, 9), (15, -4, 10, 10)]:        # out of bounds: zeros
        np.testing.assert_array_equal(VF.crop(img, *args), np.asarray(VF.crop(pil, *args)))
    for size in [10, (7, 13), (24, 34), (25, 31)]:
        ours = T.CenterCrop(size)(img)
        np.testing.assert_array_equal(ours, np.asarray(T.CenterCrop(size)(pil)))
        np.testing.assert_array_equal(T.CenterCrop(size)(tc.tensor(img.transpose(2, 0, 1))).numpy(),
                                      ours.transpose(2, 0, 1))


@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                             ("reflect", "reflect")])
def test_pad_tensor_is_torch_pad(torch, mode, torch_mode):
    x = RNG.random((3, 6, 7))
    ours = T.Pad((1, 2, 3, 4), padding_mode=mode)(tc.tensor(x)).numpy()
    theirs = torch.nn.functional.pad(torch.tensor(x)[None], (1, 3, 2, 4), mode=torch_mode)[0].numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_pad_modes_and_fills_on_numpy_and_pil(Image):
    img = rgb(5, 6)
    out = T.Pad((1, 2), fill=(10, 20, 30))(img)                # (left/right, top/bottom)
    assert out.shape == (9, 8, 3)
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(out[2:7, 1:7], img)
    np.testing.assert_array_equal(np.asarray(T.Pad((1, 2), fill=(10, 20, 30))(Image.fromarray(img))), out)
    sym = T.Pad(2, padding_mode="symmetric")(img)
    np.testing.assert_array_equal(sym, np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="symmetric"))
    np.testing.assert_array_equal(T.Pad(-1)(img), img[1:-1, 1:-1])
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding must be an int or a sequence"):
        T.Pad((1, 2, 3))


def test_random_crop_covers_every_position_and_follows_the_seed(Image):
    img = gray(6, 6)
    crop = T.RandomCrop(4, padding=1)                          # 8x8 padded: 5x5 positions
    seen = set()
    for _ in range(400):
        out = crop(img)
        assert out.shape == (4, 4)
        seen.add(out.tobytes())
    assert len(seen) == 25
    tc.manual_seed(7)
    a = [crop(img) for _ in range(5)]
    tc.manual_seed(7)
    b = [np.asarray(crop(Image.fromarray(img))) for _ in range(5)]
    tc.manual_seed(7)
    c = [crop(tc.tensor(img[None])).numpy()[0] for _ in range(5)]
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


def test_random_crop_pad_if_needed_and_too_small():
    assert T.RandomCrop(8, pad_if_needed=True)(gray(5, 6)).shape == (8, 8)
    with pytest.raises(ValueError, match=r"crop size \(8, 8\) is larger than the input image size \(5, 6\)"):
        T.RandomCrop(8)(gray(5, 6))


def test_random_crop_of_a_batch_uses_one_window():
    x = tc.tensor(RNG.random((4, 2, 10, 10)))
    out = T.RandomCrop(6)(x).numpy()
    assert out.shape == (4, 2, 6, 6)
    i, j = [(i, j) for i in range(5) for j in range(5)
            if np.array_equal(x.numpy()[..., i:i + 6, j:j + 6], out)][0]
    assert out[0, 0, 0, 0] == x.numpy()[0, 0, i, j]


# ----------------------------------------------------------------------------- flips
def test_horizontal_flip_probability_and_kinds(Image):
    img = rgb(4, 5)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(Image.fromarray(img))), img[:, ::-1])
    t = tc.tensor(img.transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(t).numpy(), img[:, ::-1].transpose(2, 0, 1))
    assert T.RandomHorizontalFlip(0.0)(img) is img
    flips = sum(not np.array_equal(T.RandomHorizontalFlip()(img), img) for _ in range(1000))
    assert 430 < flips < 570
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(img), img[::-1])


# ---------------------------------------------------------------------------- rotation
def test_rotation_by_90_degrees_is_counter_clockwise_and_equals_pils(Image):
    img = rgb(8, 8)
    np.testing.assert_array_equal(VF.rotate(img, 90), np.rot90(img))
    np.testing.assert_array_equal(np.asarray(VF.rotate(Image.fromarray(img), 90)), np.rot90(img))
    t = tc.tensor(img.transpose(2, 0, 1).astype(np.float64))
    np.testing.assert_array_equal(VF.rotate(t, -90).numpy(), np.rot90(img, -1).transpose(2, 0, 1))


@pytest.mark.parametrize("angle", [30.0, -12.5, 45.0, 135.0])
def test_rotation_nearest_and_bilinear_agree_with_pil(Image, angle):
    img = gray(32, 32)
    ours = VF.rotate(img, angle)
    theirs = np.asarray(VF.rotate(Image.fromarray(img), angle))
    # PIL's nearest affine runs in fixed point: only where a source coordinate is exactly an
    # integer (a tie for floor()) may the two pick different pixels
    y, x = np.mgrid[0:32, 0:32] + 0.5 - 16
    a = np.radians(angle)
    sx, sy = 16 + x * np.cos(a) - y * np.sin(a), 16 + x * np.sin(a) + y * np.cos(a)
    tie = (np.abs(sx - np.round(sx)) < 1e-9) | (np.abs(sy - np.round(sy)) < 1e-9)
    assert not (ours != theirs)[~tie].any()
    assert (ours == theirs).mean() > 0.97
    bil = VF.rotate(img, angle, T.InterpolationMode.BILINEAR)
    pil_bil = np.asarray(VF.rotate(Image.fromarray(img), angle, T.InterpolationMode.BILINEAR))
    inner = (slice(6, -6), slice(6, -6))                    # away from the fill border
    assert np.abs(bil[inner].astype(int) - pil_bil[inner].astype(int)).max() <= 1


@pytest.mark.parametrize("angle", [30.0, 90.0, 45.0])
def test_rotation_expand_size_equals_pils(Image, angle):
    img = rgb(20, 30)
    ours = VF.rotate(img, angle, expand=True)
    theirs = np.asarray(VF.rotate(Image.fromarray(img), angle, expand=True))
    assert ours.shape == theirs.shape


def test_random_rotation_draws_in_range_from_the_seed():
    rot = T.RandomRotation(10)
    tc.manual_seed(3)
    angles = [rot.get_params(rot.degrees) for _ in range(200)]
    assert -10 <= min(angles) < -8 and 8 < max(angles) <= 10
    tc.manual_seed(3)
    assert angles[:5] == [rot.get_params(rot.degrees) for _ in range(5)]
    with pytest.raises(ValueError, match="must be non-negative"):
        T.RandomRotation(-3)


def test_rotation_fill_and_unsupported_interpolation():
    img = np.full((10, 10), 200, np.uint8)
    out = VF.rotate(img, 45, fill=7)
    assert out[0, 0] == 7 and out[5, 5] == 200
    with pytest.raises(ValueError, match="BICUBIC is implemented for PIL Images only"):
        VF.rotate(img, 10, T.InterpolationMode.BICUBIC)


# ------------------------------------------------------------------------ Compose, Lambda
def test_compose_lambda_and_reprs():
    t = T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 2)])
    assert t(3) == 8
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)")
    with pytest.raises(TypeError, match="lambd should be callable, got 'int'"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="transform 1 .* is not callable"):
        T.Compose([T.ToTensor(), "x"])


def test_bad_image_types_name_what_was_given():
    with pytest.raises(TypeError, match="img should be a PIL Image, a numpy array .* got list"):
        T.RandomHorizontalFlip(1.0)([[1, 2]])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\), got shape \(1, 2, 3, 4\)"):
        VF.hflip(np.zeros((1, 2, 3, 4)))


def test_mnist_style_pipeline_on_every_kind(Image):
    pipeline = T.Compose([T.RandomCrop(28, padding=2), T.RandomRotation(10),
                          T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    for img in (gray(), Image.fromarray(gray())):
        out = pipeline(img)
        assert out.shape == (1, 28, 28) and out.dtype == tc.float32


# ------------------------------------------------------------ RandomResizedCrop, Grayscale
def test_random_resized_crop_windows_follow_scale_and_ratio(Image):
    img = rgb(40, 60)
    t = T.RandomResizedCrop(24, scale=(0.2, 0.6), ratio=(0.5, 2.0))
    for _ in range(200):
        top, left, h, w = t.get_params(img, t.scale, t.ratio)
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 60
        assert 0.2 * 2400 * 0.8 <= h * w <= 0.6 * 2400 * 1.25     # rounding of h and w
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.25
    tc.manual_seed(4)
    ours = t(img)
    tc.manual_seed(4)
    theirs = np.asarray(t(Image.fromarray(img)))               # same window, PIL's resize
    assert ours.shape == theirs.shape == (24, 24, 3)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_random_resized_crop_falls_back_to_a_centre_crop():
    img = gray(10, 100)                                        # ratio 10: outside (3/4, 4/3)
    t = T.RandomResizedCrop(8, scale=(0.99, 1.0))
    assert t.get_params(img, t.scale, t.ratio) == (0, 43, 10, 13)   # h = 10, w = round(10 * 4/3)
    with pytest.raises(ValueError, match="scale should be a \\(min, max\\) pair"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))


def test_grayscale_is_itu_601_luma_like_pil(Image):
    img = rgb(12, 16)
    ours = T.Grayscale()(img)
    assert ours.shape == (12, 16)
    assert np.abs(ours.astype(int) - np.asarray(T.Grayscale()(Image.fromarray(img))).astype(int)).max() <= 1
    t = tc.tensor(img.transpose(2, 0, 1).astype(np.float64) / 255)
    expected = (0.2989 * t.numpy()[0] + 0.587 * t.numpy()[1] + 0.114 * t.numpy()[2])
    three = T.Grayscale(3)(t).numpy()
    assert three.shape == (3, 12, 16)
    np.testing.assert_allclose(three, np.broadcast_to(expected, (3, 12, 16)), rtol=1e-15)
    with pytest.raises(ValueError, match="num_output_channels should be 1 or 3"):
        T.Grayscale(2)(img)
