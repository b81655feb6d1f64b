"""Seeded corruptions of image batches.

Every corruption takes float images in [0, 1] shaped (N, H, W) or (N, H, W, C), never changes its
input, and returns a new float32 array of the same shape. The same seed gives the same corruption. Batches for
training come from ``model.fit`` or a few lines of ``tf.data`` written in the notebook (lecture 00 shows them).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _check_images(x: Any, what: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what} expects a NumPy array of images, got {type(x).__name__}; use np.asarray(x).")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{what} expects float images in [0, 1], got dtype {x.dtype}; convert with x.astype('float32') / 255."
        )
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{what} expects a batch shaped (N, H, W) or (N, H, W, C), got shape {x.shape}; "
            "add a batch axis with x[None] for a single image."
        )
    if x.size and (float(np.nanmin(x)) < 0.0 or float(np.nanmax(x)) > 1.0):
        raise ValueError(
            f"{what} expects values in [0, 1], got [{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]; divide by 255."
        )
    return x


def add_gaussian_noise(x: np.ndarray, std: float, *, seed: int = 0, clip: bool = True) -> np.ndarray:
    """Additive Gaussian noise with standard deviation ``std``; clipped back to [0, 1] unless ``clip=False``."""
    x = _check_images(x, "add_gaussian_noise")
    if not std >= 0:
        raise ValueError(f"std must be a non-negative number, got {std!r}.")
    noisy = x + np.random.default_rng(seed).normal(0.0, std, size=x.shape)
    return (np.clip(noisy, 0.0, 1.0) if clip else noisy).astype(np.float32)


def mask_pixels(
    x: np.ndarray, q: float, *, seed: int = 0, return_mask: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Masking noise: each pixel is set to 0 independently with probability ``q``.

    With ``return_mask=True`` also returns a float32 mask shaped like ``x``, 1 where pixels were removed (a pixel that
    was already 0 cannot be told apart in the output, so inpainting needs the mask). Taught in Labs 03 and 04.
    """
    x = _check_images(x, "mask_pixels")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q is a probability and must lie in [0, 1], got {q!r}.")
    keep = np.random.default_rng(seed).random(x.shape) >= q
    out = (x * keep).astype(np.float32)
    return (out, (~keep).astype(np.float32)) if return_mask else out


def downscale_upscale(x: np.ndarray, factor: int, *, method: str = "bilinear") -> np.ndarray:
    """Average-pool by ``factor`` then resize back (``"bilinear"`` or ``"nearest"``): a low-resolution input."""
    x = _check_images(x, "downscale_upscale")
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}.")
    h, w = x.shape[1:3]
    if h % factor or w % factor:
        raise ValueError(f"factor {factor} must divide the image size {h}x{w}; for 28x28 use 2, 4, 7 or 14.")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"method must be 'bilinear' or 'nearest', got {method!r}.")
    had_channels = x.ndim == 4
    x4 = x if had_channels else x[..., None]
    n, _, _, c = x4.shape
    small = x4.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    if method == "nearest":
        big = small.repeat(factor, axis=1).repeat(factor, axis=2)
    else:
        import tensorflow as tf

        big = tf.image.resize(small, (h, w), method="bilinear").numpy()
    big = np.clip(big, 0.0, 1.0).astype(np.float32)
    return big if had_channels else big[..., 0]


def occlude(
    x: np.ndarray, size: int, *, seed: int = 0, fill: float = 0.0, return_mask: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cover one random ``size`` x ``size`` square per image with ``fill``.

    With ``return_mask=True`` also returns a float32 mask of shape (N, H, W), 1 where pixels were covered.
    """
    x = _check_images(x, "occlude")
    h, w = x.shape[1:3]
    if not isinstance(size, (int, np.integer)) or not 1 <= size <= min(h, w):
        raise ValueError(f"size must be an integer between 1 and {min(h, w)}, got {size!r}.")
    if not 0.0 <= fill <= 1.0:
        raise ValueError(f"fill must lie in [0, 1], got {fill!r}.")
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, h - size + 1, size=len(x))
    lefts = rng.integers(0, w - size + 1, size=len(x))
    mask = np.zeros(x.shape[:3], dtype=np.float32)
    for i, (top, left) in enumerate(zip(tops, lefts)):
        mask[i, top : top + size, left : left + size] = 1.0
    m = mask[..., None] if x.ndim == 4 else mask
    out = (x * (1.0 - m) + fill * m).astype(np.float32)
    return (out, mask) if return_mask else out
