"""Divergences, log-likelihoods and loss terms of the course's models: every one under its own name.

The entropy and KL divergence of discrete distributions in NumPy come from SciPy, not from here:
``scipy.stats.entropy(p)`` and ``scipy.stats.entropy(p, q)`` (= ``KL(p‖q)``; ``base=2`` for bits), as lecture 07 shows.

Differentiable (``keras.ops``, usable inside ``train_step``):
* :func:`gaussian_kl`: ``KL(N(μ, σ²) ‖ N(0, I))`` per example (the VAE's regularizer, Lab 07);
* :func:`bernoulli_log_likelihood`: ``log p(x | logits)`` per example, from logits (Lab 07);
* :func:`gaussian_log_density`: ``log N(z; mean, diag exp(log_var))`` summed over the last axis;
* :func:`clustering_kl`: DEC's batch-mean ``KL(P‖Q)`` between target and soft assignments (Lab 08).
"""

from __future__ import annotations

import math
from typing import Any

from keras import ops

__all__ = [
    "gaussian_kl",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "clustering_kl",
]

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(z_mean, z_log_var):
    """Per-example ``KL(N(μ, diag σ²) ‖ N(0, I))`` in nats, summed over the latent (last) axis.

    Closed form: ``½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)``, written with ``log σ²`` (``z_log_var``) as the
    encoder outputs it. Works on NumPy arrays and backend tensors (uses ``keras.ops``); returns shape
    ``z_mean.shape[:-1]``. Always ≥ 0, and 0 only for μ = 0, log σ² = 0. Taught in Lab 07, Exercise 2.
    """
    z_mean = ops.convert_to_tensor(z_mean)
    z_log_var = ops.convert_to_tensor(z_log_var, dtype=z_mean.dtype)
    per_dim = ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var
    return 0.5 * ops.sum(per_dim, axis=-1)


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


def clustering_kl(p: Any, q: Any, eps: float = 1e-10) -> Any:
    """DEC's clustering loss: the batch mean of ``KL(P_i ‖ Q_i) = Σ_j p_ij log(p_ij / q_ij)`` (a backend scalar).

    ``p`` is the (fixed) target distribution and ``q`` the soft assignments, both (N, K) with rows summing to 1;
    ``eps`` keeps the logarithms finite. Differentiable (``keras.ops``); used in Lab 08's ``train_step``. For a
    KL between two discrete distributions in NumPy, use ``scipy.stats.entropy(p, q)``.
    """
    p = ops.convert_to_tensor(p)
    q = ops.cast(ops.convert_to_tensor(q), p.dtype)
    return ops.mean(ops.sum(p * (ops.log(p + eps) - ops.log(q + eps)), axis=1))
