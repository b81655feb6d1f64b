"""Self-checks for Lab 08 (clustering autoencoders, DEC-style KL target).

Each check runs the student's code on small deterministic inputs and compares it with independent float64
computations done here; when the values are off it names the typical mistake they match. It prints a pass line or
a hint and never the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import (
    compiled,
    expect_updated_once,
    expect_weights_match,
    sgd_reference_step,
    tracker_counts,
)
from course_utils.checks.probes import to_numpy as _to_numpy

__all__ = [
    "check_soft_assignment",
    "check_target_distribution",
    "check_clustering_train_step",
    "check_hungarian_accuracy",
]


def _np(x: Any) -> np.ndarray:
    return _to_numpy(x, dtype=np.float64)


def _sq_dist(z: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return ((z[:, None, :].astype(np.float64) - mu[None, :, :].astype(np.float64)) ** 2).sum(-1)


def _rows(k: np.ndarray) -> np.ndarray:
    return k / k.sum(1, keepdims=True)


def _student_t(z: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    return _rows((1.0 + _sq_dist(z, mu) / alpha) ** (-(alpha + 1.0) / 2.0))


def _kernel_mistakes(z: np.ndarray, mu: np.ndarray, alpha: float) -> list[tuple[np.ndarray, str]]:
    d2 = _sq_dist(z, mu)
    e = -(alpha + 1.0) / 2.0
    return [
        (_rows((1.0 + np.sqrt(d2) / alpha) ** e), "use the squared Euclidean distance ‖z − μ‖², not the distance"),
        (_rows((1.0 + d2 / alpha) ** (2 * e)), "the exponent is off: the kernel is raised to −(α + 1)/2"),
        (_rows((1.0 + d2 / alpha) ** (-alpha / 2.0)), "the exponent is off: the kernel is raised to −(α + 1)/2"),
        (_rows((1.0 + d2 / alpha) ** -1.0), "the exponent ignores α: the kernel is raised to −(α + 1)/2"),
        (_rows((1.0 + d2) ** e), "divide the squared distance by α inside the kernel"),
        (_rows((1.0 + d2 * alpha) ** e), "divide the squared distance by α (not multiply)"),
        (_rows(1.0 / (1.0 + d2)), "α is ignored: it must enter both the kernel's base and its exponent"),
        (_rows(np.exp(-d2)), "use the Student-t kernel (1 + ‖z − μ‖²/α)^(−(α + 1)/2), not a Gaussian"),
        (_rows(np.exp(-np.sqrt(d2))), "use the Student-t kernel (1 + ‖z − μ‖²/α)^(−(α + 1)/2), not exp(−distance)"),
    ]


def _sharpen(q: np.ndarray) -> np.ndarray:
    q = q.astype(np.float64)
    return _rows(q**2 / q.sum(0))


def _case(seed: int = 0, n: int = 40, d: int = 3, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), (2.0 * rng.normal(size=(k, d))).astype("float32")


# --------------------------------------------------------------------------- soft assignment
def check_soft_assignment(soft_assign: Callable[..., Any]) -> bool:
    """``soft_assign(z, centroids, alpha=1.0)`` -> (N, K) Student-t soft assignments."""
    import tensorflow as tf

    z, mu = _case()

    def shape_and_rows() -> None:
        for zz, mm in ((z, mu), (z[:1], mu), (z[:3], _case(1, k=6)[1])):  # batch of one; more clusters than samples
            q = _np(soft_assign(tf.constant(zz), tf.constant(mm)))
            expect(
                q.shape == (len(zz), len(mm)),
                f"for {len(zz)} embeddings and {len(mm)} centroids q should have shape ({len(zz)}, {len(mm)}), one "
                f"row per sample and one column per centroid; got {q.shape}.",
            )
            expect(np.all(np.isfinite(q)), "q has NaN or inf entries.")
            expect(np.all(q >= 0), "q has negative entries: the kernel (1 + d²/α)^(−(α+1)/2) is always positive.")
            if not np.allclose(q.sum(1), 1.0, atol=1e-4) and len(zz) > 1 and np.allclose(q.sum(0), 1.0, atol=1e-4):
                expect(False, "the columns of q sum to 1: normalize over the clusters (axis 1), not the samples.")
            expect(
                np.allclose(q.sum(1), 1.0, atol=1e-4),
                "each row of q should sum to 1: divide the kernel values by their sum over the clusters (axis 1).",
            )

    def accepts_numpy() -> None:
        q = _np(soft_assign(z, mu))
        expect(q.shape == (len(z), len(mu)), "soft_assign should also accept NumPy arrays (keras.ops converts them).")

    def nearer_gets_more() -> None:
        centres = np.array([[0.0, 0.0], [4.0, 0.0]], dtype="float32")
        pts = np.array([[0.5, 0.2], [3.0, -1.0], [1.9, 0.0]], dtype="float32")
        q = _np(soft_assign(tf.constant(pts), tf.constant(centres)))
        expect(
            np.all(np.argmax(q, 1) == [0, 1, 0]),
            "the nearer centroid should get more mass: the kernel must decrease with the distance (check the sign "
            "of the exponent).",
        )

    def matches_student_t() -> None:
        for alpha in (1.0, 0.5, 3.0):
            q = _np(soft_assign(tf.constant(z), tf.constant(mu), alpha=alpha))
            if np.allclose(q, _student_t(z, mu, alpha), atol=1e-5):
                continue
            for values, hint in _kernel_mistakes(z, mu, alpha):
                expect(not np.allclose(q, values, atol=1e-5), f"with α = {alpha:g} the values are off: {hint}.")
            expect(
                False,
                f"with α = {alpha:g} the values are off: q_ij ∝ (1 + ‖z_i − μ_j‖²/α)^(−(α + 1)/2), normalized over j.",
            )

    def differentiable_in_a_graph() -> None:
        w = tf.constant(np.random.default_rng(3).normal(size=(len(z), len(mu))))

        def weighted(fn, zz, mm):
            with tf.GradientTape() as tape:
                tape.watch([zz, mm])
                total = tf.reduce_sum(w * tf.cast(fn(zz, mm), tf.float64))
            return tape.gradient(total, [zz, mm])

        def reference(zz, mm):
            d2 = tf.reduce_sum(tf.square(zz[:, None, :] - mm[None]), -1)
            k = 1.0 / (1.0 + d2)
            return k / tf.reduce_sum(k, 1, keepdims=True)

        ref = weighted(reference, tf.constant(z, tf.float64), tf.constant(mu, tf.float64))
        try:
            got = compiled(lambda a, b: weighted(soft_assign, a, b))(tf.constant(z), tf.constant(mu))
        except Exception:  # NumPy on a symbolic tensor inside the compiled function
            got = [None, None]
        ok = all(g is not None and np.allclose(_np(g), _np(r), rtol=1e-3, atol=1e-5) for g, r in zip(got, ref))
        expect(
            ok,
            "inside a compiled function (as in train_step) soft_assign gives no or wrong gradients with respect to "
            "z and the centroids: write it with keras.ops (not NumPy), so that the centroids can be trained.",
        )

    return run_checks(
        "soft assignment",
        [shape_and_rows, accepts_numpy, nearer_gets_more, matches_student_t, differentiable_in_a_graph],
    )


# --------------------------------------------------------------------------- target distribution
def _balanced_q() -> np.ndarray:
    """Rows that are cyclic shifts of one distribution: every cluster has the same soft frequency f_j."""
    base = np.array([0.55, 0.25, 0.15, 0.05])
    return np.stack([np.roll(base, s) for s in range(4) for _ in range(3)]).astype("float32")


def _target_mistakes(q: np.ndarray) -> list[tuple[np.ndarray, str]]:
    q = q.astype(np.float64)
    f = q.sum(0)
    hard = np.bincount(q.argmax(1), minlength=q.shape[1]).astype(np.float64)
    return [
        (q, "p equals q: square q (then divide by the cluster frequencies and renormalize) to sharpen it"),
        (_rows(q**3 / f), "raise q to the power 2, not 3"),
        (_rows(np.sqrt(q) / f), "raise q to the power 2 (a square root flattens q instead of sharpening it)"),
        (_rows(q**2), "divide q² by the soft cluster frequency f_j = Σ_i q_ij (a sum over the samples, axis 0)"),
        (_rows(q**2 * f), "divide q² by the soft cluster frequency f_j, do not multiply by it"),
        (_rows(q**2 / f**2), "divide q² by f_j once, not by f_j²"),
        (_rows(q**2 / np.sqrt(f)), "divide q² by f_j itself, not by its square root"),
        (_rows(q**2 / np.maximum(hard, 1.0)), "f_j is the soft frequency Σ_i q_ij, not a count of hard assignments"),
        (_rows(q / f), "square q before dividing by the cluster frequencies"),
    ]


def check_target_distribution(target_dist: Callable[[Any], Any]) -> bool:
    """``target_dist(q)`` -> (N, K) sharpened, frequency-normalized target P."""
    z, mu = _case(1)
    q = _student_t(z, mu, 1.0).astype("float32")

    def call(qq: np.ndarray) -> np.ndarray:
        return _np(target_dist(qq.copy()))

    def shape_and_rows() -> None:
        for qq in (q, q[:1]):
            p = call(qq)
            expect(p.shape == qq.shape, f"p should have the shape of q {qq.shape}, got {p.shape}.")
            expect(np.all(np.isfinite(p)) and np.all(p >= 0), "p has NaN, inf or negative entries.")
            if not np.allclose(p.sum(1), 1.0, atol=1e-4) and np.allclose(p.sum(), 1.0, atol=1e-4):
                expect(False, "p sums to 1 as a whole: normalize each row (axis 1) instead of the whole table.")
            if not np.allclose(p.sum(1), 1.0, atol=1e-4) and np.allclose(p.sum(0), 1.0, atol=1e-4):
                expect(False, "the columns of p sum to 1: normalize over the clusters (axis 1) after weighting.")
            expect(
                np.allclose(p.sum(1), 1.0, atol=1e-4),
                "each row of p should sum to 1: normalize over the clusters (axis 1) after weighting.",
            )

    def leaves_q_unchanged() -> None:
        qq = q.copy()
        target_dist(qq)
        expect(np.array_equal(qq, q), "target_dist changed q in place (q **= 2, q /= …): compute p in a new array.")

    def diagnose(p: np.ndarray, qq: np.ndarray, what: str) -> None:
        if np.allclose(p, _sharpen(qq), atol=1e-5):
            return
        for values, hint in _target_mistakes(qq):
            expect(not np.allclose(p, values, atol=1e-5), f"{what}: {hint}.")

    def sharpens() -> None:
        qb = _balanced_q()
        p = call(qb)
        diagnose(p, qb, "on clusters of equal size")
        ent = lambda a: float(-(a * np.log(a + 1e-12)).sum(1).mean())  # noqa: E731
        expect(
            ent(p) < ent(qb) - 0.1,
            "on clusters of equal size p should be clearly sharper (more confident) than q: square q, then "
            "renormalize each row.",
        )

    def frequency() -> None:
        # every row prefers cluster 0 except the first, which is undecided: dividing by f_j tips it to cluster 1
        skew = np.array([[0.5, 0.5]] + [[0.9, 0.1]] * 9, dtype="float32")
        p = call(skew)
        diagnose(p, skew, "with one popular cluster")
        expect(
            p[0, 1] > p[0, 0] + 0.05,
            "p should be divided by the soft cluster frequency f_j = Σ_i q_ij (a sum over the samples, axis 0), so "
            "popular clusters are down-weighted.",
        )

    def formula() -> None:
        p = call(q)
        diagnose(p, q, "on random soft assignments")
        expect(
            np.allclose(p, _sharpen(q), atol=1e-5),
            "p_ij should be (q_ij²/f_j) / Σ_j' (q_ij'²/f_j') with f_j = Σ_i q_ij: check which axis each sum runs over.",
        )

    return run_checks("target distribution", [shape_and_rows, leaves_q_unchanged, sharpens, frequency, formula])


# --------------------------------------------------------------------------- combined train_step
N_FEATURES, N_CLUSTERS, N_SAMPLES = 6, 3, 16


def _tiny_parts(seed: int):
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    enc = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(5, activation="tanh", kernel_initializer=init),
            keras.layers.Dense(2, kernel_initializer=init),
        ],
        name="tiny_encoder",
    )
    dec = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(N_FEATURES, kernel_initializer=init)], name="tiny_decoder"
    )
    return enc, dec


def _augment_layer():
    """A deterministic stand-in for RandomJitter: adds 0.5 to every input when called with training=True."""
    import keras

    class ShiftForCheck(keras.layers.Layer):
        def call(self, images, training=False):
            return images + 0.5 if training else images

        def compute_output_shape(self, input_shape):
            return input_shape

    layer = ShiftForCheck(name="augment_for_check")
    layer.build((None, N_FEATURES))  # no weights; built, so the model holding it counts as built
    return layer


class _Reference:
    """One SGD step of (1 − λ)·MSE + λ·KL(P‖Q) on copies of the parts, P fixed; values in float64."""

    def __init__(self, seed: int, centroids: np.ndarray, lam: float, lr: float, shift: float, parts=None):
        import tensorflow as tf

        self.enc, self.dec = _tiny_parts(seed) if parts is None else parts
        self.mu = tf.Variable(centroids)
        self.lam, self.lr, self.shift = lam, lr, shift
        self.variables = self.enc.trainable_variables + self.dec.trainable_variables + [self.mu]

    def terms64(self, x: np.ndarray, p: np.ndarray) -> dict[str, float]:
        x = x.astype(np.float64)
        z = _np(self.enc(x + self.shift))
        x_hat = _np(self.dec(z))
        q = _student_t(z, _np(self.mu), 1.0)
        rec = float(np.mean((x - x_hat) ** 2))
        clu = float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))
        return {"loss": (1 - self.lam) * rec + self.lam * clu, "reconstruction_loss": rec, "clustering_loss": clu}

    def mistakes(self, x: np.ndarray, p: np.ndarray, p_all: np.ndarray) -> list[tuple[str, float, str]]:
        x = x.astype(np.float64)
        z = _np(self.enc(x + self.shift))
        z_clean = _np(self.enc(x))
        x_hat = _np(self.dec(z))
        q = _student_t(z, _np(self.mu), 1.0)
        q_clean = _student_t(z_clean, _np(self.mu), 1.0)
        kl = lambda a, b: float(np.mean(np.sum(a * (np.log(a) - np.log(b)), axis=1)))  # noqa: E731
        ref = self.terms64(x, p)
        rec, clu, lam = ref["reconstruction_loss"], ref["clustering_loss"], self.lam
        out = [
            (
                "reconstruction_loss",
                float(np.mean((x + self.shift - x_hat) ** 2)),
                "is measured against the augmented images; compare the reconstruction with the clean batch",
            ),
            (
                "reconstruction_loss",
                float(np.mean((x - _np(self.dec(z_clean))) ** 2)),
                "comes from the clean images' embedding: encode self.augment(images, training=True)",
            ),
            ("reconstruction_loss", rec * x.shape[1], "is summed over the features; take the mean over all entries"),
            ("clustering_loss", kl(q, p), "is KL(Q‖P); the clustering loss is KL(P‖Q) with P the target"),
            ("clustering_loss", kl(p_all[: len(x)], q), "uses the first rows of P; look P up at the batch's indices"),
            ("clustering_loss", kl(_sharpen(q), q), "recomputes P from the current q; take it from model.p_target"),
            (
                "clustering_loss",
                kl(p, q_clean),
                "uses q of the clean images; q must come from the same (augmented) embedding as the reconstruction",
            ),
            ("clustering_loss", clu / p.shape[1], "averages over the clusters; sum over clusters, mean over samples"),
            (
                "clustering_loss",
                float(np.mean(-np.sum(p * np.log(q), axis=1))),
                "is the cross-entropy −Σ p log q; KL(P‖Q) = Σ p log(p/q)",
            ),
            ("clustering_loss", clu * len(x), "is summed over the batch; average over the samples"),
            ("loss", lam * rec + (1 - lam) * clu, "swaps the weights: (1 − λ)·reconstruction + λ·clustering"),
            ("loss", rec + clu, "ignores λ: (1 − λ)·reconstruction + λ·clustering"),
            ("loss", rec + lam * clu, "forgets the (1 − λ) on the reconstruction"),
        ]
        return out

    def loss_fn(self, x: np.ndarray, p: np.ndarray):
        import tensorflow as tf

        def total():
            z = self.enc(x + self.shift)
            xh = self.dec(z)
            d2 = tf.reduce_sum(tf.square(z[:, None, :] - self.mu[None]), -1)
            k = 1.0 / (1.0 + d2)
            q = k / tf.reduce_sum(k, 1, keepdims=True)
            rec = tf.reduce_mean(tf.square(x - xh))
            clu = tf.reduce_mean(tf.reduce_sum(p * (tf.math.log(p) - tf.math.log(q)), 1))
            return (1.0 - self.lam) * rec + self.lam * clu

        return total

    def step(self, x: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
        _, new = sgd_reference_step(self.variables, self.loss_fn(x, p.astype("float32")), self.lr)
        return new

    def advance(self, new: list[np.ndarray]) -> None:
        for var, value in zip(self.variables, new):
            var.assign(value.astype("float32"))


def check_clustering_train_step(model_cls: type, lam: float = 0.3) -> bool:
    """``model_cls(encoder, decoder, centroids, n_samples, lam=..., alpha=..., augment=None)`` with a ``train_step``.

    The model keeps the target P for every training sample in ``model.p_target`` (a non-trainable variable),
    receives batches ``(x, idx)`` and returns a dict with ``loss``, ``reconstruction_loss`` and
    ``clustering_loss``. The check gives it a deterministic augmentation layer (adds 0.5 in training) and compares
    one SGD step with a reference: the reconstruction of the clean batch from the embedding of the augmented one,
    KL(P‖Q) with P looked up at the batch's indices and held fixed. The same model then runs three compiled steps
    and its trackers must hold the mean of the four per-step values; last, a model without augmentation must work.
    """
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x_all = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype("float32")
    centroids = rng.normal(size=(N_CLUSTERS, 2)).astype("float32")
    p_all = rng.dirichlet(np.ones(N_CLUSTERS) * 0.5, size=N_SAMPLES).astype("float32") * 0.98 + 0.02 / N_CLUSTERS
    idx = np.array([9, 3, 14, 6, 11, 2, 8, 13], dtype="int32")
    lr = 0.05
    names = ("loss", "reconstruction_loss", "clustering_loss")
    state: dict[str, Any] = {}

    def build(seed: int, augment: Any):
        enc, dec = _tiny_parts(seed)
        model = model_cls(enc, dec, centroids, N_SAMPLES, lam=lam, alpha=1.0, augment=augment)
        model.compile(optimizer=keras.optimizers.SGD(lr))
        model((x_all[:2], np.arange(2, dtype="int32")))  # build
        model.p_target.assign(p_all)
        return model

    def losses_of_one_step() -> None:
        model = build(3, _augment_layer())
        ref = _Reference(3, centroids, lam, lr, shift=0.5)
        x, p = x_all[idx], p_all[idx].astype(np.float64)
        values, mistakes, new = ref.terms64(x, p), ref.mistakes(x, p, p_all.astype(np.float64)), ref.step(x, p)
        state.update(ref=ref, values=values)
        logs = model.train_step((tf.constant(x), tf.constant(idx)))
        expect(isinstance(logs, dict), "train_step should return a dict of the trackers' results.")
        for key in names:
            expect(key in logs, f"train_step's dict should contain '{key}' (from the loss trackers).")
        logs = {key: float(_np(logs[key])) for key in names}
        state.update(model=model, new=new)
        expect_updated_once(model, names)
        for key in ("reconstruction_loss", "clustering_loss", "loss"):
            if np.isclose(logs[key], values[key], rtol=1e-4, atol=1e-6):
                continue
            for which, value, hint in mistakes:
                expect(not (which == key and np.isclose(logs[key], value, rtol=1e-4, atol=1e-6)), f"{key} {hint}.")
            expect(
                False,
                {
                    "reconstruction_loss": "reconstruction_loss is off: the mean squared error between the clean "
                    "batch and the decoder's output for the embedding of the augmented batch.",
                    "clustering_loss": "clustering_loss is off: KL(P‖Q) = mean_i Σ_j p_ij log(p_ij / q_ij), with P "
                    "from model.p_target at the batch's indices and Q from the augmented batch's embedding.",
                    "loss": "loss is off: it should be (1 − λ)·reconstruction + λ·clustering.",
                }[key],
            )

    def update() -> None:
        model, new = state["model"], state["new"]
        got = model.encoder.trainable_variables + model.decoder.trainable_variables + [model.clustering.centroids]
        expect(
            not np.allclose(_np(got[-1]), centroids),
            "the centroids did not move: take gradients with respect to all of self.trainable_variables, the "
            "clustering layer's centroids included.",
        )
        expect_weights_match(
            got,
            new,
            "the weight update differs from one gradient step on the combined loss: differentiate the total loss "
            "with respect to self.trainable_variables, with P held constant (no gradient through P).",
        )

    def p_untouched() -> None:
        expect(
            np.allclose(_np(state["model"].p_target), p_all),
            "train_step must not change model.p_target: P is refreshed by the callback only.",
        )

    def without_augmentation() -> None:
        model = build(3, None)
        ref = _Reference(3, centroids, lam, lr, shift=0.0, parts=(model.encoder, model.decoder))  # values only
        x, p = x_all[idx], p_all[idx].astype(np.float64)
        values = ref.terms64(x, p)
        logs = model.train_step((tf.constant(x), tf.constant(idx)))
        expect(
            np.isclose(float(_np(logs["loss"])), values["loss"], rtol=1e-4, atol=1e-6),
            "with augment=None the step should use the images as they are: apply the augmentation only when "
            "self.augment is not None.",
        )

    def compiled_steps_and_trackers() -> None:
        # the same model goes on with three compiled steps; the reference follows
        model, ref = state["model"], state["ref"]
        ref.advance(state["new"])
        batches = [np.array(b, dtype="int32") for b in ([0, 5, 10, 15], [1, 4, 7, 12], [2, 3, 9, 13])]
        per_step = [state["values"]]
        for b in batches:
            per_step.append(ref.terms64(x_all[b], p_all[b].astype(np.float64)))
            ref.advance(ref.step(x_all[b], p_all[b].astype(np.float64)))
        model.optimizer.build(model.trainable_variables)
        step = compiled(model.train_step)
        for b in batches:
            logs = step((tf.constant(x_all[b]), tf.constant(b)))
        counts = tracker_counts(model)
        for name in names:
            expect(
                counts.get(name, 0) == 4,
                f"after 4 steps the '{name}' tracker holds {counts.get(name, 0):g} updates: list the trackers in "
                "`metrics`, update each exactly once per step and never reset it in train_step.",
            )
        for name in names:
            mean = float(np.mean([v[name] for v in per_step]))
            expect(
                np.isclose(float(_np(logs[name])), mean, rtol=1e-3, atol=1e-5),
                f"after 4 steps (3 compiled) '{name}' is not the mean of the per-step values: update the trackers with "
                "this step's values and return their results ({m.name: m.result() for m in self.metrics}).",
            )

    return run_checks(
        "combined train_step",
        [losses_of_one_step, update, p_untouched, compiled_steps_and_trackers, without_augmentation],
    )


# --------------------------------------------------------------------------- Hungarian accuracy
def _worst_matching(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    n = int(max(y_true.max(), y_pred.max())) + 1
    table = np.zeros((n, n))
    np.add.at(table, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(table)
    return float(table[rows, cols].sum() / len(y_true))


def check_hungarian_accuracy(accuracy_fn: Callable[[Any, Any], float]) -> bool:
    """``accuracy_fn(y_true, y_pred)`` -> best accuracy over one-to-one relabellings of the clusters."""

    def call(y, c) -> float:
        v = accuracy_fn(np.asarray(y), np.asarray(c))
        expect(np.ndim(v) == 0, "return one number (the accuracy), not an array or a tuple.")
        v = float(v)
        expect(
            0.0 <= v <= 1.0,
            "the accuracy should be a share between 0 and 1: divide the matched count by the number of samples "
            "(no percentage).",
        )
        return v

    def sized(y, c, what: str) -> float:
        try:
            return call(y, c)
        except (IndexError, ValueError):
            expect(
                False,
                f"with {what} the count table is too small: size it by the larger of the two label sets "
                "(max(y_true.max(), y_pred.max()) + 1).",
            )
        return 0.0

    def scalar() -> None:
        call(np.array([1, 1, 0]), np.array([0, 0, 1]))

    def permutation() -> None:
        # relabelled clusters with one mistake per cluster: plain agreement, worst and best matching all differ
        y = np.array([0, 0, 0, 1, 1, 2, 2])
        c = np.array([1, 1, 0, 2, 2, 0, 0])
        v = call(y, c)
        if not np.isclose(v, 6 / 7):
            expect(
                not np.isclose(v, np.mean(y == c)),
                "you compare cluster ids with class labels directly: cluster ids are arbitrary, so match them to "
                "classes first (the best one-to-one matching).",
            )
            expect(
                not np.isclose(v, _worst_matching(y, c)),
                "the matching minimises the matched count: linear_sum_assignment minimises a cost, so pass the "
                "negated table (or maximize=True).",
            )
        y = np.array([0, 0, 1, 1, 2, 2, 2])
        expect(
            np.isclose(call(y, (y + 1) % 3), 1.0),
            "relabelled but otherwise perfect clusters should score 1.0: cluster ids are arbitrary, so match them "
            "to classes first.",
        )

    def one_to_one() -> None:
        # two clusters are both mostly class 0: a majority vote maps both to 0, a one-to-one matching may not
        y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 1, 2])
        c = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
        expect(
            np.isclose(call(y, c), 0.6),
            "each cluster may be matched to at most one class (and vice versa): solve the assignment with "
            "scipy.optimize.linear_sum_assignment instead of a majority vote per cluster.",
        )

    def more_clusters() -> None:
        y = np.array([0, 0, 1, 1, 1, 1])
        c = np.array([0, 0, 1, 1, 2, 2])
        expect(
            np.isclose(sized(y, c, "more clusters than classes"), 4 / 6),
            "with more clusters than classes the unmatched clusters count as errors: size the count table by the "
            "larger of the two label sets, do not merge clusters.",
        )

    def more_classes() -> None:
        y = np.array([0, 1, 2, 3, 3, 3, 1, 1])
        c = np.array([0, 0, 0, 1, 1, 1, 0, 0])
        expect(
            np.isclose(sized(y, c, "more classes than clusters"), 6 / 8),
            "with more classes than clusters the classes without a cluster count as errors: size the count table "
            "by the larger of the two label sets.",
        )

    def matched_share() -> None:
        y = np.array([2, 2, 2, 0, 0, 1, 1, 1, 1, 0])
        c = np.array([1, 1, 0, 2, 2, 0, 0, 0, 1, 2])
        expect(
            np.isclose(call(y, c), 0.8),
            "the accuracy is the number of samples on matched (cluster, class) pairs divided by the number of samples.",
        )

    return run_checks(
        "Hungarian accuracy", [scalar, permutation, one_to_one, more_clusters, more_classes, matched_share]
    )
