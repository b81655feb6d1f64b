"""The Lab 08 self-checks pass on the solutions and catch typical mistakes with the hint that names them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from check_helpers import verdict
from keras import ops
from scipy.optimize import linear_sum_assignment

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.checks import lab08
from course_utils.clustering import soft_assignment, target_distribution
from course_utils.layers import ClusteringLayer
from course_utils.losses import clustering_kl
from course_utils.metrics import cluster_accuracy
from course_utils.models import MultiLossModel, model_inputs


def expect_caught(check, arg, title, phrase, capsys):
    ok = verdict(check, arg)
    out = capsys.readouterr().out
    assert not ok, f"not caught; printed: {out}"
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"✘ {title}"), out
    assert phrase in last, out


def passes(check, arg, capsys):
    ok = verdict(check, arg)
    out = capsys.readouterr().out
    assert ok, out
    assert out.startswith("✔"), out


# --------------------------------------------------------------------------- soft assignment
def soft(
    z, mu, alpha=1.0, *, dist="sq", exponent=None, base_alpha=True, axis=1, normalize=True, kernel="t", alpha_mul=False
):
    """The notebook's solution, with one edit switched on."""
    z = ops.convert_to_tensor(z)
    mu = ops.cast(ops.convert_to_tensor(mu), z.dtype)
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1)
    d = ops.sqrt(d2) if dist == "plain" else d2
    scaled = d * alpha if alpha_mul else (d / alpha if base_alpha else d)
    power = -(alpha + 1.0) / 2.0 if exponent is None else exponent(alpha)
    k = {"t": lambda: ops.power(1.0 + scaled, power), "gauss": lambda: ops.exp(-d)}[kernel]()
    if not normalize:
        return k
    return k / ops.sum(k, axis=axis, keepdims=True)


def _s(**kw):
    return lambda z, mu, alpha=1.0: soft(z, mu, alpha, **kw)


def soft_numpy(z, mu, alpha=1.0):
    z, mu = np.asarray(z), np.asarray(mu)
    d2 = ((z[:, None] - mu[None]) ** 2).sum(-1)
    k = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return k / k.sum(1, keepdims=True)


def soft_max_normalized(z, mu, alpha=1.0):
    k = soft(z, mu, alpha, normalize=False)
    return k / ops.max(k, axis=1, keepdims=True)


def soft_wrong_sum_axis(z, mu, alpha=1.0):
    z = ops.convert_to_tensor(z)
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(ops.convert_to_tensor(mu), 0)), axis=1)
    k = ops.power(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0)
    return k / ops.sum(k, axis=1, keepdims=True)


SOFT_MISTAKES = {
    "unnormalized": (_s(normalize=False), "sum to 1"),
    "normalized-over-samples": (_s(axis=0), "not the samples"),
    "normalized-by-max": (soft_max_normalized, "sum to 1"),
    "distance-summed-over-clusters": (soft_wrong_sum_axis, "should have shape"),
    "plain-distance": (_s(dist="plain"), "squared Euclidean distance"),
    "positive-exponent": (_s(exponent=lambda a: (a + 1.0) / 2.0), "sign of the exponent"),
    "exponent-without-half": (_s(exponent=lambda a: -(a + 1.0)), "the exponent is off"),
    "exponent-minus-alpha-half": (_s(exponent=lambda a: -a / 2.0), "the exponent is off"),
    "exponent-fixed-at-minus-one": (_s(exponent=lambda a: -1.0), "exponent ignores α"),
    "alpha-missing-in-base": (_s(base_alpha=False), "divide the squared distance by α"),
    "alpha-multiplies": (_s(alpha_mul=True), "not multiply"),
    "alpha-ignored": (lambda z, mu, alpha=1.0: soft(z, mu, 1.0), "α is ignored"),
    "gaussian-kernel": (_s(kernel="gauss"), "not a Gaussian"),
    "numpy": (soft_numpy, "keras.ops"),
}


@pytest.mark.parametrize("fn", [_s(), soft_assignment], ids=["solution", "package"])
def test_soft_assignment_check_passes(fn, capsys):
    passes(lab08.check_soft_assignment, fn, capsys)


@pytest.mark.parametrize("mistake", sorted(SOFT_MISTAKES))
def test_soft_assignment_check_catches_mistake(mistake, capsys):
    fn, phrase = SOFT_MISTAKES[mistake]
    expect_caught(lab08.check_soft_assignment, fn, "soft assignment", phrase, capsys)


