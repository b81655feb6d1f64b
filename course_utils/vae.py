"""Reusable pieces for variational autoencoders (Keras 3).

* ``Sampling``: the reparameterization trick as a layer, ``z = μ + exp(½ log σ²) · ε``.
* ``bernoulli_log_likelihood``: ``log p(x | logits)`` summed over pixels, from logits (numerically stable).
* ``gaussian_log_density``: log-density of a diagonal Gaussian, summed over the last axis.
* ``importance_weighted_log_likelihood``: the IWAE estimate of ``log p(x)`` with ``k`` samples
  (``k = 1`` is a one-sample ELBO estimate; the bound tightens as ``k`` grows).
* ``manifold_grid``: decode a regular grid over a 2-D latent space into one image.

All quantities are in nats per image.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from course_utils.seeded import SeedStateMixin

__all__ = [
    "Sampling",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "importance_weighted_log_likelihood",
    "manifold_grid",
]

_LOG_2PI = math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="course_utils")
class Sampling(SeedStateMixin, keras.layers.Layer):
    """Draw ``z ~ N(z_mean, exp(z_log_var))`` differentiably: ``z = z_mean + exp(½ z_log_var) · ε``.

    Call it on ``[z_mean, z_log_var]``. The noise ``ε ~ N(0, I)`` comes from a ``keras.random.SeedGenerator``
    owned by the layer, so runs are reproducible; its state is saved with the model (``SeedStateMixin``).
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config


def bernoulli_log_likelihood(x, logits):
    """``Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))]`` per example, computed from logits.

    Uses ``x·l − softplus(l)``, which is exact and stable for large ``|l|``. Sums over every axis but the first.
    """
    x = ops.convert_to_tensor(x)
    logits = ops.convert_to_tensor(logits, dtype=x.dtype)
    ll = x * logits - ops.softplus(logits)
    return ops.sum(ops.reshape(ll, (ops.shape(ll)[0], -1)), axis=-1)


def gaussian_log_density(z, mean, log_var):
    """``log N(z; mean, diag exp(log_var))`` summed over the last axis (nats)."""
    return -0.5 * ops.sum(_LOG_2PI + log_var + ops.square(z - mean) / ops.exp(log_var), axis=-1)


def importance_weighted_log_likelihood(encoder, decoder, x, k: int = 1, batch_size: int = 100, seed: int = 0):
    """Importance-weighted estimate of ``log p(x)`` per example (nats), with ``k`` samples from q(z|x).

    ``L_k = log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x)`` with ``z_i ~ q(z|x)``. ``E[L_k]`` is a lower bound on
    ``log p(x)`` that grows with ``k``; ``L_1`` is the single-sample ELBO. ``encoder(x)`` must return
    ``(z_mean, z_log_var)`` (extra outputs are ignored) and ``decoder(z)`` Bernoulli logits shaped like ``x``.
    Returns a NumPy array of shape ``(len(x),)``.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype="float32")
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        n = len(xb)
        enc = encoder(xb, training=False)
        z_mean, z_log_var = (np.asarray(enc[0]), np.asarray(enc[1]))
        d = z_mean.shape[-1]
        eps = rng.standard_normal((k, n, d)).astype("float32")
        z = z_mean[None] + np.exp(0.5 * z_log_var)[None] * eps  # (k, n, d)
        logits = decoder(z.reshape(k * n, d), training=False)
        x_rep = np.broadcast_to(xb[None], (k,) + xb.shape).reshape((k * n,) + xb.shape[1:])
        log_px_z = np.asarray(bernoulli_log_likelihood(x_rep, ops.reshape(logits, x_rep.shape))).reshape(k, n)
        log_pz = np.asarray(gaussian_log_density(z, 0.0, 0.0))  # prior N(0, I)
        log_qz = np.asarray(gaussian_log_density(z, z_mean[None], z_log_var[None]))
        log_w = log_px_z + log_pz - log_qz  # (k, n)
        m = log_w.max(axis=0)
        out.append(m + np.log(np.mean(np.exp(log_w - m), axis=0)))
    return np.concatenate(out).astype(np.float64)


def manifold_grid(decoder, n: int = 15, limit: float = 2.0, image_shape=(28, 28), from_logits: bool = True):
    """Decode an ``n × n`` grid of 2-D latent points in ``[-limit, limit]²`` and tile the images into one array.

    Rows go from ``+limit`` (top) to ``−limit`` (bottom) in z₂, columns from ``−limit`` to ``+limit`` in z₁,
    so the picture matches a scatter plot of the latent space. Returns ``(canvas, extent)`` for ``imshow``.
    """
    h, w = image_shape
    g = np.linspace(-limit, limit, n, dtype="float32")
    zz = np.array([[x1, x2] for x2 in g[::-1] for x1 in g], dtype="float32")
    out = np.asarray(decoder(zz, training=False)).reshape(n * n, h, w)
    if from_logits:
        out = 1.0 / (1.0 + np.exp(-out))
    canvas = out.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    return canvas, (-limit, limit, -limit, limit)
