"""Unit tests for course_utils.losses: the Gaussian KL term (discrete entropy and KL come from scipy.stats)."""

from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils.losses import gaussian_kl


def test_discrete_entropy_and_kl_are_scipy_not_package_wrappers():
    from course_utils import losses

    for gone in ("entropy", "discrete_kl"):
        assert not hasattr(losses, gone), f"losses.{gone} wraps scipy.stats.entropy: call SciPy directly"


def test_gaussian_kl_closed_form_numpy():
    mu = np.array([[0.0, 0.0], [1.0, -2.0]], dtype="float32")
    log_var = np.array([[0.0, 0.0], [np.log(4.0), 0.0]], dtype="float32")
    kl = np.asarray(gaussian_kl(mu, log_var))
    assert kl.shape == (2,)
    expected_row1 = 0.5 * ((1 + 4 - 1 - np.log(4)) + (4 + 1 - 1 - 0))
    np.testing.assert_allclose(kl, [0.0, expected_row1], rtol=1e-6)


def test_gaussian_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(1, 4))
    log_var = rng.normal(scale=0.5, size=(1, 4))
    sd = np.exp(0.5 * log_var)
    z = mu + sd * rng.standard_normal((200_000, 4))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + ((z - mu) / sd) ** 2, axis=1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    mc = np.mean(log_q - log_p)
    assert float(np.asarray(gaussian_kl(mu, log_var))[0]) == pytest.approx(mc, abs=0.02)


def test_gaussian_kl_on_tensors_and_gradient():
    import tensorflow as tf

    mu = tf.Variable([[0.5, -0.5, 0.0]])
    lv = tf.Variable([[0.1, -0.3, 0.0]])
    with tf.GradientTape() as tape:
        kl = tf.reduce_sum(gaussian_kl(mu, lv))
    g_mu, g_lv = tape.gradient(kl, [mu, lv])
    np.testing.assert_allclose(g_mu.numpy(), mu.numpy(), rtol=1e-6)  # d/dμ = μ
    np.testing.assert_allclose(g_lv.numpy(), 0.5 * (np.exp(lv.numpy()) - 1), rtol=1e-5)
