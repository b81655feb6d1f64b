"""Unit tests for the VAE pieces: layers.Sampling, the log-densities in losses, the IWAE bound in metrics, and
models.VAE (its losses by hand, its .keras round trip)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import course_utils  # noqa: F401  (quiet TF before it is imported)
from course_utils.layers import Sampling
from course_utils.losses import bernoulli_log_likelihood, gaussian_kl, gaussian_log_density
from course_utils.metrics import importance_weighted_log_likelihood


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


# ------------------------------------------------------------------------------------------ models.VAE


def _tiny_vae_model(beta=1.0, seed=0):
    from course_utils.models import VAE

    xi = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, activation="tanh", name="enc_hidden")(xi)
    enc = keras.Model(
        xi, [keras.layers.Dense(2, name="z_mean")(h), keras.layers.Dense(2, name="z_log_var")(h)], name="encoder"
    )
    zi = keras.Input((2,), name="z")
    dec = keras.Model(zi, keras.layers.Dense(4, name="logits")(zi), name="decoder")
    return VAE(enc, dec, beta=beta, seed=seed, name="vae")


def _hand_losses(vae, x, seed):
    """The negative ELBO by hand in NumPy, with the noise the VAE's Sampling layer draws first for this seed."""
    z_mean, z_log_var = (keras.ops.convert_to_numpy(t) for t in vae.encoder(x))
    eps = keras.ops.convert_to_numpy(keras.random.normal(z_mean.shape, seed=keras.random.SeedGenerator(seed)))
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    logits = keras.ops.convert_to_numpy(vae.decoder(z)).astype("float64")
    log_px = np.sum(x * logits - np.logaddexp(0.0, logits), axis=1)
    kl = 0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - 1.0 - z_log_var, axis=1)
    return -log_px.mean(), kl.mean()


@pytest.mark.parametrize("beta", [1.0, 0.25])
def test_vae_losses_match_a_hand_computation(beta):
    x = (np.random.default_rng(0).random((5, 4)) > 0.5).astype("float32")
    vae = _tiny_vae_model(beta=beta, seed=3)
    rec, kl = _hand_losses(vae, x, seed=3)
    losses = {k: float(keras.ops.convert_to_numpy(v)) for k, v in vae.compute_losses(x).items()}
    assert set(losses) == {"loss", "reconstruction_loss", "kl_loss"}
    assert losses["reconstruction_loss"] == pytest.approx(rec, rel=1e-5)
    assert losses["kl_loss"] == pytest.approx(kl, rel=1e-5)
    assert losses["loss"] == pytest.approx(rec + beta * kl, rel=1e-5)
    assert losses["kl_loss"] >= 0.0


def test_vae_trains_with_its_three_trackers_and_rejects_a_negative_beta():
    x = (np.random.default_rng(1).random((32, 4)) > 0.5).astype("float32")
    vae = _tiny_vae_model()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, epochs=2, batch_size=16, validation_data=(x,), verbose=0)
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(history.history)
    assert keras.ops.convert_to_numpy(vae(x)).shape == x.shape  # call: logits of one sampled reconstruction
    with pytest.raises(ValueError, match="beta"):
        _tiny_vae_model(beta=-1.0)


def test_vae_keras_round_trip_keeps_weights_and_beta():
    import os
    import tempfile

    x = (np.random.default_rng(2).random((8, 4)) > 0.5).astype("float32")
    vae = _tiny_vae_model(beta=0.5, seed=4)
    vae(x)  # build before saving
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vae.keras")
        vae.save(path)
        loaded = keras.saving.load_model(path)
    assert type(loaded).__name__ == "VAE" and loaded.beta == 0.5 and loaded.seed == 4
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    z_mean, _ = loaded.encoder(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(z_mean), keras.ops.convert_to_numpy(vae.encoder(x)[0]), rtol=1e-6
    )
