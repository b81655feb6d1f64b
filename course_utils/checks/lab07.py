"""Self-checks for Lab 07 (variational autoencoders).

Each ``check_*`` function runs a few behavioural tests on the student's code, prints one line (✔ or ✘ with a
hint) and returns whether everything passed. The hints point at the usual mistakes without giving the code.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import to_numpy, tracker_counts

__all__ = ["check_sampling", "check_kl", "check_vae_train_step"]

TRACKERS = ("loss", "reconstruction_loss", "kl_loss")


def _np(x) -> np.ndarray:
    return to_numpy(x, dtype=None)


def _make_sampling_layer(sampling_cls):
    try:
        return sampling_cls(seed=1234)
    except (TypeError, ValueError):  # a class without a `seed` argument (Keras raises ValueError for it)
        return sampling_cls()


# ----------------------------------------------------------------------------------------------- Sampling
def check_sampling(sampling_cls) -> bool:
    """Check a reparameterized sampling layer class: call it on ``[z_mean, z_log_var]``."""
    import tensorflow as tf

    mu = np.tile(np.array([[1.0, -2.0, 0.0]], "float32"), (20000, 1))
    log_var = np.tile(np.log(np.array([[4.0, 0.25, 1.0]], "float32")), (20000, 1))

    def shape_and_randomness():
        layer = _make_sampling_layer(sampling_cls)
        z1 = _np(layer([mu[:5], log_var[:5]]))
        expect(z1.shape == (5, 3), f"the output should have the shape of z_mean, (5, 3); got {z1.shape}.")
        z2 = _np(layer([mu[:5], log_var[:5]]))
        expect(not np.allclose(z1, z2), "two calls gave the same z: draw fresh noise ε on every call.")
        expect(not np.allclose(z1, mu[:5]), "z equals z_mean: the noise term is missing (z = μ + σ·ε, not z = μ).")

    def statistics():
        layer = _make_sampling_layer(sampling_cls)
        z = _np(layer([mu, log_var]))
        mean, std = z.mean(axis=0), z.std(axis=0)
        expect(
            np.allclose(mean, [1.0, -2.0, 0.0], atol=0.06),
            f"the sample mean should be z_mean; got {np.round(mean, 2).tolist()} for z_mean [1, -2, 0].",
        )
        expect(
            np.allclose(std, [2.0, 0.5, 1.0], rtol=0.05),
            "the sample standard deviation is wrong for log-variances log 4, log 0.25, 0 "
            f"(got {np.round(std, 2).tolist()}): the layer receives log σ², so σ = exp(½·log σ²). "
            "Using log σ² itself, or exp(log σ²) (the variance), as σ are the usual slips.",
        )

    def gradients():
        layer = _make_sampling_layer(sampling_cls)
        m = tf.Variable(np.zeros((16, 3), "float32"))
        v = tf.Variable(np.zeros((16, 3), "float32"))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.convert_to_tensor(layer([m, v]))))
        g_m, g_v = tape.gradient(loss, [m, v])
        expect(
            g_m is not None and np.abs(_np(g_m)).sum() > 0,
            "no gradient reaches z_mean: build z from z_mean with differentiable ops (no stop_gradient, no NumPy).",
        )
        expect(
            g_v is not None and np.abs(_np(g_v)).sum() > 0,
            "no gradient reaches z_log_var: the noise must be scaled by a differentiable function of z_log_var "
            "(the reparameterization trick), not drawn from a distribution whose parameters it cannot see.",
        )

    return run_checks("Sampling layer", [shape_and_randomness, statistics, gradients])


# ----------------------------------------------------------------------------------------------- KL term
def _monte_carlo_kl(mu: np.ndarray, log_var: np.ndarray, n: int = 100_000, seed: int = 0) -> np.ndarray:
    """E_q[log q(z) − log p(z)] for q = N(mu, diag exp(log_var)), p = N(0, I), one value per row."""
    rng = np.random.default_rng(seed)
    out = []
    for m, lv in zip(mu.astype(np.float64), log_var.astype(np.float64)):
        eps = rng.standard_normal((n, m.size))
        z = m + np.exp(0.5 * lv) * eps
        log_q = -0.5 * np.sum(lv + eps**2, axis=1)
        log_p = -0.5 * np.sum(z**2, axis=1)
        out.append(np.mean(log_q - log_p))
    return np.array(out)


def check_kl(kl_fn) -> bool:
    """Check ``kl_fn(z_mean, z_log_var)`` = per-example KL(N(μ, σ²) ‖ N(0, I)) summed over latent dimensions."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    mu = rng.normal(0.0, 1.0, size=(4, 8)).astype("float32")
    log_var = rng.normal(-0.5, 0.7, size=(4, 8)).astype("float32")

    def shape():
        out = _np(kl_fn(tf.constant(mu), tf.constant(log_var)))
        expect(
            out.shape == (4,),
            f"return one KL value per example, shape (batch,) = (4,); got shape {out.shape}. "
            "Sum over the latent axis only (axis=-1), and do not average over the batch here.",
        )

    def zero_at_prior():
        out = _np(kl_fn(tf.zeros((3, 5)), tf.zeros((3, 5))))
        expect(np.allclose(out, 0.0, atol=1e-5), f"KL(N(0, I) ‖ N(0, I)) must be 0; got {np.round(out, 4).tolist()}.")

    def nonnegative():
        out = _np(kl_fn(tf.constant(mu), tf.constant(log_var)))
        expect(np.all(out >= -1e-5), "the KL came out negative: check the overall sign (KL ≥ 0 always).")

    def matches_monte_carlo():
        out = _np(kl_fn(tf.constant(mu), tf.constant(log_var))).astype(np.float64)
        mc = _monte_carlo_kl(mu, log_var)
        expect(
            np.allclose(out, mc, rtol=0.03, atol=0.05),
            "the values disagree with a Monte-Carlo estimate of E_q[log q(z) − log p(z)]. Check: "
            "½·Σ_j (μ² + σ² − 1 − log σ²) summed (not averaged) over latent dimensions, with σ² = exp(z_log_var).",
        )

    return run_checks("KL term", [shape, zero_at_prior, nonnegative, matches_monte_carlo])


