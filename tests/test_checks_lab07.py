"""The Lab 07 self-checks pass on correct answers and catch typical mistakes with the hint that names them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from check_helpers import verdict
from keras import ops

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils import models
from course_utils.checks import lab07
from course_utils.layers import Sampling
from course_utils.losses import bernoulli_log_likelihood, gaussian_kl
from course_utils.models import MultiLossModel, model_inputs


def expect_caught(check, arg, title, phrase, capsys):
    ok = verdict(check, arg)
    out = capsys.readouterr().out
    assert not ok, f"not caught; printed: {out}"
    last = out.strip().splitlines()[-1]  # the check's own line (a student's print may come before it)
    assert last.startswith(f"✘ {title}"), out
    assert phrase in last, out


# ------------------------------------------------------------------------------------ sampling layers
def _sampling_class(transform=lambda m, lv, e: m + ops.exp(0.5 * lv) * e, noise="normal", only_training=False):
    """A student's Sampling layer; ``noise`` says how ε is drawn."""

    class StudentSampling(keras.layers.Layer):
        def __init__(self, seed=None, **kw):
            super().__init__(**kw)
            self.seed_generator = keras.random.SeedGenerator(None if noise == "unseeded" else seed)

        def call(self, inputs, training=False):
            m, lv = inputs
            if only_training and not training:
                return m
            shape = ops.shape(m)
            if noise == "per-example":  # one ε per example, shared by all latent dimensions
                e = keras.random.normal((shape[0], 1), seed=self.seed_generator)
            elif noise == "per-dimension":  # one ε per dimension, shared by all examples
                e = keras.random.normal((1, shape[1]), seed=self.seed_generator)
            elif noise == "int-seed":
                e = keras.random.normal(shape, seed=1234)
            elif noise == "generator-in-call":
                e = keras.random.normal(shape, seed=keras.random.SeedGenerator(1234))
            elif noise == "numpy":
                e = np.random.normal(size=tuple(m.shape)).astype("float32")
            elif noise == "uniform":
                e = np.sqrt(12.0) * (keras.random.uniform(shape, seed=self.seed_generator) - 0.5)
            else:
                e = keras.random.normal(shape, dtype=m.dtype, seed=self.seed_generator)
            return transform(m, lv, e)

    return StudentSampling


SAMPLING_MISTAKES = {
    "log-var-as-sigma": (_sampling_class(lambda m, lv, e: m + lv * e), "standard deviation"),
    "variance-as-sigma": (_sampling_class(lambda m, lv, e: m + ops.exp(lv) * e), "standard deviation"),
    "mean-and-sigma-swapped": (_sampling_class(lambda m, lv, e: ops.exp(0.5 * lv) + m * e), "sample mean"),
    "stop-gradient-noise-term": (
        _sampling_class(lambda m, lv, e: m + ops.stop_gradient(ops.exp(0.5 * lv) * e)),
        "does not reach z_log_var",
    ),
    "stop-gradient-output": (
        _sampling_class(lambda m, lv, e: ops.stop_gradient(m + ops.exp(0.5 * lv) * e)),
        "with respect to z_mean",
    ),
    "stop-gradient-mean": (
        _sampling_class(lambda m, lv, e: ops.stop_gradient(m) + ops.exp(0.5 * lv) * e),
        "with respect to z_mean",
    ),
    "no-noise": (_sampling_class(lambda m, lv, e: m + 0.0 * e), "noise term is missing"),
    "mean-missing": (_sampling_class(lambda m, lv, e: ops.exp(0.5 * lv) * e), "sample mean"),
    "noise-only-when-training": (_sampling_class(only_training=True), "unless training=True"),
    "noise-shared-by-dimensions": (_sampling_class(noise="per-example"), "correlated"),
    "noise-shared-by-examples": (_sampling_class(noise="per-dimension"), "same noise"),
    "seed-ignored": (_sampling_class(noise="unseeded"), "same seed"),
    "fixed-integer-seed": (_sampling_class(noise="int-seed"), "two calls gave the same z"),
    "generator-made-in-call": (_sampling_class(noise="generator-in-call"), "two calls gave the same z"),
    "numpy-noise": (_sampling_class(noise="numpy"), "NumPy"),
    "uniform-noise": (_sampling_class(noise="uniform"), "not standard normal"),
}