# --------------------------------------------------------------------------- target distribution
def target(q, *, power=2.0, freq="soft", freq_op="divide", norm="rows", in_place=False):
    """The notebook's solution, with one edit switched on."""
    q = np.asarray(q, dtype="float64") if not in_place else q
    f = {
        "soft": lambda: q.sum(0),
        "none": lambda: np.ones(q.shape[1]),
        "row": lambda: q.sum(1, keepdims=True),
        "hard": lambda: np.maximum(np.bincount(q.argmax(1), minlength=q.shape[1]), 1),
        "squared": lambda: q.sum(0) ** 2,
    }[freq]()
    if in_place:
        q **= 2
        w = q / f
    else:
        w = q**power / f if freq_op == "divide" else q**power * f
    if norm == "rows":
        return w / w.sum(1, keepdims=True)
    if norm == "columns":
        return w / w.sum(0, keepdims=True)
    if norm == "total":
        return w / w.sum()
    return w


def _t(**kw):
    return lambda q: target(q, **kw)


def target_softmax(q):
    w = np.asarray(q, dtype="float64") ** 2 / np.asarray(q).sum(0)
    e = np.exp(w)
    return e / e.sum(1, keepdims=True)


TARGET_MISTAKES = {
    "identity": (lambda q: np.asarray(q), "p equals q"),
    "normalized-over-columns": (_t(norm="columns"), "columns of p sum to 1"),
    "normalized-by-total": (_t(norm="total"), "as a whole"),
    "not-normalized": (_t(norm=None), "each row of p should sum to 1"),
    "no-frequency": (_t(freq="none"), "soft cluster frequency"),
    "frequency-over-rows": (_t(freq="row"), "soft cluster frequency"),
    "multiplied-by-frequency": (_t(freq_op="multiply"), "do not multiply"),
    "frequency-squared": (_t(freq="squared"), "not by f_j²"),
    "hard-counts": (_t(freq="hard"), "not a count of hard assignments"),
    "cubed": (_t(power=3.0), "not 3"),
    "square-root": (_t(power=0.5), "square root"),
    "not-squared": (_t(power=1.0), "square q"),
    "softmax-instead-of-normalizing": (target_softmax, "renormalize each row"),
    "in-place": (_t(in_place=True), "in place"),
}


@pytest.mark.parametrize("fn", [_t(), target_distribution], ids=["solution", "package"])
def test_target_check_passes(fn, capsys):
    passes(lab08.check_target_distribution, fn, capsys)


@pytest.mark.parametrize("mistake", sorted(TARGET_MISTAKES))
def test_target_check_catches_mistake(mistake, capsys):
    fn, phrase = TARGET_MISTAKES[mistake]
    expect_caught(lab08.check_target_distribution, fn, "target distribution", phrase, capsys)


# --------------------------------------------------------------------------- train_step
class ModelOK(keras.Model):
    """The notebook's solution: P gathered from a fixed variable, augmented input, clean target, one step."""

    mistake: dict = {}

    def __init__(self, encoder, decoder, centroids, n_samples, lam=0.1, alpha=1.0, augment=None, **kwargs):
        super().__init__(**kwargs)
        centroids = np.asarray(centroids, dtype="float32")
        self.encoder, self.decoder, self.augment = encoder, decoder, augment
        self.lam = float(lam)
        self.clustering = ClusteringLayer(len(centroids), alpha=alpha, initial_centroids=centroids, name="clustering")
        self.p_target = self.add_weight(
            shape=(n_samples, len(centroids)), initializer="zeros", trainable=False, name="p_target"
        )
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.rec_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.clu_tracker = keras.metrics.Mean(name="clustering_loss")

    @property
    def metrics(self):
        return [self.total_tracker, self.rec_tracker, self.clu_tracker]

    def call(self, inputs, training=False):
        x = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        z = self.encoder(x, training=training)
        return self.decoder(z, training=training), self.clustering(z)

    def train_step(self, data):
        m = self.mistake
        images, idx = data
        p = ops.take(self.p_target, ops.cast(idx, "int32"), axis=0)
        if m.get("p") == "first-rows":
            p = self.p_target[: ops.shape(images)[0]]
        if self.augment is not None and m.get("augment") != "ignored":
            inputs = self.augment(images, training=m.get("augment") != "no-training-flag" or None)
        else:
            inputs = images
        with tf.GradientTape() as tape:
            z = self.encoder(inputs, training=True)
            reconstruction = self.decoder(z, training=True)
            q = self.clustering(self.encoder(images, training=True) if m.get("q") == "clean" else z)
            if m.get("p") == "recomputed":
                w = q**2 / ops.sum(q, axis=0)
                p = ops.stop_gradient(w / ops.sum(w, axis=1, keepdims=True))
            if m.get("p") == "live":
                w = q**2 / ops.sum(q, axis=0)
                p_live = w / ops.sum(w, axis=1, keepdims=True)
                p = p + (p_live - ops.stop_gradient(p_live))  # same value, gradient through P
            target = inputs if m.get("rec") == "augmented-target" else images
            if m.get("rec") == "clean-embedding":
                reconstruction = self.decoder(self.encoder(images, training=True), training=True)
            rec = ops.mean(ops.square(target - reconstruction))
            if m.get("rec") == "sum":
                rec = ops.sum(ops.square(target - reconstruction)) / ops.cast(ops.shape(images)[0], "float32")
            clu = {
                None: lambda: clustering_kl(p, q),
                "reverse": lambda: clustering_kl(q, p),
                "mean": lambda: ops.mean(p * (ops.log(p + 1e-10) - ops.log(q + 1e-10))),
                "cross-entropy": lambda: ops.mean(-ops.sum(p * ops.log(q + 1e-10), axis=1)),
            }[m.get("clu")]()
            total = {
                None: lambda: (1.0 - self.lam) * rec + self.lam * clu,
                "swapped": lambda: self.lam * rec + (1.0 - self.lam) * clu,
                "none": lambda: rec + clu,
                "half": lambda: rec + self.lam * clu,
            }[m.get("total")]()
        wrt = self.trainable_variables
        if m.get("variables") == "no-centroids":
            wrt = self.encoder.trainable_variables + self.decoder.trainable_variables
        grads = tape.gradient(total, wrt)
        self.optimizer.apply(grads, wrt)
        if m.get("p_write"):
            w = q**2 / ops.sum(q, axis=0)  # refreshes P for the batch inside the step
            rows = ops.expand_dims(ops.cast(idx, "int32"), 1)
            self.p_target.assign(tf.tensor_scatter_nd_update(self.p_target, rows, w / ops.sum(w, 1, keepdims=True)))
        if m.get("trackers") == "reset":
            for tracker in self.metrics:
                tracker.reset_state()
        for tracker, value in zip(self.metrics, (total, rec, clu)):
            if not (m.get("trackers") == "skip-clustering" and tracker is self.clu_tracker):
                tracker.update_state(value)
        if m.get("trackers") == "values":
            return {"loss": total, "reconstruction_loss": rec, "clustering_loss": clu}
        return {t.name: t.result() for t in self.metrics}


