"""Lab 06 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from check_helpers import run
from keras import ops

from course_utils.checks import lab06
from course_utils.models import MultiLossModel, model_inputs

# ----------------------------------------------------------------------------------------------
# Reference solutions, written independently of the notebook, with switches for typical mistakes
# ----------------------------------------------------------------------------------------------


def exact(encoder, x, mistake=None):
    x = tf.convert_to_tensor(x)
    if mistake == "numpy-input":
        x = tf.constant(x.numpy())
    with tf.GradientTape(persistent=True) as tape:
        if mistake != "no-watch":
            tape.watch(x)
        h = encoder(x)
        total = tf.reduce_sum(h)
    if mistake == "grad-of-sum":
        g = tape.gradient(total, x)
        return tf.reduce_sum(tf.square(tf.reshape(g, (tf.shape(x)[0], -1))), axis=1)
    if mistake == "sigmoid-formula":
        kernel = encoder.layers[-1].kernel
        return tf.reduce_sum(tf.square(h * (1 - h)) * tf.reduce_sum(tf.square(kernel), axis=0), axis=1)
    jac = tape.batch_jacobian(h, x)
    if mistake == "stop-gradient":
        jac = tf.stop_gradient(jac)
    sq = tf.abs(jac) if mistake == "abs" else tf.square(jac)
    if mistake == "code-axis-only":
        return tf.reduce_sum(sq, axis=1)
    flat = tf.reshape(sq, (tf.shape(x)[0], -1))
    if mistake == "batch-mean":
        return tf.reduce_mean(tf.reduce_sum(flat, axis=1))
    per = tf.reduce_mean(flat, axis=1) if mistake == "entry-mean" else tf.reduce_sum(flat, axis=1)
    if mistake == "not-squared":
        per = tf.sqrt(per)
    if mistake == "squeeze":
        per = tf.squeeze(per)
    if mistake == "numpy-output":
        return per.numpy()
    return per


def sigmoid_closed_form(h, kernel, mistake=None):
    if mistake == "numpy-kernel":
        kernel = np.asarray(kernel.numpy())
    if mistake == "stop-h":
        h = tf.stop_gradient(h)
    slope = {
        "no-square-slope": None,
        "slope-is-h": h,
        "sigmoid-again": ops.sigmoid(h) * (1 - ops.sigmoid(h)),
        "tanh-slope": 1 - ops.square(h),
    }.get(mistake, h * (1 - h))
    if mistake == "no-square-slope":
        slope_term = h * (1 - h)
    else:
        slope_term = ops.square(slope)
    if mistake == "weights-not-squared":
        weights = ops.sum(kernel, axis=0)
    elif mistake == "wrong-axis":
        weights = ops.sum(ops.square(kernel), axis=1)
    else:
        weights = ops.sum(ops.square(kernel), axis=0)
    terms = slope_term * weights
    if mistake == "batch-sum":
        return ops.sum(terms)
    out = ops.mean(terms, axis=-1) if mistake == "unit-mean" else ops.sum(terms, axis=-1)
    return ops.sqrt(out) if mistake == "sqrt" else out


# ----------------------------------------------------------------------------------------------
# Exercise 1: exact penalty
# ----------------------------------------------------------------------------------------------


def test_exact_penalty_passes_on_correct_solution(capsys):
    ok, out = run(lab06.check_contractive_penalty_exact, exact, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ exact contractive penalty")


def test_exact_penalty_passes_with_full_jacobian(capsys):
    """tape.jacobian over the whole batch is slower but right (cross-example blocks are zero)."""

    def full(encoder, x):
        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = encoder(x)
        jac = tape.jacobian(h, x)  # (B, k, B, ...)
        n = tf.shape(x)[0]
        return tf.reduce_sum(tf.reshape(tf.square(jac), (n, -1)), axis=1)

    ok, out = run(lab06.check_contractive_penalty_exact, full, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("batch-mean", "single number"),
        ("squeeze", "batch of one"),
        ("code-axis-only", "has shape"),
        ("not-squared", "not its square"),
        ("grad-of-sum", "Jᵀ1"),
        ("entry-mean", "do not average"),
        ("abs", "square every entry"),
        ("sigmoid-formula", "h(1−h) is the sigmoid's derivative only"),
        ("numpy-output", "no gradient reaches"),
        ("stop-gradient", "no gradient reaches"),
        ("no-watch", "tape.watch"),
        ("numpy-input", "inside tf.function"),
    ],
)
def test_exact_penalty_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab06.check_contractive_penalty_exact, lambda enc, x: exact(enc, x, mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ exact contractive penalty")
    assert hint in out, out


def test_exact_penalty_reports_not_implemented(capsys):
    def stub(encoder, x):
        raise NotImplementedError("Exercise: ...")

    ok, out = run(lab06.check_contractive_penalty_exact, stub, capsys=capsys)
    assert not ok and "not implemented" in out


# ----------------------------------------------------------------------------------------------
# Exercise 2: closed form for a sigmoid layer
# ----------------------------------------------------------------------------------------------


def test_sigmoid_penalty_passes_on_correct_solution(capsys):
    ok, out = run(lab06.check_contractive_penalty_sigmoid, sigmoid_closed_form, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ sigmoid closed-form penalty")


def test_sigmoid_penalty_passes_with_einsum(capsys):
    def with_einsum(h, kernel):
        return tf.einsum("bj,ij->b", tf.square(h * (1 - h)), tf.square(kernel))

    ok, out = run(lab06.check_contractive_penalty_sigmoid, with_einsum, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("batch-sum", "single number"),
        ("no-square-slope", "enters squared"),
        ("slope-is-h", "not h."),
        ("sigmoid-again", "do not apply the sigmoid again"),
        ("tanh-slope", "derivative of tanh"),
        ("weights-not-squared", "square the weights"),
        ("wrong-axis", "input axis"),
        ("sqrt", "no square root"),
        ("unit-mean", "do not average"),
        ("numpy-kernel", "frozen"),
        ("stop-h", "no gradient reaches h"),
    ],
)
def test_sigmoid_penalty_catches_mistake(capsys, mistake, hint):
    ok, out = run(
        lab06.check_contractive_penalty_sigmoid, lambda h, k: sigmoid_closed_form(h, k, mistake), capsys=capsys
    )
    assert not ok
    assert out.startswith("✘ sigmoid closed-form penalty")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: compute_losses (the contractive loss) and the train_step that minimises it
# ----------------------------------------------------------------------------------------------


def make_cae(mistake=None):
    """A contractive autoencoder written independently of the notebook; `mistake` switches one typical error in."""

    class CAE(MultiLossModel):
        loss_terms = ("reconstruction", "contractive")

        def __init__(self, encoder, decoder, lam=0.1, penalty="exact", **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder, self.lam, self.penalty = encoder, decoder, float(lam), penalty

        def call(self, x, training=False):
            return self.decoder(self.encoder(x))

        def terms(self, x):
            m = mistake
            h = self.encoder(x)
            x_hat = self.decoder(h)
            if m == "decoder-jacobian":
                per = exact(self.decoder, h)
            elif m == "whole-jacobian":
                per = exact(self, x)
            elif self.penalty == "sigmoid" and m != "sigmoid-ignored-wrongly":
                per = sigmoid_closed_form(h, self.encoder.get_layer("code").kernel)
            elif m == "sigmoid-ignored-wrongly" and self.penalty == "sigmoid":
                per = sigmoid_closed_form(h, tf.ones_like(self.encoder.get_layer("code").kernel))
            else:
                per = exact(self.encoder, x)
            if m == "not-squared":
                per = tf.sqrt(per)
            if m == "stop-gradient":
                per = tf.stop_gradient(per)
            pen = tf.reduce_sum(per) if m == "batch-sum" else tf.reduce_mean(per)
            err = tf.square(x_hat - x)
            rec = (
                tf.reduce_mean(tf.reduce_sum(tf.reshape(err, (tf.shape(x)[0], -1)), 1))
                if m == "pixel-sum"
                else (tf.reduce_mean(err))
            )
            total = {
                "no-lambda": rec + pen,
                "lambda-on-reconstruction": self.lam * rec + pen,
                "sign": rec - self.lam * pen,
                "no-penalty": rec,
                "no-reconstruction": self.lam * pen,
                "lambda-twice": rec + 2 * self.lam * pen,
            }.get(m, rec + self.lam * pen)
            tracked_pen = self.lam * pen if m == "lambda-in-tracker" else pen
            tracked_rec = total if m == "total-in-tracker" else rec
            return {"loss": total, "reconstruction_loss": tracked_rec, "contractive_loss": tracked_pen}

        def compute_losses(self, data, training=False):
            x = model_inputs(data)
            if mistake == "stale-compute-losses":  # train_step computes the loss itself; this copy lags behind
                rec = tf.reduce_mean(tf.square(self.decoder(self.encoder(x)) - x))
                return {"loss": rec, "reconstruction_loss": rec, "contractive_loss": tf.zeros(())}
            return self.terms(x)

        def train_step(self, data):
            m = mistake
            x = model_inputs(data)
            if m == "outside-tape":
                losses = self.compute_losses(data, training=True)
            with tf.GradientTape() as tape:
                if m == "stale-compute-losses":
                    losses = self.terms(x)
                elif m != "outside-tape":
                    losses = self.compute_losses(data, training=True)
                total = losses["reconstruction_loss"] if m == "differentiate-reconstruction" else losses["loss"]
            variables = {
                "encoder-only": self.encoder.trainable_variables,
                "decoder-only": self.decoder.trainable_variables,
            }.get(m, self.trainable_variables)
            grads = tape.gradient(total, variables)
            if m != "no-apply":
                self.optimizer.apply(grads, variables)
            if m == "no-trackers":
                return losses
            if m == "numpy-in-step":
                print_value = losses["loss"].numpy()  # noqa: F841  (breaks inside tf.function)
            if m == "trackers-twice":
                self.update_trackers(losses)
            return self.update_trackers(losses)

        def get_config(self):
            extra = {} if mistake == "lam-not-saved" else {"lam": self.lam}
            return super().get_config() | extra | {"penalty": self.penalty}

    if mistake == "no-override":
        del CAE.train_step
    if mistake == "no-compute-losses":  # the whole loss written inside train_step, none for evaluate
        del CAE.compute_losses
    CAE.__name__ = f"CAE_{mistake}"
    return keras.saving.register_keras_serializable(package="test_lab06")(CAE)


def test_train_step_passes_on_correct_solution(capsys):
    ok, out = run(lab06.check_contractive_train_step, make_cae(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ contractive train_step")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("no-override", "no train_step of its own"),
        ("no-compute-losses", "no compute_losses of its own"),
        ("not-squared", "not of its square"),
        ("decoder-jacobian", "decoder's Jacobian"),
        ("whole-jacobian", "whole autoencoder"),
        ("batch-sum", "summed over the batch"),
        ("pixel-sum", "summed over the pixels"),
        ("no-lambda", "weights the penalty by 1"),
        ("lambda-on-reconstruction", "λ multiplies the reconstruction"),
        ("lambda-twice", "weighted by 2λ"),
        ("sign", "penalty is subtracted"),
        ("no-penalty", "reconstruction alone"),
        ("no-reconstruction", "λ·penalty alone"),
        ("lambda-in-tracker", "λ enters only the total"),
        ("total-in-tracker", "reconstruction_loss holds the total"),
        ("stop-gradient", "reconstruction loss only"),
        ("differentiate-reconstruction", "reconstruction loss only"),
        ("encoder-only", "decoder's weights did not change"),
        ("decoder-only", "encoder's weights did not change"),
        ("no-apply", "changed no weight"),
        ("no-trackers", "holds 0 updates"),
        ("trackers-twice", "holds 2 updates"),
        ("outside-tape", "inside the `with tf.GradientTape()`"),
        ("numpy-in-step", "fails compiled"),
        ("sigmoid-ignored-wrongly", 'penalty="sigmoid"'),
        ("stale-compute-losses", "evaluate (the base test_step"),
        ("lam-not-saved", "get_config"),
    ],
)
def test_train_step_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab06.check_contractive_train_step, make_cae(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ contractive train_step")
    assert hint in out, out
