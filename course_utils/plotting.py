"""Figures used across the labs. Every function returns a matplotlib Figure and works headless.

Every figure says what it shows in words: a title, axis labels that name the quantity (never a raw Keras key such
as ``val_loss``), a legend when there is more than one series, and row labels for grids whose rows differ.

* :func:`image_grid`: a batch of images in a grid, with a caption per image and a label per row;
* :func:`reconstruction_rows`: originals above each model's reconstructions;
* :func:`latent_scatter`: 2-D codes coloured by class;
* :func:`training_curves`: training and validation curves per epoch of one or more runs (:func:`key_in_words`
  turns a Keras history key into its legend text);
* :func:`confusion_matrix_plot`: a confusion matrix with its counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def _as_images(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2 and arr.shape[1] == 784:
        arr = arr.reshape(-1, 28, 28)
    if arr.ndim != 3:
        raise ValueError(f"expected a batch of grayscale images (N, H, W[, 1]) or (N, 784), got shape {arr.shape}.")
    return arr


def _label_row(ax, label: str) -> None:
    """Write ``label`` at the left of ``ax`` as its y-label: ticks and frame hidden, the label kept visible."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def image_grid(
    images: Any,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    title: str | None = None,
    cmap: str = "gray",
    row_labels: Sequence[str] | None = None,
):
    """Show a batch of images in a grid (filled row by row), optionally with a caption under each.

    ``row_labels`` gives one label per grid row, written at the left of the row: use it whenever the rows mean
    different things (e.g. ``["clean", "noisy", "denoised"]`` with ``ncols`` images per row). The grid has
    ``ceil(len(images) / ncols)`` rows and needs exactly that many labels.
    """
    imgs = _as_images(images)
    n = len(imgs)
    if titles is not None and len(titles) != n:
        raise ValueError(f"image_grid got {n} images but {len(titles)} titles: pass one title per image (or none).")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(
            f"image_grid got {len(row_labels)} row labels for a grid of {nrows} rows ({n} images, ncols={ncols}): "
            "pass one label per row, or change ncols so that each row holds one kind of image."
        )
    extra = 0.9 if row_labels is not None else 0.0
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.2 * ncols + extra, 1.3 * nrows + (0.4 if title else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        if row_labels is not None and i % ncols == 0:
            _label_row(ax, str(row_labels[i // ncols]))
        else:
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
    """One row of originals, then one row per model's reconstructions of the same images; each row is labelled
    at its left ("original", then the model's name)."""
    rows = {"original": _as_images(originals)[:n]}
    rows.update({name: _as_images(rec)[:n] for name, rec in reconstructions_by_name.items()})
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.2 * len(rows) + 0.5), squeeze=False)
    for r, (name, imgs) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            if c == 0:
                _label_row(ax, name)
            else:
                ax.axis("off")
            if c < len(imgs):
                ax.imshow(imgs[c], cmap="gray", vmin=0.0, vmax=1.0)
    fig.suptitle(title or "Originals (top) and reconstructions")
    fig.tight_layout()
    return fig


def latent_scatter(
    z2d: Any,
    labels: Any,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    max_points: int = 5000,
    axis_labels: tuple[str, str] = ("code dimension 1 ($z_1$)", "code dimension 2 ($z_2$)"),
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


_WORDS = {"mse": "MSE", "mae": "MAE", "kl": "KL", "bce": "BCE", "elbo": "ELBO", "auc": "AUC", "psnr": "PSNR"}


def key_in_words(key: str) -> str:
    """A Keras history key in words, for legends: ``"val_loss"`` → ``"validation loss"``, ``"loss"`` → ``"training
    loss"``, ``"val_kl_loss"`` → ``"validation KL loss"``, ``"mse"`` → ``"training MSE"``.

    A ``val_`` prefix becomes "validation ", any other key is a training metric; underscores become spaces and the
    abbreviations MSE, MAE, KL (and BCE, ELBO, AUC, PSNR) are capitalised.
    """
    split, name = ("validation", key[4:]) if key.startswith("val_") else ("training", key)
    words = [_WORDS.get(word.lower(), word) for word in name.split("_") if word]
    return " ".join([split, *words])


def training_curves(
    histories: Mapping[str, Any],
    keys: Sequence[str] = ("loss", "val_loss"),
    *,
    ylabel: str | None = None,
    title: str | None = None,
    logy: bool = False,
):
    """Plot the given metrics per epoch for each named run (Keras ``History`` objects or plain dicts).

    ``ylabel`` is required: the quantity in words with its unit, e.g. ``"loss (BCE per image)"`` or ``"MSE per
    pixel"``. The x-axis is the epoch (from 1); legend entries read ``"<run>: training loss"`` /
    ``"<run>: validation loss"`` (:func:`key_in_words`).
    """
    if ylabel is None:
        raise TypeError(
            "training_curves needs ylabel=...: the plotted quantity in words with its unit, e.g. "
            "ylabel='loss (BCE per image)' or ylabel='MSE per pixel'."
        )
    if not isinstance(ylabel, str) or not ylabel.strip():
        raise ValueError(
            f"training_curves got ylabel={ylabel!r}: give the plotted quantity in words with its unit, e.g. "
            "ylabel='loss (BCE per image)'."
        )
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
                    label=f"{run}: {key_in_words(key)}",
                )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_ylabel(ylabel)
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