def _model(**mistake):
    return type("ClusteringAutoencoder", (ModelOK,), {"mistake": mistake})


TRAIN_STEP_MISTAKES = {
    "reverse-kl": ({"clu": "reverse"}, "is KL(Q‖P)"),
    "kl-mean-over-entries": ({"clu": "mean"}, "averages over the clusters"),
    "cross-entropy": ({"clu": "cross-entropy"}, "cross-entropy"),
    "swapped-lambda": ({"total": "swapped"}, "swaps the weights"),
    "no-lambda": ({"total": "none"}, "ignores λ"),
    "lambda-only-on-clustering": ({"total": "half"}, "(1 − λ) on the reconstruction"),
    "p-recomputed-from-q": ({"p": "recomputed"}, "recomputes P"),
    "p-first-rows": ({"p": "first-rows"}, "batch's indices"),
    "gradient-through-p": ({"p": "live"}, "P held constant"),
    "mse-summed-over-features": ({"rec": "sum"}, "summed over the features"),
    "augmentation-ignored": ({"augment": "ignored"}, "encode self.augment"),
    "augment-without-training-flag": ({"augment": "no-training-flag"}, "encode self.augment"),
    "reconstructs-augmented-images": ({"rec": "augmented-target"}, "against the augmented images"),
    "reconstruction-from-clean-embedding": ({"rec": "clean-embedding"}, "encode self.augment"),
    "q-from-clean-images": ({"q": "clean"}, "q of the clean images"),
    "centroids-not-trained": ({"variables": "no-centroids"}, "centroids did not move"),
    "writes-p-target": ({"p_write": True}, "must not change model.p_target"),
    "trackers-reset-every-step": ({"trackers": "reset"}, "never reset"),
    "clustering-tracker-not-updated": ({"trackers": "skip-clustering"}, "holds 0 updates"),
    "returns-step-values": ({"trackers": "values"}, "not the mean of the per-step values"),
}


class NotebookModel(MultiLossModel):
    """The notebook's current form: MultiLossModel, the exercise is compute_losses (train_step is inherited)."""

    loss_terms = ("reconstruction", "clustering")
    sub_models = ("encoder", "decoder", "augment")
    take_axis = 0

    def __init__(self, encoder, decoder, centroids, n_samples, lam=0.1, alpha=1.0, augment=None, **kwargs):
        super().__init__(**kwargs)
        centroids = np.asarray(centroids, dtype="float32")
        self.encoder, self.decoder, self.augment = encoder, decoder, augment
        self.lam = float(lam)
        self.clustering = ClusteringLayer(len(centroids), alpha=alpha, initial_centroids=centroids, name="clustering")
        self.p_target = self.add_weight(
            shape=(n_samples, len(centroids)), initializer="zeros", trainable=False, name="p_target"
        )

    def call(self, inputs, training=False):
        z = self.encoder(model_inputs(inputs), training=training)
        return self.decoder(z, training=training), self.clustering(z)

    def compute_losses(self, data, training=False):
        images, idx = data
        p = ops.take(self.p_target, ops.cast(idx, "int32"), axis=self.take_axis)
        inputs = self.augment(images, training=True) if training and self.augment is not None else images
        z = self.encoder(inputs, training=training)
        rec = ops.mean(ops.square(images - self.decoder(z, training=training)))
        clu = clustering_kl(p, self.clustering(z))
        return {"loss": (1.0 - self.lam) * rec + self.lam * clu, "reconstruction_loss": rec, "clustering_loss": clu}


