"""Run-mode switches, paths and seeding.

Fast mode (``COURSE_FAST=1``, and also whenever ``CI`` is set and ``COURSE_FAST`` is not) runs
exactly the same code as full mode on less data and for fewer epochs. ``COURSE_FAST=0`` forces
full mode even under CI.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_flag(value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"COURSE_FAST={value!r} is not understood: use 1 (fast mode) or 0 (full mode).")


def is_fast(environ: dict[str, str] | None = None) -> bool:
    """True in fast mode: ``COURSE_FAST`` if set, otherwise whether ``CI`` is set."""
    env = os.environ if environ is None else environ
    flag = _env_flag(env.get("COURSE_FAST"))
    if flag is not None:
        return flag
    return bool(env.get("CI"))


FAST: bool = is_fast()
MODE: str = "fast" if FAST else "full"


def run_seed(default: int = 0, environ: dict[str, str] | None = None) -> int:
    """The seed of this run: ``COURSE_SEED`` if set (the seed benchmark sets it), else ``default``."""
    env = os.environ if environ is None else environ
    value = env.get("COURSE_SEED", "").strip()
    if value == "":
        return int(default)
    try:
        seed = int(value)
    except ValueError:
        raise ValueError(
            f"COURSE_SEED={value!r} is not a whole number: set it to e.g. 0, 1 or 2, or unset it."
        ) from None
    if seed < 0:
        raise ValueError(f"COURSE_SEED={seed} is negative: seeds must be >= 0.")
    return seed


def pick(fast: T, full: T) -> T:
    """Return ``fast`` in fast mode and ``full`` in full mode (read once, at import)."""
    return fast if FAST else full


def work_root(repo_root: Path | None = None) -> Path:
    """Where data and records go by default: the clone itself, or a per-user folder for an installed package.

    A clone has ``pyproject.toml`` beside the package. After ``pip install`` (no clone, e.g. on Colab) the package
    sits in site-packages, which is no place to write datasets: ``$XDG_CACHE_HOME/autoencoder-course`` (default
    ``~/.cache/autoencoder-course``) is used instead.
    """
    root = REPO_ROOT if repo_root is None else Path(repo_root)
    if (root / "pyproject.toml").is_file():
        return root
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "autoencoder-course"


def data_dir() -> Path:
    """The dataset mirror: ``COURSE_DATA_DIR``, else ``data/`` under :func:`work_root`."""
    return Path(os.environ.get("COURSE_DATA_DIR", work_root() / "data")).expanduser().resolve()


def results_dir() -> Path:
    """Where notebooks append metric records: ``COURSE_RESULTS_DIR``, else ``build/records`` under :func:`work_root`."""
    return Path(os.environ.get("COURSE_RESULTS_DIR", work_root() / "build" / "records")).expanduser().resolve()


def import_tensorflow_quietly():
    """Import TensorFlow with the C-level stderr silenced, then return the module.

    TensorFlow's native start-up writes lines such as "Could not find cuda drivers" straight to file
    descriptor 2, below Python's logging; notebooks would show them in every first cell.
    """
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python, NumPy, Keras and TensorFlow; optionally make TensorFlow ops deterministic.

    Op determinism makes CPU training histories repeat exactly; it also turns off XLA
    auto-clustering, so pass ``deterministic=False`` where speed matters more than exact repeats.
    """
    random.seed(seed)
    np.random.seed(seed)
    tf = import_tensorflow_quietly()
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def setup_notebook(seed: int = 0, deterministic: bool = True) -> str:
    """Quiet noisy warnings, seed everything and return a one-line description of the run mode."""
    import logging

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*input_shape.*")
    warnings.filterwarnings("ignore", message=".*Skipping variable loading.*")
    # a subclassed model trained with fit() is never marked "built" although all its weights exist
    warnings.filterwarnings("ignore", message=".*has not yet been built.*")
    tf = import_tensorflow_quietly()
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    seed_everything(seed, deterministic=deterministic)
    how = "less data and fewer epochs; COURSE_FAST=0 for full mode" if FAST else "set COURSE_FAST=1 for a quick run"
    return f"mode: {MODE} ({how}), seed: {seed}"
