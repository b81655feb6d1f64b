"""Probes shared by every lab's self-checks: small, deterministic, independent of any one lab.

Each probe either returns plain NumPy data for a check to compare, or calls :func:`course_utils.checks.expect`
with a hint that names the property that failed. None of them prints an expected value.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_utils.checks import expect

__all__ = [
    "to_numpy",
    "tiny_images",
    "tiny_vectors",
    "expect_gradients_reach",
    "sgd_reference_step",
    "expect_weights_match",
    "tracker_counts",
    "expect_updated_once",
    "keras_round_trip",
    "compiled",
]


def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """A tensor, variable or array-like as a NumPy array of ``dtype`` (``None`` keeps the dtype)."""
    import keras

    arr = np.asarray(keras.ops.convert_to_numpy(x))
    return arr if dtype is None else arr.astype(dtype)


def tiny_images(n: int = 8, shape: Sequence[int] = (28, 28), seed: int = 0, binary: bool = False) -> np.ndarray:
    """``n`` float32 images of ``shape`` in [0, 1] with a blank top band (3 rows) and a saturated bottom band (2).

    The bands make sure that a probe sees exact 0 and 1 pixels (where clipping and log(0) mistakes show).
    ``binary=True`` thresholds them at 0.5.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, *shape)).astype("float32")
    x[:, :3] = 0.0
    x[:, -2:] = 1.0
    return (x > 0.5).astype("float32") if binary else x


def tiny_vectors(n: int = 16, dim: int = 6, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """``n`` float32 rows of ``dim`` standard-normal numbers times ``scale``."""
    return (scale * np.random.default_rng(seed).normal(size=(n, dim))).astype("float32")


def expect_gradients_reach(variables: Sequence[Any], loss_fn: Callable[[], Any], what: str) -> None:
    """Fail unless every variable in ``variables`` receives a non-zero gradient of ``loss_fn()``.

    ``loss_fn`` runs inside a ``tf.GradientTape``; the hint names the first variable without a gradient.
    """
    import tensorflow as tf

    variables = list(variables)
    expect(len(variables) > 0, f"the {what} has no trainable weights.")
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    for var, grad in zip(variables, grads):
        expect(
            grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0.0,
            f"no gradient reaches `{getattr(var, 'path', getattr(var, 'name', 'a weight'))}` of the {what}: every "
            "layer must be connected from input to loss with differentiable ops (no NumPy, no stop_gradient, "
            "nothing frozen).",
        )


def sgd_reference_step(variables: Sequence[Any], loss_fn: Callable[[], Any], lr: float) -> tuple[float, list]:
    """The loss and the weights after one plain SGD step, computed independently of the student's code.

    The variables are left untouched. Compare the student's model (compiled with ``keras.optimizers.SGD(lr)``)
    after one ``train_step`` with :func:`expect_weights_match`.
    """
    import tensorflow as tf

    variables = list(variables)
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    new = [to_numpy(v) - (0.0 if g is None else lr * to_numpy(g)) for v, g in zip(variables, grads)]
    return float(to_numpy(loss)), new


def expect_weights_match(got: Sequence[Any], reference: Sequence[np.ndarray], hint: str, atol: float = 1e-5) -> None:
    """Fail with ``hint`` unless every weight in ``got`` equals its ``reference`` array (same order)."""
    got = [to_numpy(w) for w in got]
    expect(len(got) == len(reference), hint)
    expect(all(g.shape == r.shape and np.allclose(g, r, atol=atol) for g, r in zip(got, reference)), hint)


def tracker_counts(model: Any) -> dict[str, float]:
    """``{tracker name: number of updates}`` for every ``keras.metrics.Mean`` listed in ``model.metrics``."""
    out = {}
    for metric in model.metrics:
        count = getattr(metric, "count", None)
        if count is not None:
            out[metric.name] = float(to_numpy(count))
    return out


def expect_updated_once(model: Any, names: Sequence[str]) -> None:
    """After one ``train_step``: fail unless each tracker in ``names`` listed by ``model.metrics`` counted one update.

    A tracker missing from ``model.metrics`` is left to the caller's own test (it says what to list).
    """
    counts = tracker_counts(model)
    for name in names:
        expect(
            counts.get(name, 1) == 1,
            f"after one train_step the '{name}' tracker holds {counts.get(name, 0):g} updates: update each tracker "
            "exactly once per step.",
        )


def keras_round_trip(model: Any) -> Any:
    """Save ``model`` to a temporary ``.keras`` file, load it back and return the loaded model."""
    import warnings

    import keras

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # a subclassed model trained with fit() is not marked "built", although all its weights exist
        warnings.filterwarnings("ignore", message=".*has not yet been built.*")
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return keras.saving.load_model(path)


def compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a ``tf.function``, the way ``fit`` runs a ``train_step``: symbolic tensors, no NumPy values.

    Traced without AutoGraph first, which is several times cheaper; only code that needs AutoGraph (Python
    ``if``/``for`` on tensor values) is traced a second time with it. A failed trace runs nothing, so the retry
    changes no state twice.
    """
    import tensorflow as tf

    fast, full = tf.function(fn, autograph=False), tf.function(fn)
    use_fast = [True]

    def call(*args: Any) -> Any:
        if use_fast[0]:
            try:
                return fast(*args)
            except Exception:  # retried below with AutoGraph, which reports the student's error
                use_fast[0] = False
        return full(*args)

    return call