class NotebookModelFlatTake(NotebookModel):
    take_axis = None  # ops.take without axis=0 indexes the flattened table


@pytest.mark.parametrize("cls", [ModelOK, NotebookModel], ids=["train-step-solution", "notebook-compute-losses"])
def test_train_step_check_passes(cls, capsys):
    passes(lab08.check_clustering_train_step, cls, capsys)


def test_train_step_check_catches_flattened_lookup(capsys):
    expect_caught(
        lab08.check_clustering_train_step, NotebookModelFlatTake, "combined train_step", "different shapes", capsys
    )


@pytest.mark.parametrize("mistake", sorted(TRAIN_STEP_MISTAKES))
def test_train_step_check_catches_mistake(mistake, capsys):
    kwargs, phrase = TRAIN_STEP_MISTAKES[mistake]
    expect_caught(lab08.check_clustering_train_step, _model(**kwargs), "combined train_step", phrase, capsys)


# --------------------------------------------------------------------------- Hungarian accuracy
def acc(y_true, y_pred, *, size="both", negate=True, divide="n", table_order="pred-true"):
    """The notebook's solution, with one edit switched on."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = {"both": max(y_true.max(), y_pred.max()), "classes": y_true.max(), "clusters": y_pred.max()}[size] + 1
    table = np.zeros((n, n), dtype=np.int64)
    if table_order == "pred-true":
        np.add.at(table, (y_pred, y_true), 1)
    else:
        np.add.at(table, (np.minimum(y_pred, n - 1), y_true), 1)  # folds extra clusters into the last one
    rows, cols = linear_sum_assignment(-table if negate else table)
    hits = table[rows, cols].sum()
    return {"n": hits / len(y_true), "count": hits, "percent": 100.0 * hits / len(y_true), "classes": hits / n}[divide]


def _a(**kw):
    return lambda y_true, y_pred: acc(y_true, y_pred, **kw)


def acc_plain(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def acc_majority(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    hits = sum(np.bincount(y_true[y_pred == c]).max() for c in np.unique(y_pred))
    return hits / len(y_true)


def acc_returns_matching(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(y_true.max(), y_pred.max()) + 1
    table = np.zeros((n, n), dtype=np.int64)
    np.add.at(table, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols].sum() / len(y_true), dict(zip(rows, cols))


def acc_per_cluster(y_true, y_pred):
    """Returns the matched share of every cluster instead of one number."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(y_true.max(), y_pred.max()) + 1
    table = np.zeros((n, n), dtype=np.int64)
    np.add.at(table, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols] / len(y_true)


ACCURACY_MISTAKES = {
    "plain-accuracy": (acc_plain, "match them to classes first"),
    "majority-vote": (acc_majority, "at most one class"),
    "extra-clusters-folded": (_a(table_order="fold", size="classes"), "do not merge clusters"),
    "table-sized-by-classes": (_a(size="classes"), "more clusters than classes the count table is too small"),
    "table-sized-by-clusters": (_a(size="clusters"), "more classes than clusters the count table is too small"),
    "matching-minimised": (_a(negate=False), "minimises the matched count"),
    "returns-count": (_a(divide="count"), "share between 0 and 1"),
    "returns-percent": (_a(divide="percent"), "share between 0 and 1"),
    "divides-by-number-of-labels": (_a(divide="classes"), "share between 0 and 1"),
    "returns-tuple": (acc_returns_matching, "one number"),
    "returns-per-cluster-array": (acc_per_cluster, "one number"),
}


@pytest.mark.parametrize("fn", [_a(), cluster_accuracy], ids=["solution", "package"])
def test_accuracy_check_passes(fn, capsys):
    passes(lab08.check_hungarian_accuracy, fn, capsys)


@pytest.mark.parametrize("mistake", sorted(ACCURACY_MISTAKES))
def test_accuracy_check_catches_mistake(mistake, capsys):
    fn, phrase = ACCURACY_MISTAKES[mistake]
    expect_caught(lab08.check_hungarian_accuracy, fn, "Hungarian accuracy", phrase, capsys)
