"""The Lab 07 self-checks pass on correct answers and fail on typical wrong ones."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf
from check_helpers import verdict
from keras import ops

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils.checks import lab07
from course_utils.layers import Sampling
from course_utils.losses import bernoulli_log_likelihood, gaussian_kl


# ------------------------------------------------------------------------------------ sampling layers
def _sampling_class(transform):
    class _S(keras.layers.Layer):
        def __init__(self, seed=None, **kw):
            super().__init__(**kw)
            self.gen = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            m, lv = inputs
            eps = keras.random.normal(ops.shape(m), seed=self.gen)
            return transform(m, lv, eps)

    return _S


WRONG_SAMPLING = {
    "log_var used as sigma": lambda m, lv, e: m + lv * e,
    "variance used as sigma": lambda m, lv, e: m + ops.exp(lv) * e,
    "stop_gradient on the noise term": lambda m, lv, e: m + ops.stop_gradient(ops.exp(0.5 * lv) * e),
    "stop_gradient on the output": lambda m, lv, e: ops.stop_gradient(m + ops.exp(0.5 * lv) * e),
    "no noise": lambda m, lv, e: m + 0.0 * e,
}


def test_sampling_check_passes_on_solution(capsys):
    assert verdict(lab07.check_sampling, Sampling)
    assert "✔" in capsys.readouterr().out
    own = _sampling_class(lambda m, lv, e: m + ops.exp(0.5 * lv) * e)
    assert verdict(lab07.check_sampling, own)


@pytest.mark.parametrize("mistake", sorted(WRONG_SAMPLING))
def test_sampling_check_fails_on_mistakes(mistake, capsys):
    assert not verdict(lab07.check_sampling, _sampling_class(WRONG_SAMPLING[mistake]))
    assert "✘" in capsys.readouterr().out


def test_sampling_check_reports_unfinished_exercise(capsys):
    class Todo(keras.layers.Layer):
        def call(self, inputs):
            raise NotImplementedError("Exercise: ...")

    assert not verdict(lab07.check_sampling, Todo)
    assert "not implemented" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ KL functions
def _kl_reference(m, lv):
    return 0.5 * ops.sum(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=-1)


WRONG_KL = {
    "sign flipped": lambda m, lv: -_kl_reference(m, lv),
    "averaged over latent dims": lambda m, lv: 0.5 * ops.mean(ops.square(m) + ops.exp(lv) - 1.0 - lv, axis=-1),
    "averaged over the batch too": lambda m, lv: ops.mean(_kl_reference(m, lv)),
    "sigma where log sigma^2 is meant": lambda m, lv: (
        0.5 * ops.sum(ops.square(m) + ops.square(lv) - 1.0 - ops.log(ops.square(lv) + 1e-8), axis=-1)
    ),
    "missing the factor 1/2": lambda m, lv: 2.0 * _kl_reference(m, lv),
}


def test_kl_check_passes_on_solution():
    assert verdict(lab07.check_kl, gaussian_kl)
    assert verdict(lab07.check_kl, _kl_reference)


@pytest.mark.parametrize("mistake", sorted(WRONG_KL))
def test_kl_check_fails_on_mistakes(mistake):
    assert not verdict(lab07.check_kl, WRONG_KL[mistake])


# ------------------------------------------------------------------------------------ VAE classes
def _vae_class(*, variables="all", track_kl=True, sign=1.0, stop_sampling=False):
    class _VAE(keras.Model):
        def __init__(self, encoder, decoder, beta=1.0, **kw):
            super().__init__(**kw)
            self.encoder, self.decoder, self.beta = encoder, decoder, beta
            self.sampling = Sampling(seed=0)
            self.t_loss = keras.metrics.Mean(name="loss")
            self.t_rec = keras.metrics.Mean(name="reconstruction_loss")
            self.t_kl = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.t_loss, self.t_rec, self.t_kl]

        def call(self, x, training=False):
            m, lv = self.encoder(x, training=training)
            return self.decoder(self.sampling([m, lv]), training=training)

        def _terms(self, x, training):
            m, lv = self.encoder(x, training=training)
            z = self.sampling([m, lv])
            if stop_sampling:
                z = ops.stop_gradient(z)
            rec = -ops.mean(bernoulli_log_likelihood(x, self.decoder(z, training=training)))
            kl = ops.mean(gaussian_kl(m, lv))
            return rec + self.beta * kl, rec, kl

        def _log(self, total, rec, kl):
            self.t_loss.update_state(total)
            self.t_rec.update_state(rec)
            if track_kl:
                self.t_kl.update_state(kl)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x = data[0] if isinstance(data, (tuple, list)) else data
            with tf.GradientTape() as tape:
                total, rec, kl = self._terms(x, True)
                objective = sign * total
            wrt = {
                "all": self.trainable_variables,
                "encoder": self.encoder.trainable_variables,
                "decoder": self.decoder.trainable_variables,
            }[variables]
            grads = tape.gradient(objective, wrt)
            self.optimizer.apply(grads, wrt)
            return self._log(total, rec, kl)

        def test_step(self, data):
            x = data[0] if isinstance(data, (tuple, list)) else data
            return self._log(*self._terms(x, False))

    return _VAE


def test_train_step_check_passes_on_solution(capsys):
    assert verdict(lab07.check_vae_train_step, _vae_class())
    assert "✔ VAE train_step" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variables": "encoder"},
        {"variables": "decoder"},
        {"track_kl": False},
        {"sign": -1.0},
        {"stop_sampling": True},
    ],
    ids=[
        "only-encoder-updated",
        "only-decoder-updated",
        "kl-tracker-never-updated",
        "loss-maximised",
        "sampling-blocks-gradients",
    ],
)
def test_train_step_check_fails_on_mistakes(kwargs, capsys):
    assert not verdict(lab07.check_vae_train_step, _vae_class(**kwargs))
    assert "✘" in capsys.readouterr().out