@pytest.mark.parametrize(
    "cls",
    [
        Sampling,
        _sampling_class(),
        _sampling_class(lambda m, lv, e: m - ops.sqrt(ops.exp(lv)) * e),
    ],
    ids=["package", "solution", "sqrt-of-variance-minus"],
)
def test_sampling_check_passes_on_correct_answers(cls, capsys):
    assert verdict(lab07.check_sampling, cls), capsys.readouterr().out
    assert "✔ Sampling layer" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", sorted(SAMPLING_MISTAKES))
def test_sampling_check_catches_mistake(mistake, capsys):
    cls, phrase = SAMPLING_MISTAKES[mistake]
    expect_caught(lab07.check_sampling, cls, "Sampling layer", phrase, capsys)


def test_sampling_check_reports_unfinished_exercise(capsys):
    class Todo(keras.layers.Layer):
        def call(self, inputs):
            raise NotImplementedError("Exercise: ...")

    expect_caught(lab07.check_sampling, Todo, "Sampling layer", "not implemented", capsys)


# ------------------------------------------------------------------------------------ KL functions
def _kl_reference(m, lv):
    return 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=-1)


def _kl_numpy(m, lv):
    m, lv = np.asarray(m), np.asarray(lv)
    return 0.5 * np.sum(m**2 + np.exp(lv) - 1.0 - lv, axis=-1)


KL_MISTAKES = {
    "sign-flipped": (lambda m, lv: -_kl_reference(m, lv), "sign"),
    "averaged-over-latent-dims": (
        lambda m, lv: 0.5 * ops.mean(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=-1),
        "averaged over the latent dimensions",
    ),
    "averaged-over-the-batch": (lambda m, lv: ops.mean(_kl_reference(m, lv)), "one KL value per example"),
    "summed-over-batch-axis": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=0),
        "one KL value per example",
    ),
    "keepdims": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=-1, keepdims=True),
        "one KL value per example",
    ),
    "log-var-read-as-sigma": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.square(lv) - 1.0 - ops.log(ops.square(lv) + 1e-8), axis=-1),
        "not σ",
    ),
    "log-var-read-as-log-sigma": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.exp(2.0 * lv) - 1.0 - 2.0 * lv, axis=-1),
        "not log σ",
    ),
    "missing-half": (lambda m, lv: 2.0 * _kl_reference(m, lv), "factor ½ is missing"),
    "half-applied-twice": (lambda m, lv: 0.5 * _kl_reference(m, lv), "applied once"),
    "missing-minus-one": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - lv, axis=-1),
        "constant −1 (per latent dimension) is missing",
    ),
    "missing-mu-squared": (lambda m, lv: 0.5 * ops.sum(ops.exp(lv) - 1.0 - lv, axis=-1), "μ² term"),
    "reverse-direction": (
        lambda m, lv: 0.5 * ops.sum((ops.square(m) + 1.0) * ops.exp(-lv) - 1.0 + lv, axis=-1),
        "reverse direction",
    ),
    "plus-log-variance": (
        lambda m, lv: 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - 1.0 + lv, axis=-1),
        "disagree with KL",
    ),
    "numpy": (_kl_numpy, "keras.ops"),
}


@pytest.mark.parametrize("fn", [gaussian_kl, _kl_reference], ids=["package", "solution"])
def test_kl_check_passes_on_correct_answers(fn, capsys):
    assert verdict(lab07.check_kl, fn), capsys.readouterr().out


@pytest.mark.parametrize("mistake", sorted(KL_MISTAKES))
def test_kl_check_catches_mistake(mistake, capsys):
    fn, phrase = KL_MISTAKES[mistake]
    expect_caught(lab07.check_kl, fn, "KL term", phrase, capsys)


