"""Unit tests for the VAE pieces: layers.Sampling, the log-densities in losses, the IWAE bound in metrics,
plotting.manifold_grid."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils.layers import Sampling
from course_utils.losses import bernoulli_log_likelihood, gaussian_kl, gaussian_log_density
from course_utils.metrics import importance_weighted_log_likelihood
from course_utils.plotting import manifold_grid


def test_sampling_statistics():
    layer = Sampling(seed=1)
    mu = np.full((20000, 2), [1.0, -3.0], dtype="float32")
    log_var = np.full((20000, 2), [np.log(4.0), np.log(0.25)], dtype="float32")
    z = np.asarray(layer([mu, log_var]))
    assert z.shape == (20000, 2)
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -3.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.03)


def test_sampling_is_seeded_and_advances():
    mu = np.zeros((3, 4), "float32")
    a, b = Sampling(seed=7), Sampling(seed=7)
    z1, z2 = np.asarray(a([mu, mu])), np.asarray(b([mu, mu]))
    np.testing.assert_array_equal(z1, z2)
    assert not np.allclose(np.asarray(a([mu, mu])), z1)  # the generator state moves on


def test_sampling_gradients_reach_both_inputs():
    mu = tf.Variable(tf.zeros((8, 3)))
    lv = tf.Variable(tf.zeros((8, 3)))
    layer = Sampling(seed=0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer([mu, lv])))
    g_mu, g_lv = tape.gradient(loss, [mu, lv])
    assert g_mu is not None and g_lv is not None
    assert float(tf.reduce_sum(tf.abs(g_mu))) > 0 and float(tf.reduce_sum(tf.abs(g_lv))) > 0


def test_sampling_config_and_keras_roundtrip(tmp_path):
    layer = Sampling(seed=3, name="sampler")
    assert layer.get_config()["seed"] == 3
    inp_m = keras.Input((2,), name="m")
    inp_v = keras.Input((2,), name="v")
    model = keras.Model([inp_m, inp_v], layer([inp_m, inp_v]), name="sampler_model")
    x = [np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")]
    model(x)
    path = tmp_path / "sampler.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("sampler"), Sampling)
    # same seed-generator state after loading -> same draws, and the streams stay together
    for _ in range(2):
        np.testing.assert_allclose(np.asarray(model(x)), np.asarray(loaded(x)), rtol=1e-6)


def test_bernoulli_log_likelihood_matches_direct_formula():
    rng = np.random.default_rng(0)
    x = (rng.random((3, 5, 5)) > 0.5).astype("float32")
    logits = rng.normal(size=(3, 5, 5)).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    direct = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2))
    np.testing.assert_allclose(np.asarray(bernoulli_log_likelihood(x, logits)), direct, rtol=1e-5)
    # stable for huge logits
    big = np.asarray(bernoulli_log_likelihood(np.ones((1, 2), "float32"), np.array([[200.0, -200.0]], "float32")))
    assert np.isfinite(big).all() and big[0] == pytest.approx(-200.0)


def test_gaussian_log_density_standard_normal():
    z = np.zeros((1, 3), "float32")
    val = float(np.asarray(gaussian_log_density(z, z, z))[0])
    assert val == pytest.approx(-1.5 * np.log(2 * np.pi), rel=1e-6)


def _tiny_vae(d=2, pixels=6):
    keras.utils.set_random_seed(0)
    xi = keras.Input((pixels,))
    h = keras.layers.Dense(2 * d)(xi)
    enc = keras.Model(xi, [h[:, :d], h[:, d:] - 1.0])
    zi = keras.Input((d,))
    dec = keras.Model(zi, keras.layers.Dense(pixels)(zi))
    return enc, dec


def test_importance_weighted_bound_k1_is_elbo_and_tightens():
    enc, dec = _tiny_vae()
    rng = np.random.default_rng(0)
    x = (rng.random((50, 6)) > 0.5).astype("float32")
    # ELBO by many single-sample draws vs closed-form KL + MC reconstruction
    mu, lv = (np.asarray(t) for t in enc(x))
    rec = []
    for s in range(200):
        eps = np.random.default_rng(100 + s).standard_normal(mu.shape).astype("float32")
        rec.append(np.asarray(bernoulli_log_likelihood(x, dec(mu + np.exp(0.5 * lv) * eps))))
    elbo = np.mean(rec) - np.mean(np.asarray(gaussian_kl(mu, lv)))
    l1 = np.mean([importance_weighted_log_likelihood(enc, dec, x, k=1, seed=s).mean() for s in range(200)])
    assert l1 == pytest.approx(elbo, abs=0.05)
    l50 = importance_weighted_log_likelihood(enc, dec, x, k=50, seed=0).mean()
    l500 = importance_weighted_log_likelihood(enc, dec, x, k=500, seed=0).mean()
    assert l1 < l50 < l500 + 0.05


def test_importance_weighted_exact_for_linear_gaussian_posterior():
    # If q is the exact posterior the importance weights are constant: every k gives log p(x).
    # Use a 1-pixel Bernoulli decoder that ignores z: p(x|z) = σ(b)^x (1-σ(b))^(1-x); q = prior.
    xi = keras.Input((1,))
    enc = keras.Model(xi, [xi * 0.0, xi * 0.0])
    zi = keras.Input((1,))
    dec = keras.Model(zi, zi * 0.0 + 0.3)
    x = np.array([[1.0], [0.0]], "float32")
    exact = np.array([np.log(1 / (1 + np.exp(-0.3))), np.log(1 - 1 / (1 + np.exp(-0.3)))])
    for k in (1, 7):
        np.testing.assert_allclose(importance_weighted_log_likelihood(enc, dec, x, k=k), exact, rtol=1e-5)


def test_manifold_grid_shape_and_orientation():
    zi = keras.Input((2,))
    dec = keras.Model(zi, keras.layers.Lambda(lambda z: keras.ops.repeat(z[:, :1], 4, axis=1))(zi))
    canvas, extent = manifold_grid(dec, n=3, limit=1.0, image_shape=(2, 2), from_logits=False)
    assert canvas.shape == (6, 6) and extent == (-1.0, 1.0, -1.0, 1.0)
    # columns increase in z1
    assert canvas[0, 0] == pytest.approx(-1.0) and canvas[0, -1] == pytest.approx(1.0)
