"""The Lab 08 self-checks pass on the solutions and fail on typical wrong answers."""

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
from course_utils.layers import ClusteringLayer
from course_utils.losses import clustering_kl


# --------------------------------------------------------------------------- soft assignment
def soft_ok(z, mu, alpha=1.0):
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1)
    k = ops.power(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0)
    return k / ops.sum(k, axis=1, keepdims=True)


def soft_unnormalized(z, mu, alpha=1.0):
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1)
    return ops.power(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0)


def soft_wrong_axis(z, mu, alpha=1.0):
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1)
    k = ops.power(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0)
    return k / ops.sum(k, axis=0, keepdims=True)


def soft_ignores_alpha(z, mu, alpha=1.0):
    return soft_ok(z, mu, 1.0)


def soft_plain_distance(z, mu, alpha=1.0):
    d = ops.sqrt(ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1))
    k = ops.power(1.0 + d / alpha, -(alpha + 1.0) / 2.0)
    return k / ops.sum(k, axis=1, keepdims=True)


def soft_wrong_sign(z, mu, alpha=1.0):
    d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(mu, 0)), axis=-1)
    k = ops.power(1.0 + d2 / alpha, (alpha + 1.0) / 2.0)
    return k / ops.sum(k, axis=1, keepdims=True)


def test_soft_assignment_check_passes(capsys):
    assert verdict(lab08.check_soft_assignment, soft_ok)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong", [soft_unnormalized, soft_wrong_axis, soft_ignores_alpha, soft_plain_distance, soft_wrong_sign]
)
def test_soft_assignment_check_fails(wrong, capsys):
    assert not verdict(lab08.check_soft_assignment, wrong)
    assert "✘" in capsys.readouterr().out


# --------------------------------------------------------------------------- target distribution
def target_ok(q):
    q = np.asarray(q, dtype="float64")
    w = q**2 / q.sum(0)
    return w / w.sum(1, keepdims=True)


def target_wrong_axis(q):
    q = np.asarray(q, dtype="float64")
    w = q**2 / q.sum(0)
    return w / w.sum(0, keepdims=True)


def target_no_frequency(q):
    q = np.asarray(q, dtype="float64")
    w = q**2
    return w / w.sum(1, keepdims=True)


def target_row_frequency(q):
    q = np.asarray(q, dtype="float64")
    w = q**2 / q.sum(1, keepdims=True)
    return w / w.sum(1, keepdims=True)


def target_identity(q):
    return np.asarray(q)


def test_target_check_passes(capsys):
    assert verdict(lab08.check_target_distribution, target_ok)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [target_wrong_axis, target_no_frequency, target_row_frequency, target_identity])
def test_target_check_fails(wrong, capsys):
    assert not verdict(lab08.check_target_distribution, wrong)
    assert "✘" in capsys.readouterr().out


# --------------------------------------------------------------------------- train_step
class ModelOK(keras.Model):
    """Reference solution (same as the notebook's): P gathered from a fixed variable, one combined step."""

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

    def terms(self, x, q, x_hat, p):
        rec = ops.mean(ops.square(x - x_hat))
        clu = clustering_kl(p, q)
        return (1.0 - self.lam) * rec + self.lam * clu, rec, clu

    def p_for(self, idx, q):
        return ops.take(self.p_target, idx, axis=0)

    def train_step(self, data):
        x, idx = data
        with tf.GradientTape() as tape:
            z = self.encoder(x, training=True)
            x_hat = self.decoder(z, training=True)
            q = self.clustering(z)
            total, rec, clu = self.terms(x, q, x_hat, self.p_for(idx, q))
        grads = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for tracker, value in zip(self.metrics, (total, rec, clu)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}


class ModelReverseKL(ModelOK):
    def terms(self, x, q, x_hat, p):
        rec = ops.mean(ops.square(x - x_hat))
        clu = clustering_kl(q, p)
        return (1.0 - self.lam) * rec + self.lam * clu, rec, clu


class ModelSwappedLambda(ModelOK):
    def terms(self, x, q, x_hat, p):
        rec = ops.mean(ops.square(x - x_hat))
        clu = clustering_kl(p, q)
        return self.lam * rec + (1.0 - self.lam) * clu, rec, clu


class ModelNoLambda(ModelOK):
    def terms(self, x, q, x_hat, p):
        rec = ops.mean(ops.square(x - x_hat))
        clu = clustering_kl(p, q)
        return rec + clu, rec, clu


def _p_from_q(q):
    w = q**2 / ops.sum(q, axis=0)
    return w / ops.sum(w, axis=1, keepdims=True)


class ModelGradThroughP(ModelOK):
    """Recomputes P from the current q inside the tape: gradients flow through P."""

    def p_for(self, idx, q):
        return _p_from_q(q)


class ModelGradThroughStoredP(ModelOK):
    """Uses the stored P for the reported loss but differentiates a loss whose P depends on q."""

    def train_step(self, data):
        x, idx = data
        p_fixed = ops.take(self.p_target, idx, axis=0)
        with tf.GradientTape() as tape:
            z = self.encoder(x, training=True)
            x_hat = self.decoder(z, training=True)
            q = self.clustering(z)
            total, rec, clu = self.terms(x, q, x_hat, p_fixed)
            p_live = p_fixed + (_p_from_q(q) - ops.stop_gradient(_p_from_q(q)))  # same value, gradient through P
            to_diff, _, _ = self.terms(x, q, x_hat, p_live)
        grads = tape.gradient(to_diff, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for tracker, value in zip(self.metrics, (total, rec, clu)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}


class ModelMSEOnSum(ModelOK):
    def terms(self, x, q, x_hat, p):
        rec = ops.sum(ops.square(x - x_hat)) / ops.cast(ops.shape(x)[0], x.dtype)
        clu = clustering_kl(p, q)
        return (1.0 - self.lam) * rec + self.lam * clu, rec, clu


def test_train_step_check_passes(capsys):
    assert verdict(lab08.check_clustering_train_step, ModelOK)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [ModelReverseKL, ModelSwappedLambda, ModelNoLambda, ModelGradThroughP, ModelGradThroughStoredP, ModelMSEOnSum],
)
def test_train_step_check_fails(wrong, capsys):
    assert not verdict(lab08.check_clustering_train_step, wrong)
    assert "✘" in capsys.readouterr().out


# --------------------------------------------------------------------------- Hungarian accuracy
def acc_ok(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(y_true.max(), y_pred.max()) + 1
    table = np.zeros((n, n), dtype=np.int64)
    np.add.at(table, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols].sum() / len(y_true)


def acc_plain(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def acc_majority(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    hits = sum(np.bincount(y_true[y_pred == c]).max() for c in np.unique(y_pred))
    return hits / len(y_true)


def acc_square_by_classes(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = y_true.max() + 1
    table = np.zeros((n, n), dtype=np.int64)
    np.add.at(table, (np.minimum(y_pred, n - 1), y_true), 1)  # folds extra clusters into the last one
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols].sum() / len(y_true)


def test_accuracy_check_passes(capsys):
    assert verdict(lab08.check_hungarian_accuracy, acc_ok)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [acc_plain, acc_majority, acc_square_by_classes])
def test_accuracy_check_fails(wrong, capsys):
    assert not verdict(lab08.check_hungarian_accuracy, wrong)
    assert "✘" in capsys.readouterr().out


def test_course_metric_passes_accuracy_check():
    from course_utils.metrics import cluster_accuracy

    assert verdict(lab08.check_hungarian_accuracy, cluster_accuracy)
