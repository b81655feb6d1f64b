"""Figures used across the labs. Every function returns a matplotlib Figure and works headless."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _as_images(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2 and arr.shape[1] == 784:
        arr = arr.reshape(-1, 28, 28)
    if arr.ndim != 3:
        raise ValueError(f"expected a batch of grayscale images (N, H, W[, 1]) or (N, 784), got shape {arr.shape}.")
    return arr


def image_grid(
    images: Any, titles: Sequence[str] | None = None, ncols: int = 10, title: str | None = None, cmap: str = "gray"
):
    """Show a batch of images in a grid, optionally with a caption under each."""
    imgs = _as_images(images)
    n = len(imgs)
    if titles is not None and len(titles) != n:
        raise ValueError(f"image_grid got {n} images but {len(titles)} titles: pass one title per image (or none).")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i], cmap=cmap, vmin=0.0, vmax=1.0)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reconstruction_rows(
    originals: Any, reconstructions_by_name: Mapping[str, Any], n: int = 10, title: str | None = None
):
    """One row of originals, then one row per model's reconstructions of the same images."""
    rows = {"original": _as_images(originals)[:n]}
    rows.update({name: _as_images(rec)[:n] for name, rec in reconstructions_by_name.items()})
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.2 * len(rows) + 0.5), squeeze=False)
    for r, (name, imgs) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(imgs):
                ax.imshow(imgs[c], cmap="gray", vmin=0.0, vmax=1.0)
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title or "Originals (top) and reconstructions")
    fig.tight_layout()
    return fig


def latent_scatter(
    z2d: Any,
    labels: Any,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    max_points: int = 5000,
    axis_labels: tuple[str, str] = ("$z_1$", "$z_2$"),
):
    """Scatter 2-D points coloured by label, with a legend of classes.

    ``axis_labels`` defaults to the two units of a 2-D code (Labs 01, 07); pass e.g.
    ``("t-SNE dimension 1", "t-SNE dimension 2")`` for a projection (Lab 08), whose axes are not code units.
    """
    z = np.asarray(z2d)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(
            f"latent_scatter needs 2-D codes of shape (N, 2), got {z.shape}; project them first (PCA, t-SNE)."
        )
    y = np.asarray(labels)
    if y.shape != (len(z),):
        raise ValueError(f"latent_scatter needs one label per code: codes {z.shape}, labels {y.shape}.")
    z, y = z[:max_points], y[:max_points]
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10")
    for k, label in enumerate(np.unique(y)):
        sel = y == label
        name = class_names[int(label)] if class_names is not None else str(label)
        ax.scatter(z[sel, 0], z[sel, 1], s=3, alpha=0.6, color=cmap(k % 10), label=name)
    if len(axis_labels) != 2:
        raise ValueError(f"latent_scatter needs two axis labels (x, y), got {len(axis_labels)}: {axis_labels!r}.")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title or "Latent codes coloured by class")
    ax.legend(markerscale=4, fontsize=8, loc="best", title="class")
    fig.tight_layout()
    return fig


def training_curves(
    histories: Mapping[str, Any],
    keys: Sequence[str] = ("loss", "val_loss"),
    title: str | None = None,
    logy: bool = False,
):
    """Plot the given metrics per epoch for each named run (Keras ``History`` objects or plain dicts)."""
    runs = {run: (hist.history if hasattr(hist, "history") else hist) for run, hist in histories.items()}
    if not any(key in data for data in runs.values() for key in keys):
        available = sorted({k for data in runs.values() for k in data})
        raise ValueError(f"none of the keys {list(keys)} is in the histories; available: {available}.")
    fig, ax = plt.subplots(figsize=(7, 4))
    for run, data in runs.items():
        for key in keys:
            if key in data:
                values = np.asarray(data[key], dtype=float)
                ax.plot(
                    np.arange(1, len(values) + 1),
                    values,
                    marker="." if len(values) < 30 else None,
                    label=f"{run}: {key}",
                )
    ax.set_xlabel("epoch")
    ax.set_ylabel(", ".join(keys))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or "Training curves")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def confusion_matrix_plot(cm: Any, title: str | None = None, class_names: Sequence[str] | None = None):
    """Heat map of a confusion matrix with the counts written in each cell."""
    cm = np.asarray(cm)
    if cm.ndim != 2:
        raise ValueError(f"confusion_matrix_plot needs a 2-D matrix (classes x clusters), got shape {cm.shape}.")
    if class_names is not None and len(class_names) != cm.shape[0]:
        raise ValueError(
            f"confusion_matrix_plot got {len(class_names)} class names for {cm.shape[0]} rows: one name per true class."
        )
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, label="count")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7, color="white" if v > cm.max() / 2 else "black")
    ax.set_xlabel("cluster (matched to class)")
    ax.set_ylabel("true class")
    ax.set_xticks(range(cm.shape[1]))  # every tick labelled (matplotlib skips some by default)
    ax.set_yticks(range(cm.shape[0]), class_names if class_names is not None else range(cm.shape[0]), fontsize=7)
    ax.set_title(title or "Confusion matrix after Hungarian matching")
    fig.tight_layout()
    return fig


def manifold_grid(decoder, n: int = 15, limit: float = 2.0, image_shape=(28, 28), from_logits: bool = True):
    """Decode an ``n × n`` grid of 2-D latent points in ``[-limit, limit]²`` and tile the images into one array.

    Rows go from ``+limit`` (top) to ``−limit`` (bottom) in z₂, columns from ``−limit`` to ``+limit`` in z₁,
    so the picture matches a scatter plot of the latent space. Returns ``(canvas, extent)`` for ``imshow``.
    """
    h, w = image_shape
    g = np.linspace(-limit, limit, n, dtype="float32")
    zz = np.array([[x1, x2] for x2 in g[::-1] for x1 in g], dtype="float32")
    out = np.asarray(decoder(zz, training=False)).reshape(n * n, h, w)
    if from_logits:
        out = 1.0 / (1.0 + np.exp(-out))
    canvas = out.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    return canvas, (-limit, limit, -limit, limit)
