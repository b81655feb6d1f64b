"""Unit tests for course_utils.losses: entropy, discrete KL and the Gaussian KL term."""

from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils.losses import discrete_kl, entropy, gaussian_kl


def test_entropy_uniform_in_bits_and_nats():
    p = np.full(8, 1 / 8)
    assert entropy(p, base=2) == pytest.approx(3.0)
    assert entropy(p) == pytest.approx(np.log(8))


def test_entropy_of_certain_outcome_is_zero():
    assert entropy([0.0, 1.0, 0.0]) == 0.0


def test_entropy_batched_rows():
    out = entropy([[0.5, 0.5], [1.0, 0.0]], base=2)
    np.testing.assert_allclose(out, [1.0, 0.0])


def test_kl_known_value_and_properties():
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 0.5, 0.25])
    expected = 0.5 * np.log(2) + 0.25 * np.log(0.5)
    assert discrete_kl(p, q) == pytest.approx(expected)
    assert discrete_kl(p, q, base=2) == pytest.approx(expected / np.log(2))
    assert discrete_kl(p, p) == 0.0
    r = np.array([0.7, 0.2, 0.1])
    assert discrete_kl(p, r) != pytest.approx(discrete_kl(r, p))


def test_kl_nonnegative_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
        assert discrete_kl(p, q) >= 0


def test_kl_is_cross_entropy_minus_entropy():
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    cross = -np.sum(p * np.log(q))
    assert discrete_kl(p, q) == pytest.approx(cross - entropy(p))


def test_kl_infinite_when_q_misses_support_and_zero_p_terms_ignored():
    assert discrete_kl([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert np.isfinite(discrete_kl([1.0, 0.0], [0.5, 0.5]))


@pytest.mark.parametrize(
    "bad, match",
    [([0.5, 0.6], "sum to 1"), ([1.2, -0.2], "negative"), (0.5, "scalar"), ([], "empty"), ([np.nan, 1.0], "NaN")],
)
def test_entropy_rejects_non_distributions(bad, match):
    with pytest.raises(ValueError, match=match):
        entropy(bad)


def test_kl_rejects_shape_mismatch_and_bad_base():
    with pytest.raises(ValueError, match="same shape"):
        discrete_kl([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        discrete_kl([0.5, 0.5], [0.5, 0.6])
    with pytest.raises(ValueError, match="base"):
        entropy([0.5, 0.5], base=1)


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
