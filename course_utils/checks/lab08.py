"""Self-checks for Lab 08 (clustering autoencoders, DEC-style KL target).

Each check runs the student's code on small deterministic inputs and compares it with behaviour the
exercise asks for; it prints a pass line or a hint and never the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import expect_weights_match, sgd_reference_step
from course_utils.checks.probes import to_numpy as _np

__all__ = [
    "check_soft_assignment",
    "check_target_distribution",
    "check_clustering_train_step",
    "check_hungarian_accuracy",
]


def _student_t(z: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    d2 = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    k = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return k / k.sum(1, keepdims=True)


def _sharpen(q: np.ndarray) -> np.ndarray:
    w = q**2 / q.sum(0)
    return w / w.sum(1, keepdims=True)


def _case(seed: int = 0, n: int = 40, d: int = 3, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), (2.0 * rng.normal(size=(k, d))).astype("float32")


# --------------------------------------------------------------------------- soft assignment
def check_soft_assignment(soft_assign: Callable[..., Any]) -> bool:
    """``soft_assign(z, centroids, alpha=1.0)`` -> (N, K) Student-t soft assignments."""
    z, mu = _case()

    def shape_and_rows() -> None:
        q = _np(soft_assign(z, mu))
        expect(
            q.shape == (len(z), len(mu)),
            f"q should have one row per sample and one column per centroid ({len(z)}×{len(mu)}), got shape {q.shape}.",
        )
        expect(np.all(q >= 0), "q has negative entries: the kernel (1 + d²/α)^(−(α+1)/2) is always positive.")
        expect(
            np.allclose(q.sum(1), 1.0, atol=1e-4),
            "Each row of q should sum to 1: divide the kernel values by "
            "their sum over the clusters (axis 1), not over the samples.",
        )

    def nearer_gets_more() -> None:
        centres = np.array([[0.0, 0.0], [4.0, 0.0]], dtype="float32")
        pts = np.array([[0.5, 0.2], [3.0, -1.0], [1.9, 0.0]], dtype="float32")
        q = _np(soft_assign(pts, centres))
        expect(
            np.all(np.argmax(q, 1) == [0, 1, 0]),
            "The nearer centroid should get more mass: the kernel must "
            "decrease with the distance (check the sign of the exponent).",
        )

    def matches_alpha_one() -> None:
        q = _np(soft_assign(z, mu))
        expect(
            np.allclose(q, _student_t(z, mu, 1.0), atol=1e-4),
            "With α = 1, q_ij should be proportional to 1 / (1 + ‖z_i − μ_j‖²): use the squared Euclidean distance.",
        )

    def matches_other_alpha() -> None:
        for alpha in (0.5, 3.0):
            q = _np(soft_assign(z, mu, alpha=alpha))
            expect(
                np.allclose(q, _student_t(z, mu, alpha), atol=1e-4),
                f"With α = {alpha} the values are off: "
                "divide the squared distance by α and raise to the power −(α + 1)/2.",
            )

    return run_checks("soft assignment", [shape_and_rows, nearer_gets_more, matches_alpha_one, matches_other_alpha])


# --------------------------------------------------------------------------- target distribution
def check_target_distribution(target_dist: Callable[[Any], Any]) -> bool:
    """``target_dist(q)`` -> (N, K) sharpened, frequency-normalized target P."""
    z, mu = _case(1)
    q = _student_t(z, mu, 1.0).astype("float32")

    def shape_and_rows() -> None:
        p = _np(target_dist(q))
        expect(p.shape == q.shape, f"p should have the shape of q {q.shape}, got {p.shape}.")
        expect(
            np.allclose(p.sum(1), 1.0, atol=1e-4),
            "Each row of p should sum to 1: normalize over the clusters (axis 1) after weighting.",
        )

    def sharper() -> None:
        p = _np(target_dist(q))
        ent_p = -(p * np.log(p + 1e-12)).sum(1).mean()
        ent_q = -(q * np.log(q + 1e-12)).sum(1).mean()
        expect(ent_p < ent_q, "p should be sharper (more confident) than q: square q before normalizing.")

    def frequency() -> None:
        # every row prefers cluster 0 except the first, which is undecided: dividing by f_j tips it to cluster 1
        skew = np.array([[0.5, 0.5]] + [[0.9, 0.1]] * 9, dtype="float32")
        p = _np(target_dist(skew))
        expect(
            p[0, 1] > p[0, 0],
            "p should be divided by the soft cluster frequency f_j = Σ_i q_ij (a sum over "
            "the samples, axis 0), so popular clusters are down-weighted.",
        )

    def formula() -> None:
        p = _np(target_dist(q))
        expect(
            np.allclose(p, _sharpen(q), atol=1e-4),
            "p_ij should be (q_ij²/f_j) / Σ_j' (q_ij'²/f_j'): check which axis each sum runs over.",
        )

    return run_checks("target distribution", [shape_and_rows, sharper, frequency, formula])


# --------------------------------------------------------------------------- combined train_step
def _tiny_parts(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    enc = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)], name="tiny_encoder"
    )
    dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)], name="tiny_decoder")
    return enc, dec


def _reference_step(enc, dec, centroids, x, p, lam, lr, alpha):
    """Losses and updated weights of one SGD step on (1 − λ)·MSE + λ·KL(P‖Q) with P held fixed."""
    import tensorflow as tf

    mu = tf.Variable(centroids)
    terms = {}

    def total():
        z = enc(x, training=True)
        xh = dec(z, training=True)
        d2 = tf.reduce_sum(tf.square(z[:, None, :] - mu[None]), -1)
        k = tf.pow(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0)
        q = k / tf.reduce_sum(k, 1, keepdims=True)
        terms["rec"] = tf.reduce_mean(tf.square(x - xh))
        terms["clu"] = tf.reduce_mean(tf.reduce_sum(p * (tf.math.log(p + 1e-10) - tf.math.log(q + 1e-10)), 1))
        return (1.0 - lam) * terms["rec"] + lam * terms["clu"]

    loss, new = sgd_reference_step(enc.trainable_variables + dec.trainable_variables + [mu], total, lr)
    return loss, float(terms["rec"]), float(terms["clu"]), new


def check_clustering_train_step(model_cls: type, lam: float = 0.3) -> bool:
    """``model_cls(encoder, decoder, centroids, n_samples, lam=..., alpha=...)`` with a custom ``train_step``.

    The model keeps the target P for every training sample in ``model.p_target`` (a non-trainable variable),
    receives batches ``(x, idx)`` and returns a dict with ``loss``, ``reconstruction_loss`` and
    ``clustering_loss``.
    """
    import keras

    rng = np.random.default_rng(7)
    n, k = 16, 3
    x_all = rng.normal(size=(n, 6)).astype("float32")
    centroids = rng.normal(size=(k, 2)).astype("float32")
    p_all = rng.dirichlet(np.ones(k) * 0.5, size=n).astype("float32")
    idx = np.arange(2, 12, dtype="int32")
    x = x_all[idx]
    lr = 0.05

    def build(seed: int = 3):
        enc, dec = _tiny_parts(seed)
        model = model_cls(enc, dec, centroids, n, lam=lam, alpha=1.0)
        model.compile(optimizer=keras.optimizers.SGD(lr))
        model.p_target.assign(p_all)
        return model

    state: dict[str, Any] = {}

    def runs() -> None:
        model = build()
        model((x_all[:2], np.arange(2, dtype="int32")))  # build
        ref_enc, ref_dec = _tiny_parts(3)
        state["ref"] = _reference_step(ref_enc, ref_dec, centroids, x, p_all[idx], lam, lr, 1.0)
        logs = model.train_step((x, idx))
        expect(isinstance(logs, dict), "train_step should return a dict of metric values.")
        for key in ("loss", "reconstruction_loss", "clustering_loss"):
            expect(key in logs, f"train_step's dict should contain '{key}' (from the loss trackers).")
        state["logs"] = {key: float(_np(v)) for key, v in logs.items()}
        state["model"] = model

    def reconstruction_term() -> None:
        got, ref = state["logs"]["reconstruction_loss"], state["ref"][1]
        expect(
            np.isclose(got, ref, rtol=1e-3, atol=1e-6),
            "reconstruction_loss is off: it should be the mean "
            "squared error between the batch and the decoder's output of its embedding.",
        )

    def clustering_term() -> None:
        got, ref = state["logs"]["clustering_loss"], state["ref"][2]
        expect(
            np.isclose(got, ref, rtol=1e-3, atol=1e-6),
            "clustering_loss is off: it should be KL(P‖Q) = "
            "mean_i Σ_j p_ij log(p_ij / q_ij), with P taken from model.p_target at the batch's indices "
            "(not recomputed from the current q, and not KL(Q‖P)).",
        )

    def weighting() -> None:
        got, ref = state["logs"]["loss"], state["ref"][0]
        expect(np.isclose(got, ref, rtol=1e-3, atol=1e-6), "loss should be (1 − λ)·reconstruction + λ·clustering.")

    def update() -> None:
        model = state["model"]
        got = model.encoder.trainable_variables + model.decoder.trainable_variables + [model.clustering.centroids]
        expect_weights_match(
            got,
            state["ref"][3],
            "The weight update differs from one gradient step on the combined "
            "loss: differentiate the total loss with respect to model.trainable_variables, with P "
            "held constant (no gradient through P).",
        )

    def p_untouched() -> None:
        expect(
            np.allclose(_np(state["model"].p_target), p_all),
            "train_step must not change model.p_target: P is refreshed by the callback only.",
        )

    return run_checks(
        "combined train_step", [runs, reconstruction_term, clustering_term, weighting, update, p_untouched]
    )


# --------------------------------------------------------------------------- Hungarian accuracy
def check_hungarian_accuracy(accuracy_fn: Callable[[Any, Any], float]) -> bool:
    """``accuracy_fn(y_true, y_pred)`` -> best accuracy over one-to-one relabellings of the clusters."""

    def permutation() -> None:
        y = np.array([0, 0, 1, 1, 2, 2, 2])
        expect(
            np.isclose(float(accuracy_fn(y, (y + 1) % 3)), 1.0),
            "Relabelled but otherwise perfect clusters "
            "should score 1.0: cluster ids are arbitrary, so match them to classes first.",
        )

    def one_to_one() -> None:
        # two clusters are both mostly class 0: a majority vote would map both to 0, a matching may not
        y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 1, 2])
        c = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
        expect(
            np.isclose(float(accuracy_fn(y, c)), 0.6),
            "Each cluster may be matched to at most one class (and "
            "vice versa): solve the assignment with scipy.optimize.linear_sum_assignment instead of a "
            "majority vote per cluster.",
        )

    def more_clusters() -> None:
        y = np.array([0, 0, 1, 1, 1, 1])
        c = np.array([0, 0, 1, 1, 2, 2])
        expect(
            np.isclose(float(accuracy_fn(y, c)), 4 / 6),
            "With more clusters than classes, the unmatched "
            "clusters count as errors; size the count table by the larger of the two label sets.",
        )

    def scalar() -> None:
        v = accuracy_fn(np.array([1, 1, 0]), np.array([0, 0, 1]))
        expect(np.ndim(v) == 0 and 0.0 <= float(v) <= 1.0, "Return one number between 0 and 1.")

    return run_checks("Hungarian accuracy", [permutation, one_to_one, more_clusters, scalar])
