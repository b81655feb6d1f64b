"""Unit tests for course_utils.corruptions (seeded, pure NumPy corruptions and the tf.data helper)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import corruptions as C


def images(shape=(6, 28, 28), seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


CORRUPTIONS = {
    "noise": lambda x, seed: C.add_gaussian_noise(x, 0.3, seed=seed),
    "mask": lambda x, seed: C.mask_pixels(x, 0.4, seed=seed),
    "occlude": lambda x, seed: C.occlude(x, 8, seed=seed),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@pytest.mark.parametrize("shape", [(6, 28, 28), (6, 28, 28, 1), (3, 8, 12, 3)])
def test_seeded_unchanged_input_shape_dtype_range(name, shape):
    fn = CORRUPTIONS[name]
    x = images(shape)
    x_copy = x.copy()
    a, b, c = fn(x, 1), fn(x, 1), fn(x, 2)
    np.testing.assert_array_equal(x, x_copy)  # input untouched
    np.testing.assert_array_equal(a, b)  # same seed, same output
    assert not np.array_equal(a, c)  # different seed, different output
    assert not np.array_equal(a, x)  # it actually corrupts
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_downscale_upscale_shape_dtype_range_and_input(method):
    x = images((4, 28, 28))
    x_copy = x.copy()
    y = C.downscale_upscale(x, 4, method=method)
    np.testing.assert_array_equal(x, x_copy)
    assert y.shape == x.shape and y.dtype == np.float32
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert not np.allclose(y, x)


def test_float64_input_gives_float32():
    x = images(dtype=np.float64)
    for fn in CORRUPTIONS.values():
        assert fn(x, 0).dtype == np.float32
    assert C.downscale_upscale(x, 2, method="nearest").dtype == np.float32


def test_mask_pixels_zero_fraction():
    x = np.ones((20, 28, 28), np.float32)
    for q in (0.0, 0.25, 0.5, 0.9, 1.0):
        out = C.mask_pixels(x, q, seed=3)
        frac = np.mean(out == 0.0)
        assert abs(frac - q) < 0.01, (q, frac)
        assert set(np.unique(out)) <= {0.0, 1.0}  # kept pixels stay exactly as they were


def test_mask_pixels_keeps_unmasked_values():
    x = images()
    out = C.mask_pixels(x, 0.3, seed=0)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept])


def test_mask_pixels_return_mask_marks_removed_pixels():
    x = images()[..., None]  # (N, H, W, 1): the mask keeps the channel axis
    out, mask = C.mask_pixels(x, 0.4, seed=5, return_mask=True)
    assert mask.shape == x.shape and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out, C.mask_pixels(x, 0.4, seed=5))  # same draw as without the mask
    np.testing.assert_array_equal(out, x * (1.0 - mask))
    assert abs(float(mask.mean()) - 0.4) < 0.05


def test_gaussian_noise_statistics_without_clip():
    x = np.full((50, 28, 28), 0.5, np.float32)
    out = C.add_gaussian_noise(x, 0.2, seed=0, clip=False)
    noise = out - x
    assert abs(noise.mean()) < 0.005
    assert abs(noise.std() - 0.2) < 0.005
    assert out.min() < 0.0 or out.max() > 1.0  # without clipping values leave [0, 1]


def test_gaussian_noise_zero_std_is_identity():
    x = images()
    np.testing.assert_array_equal(C.add_gaussian_noise(x, 0.0, seed=4), x)


def test_gaussian_noise_clip():
    x = np.full((10, 28, 28), 0.95, np.float32)
    out = C.add_gaussian_noise(x, 0.5, seed=0)
    assert out.max() == 1.0 and out.min() >= 0.0


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_downscale_factor_one_is_identity(method):
    x = images((3, 28, 28, 1))
    np.testing.assert_allclose(C.downscale_upscale(x, 1, method=method), x, atol=1e-6)


def test_downscale_nearest_equals_block_means():
    x = images((3, 8, 6))
    out = C.downscale_upscale(x, 2, method="nearest")
    for n in range(3):
        for i in range(8):
            for j in range(6):
                bi, bj = 2 * (i // 2), 2 * (j // 2)
                block = x[n, bi : bi + 2, bj : bj + 2]
                assert out[n, i, j] == pytest.approx(float(block.mean()), abs=1e-6)


def test_downscale_nearest_with_channels_pools_each_channel():
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, 0, 0, 0] = 1.0  # one bright pixel in channel 0's top-left block
    x[0, 3, 3, 1] = 0.8  # one in channel 1's bottom-right block
    out = C.downscale_upscale(x, 2, method="nearest")
    np.testing.assert_allclose(out[0, :2, :2, 0], 0.25)
    np.testing.assert_allclose(out[0, 2:, 2:, 1], 0.2)
    assert out[0, :2, :2, 1].max() == 0.0 and out[0, 2:, 2:, 0].max() == 0.0


def test_downscale_bilinear_preserves_constant_image():
    x = np.full((2, 28, 28), 0.3, np.float32)
    np.testing.assert_allclose(C.downscale_upscale(x, 7, method="bilinear"), x, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 28, 28, 3)])
def test_occlude_mask_covers_size_squared(shape):
    x = images(shape)
    out, mask = C.occlude(x, 6, seed=2, fill=0.0, return_mask=True)
    assert mask.shape == shape[:3] and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    np.testing.assert_array_equal(mask.reshape(len(x), -1).sum(axis=1), 36)
    for i in range(len(x)):
        rows, cols = np.nonzero(mask[i])
        assert rows.max() - rows.min() == 5 and cols.max() - cols.min() == 5  # one contiguous square
    covered = mask.astype(bool)
    np.testing.assert_array_equal(out[covered] if x.ndim == 3 else out[covered].ravel(), 0.0)
    np.testing.assert_array_equal(out[~covered], x[~covered])


def test_occlude_fill_value_and_full_size():
    x = images((2, 10, 10))
    out = C.occlude(x, 10, fill=0.7)
    np.testing.assert_allclose(out, 0.7)
    out1, mask1 = C.occlude(x, 1, seed=0, return_mask=True)
    assert mask1.sum() == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda x: C.add_gaussian_noise(x, 0.1),
        lambda x: C.mask_pixels(x, 0.1),
        lambda x: C.downscale_upscale(x, 2),
        lambda x: C.occlude(x, 3),
    ],
)
def test_input_errors(call):
    with pytest.raises(TypeError, match="astype"):
        call(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(TypeError, match="np.asarray"):
        call(np.zeros((2, 28, 28)).tolist())
    with pytest.raises(ValueError, match="batch"):
        call(np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError):
        call(np.zeros((1, 2, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        call(np.full((2, 28, 28), 255.0, np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        call(np.full((2, 28, 28), -0.5, np.float32))


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan")])
def test_mask_pixels_bad_q(q):
    with pytest.raises(ValueError, match="q"):
        C.mask_pixels(images(), q)


@pytest.mark.parametrize("std", [-0.1, float("nan")])
def test_gaussian_noise_bad_std(std):
    with pytest.raises(ValueError, match="std"):
        C.add_gaussian_noise(images(), std)


@pytest.mark.parametrize("factor", [0, -2, 2.0, 3, 5, "2"])
def test_downscale_bad_factor(factor):
    with pytest.raises(ValueError, match="factor"):
        C.downscale_upscale(images(), factor)


def test_downscale_bad_method():
    with pytest.raises(ValueError, match="method"):
        C.downscale_upscale(images(), 2, method="bicubic")


@pytest.mark.parametrize("size", [0, 29, 2.5, -1])
def test_occlude_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        C.occlude(images(), size)


def test_occlude_bad_fill():
    with pytest.raises(ValueError, match="fill"):
        C.occlude(images(), 3, fill=2.0)


def test_corruptions_have_one_home():
    # the loader no longer re-exports the corruptions: each concept is imported from its own module
    from course_utils import data

    assert not hasattr(data, "mask_pixels") and not hasattr(data, "make_dataset")
    assert not hasattr(C, "make_dataset")  # batching is tf.data, written where it is used (lecture 00)
