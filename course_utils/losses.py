"""Divergences, log-likelihoods and loss terms: every one under its own name.

NumPy, validated (lecture 07):
* :func:`entropy`, :func:`discrete_kl`: Shannon entropy and ``KL(p‖q)`` of discrete distributions (nats, or
  bits with ``base=2``); ``0 · log 0 = 0``, and ``KL = +inf`` where ``q = 0`` but ``p > 0``.

Differentiable (``keras.ops``, usable inside ``train_step``):
* :func:`gaussian_kl`: ``KL(N(μ, σ²) ‖ N(0, I))`` per example (the VAE's regularizer, Lab 07);
* :func:`bernoulli_log_likelihood`: ``log p(x | logits)`` per example, from logits (Lab 07);
* :func:`gaussian_log_density`: ``log N(z; mean, diag exp(log_var))`` summed over the last axis;
* :func:`clustering_kl`: DEC's batch-mean ``KL(P‖Q)`` between target and soft assignments (Lab 08).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from keras import ops

__all__ = [
    "entropy",
    "discrete_kl",
    "gaussian_kl",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "clustering_kl",
]

_LOG_2PI = math.log(2.0 * math.pi)
_ATOL = 1e-6


def _as_distribution(p, name: str) -> np.ndarray:
    """Validate that ``p`` is a probability vector (or a batch of them along the last axis)."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D array of probabilities (got a scalar).")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries (min {arr.min():.3g}); probabilities must be >= 0.")
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=_ATOL, rtol=0):
        bad = np.atleast_1d(sums)[~np.isclose(np.atleast_1d(sums), 1.0, atol=_ATOL, rtol=0)][0]
        raise ValueError(
            f"{name} does not sum to 1 along its last axis (sum = {bad:.6g}); normalise it first, e.g. p / p.sum()."
        )
    return arr


def _log_factor(base: float | None) -> float:
    if base is None:
        return 1.0
    if base <= 0 or base == 1:
        raise ValueError(f"base must be positive and different from 1 (got {base}).")
    return 1.0 / np.log(base)


def entropy(p, base: float | None = None):
    """Shannon entropy ``H(p) = -Σ p log p`` of a discrete distribution.

    ``p`` is a probability vector, or an array whose last axis holds probability vectors (one entropy per
    row is returned). Natural log (nats) unless ``base`` is given. Raises ``ValueError`` if ``p`` is not a
    distribution (negative entries, not summing to 1, empty, NaN).
    """
    arr = _as_distribution(p, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(arr > 0, -arr * np.log(np.where(arr > 0, arr, 1.0)), 0.0)
    out = terms.sum(axis=-1) * _log_factor(base)
    return float(out) if np.ndim(out) == 0 else out


def discrete_kl(p, q, base: float | None = None):
    """KL divergence ``KL(p‖q) = Σ p log(p/q)`` between discrete distributions on the same outcomes.

    Both inputs must be probability vectors of the same shape (or batches along the last axis). Terms with
    ``p = 0`` contribute 0; if ``q = 0`` where ``p > 0`` the result is ``inf`` (``q`` cannot explain an outcome
    ``p`` produces). Natural log (nats) unless ``base`` is given. Raises ``ValueError`` for inputs that are not
    distributions or whose shapes differ.
    """
    pa = _as_distribution(p, "p")
    qa = _as_distribution(q, "q")
    if pa.shape != qa.shape:
        raise ValueError(f"p and q must have the same shape (got {pa.shape} and {qa.shape}).")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pa > 0, np.log(np.where(pa > 0, pa, 1.0)) - np.log(qa), 0.0)
        terms = np.where(pa > 0, pa * ratio, 0.0)
    out = terms.sum(axis=-1) * _log_factor(base)
    return float(out) if np.ndim(out) == 0 else out


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
    validated KL between two discrete distributions in NumPy, see :func:`discrete_kl`.
    """
    p = ops.convert_to_tensor(p)
    q = ops.cast(ops.convert_to_tensor(q), p.dtype)
    return ops.mean(ops.sum(p * (ops.log(p + eps) - ops.log(q + eps)), axis=1))