# ------------------------------------------------------------------------------------ VAE classes
def _vae_class(
    *,
    variables="all",
    track_kl=True,
    sign=1.0,
    stop_sampling=False,
    use_mean=False,
    beta_on="kl",
    rec="bernoulli",
    batch="mean",
    kl="closed-form",
    kl_sign=1.0,
    drop=None,
    reset=False,
    twice=False,
    return_values=False,
    numpy=False,
    own_train_step=True,
    apply=True,
    tracker_for_kl="kl_loss",
    total_only=False,
    inline=False,
    sample_twice=False,
):
    """The notebook's solution (compute_losses + train_step on MultiLossModel), with one mistake switched on."""

    def negative_elbo(self, x, training):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = z_mean if use_mean else self.sampling([z_mean, z_log_var])
        if sample_twice:  # a second draw decoded: not the z of the first one
            z = self.sampling([z_mean, z_log_var])
        if stop_sampling:
            z = ops.stop_gradient(z)
        logits = self.decoder(z, training=training)
        if rec == "bernoulli":
            per_image = -bernoulli_log_likelihood(x, logits)
        elif rec == "double-sigmoid":
            per_image = -bernoulli_log_likelihood(x, ops.sigmoid(logits))
        elif rec == "pixel-mean":
            per_image = -bernoulli_log_likelihood(x, logits) / 36.0
        else:  # squared error on probabilities
            per_image = ops.sum(ops.reshape(ops.square(x - ops.sigmoid(logits)), (ops.shape(x)[0], -1)), 1)
        kl_per = {
            "closed-form": lambda: gaussian_kl(z_mean, z_log_var),
            "mean-latent": lambda: gaussian_kl(z_mean, z_log_var) / 2.0,
            "log-sigma": lambda: 0.5 * ops.sum(ops.square(z_mean) + ops.exp(2 * z_log_var) - 1 - 2 * z_log_var, -1),
        }[kl]()
        reduce = ops.sum if batch == "sum" else ops.mean
        reconstruction, kl_value = reduce(per_image), ops.mean(kl_per)
        if beta_on == "rec":
            total = self.beta * reconstruction + kl_value
        elif drop == "kl":
            total = reconstruction
        elif drop == "reconstruction":
            total = self.beta * kl_value
        else:
            total = reconstruction + kl_sign * (self.beta if beta_on == "kl" else 1.0) * kl_value
        return {"loss": total, "reconstruction_loss": reconstruction, "kl_loss": kl_value}

    class VAE(MultiLossModel):
        loss_terms = ("reconstruction", "kl")

        def __init__(self, encoder, decoder, beta=1.0, seed=0, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.beta, self.seed = float(beta), seed
            self.sampling = Sampling(seed=seed, name="sampling")

        def call(self, x, training=False):
            z_mean, z_log_var = self.encoder(x, training=training)
            return self.decoder(self.sampling([z_mean, z_log_var]), training=training)

    if not inline:

        def compute_losses(self, data, training=False):
            return negative_elbo(self, model_inputs(data), training)

        VAE.compute_losses = compute_losses

    def train_step(self, data):
        with tf.GradientTape() as tape:
            if inline:  # the loss written inside train_step only: test_step has none
                losses = negative_elbo(self, model_inputs(data), True)
            else:
                losses = self.compute_losses(data, training=True)
            objective = sign * losses["loss"]
        if numpy:
            print("loss", losses["loss"].numpy())
        wrt = {
            "all": self.trainable_variables,
            "encoder": self.encoder.trainable_variables,
            "decoder": self.decoder.trainable_variables,
        }[variables]
        grads = tape.gradient(objective, wrt)
        if apply:
            self.optimizer.apply(grads, wrt)
        if total_only:
            self.trackers["loss"].update_state(losses["loss"])
            return {"loss": self.trackers["loss"].result()}
        if not track_kl or tracker_for_kl != "kl_loss":
            self.trackers["loss"].update_state(losses["loss"])
            self.trackers["reconstruction_loss"].update_state(losses["reconstruction_loss"])
            if tracker_for_kl != "kl_loss":
                self.trackers["kl_loss"].update_state(losses[tracker_for_kl])
            return {name: t.result() for name, t in self.trackers.items()}
        if reset:
            for tracker in self.metrics:
                tracker.reset_state()
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        if twice:
            self.trackers["loss"].update_state(losses["loss"])
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        return dict(losses) if return_values else results

    if own_train_step:
        VAE.train_step = train_step
    return VAE


class NotebookVAE(keras.Model):
    """A plain keras.Model with its own trackers, negative_elbo shared by train_step and test_step."""

    def __init__(self, encoder, decoder, beta=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.beta, self.seed = float(beta), seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def negative_elbo(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        logits = self.decoder(self.sampling([z_mean, z_log_var]), training=training)
        reconstruction = -ops.mean(bernoulli_log_likelihood(x, logits))
        kl = ops.mean(gaussian_kl(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _track(self, values):
        for tracker, value in zip(self.metrics, values):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.negative_elbo(x, training=True)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._track((loss, reconstruction, kl))

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._track(self.negative_elbo(x))


class _TestStepTrains(_vae_class()):
    """test_step that also applies a gradient step."""

    def test_step(self, data):
        return self.train_step(data)


VAE_MISTAKES = {
    "train-step-deleted": ({"own_train_step": False}, "does not define train_step"),
    "gradients-not-applied": ({"apply": False}, "changed no weight"),
    "only-encoder-updated": ({"variables": "encoder"}, "decoder's weights did not change"),
    "only-decoder-updated": ({"variables": "decoder"}, "encoder's weights did not change"),
    "kl-tracker-never-updated": ({"track_kl": False}, "tracker holds 0"),
    "kl-tracker-gets-reconstruction": (
        {"tracker_for_kl": "reconstruction_loss"},
        "'kl_loss' tracker holds the value of 'reconstruction_loss'",
    ),
    "returns-total-only": ({"total_only": True}, "should return a dict with the keys"),
    "loss-maximised": ({"sign": -1.0}, "uphill"),
    "sampling-blocks-gradients": ({"stop_sampling": True}, "through the sampled z"),
    "decodes-z-mean": ({"use_mean": True}, "computed from z_mean"),
    "decodes-a-second-draw": ({"sample_twice": True}, "drawn once per step"),
    "beta-on-reconstruction": ({"beta_on": "rec"}, "applies β to the reconstruction"),
    "beta-ignored": ({"beta_on": "none"}, "ignores β"),
    "kl-missing": ({"drop": "kl"}, "leaves out the KL term"),
    "reconstruction-missing": ({"drop": "reconstruction"}, "leaves out the reconstruction term"),
    "reconstruction-averaged-over-pixels": ({"rec": "pixel-mean"}, "averaged over the pixels"),
    "double-sigmoid": ({"rec": "double-sigmoid"}, "sigmoid(logits)"),
    "mse-instead-of-bernoulli": ({"rec": "mse"}, "squared error"),
    "summed-over-batch": ({"batch": "sum"}, "summed over the batch"),
    "kl-subtracted": ({"kl_sign": -1.0}, "subtracts the KL"),
    "kl-averaged-over-latent": ({"kl": "mean-latent"}, "averaged over the latent dimensions"),
    "kl-log-var-as-log-sigma": ({"kl": "log-sigma"}, "treats z_log_var as log σ"),
    "trackers-reset-every-step": ({"reset": True}, "never reset it inside train_step"),
    "tracker-updated-twice": ({"twice": True}, "exactly once"),
    "returns-step-values": ({"return_values": True}, "not the trackers' results"),
    "numpy-in-train-step": ({"numpy": True}, "compiled graph"),
    "loss-only-inside-train-step": ({"inline": True}, "compute_losses, which is not written"),
}


@pytest.mark.parametrize("cls", [_vae_class(), NotebookVAE], ids=["multiloss-solution", "plain-keras-model"])
def test_train_step_check_passes_on_correct_answers(cls, capsys):
    assert verdict(lab07.check_vae_train_step, cls), capsys.readouterr().out
    assert "✔ VAE train_step" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", sorted(VAE_MISTAKES))
def test_train_step_check_catches_mistake(mistake, capsys):
    kwargs, phrase = VAE_MISTAKES[mistake]
    expect_caught(lab07.check_vae_train_step, _vae_class(**kwargs), "VAE train_step", phrase, capsys)


def test_train_step_check_catches_a_test_step_that_trains(capsys):
    phrase = "test_step changed the weights"
    expect_caught(lab07.check_vae_train_step, _TestStepTrains, "VAE train_step", phrase, capsys)


def test_train_step_check_rejects_the_package_vae(capsys):
    """models.VAE keeps the base class's train_step: a student class that only renames it does not pass."""
    expect_caught(lab07.check_vae_train_step, models.VAE, "VAE train_step", "does not define train_step", capsys)