# ----------------------------------------------------------------------------------------------- train_step
def _tiny_parts(latent_dim: int = 2, side: int = 8, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    xi = keras.Input((side, side, 1), name="image")
    h = keras.layers.Flatten()(xi)
    h = keras.layers.Dense(32, activation="relu", name="enc_hidden")(h)
    enc = keras.Model(
        xi,
        [keras.layers.Dense(latent_dim, name="z_mean")(h), keras.layers.Dense(latent_dim, name="z_log_var")(h)],
        name="tiny_encoder",
    )
    zi = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(32, activation="relu", name="dec_hidden")(zi)
    h = keras.layers.Dense(side * side, name="dec_logits")(h)
    dec = keras.Model(zi, keras.layers.Reshape((side, side, 1))(h), name="tiny_decoder")
    return enc, dec


def _tiny_data(n: int = 64, side: int = 8, seed: int = 0) -> np.ndarray:
    """Binary images: a random horizontal or vertical bar plus a little pixel noise."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, side, side, 1), "float32")
    for i in range(n):
        j = rng.integers(side)
        if i % 2:
            x[i, j, :, 0] = 1.0
        else:
            x[i, :, j, 0] = 1.0
    flip = rng.random(x.shape) < 0.03
    return np.where(flip, 1.0 - x, x).astype("float32")


def check_vae_train_step(vae_cls, beta: float = 1.0) -> bool:
    """Check a VAE class whose constructor is ``vae_cls(encoder, decoder, beta=...)``.

    Builds a tiny dense encoder/decoder on 8×8 binary images, then tests the class's ``train_step`` through
    ``fit``: every tracker updates, both encoder and decoder weights move, and the loss falls.
    """
    import keras

    x = _tiny_data()

    def make(beta=beta):
        enc, dec = _tiny_parts()
        model = vae_cls(enc, dec, beta=beta)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model, enc, dec

    def trackers_update():
        model, _, _ = make()
        logs = model.train_step(x[:32])
        logs = {k: float(_np(v)) for k, v in logs.items()}
        for key in TRACKERS:
            expect(
                key in logs, f"train_step should return a dict with the keys {', '.join(TRACKERS)}; got {sorted(logs)}."
            )
            expect(np.isfinite(logs[key]), f"the '{key}' value is not finite ({logs[key]:.3g}).")
        counts = tracker_counts(model)
        expect(
            set(TRACKERS) <= set(counts),
            "expose the three Mean trackers through the `metrics` property so Keras resets them each epoch.",
        )
        for name in TRACKERS:
            expect(
                counts[name] == 1,
                f"after one train_step the '{name}' tracker was updated {counts[name]:g} times: "
                "update each tracker exactly once per step.",
            )
        expect(logs["kl_loss"] >= 0, "the KL value is negative: check the sign of the KL term.")
        expect(
            abs(logs["loss"] - (logs["reconstruction_loss"] + beta * logs["kl_loss"]))
            < 1e-3 * max(1.0, abs(logs["loss"])),
            "'loss' should equal reconstruction + β·KL (the negative ELBO).",
        )
        expect(
            logs["reconstruction_loss"] > 0,
            "the reconstruction term should be the negative log-likelihood (positive), summed over pixels.",
        )

    def gradients_reach_both():
        # β = 0: the encoder can then only learn through the sampled z and the decoder, so a sampling step
        # that blocks gradients leaves it frozen.
        model, enc, dec = make(beta=0.0)
        before_e = [_np(w).copy() for w in enc.trainable_weights]
        before_d = [_np(w).copy() for w in dec.trainable_weights]
        model.train_step(x[:32])
        moved_e = any(not np.allclose(b, _np(w)) for b, w in zip(before_e, enc.trainable_weights))
        moved_d = any(not np.allclose(b, _np(w)) for b, w in zip(before_d, dec.trainable_weights))
        expect(
            moved_e,
            "with β = 0 the encoder's weights did not change: apply gradients to all of "
            "self.trainable_variables, and let the reconstruction gradient flow back through the sampled z "
            "(no stop_gradient, no NumPy in the sampling).",
        )
        expect(moved_d, "the decoder's weights did not change: apply gradients to all of self.trainable_variables.")
        lv_layer = enc.get_layer("z_log_var")
        lv_before = [_np(w).copy() for w in lv_layer.trainable_weights]
        model.train_step(x[32:])
        expect(
            any(not np.allclose(b, _np(w)) for b, w in zip(lv_before, lv_layer.trainable_weights)),
            "with β = 0 the z_log_var head never changes: the reconstruction must depend on z_log_var through the "
            "reparameterized sample z = μ + exp(½·log σ²)·ε.",
        )

    def loss_falls():
        model, _, _ = make()
        first = float(_np(model.evaluate(x, verbose=0, return_dict=True)["loss"]))
        model.fit(x, epochs=40, batch_size=32, verbose=0, shuffle=False)
        last = float(_np(model.evaluate(x, verbose=0, return_dict=True)["loss"]))
        expect(
            last < 0.8 * first,
            f"the loss did not fall enough on a small batch ({first:.1f} → {last:.1f} nats). Minimise the negative "
            "ELBO (reconstruction + β·KL): check the signs and that optimizer.apply gets the gradients.",
        )

    return run_checks("VAE train_step", [trackers_update, gradients_reach_both, loss_falls])
