"""Self-checks for Lab 07 (variational autoencoders).

Each ``check_*`` function runs a few behavioural tests on the student's code, prints one line (✔ or ✘ with a
hint) and returns whether everything passed. The hints name the property that failed without giving the code.
Values are compared with independent float64 computations done here; random layers are also run where training
runs them (inside ``tf.function`` and ``fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import (
    compiled,
    expect_updated_once,
    expect_weights_match,
    sgd_reference_step,
    to_numpy,
    tracker_counts,
)

__all__ = ["check_sampling", "check_kl", "check_vae_train_step"]

TRACKERS = ("loss", "reconstruction_loss", "kl_loss")


def _np(x) -> np.ndarray:
    return to_numpy(x, dtype=np.float64)


def _make_sampling_layer(sampling_cls, seed: int = 1234):
    try:
        return sampling_cls(seed=seed)
    except (TypeError, ValueError):  # a class without a `seed` argument (Keras raises ValueError for it)
        return sampling_cls()


# ----------------------------------------------------------------------------------------------- Sampling
def check_sampling(sampling_cls) -> bool:
    """Check a reparameterized sampling layer class: call it on ``[z_mean, z_log_var]``."""
    import keras
    import tensorflow as tf

    n = 20000
    mu = np.tile(np.array([[1.0, -2.0, 0.0]], "float32"), (n, 1))
    sigma = np.array([2.0, 0.5, 1.0])
    log_var = np.tile(np.log(sigma**2).astype("float32")[None], (n, 1))
    state: dict[str, Any] = {}

    def draw(layer, m=mu, lv=log_var):
        return _np(layer([tf.constant(m), tf.constant(lv)]))

    def shape_and_fresh_noise():
        layer = _make_sampling_layer(sampling_cls)
        z1 = draw(layer, mu[:5], log_var[:5])
        expect(z1.shape == (5, 3), f"the output should have the shape of z_mean, (5, 3); got {z1.shape}.")
        if np.allclose(z1, mu[:5]):
            trained = _np(layer([tf.constant(mu[:5]), tf.constant(log_var[:5])], training=True))
            expect(
                np.allclose(trained, mu[:5]),
                "the layer returns z_mean unless training=True: it must sample on every call (the VAE samples in "
                "call() and evaluate() too).",
            )
            expect(False, "z equals z_mean: the noise term is missing (z = μ + σ·ε, not z = μ).")
        z2 = draw(layer, mu[:5], log_var[:5])
        expect(not np.allclose(z1, z2), "two calls gave the same z: draw fresh noise ε on every call.")

    def noise_per_example():
        z = draw(_make_sampling_layer(sampling_cls))
        state["eps"] = (z - mu) / sigma
        expect(
            np.std(z, axis=0).max() > 1e-3,
            "every example in the batch got the same noise: draw ε with the full shape of z_mean (batch, latent).",
        )

    def statistics():
        z = state["eps"] * sigma + mu
        mean, std = z.mean(axis=0), z.std(axis=0)
        expect(
            np.allclose(mean, [1.0, -2.0, 0.0], atol=0.06),
            f"the sample mean should be z_mean; got {np.round(mean, 1).tolist()} for z_mean [1, -2, 0].",
        )
        expect(
            np.allclose(std, sigma, rtol=0.05),
            "the sample standard deviation is wrong for log-variances log 4, log 0.25, 0 "
            f"(got {np.round(std, 1).tolist()}): the layer receives log σ², so σ = exp(½·log σ²). "
            "Using log σ² itself, or exp(log σ²) (the variance), as σ are the usual slips.",
        )

    def independent_dimensions():
        corr = np.corrcoef(state["eps"], rowvar=False)
        off = np.abs(corr[~np.eye(3, dtype=bool)]).max()
        expect(
            off < 0.05,
            f"the noise of different latent dimensions is correlated (|corr| up to {off:.1f}): draw an independent "
            "ε for every dimension, shaped like z_mean, not one ε per example shared by all dimensions.",
        )

    def standard_normal_noise():
        eps = state["eps"].ravel()
        inside = np.mean(np.abs(eps) < 1.0)
        kurt = np.mean(eps**4) / np.mean(eps**2) ** 2
        expect(
            abs(inside - 0.683) < 0.015 and abs(kurt - 3.0) < 0.25,
            "ε is not standard normal (the share within one σ or the tails are off): draw it with "
            "keras.random.normal, not a uniform or other distribution.",
        )

    def reproducible_from_seed():
        a, b, c = (_make_sampling_layer(sampling_cls, seed=s) for s in (7, 7, 8))
        za, zb, zc = (draw(layer, mu[:64], log_var[:64]) for layer in (a, b, c))
        expect(
            np.allclose(za, zb),
            "two layers built with the same seed drew different z: create a keras.random.SeedGenerator(seed) in "
            "__init__ and pass it as seed= to keras.random.normal.",
        )
        expect(not np.allclose(za, zc), "layers with different seeds drew the same z: the seed is not used.")

    def works_compiled():
        layer = _make_sampling_layer(sampling_cls)
        m = tf.constant(mu[:16])
        lv = tf.constant(log_var[:16])
        w = tf.constant(np.random.default_rng(0).normal(size=(16, 3)).astype("float32"))

        @compiled
        def step(m, lv):
            with tf.GradientTape() as tape:
                tape.watch([m, lv])
                z = tf.convert_to_tensor(layer([m, lv]))
                loss = tf.reduce_sum(w * z)
            return (z, *tape.gradient(loss, [m, lv]))

        z1, g_m, g_v = step(m, lv)
        z2, _, _ = step(m, lv)
        expect(
            not np.allclose(_np(z1), _np(z2)),
            "inside a compiled function (as in fit) two calls gave the same z: draw ε with keras.random.normal and "
            "the layer's SeedGenerator, not NumPy (NumPy noise is frozen into the graph).",
        )
        expect(
            g_m is not None and np.allclose(_np(g_m), _np(w), rtol=1e-4, atol=1e-6),
            "the gradient of z with respect to z_mean should be 1 for every entry: build z from z_mean with "
            "differentiable ops (no stop_gradient, no NumPy).",
        )
        expected_gv = _np(w) * 0.5 * (_np(z1) - mu[:16])
        expect(
            g_v is not None and np.allclose(_np(g_v), expected_gv, rtol=1e-3, atol=1e-5),
            "the gradient does not reach z_log_var as it should: scale ε by exp(½·z_log_var) with differentiable "
            "ops (the reparameterization trick; no stop_gradient on the noise term).",
        )

    def trains_in_fit():
        init = keras.initializers.GlorotUniform(seed=0)
        inp = keras.Input((3,))
        heads = [keras.layers.Dense(2, kernel_initializer=init)(inp) for _ in range(2)]
        z = _make_sampling_layer(sampling_cls)(heads)
        model = keras.Model(inp, keras.layers.Dense(1, kernel_initializer=init)(z))
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
        hist = model.fit(x, x[:, :1], batch_size=4, epochs=1, shuffle=False, verbose=0)
        expect(np.isfinite(hist.history["loss"][-1]), "a tiny model with your layer gave a non-finite loss in fit.")

    return run_checks(
        "Sampling layer",
        [
            shape_and_fresh_noise,
            noise_per_example,
            statistics,
            independent_dimensions,
            standard_normal_noise,
            works_compiled,
            reproducible_from_seed,
            trains_in_fit,
        ],
    )


# ----------------------------------------------------------------------------------------------- KL term
def _kl64(mu: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """The closed form in float64, one value per row."""
    mu, log_var = mu.astype(np.float64), log_var.astype(np.float64)
    return 0.5 * np.sum(mu**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)


def _monte_carlo_kl(mu: np.ndarray, log_var: np.ndarray, n: int = 50_000, seed: int = 0) -> np.ndarray:
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


def _kl_mistakes(mu: np.ndarray, lv: np.ndarray) -> list[tuple[np.ndarray, str]]:
    mu, lv = mu.astype(np.float64), lv.astype(np.float64)
    ref = _kl64(mu, lv)
    return [
        (-ref, "the sign is flipped (KL ≥ 0 always)"),
        (ref / mu.shape[-1], "averaged over the latent dimensions; sum over them (axis=-1)"),
        (2.0 * ref, "twice too large: the factor ½ is missing"),
        (0.5 * ref, "half the closed form: the factor is ½, applied once"),
        (0.5 * np.sum(mu**2 + np.exp(2 * lv) - 1.0 - 2 * lv, -1), "z_log_var is log σ², not log σ"),
        (0.5 * np.sum(mu**2 + lv**2 - 1.0 - np.log(lv**2 + 1e-8), -1), "z_log_var is log σ², not σ"),
        (0.5 * np.sum(np.exp(lv) - 1.0 - lv, -1), "the μ² term is missing"),
        (ref + 0.5 * mu.shape[-1], "the constant −1 (per latent dimension) is missing"),
        (
            0.5 * np.sum((mu**2 + 1.0) * np.exp(-lv) - 1.0 + lv, -1),
            "this is KL(N(0, I) ‖ q), the reverse direction; the VAE needs KL(q ‖ N(0, I))",
        ),
    ]


def check_kl(kl_fn) -> bool:
    """Check ``kl_fn(z_mean, z_log_var)`` = per-example KL(N(μ, σ²) ‖ N(0, I)) summed over latent dimensions."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    mu = rng.normal(0.0, 1.0, size=(4, 8)).astype("float32")
    log_var = rng.normal(-0.5, 0.7, size=(4, 8)).astype("float32")

    def call(m, lv):
        return _np(kl_fn(tf.constant(m), tf.constant(lv)))

    def shape():
        for m, lv in ((mu, log_var), (mu[:1], log_var[:1])):
            out = call(m, lv)
            expect(
                out.shape == (len(m),),
                f"return one KL value per example, shape (batch,) = ({len(m)},); got shape {out.shape}. "
                "Sum over the latent axis only (axis=-1), and do not average or sum over the batch here.",
            )

    def zero_at_prior():
        out = call(np.zeros((3, 5), "float32"), np.zeros((3, 5), "float32"))
        expect(
            np.allclose(out, 0.0, atol=1e-5),
            "KL(N(0, I) ‖ N(0, I)) must be 0 but your function gives a non-zero value: check the constant (−1) "
            "and every term at μ = 0, log σ² = 0.",
        )

    def matches_closed_form():
        got = call(mu, log_var)
        if np.allclose(got, _kl64(mu, log_var), rtol=1e-4, atol=1e-5):
            return
        for values, hint in _kl_mistakes(mu, log_var):
            expect(not np.allclose(got, values, rtol=1e-3, atol=1e-5), f"the KL values are off: {hint}.")
        expect(
            False,
            "the values disagree with KL(N(μ, σ²) ‖ N(0, I)) = ½·Σ_j (μ² + σ² − 1 − log σ²), summed over latent "
            "dimensions, with σ² = exp(z_log_var).",
        )

    def matches_monte_carlo():
        mc = _monte_carlo_kl(mu, log_var)
        expect(
            np.allclose(call(mu, log_var), mc, rtol=0.03, atol=0.05),
            "the values disagree with a Monte-Carlo estimate of E_q[log q(z) − log p(z)].",
        )

    def differentiable_in_a_graph():
        @compiled
        def grads(m, lv):
            with tf.GradientTape() as tape:
                tape.watch([m, lv])
                total = tf.reduce_sum(kl_fn(m, lv))
            return tape.gradient(total, [m, lv])

        try:
            g_m, g_v = grads(tf.constant(mu), tf.constant(log_var))
        except Exception:  # NumPy on a symbolic tensor inside the compiled function
            g_m = g_v = None
        ok = (
            g_m is not None
            and g_v is not None
            and np.allclose(_np(g_m), mu, rtol=1e-3, atol=1e-5)
            and np.allclose(_np(g_v), 0.5 * (np.exp(log_var.astype(np.float64)) - 1.0), rtol=1e-3, atol=1e-5)
        )
        expect(
            ok,
            "inside a compiled function (as in train_step) the KL gives no or wrong gradients: write it with "
            "keras.ops (not NumPy) so Keras can differentiate it.",
        )

    return run_checks(
        "KL term",
        [shape, matches_closed_form, zero_at_prior, matches_monte_carlo, differentiable_in_a_graph],
    )


# ----------------------------------------------------------------------------------------------- train_step
SIDE, LATENT, HIDDEN = 6, 2, 12
QUIET_LOG_VAR = -30.0  # σ = exp(−15): the sample equals z_mean to float32 precision, so one step is deterministic


def _tiny_parts(seed: int, quiet: bool):
    """A dense encoder (→ z_mean, z_log_var) and decoder (→ logits) on SIDE×SIDE×1 images.

    ``quiet=True`` starts the z_log_var head at a constant −30 (kernel 0), so that z = z_mean to float32 precision
    and the first steps can be compared with a reference that needs no noise.
    """
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    xi = keras.Input((SIDE, SIDE, 1), name="image")
    h = keras.layers.Dense(HIDDEN, activation="tanh", kernel_initializer=init, name="enc_hidden")(
        keras.layers.Flatten()(xi)
    )
    lv_args = {"kernel_initializer": "zeros", "bias_initializer": keras.initializers.Constant(QUIET_LOG_VAR)}
    z_mean = keras.layers.Dense(LATENT, kernel_initializer=init, name="z_mean")(h)
    z_log_var = keras.layers.Dense(LATENT, name="z_log_var", **(lv_args if quiet else {"kernel_initializer": init}))(h)
    enc = keras.Model(xi, [z_mean, z_log_var], name="tiny_encoder")
    zi = keras.Input((LATENT,), name="z")
    h = keras.layers.Dense(HIDDEN, activation="tanh", kernel_initializer=init, name="dec_hidden")(zi)
    h = keras.layers.Dense(SIDE * SIDE, kernel_initializer=init, bias_initializer="zeros", name="dec_logits")(h)
    dec = keras.Model(zi, keras.layers.Reshape((SIDE, SIDE, 1))(h), name="tiny_decoder")
    return enc, dec


def _negative_elbo64(enc, dec, x: np.ndarray, beta: float) -> dict[str, float]:
    """Loss terms of the exercise in float64 (z = z_mean, valid for the quiet encoder): nats per image."""
    m, lv = (_np(t) for t in enc(x))
    logits = _np(dec(m)).reshape(len(x), -1)
    t = x.reshape(len(x), -1).astype(np.float64)
    rec = np.mean(np.sum(np.logaddexp(0.0, logits) - t * logits, axis=1))
    kl = np.mean(0.5 * np.sum(m**2 + np.exp(lv) - 1.0 - lv, axis=1))
    return {"loss": rec + beta * kl, "reconstruction_loss": rec, "kl_loss": kl}


def _reference_loss(enc, dec, batch: np.ndarray, beta: float):
    """The negative ELBO of the quiet encoder (z = z_mean) as a TensorFlow function, for sgd_reference_step."""
    import tensorflow as tf

    def loss():
        m, lv = enc(batch)
        logits = tf.reshape(dec(m), (len(batch), -1))
        t = tf.reshape(tf.constant(batch), (len(batch), -1))
        rec = tf.reduce_mean(tf.reduce_sum(tf.nn.softplus(logits) - t * logits, axis=1))
        kl = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - lv, axis=1))
        return rec + beta * kl

    return loss


def _term_mistakes(enc, dec, x: np.ndarray, beta: float, ref: dict[str, float]) -> list[tuple[str, float, str]]:
    """(key, value, hint) of typical wrong loss terms for this batch (quiet encoder: z = z_mean)."""
    m, lv = (_np(t) for t in enc(x))
    logits = _np(dec(m)).reshape(len(x), -1)
    probs = 1.0 / (1.0 + np.exp(-logits))
    t = x.reshape(len(x), -1).astype(np.float64)
    sq = (t - probs) ** 2
    double_sigmoid = np.mean(np.sum(np.logaddexp(0.0, probs) - t * probs, axis=1))
    kl_log_sigma = np.mean(0.5 * np.sum(m**2 + np.exp(2 * lv) - 1.0 - 2 * lv, axis=1))
    kl_no_exp = np.mean(0.5 * np.sum(m**2 - 1.0, axis=1))
    n, pixels, rec, kl = len(x), SIDE * SIDE, ref["reconstruction_loss"], ref["kl_loss"]
    return [
        ("reconstruction_loss", rec / pixels, "is averaged over the pixels; the log-likelihood sums over them"),
        ("reconstruction_loss", rec * n, "is summed over the batch; average it over the images"),
        (
            "reconstruction_loss",
            double_sigmoid,
            "was computed from sigmoid(logits) as if they were logits: the decoder already outputs logits, pass "
            "them to the log-likelihood as they are (no sigmoid)",
        ),
        ("reconstruction_loss", sq.sum(1).mean(), "is a squared error; use the Bernoulli negative log-likelihood"),
        ("reconstruction_loss", sq.mean(), "is a squared error; use the Bernoulli negative log-likelihood"),
        ("reconstruction_loss", -rec, "has the wrong sign: the negative log-likelihood is positive"),
        ("kl_loss", kl * n, "is summed over the batch; average it over the images"),
        ("kl_loss", kl / LATENT, "is averaged over the latent dimensions; sum over them"),
        ("kl_loss", -kl, "has the wrong sign (KL ≥ 0)"),
        ("kl_loss", kl_log_sigma, "treats z_log_var as log σ; it is log σ², so σ² = exp(z_log_var)"),
        ("kl_loss", kl_no_exp, "uses z_log_var where σ² = exp(z_log_var) belongs"),
        ("kl_loss", 2 * kl, "is twice too large: the factor ½ is missing"),
        ("loss", beta * rec + kl, "applies β to the reconstruction; β multiplies the KL term"),
        ("loss", rec + kl, "ignores β: loss = reconstruction + β·KL"),
        ("loss", rec - beta * kl, "subtracts the KL; the negative ELBO adds β·KL"),
        ("loss", (rec + beta * kl) * n, "is summed over the batch; average it over the images"),
        ("loss", rec, "leaves out the KL term: loss = reconstruction + β·KL"),
        ("loss", beta * kl, "leaves out the reconstruction term: loss = reconstruction + β·KL"),
    ]


_OFF_HINTS = {
    "reconstruction_loss": "'reconstruction_loss' is off: the Bernoulli negative log-likelihood of the decoder's "
    "logits, summed over the pixels and averaged over the images (nats per image).",
    "kl_loss": "'kl_loss' is off: the closed-form KL summed over latent dimensions, averaged over the images.",
    "loss": "'loss' is off: it should be reconstruction + β·KL (β = {beta}).",
}


def _expect_terms(logs: dict[str, float], ref: dict[str, float], mistakes, beta: float) -> None:
    """Fail with the hint of the first term that differs from ``ref``, naming a known mistake where one matches."""
    for key in ("reconstruction_loss", "kl_loss", "loss"):
        if np.isclose(logs[key], ref[key], rtol=1e-4, atol=1e-4):
            continue
        for which, value, hint in mistakes:
            expect(
                not (which == key and np.isclose(logs[key], value, rtol=1e-4, atol=1e-4)),
                f"'{key}' {hint} (β = {beta}).",
            )
        for other in TRACKERS:
            expect(
                other == key or not np.isclose(logs[key], ref[other], rtol=1e-4, atol=1e-4),
                f"the '{key}' tracker holds the value of '{other}': update each tracker with its own term.",
            )
        expect(False, _OFF_HINTS[key].format(beta=beta))


def _owner(cls, name: str):
    """The class in ``cls``'s MRO that defines ``name`` (None if none does)."""
    return next((k for k in cls.__mro__ if name in k.__dict__), None)


def _is_library(klass) -> bool:
    return klass is None or klass.__module__.split(".")[0] in ("keras", "course_utils")


def check_vae_train_step(vae_cls, beta: float = 1.0) -> bool:
    """Check a VAE class whose constructor is ``vae_cls(encoder, decoder, beta=..., seed=...)``.

    The class must define ``train_step`` itself (the base class's default does not count). Builds a tiny dense
    encoder/decoder on 6×6 binary images and compares one ``train_step`` (SGD) with a reference step computed here
    (values in float64, weights after the step); the same model then runs three compiled steps and its trackers
    must hold the mean of the four per-step values; ``test_step`` must give the same loss without changing a
    weight; last, with real noise, one step must match a reference that draws the same ε as the model's sampling
    layer (seed 0). The probes use ``beta``, except that the default β = 1 is replaced by 0.5, where a β on the
    wrong term shows.
    """
    import keras
    import tensorflow as tf

    x = (np.random.default_rng(5).random((32, SIDE, SIDE, 1)) < 0.4).astype("float32")  # binary images
    lr = 0.05
    probe_beta = 0.5 if beta == 1.0 else float(beta)  # with β = 1 a β on the wrong term would not show
    state: dict[str, Any] = {}

    def make(b, quiet=True, seed=3):
        enc, dec = _tiny_parts(seed, quiet)
        try:
            model = vae_cls(enc, dec, beta=b, seed=0)
        except TypeError:
            model = vae_cls(enc, dec, beta=b)
        model.compile(optimizer=keras.optimizers.SGD(lr))
        return model, enc, dec

    def overrides_train_step():
        expect(
            not _is_library(_owner(vae_cls, "train_step")),
            "your class does not define train_step: it inherits the base class's default. Write train_step in the "
            "class (the exercise is the step with its loss).",
        )

    def one_step_losses():
        model, enc, dec = make(probe_beta)
        batch = x[:8]
        ref = _negative_elbo64(enc, dec, batch, probe_beta)
        mistakes = _term_mistakes(enc, dec, batch, probe_beta, ref)
        variables = enc.trainable_variables + dec.trainable_variables
        _, new = sgd_reference_step(variables, _reference_loss(enc, dec, batch, probe_beta), lr)
        state.update(old=[_np(v) for v in variables], new=new, model=model, enc=enc, dec=dec, ref0=ref)
        logs = model.train_step(tf.constant(batch))
        expect(isinstance(logs, dict), "train_step should return a dict of the trackers' results.")
        expect(
            set(TRACKERS) <= set(logs),
            f"train_step should return a dict with the keys {', '.join(TRACKERS)}; got {sorted(logs)}.",
        )
        logs = {k: float(_np(logs[k])) for k in TRACKERS}
        expect_updated_once(model, TRACKERS)
        for key in TRACKERS:
            expect(np.isfinite(logs[key]), f"the '{key}' value is not finite.")
        state["logs"] = logs
        _expect_terms(logs, ref, mistakes, probe_beta)

    def one_step_update():
        enc, dec, old, new = state["enc"], state["dec"], state["old"], state["new"]
        n_enc = len(enc.trainable_variables)
        got = [_np(v) for v in enc.trainable_variables + dec.trainable_variables]

        def same(a, b):
            return all(np.allclose(p, q, atol=1e-6) for p, q in zip(a, b))

        expect(not same(got, old), "train_step changed no weight: apply the gradients with self.optimizer.apply.")
        expect(
            not same(got[n_enc:], old[n_enc:]),
            "the decoder's weights did not change: take gradients with respect to all of self.trainable_variables.",
        )
        expect(
            not same(got[:n_enc], old[:n_enc]),
            "the encoder's weights did not change: take gradients with respect to all of self.trainable_variables.",
        )
        backwards = [2 * o - w for o, w in zip(old, new)]
        expect(
            not same(got, backwards),
            "the weights moved uphill: the step maximised the loss. Minimise the negative ELBO (gradients of "
            "'loss' as it is, applied by the optimizer).",
        )
        if same(got[n_enc:], new[n_enc:]) and not same(got[:n_enc], new[:n_enc]):
            expect(
                False,
                "the decoder's update is right but the encoder's is not: the reconstruction gradient must flow back "
                "through the sampled z into the encoder (no stop_gradient, no NumPy, z built inside the tape).",
            )
        expect_weights_match(
            got,
            new,
            "the weights after one step differ from one SGD step on the reported loss: compute the loss inside "
            "the GradientTape, differentiate that same 'loss' with respect to self.trainable_variables and apply "
            "the gradients once.",
            atol=1e-5,
        )

    def compiled_steps_and_trackers():
        # the same model goes on with three compiled steps; a copy of the parts follows the reference
        model = state["model"]
        ref_enc, ref_dec = _tiny_parts(3, quiet=True)
        ref_vars = ref_enc.trainable_variables + ref_dec.trainable_variables
        for var, value in zip(ref_vars, state["new"]):
            var.assign(value.astype("float32"))
        per_step = [state["ref0"]]
        for s in range(1, 4):
            batch = x[8 * s : 8 * s + 8]
            per_step.append(_negative_elbo64(ref_enc, ref_dec, batch, probe_beta))
            _, new = sgd_reference_step(ref_vars, _reference_loss(ref_enc, ref_dec, batch, probe_beta), lr)
            for var, value in zip(ref_vars, new):
                var.assign(value.astype("float32"))
        model.optimizer.build(model.trainable_variables)
        step = compiled(model.train_step)
        for s in range(1, 4):
            logs = step(tf.constant(x[8 * s : 8 * s + 8]))
        counts = tracker_counts(model)
        expect(
            set(TRACKERS) <= set(counts),
            "list the three Mean trackers (loss, reconstruction_loss, kl_loss) in the `metrics` property so Keras "
            "resets them each epoch.",
        )
        for name in TRACKERS:
            expect(
                counts[name] == 4,
                f"after 4 steps the '{name}' tracker holds {counts[name]:g} updates: update each tracker exactly once "
                "per step, and never reset it inside train_step (Keras resets it each epoch).",
            )
        for name in TRACKERS:
            mean = float(np.mean([v[name] for v in per_step]))
            got_result = float(_np(dict(zip([m.name for m in model.metrics], model.metrics))[name].result()))
            expect(
                np.isclose(got_result, mean, rtol=1e-3, atol=1e-3),
                f"after 4 steps (3 compiled) the '{name}' tracker does not hold the mean of the per-step values: "
                "update it with this step's value (the same value the gradient comes from).",
            )
            expect(
                np.isclose(float(_np(logs[name])), mean, rtol=1e-3, atol=1e-3),
                f"train_step returns '{name}' values that are not the trackers' results: return "
                "{m.name: m.result() for m in self.metrics}, the running means.",
            )

    def test_step_same_loss():
        # evaluate() runs test_step: the same loss as training, on the current weights, and no update
        model, enc, dec = state["model"], state["enc"], state["dec"]
        batch = x[24:32]
        ref = _negative_elbo64(enc, dec, batch, probe_beta)
        before = [_np(v) for v in model.trainable_variables]
        for tracker in model.metrics:
            tracker.reset_state()
        try:
            logs = model.test_step(tf.constant(batch))
        except NotImplementedError:
            expect(
                False,
                "test_step (used by evaluate and validation) calls self.compute_losses, which is not written: put the "
                "loss in compute_losses and call it from train_step, so both steps share one copy of the loss.",
            )
        after = [_np(v) for v in model.trainable_variables]
        expect(
            all(np.array_equal(b, a) for b, a in zip(before, after)),
            "test_step changed the weights: evaluation computes the loss without gradients or optimizer steps.",
        )
        got = {k: float(_np(logs[k])) for k in TRACKERS if k in logs}
        expect(
            set(got) == set(TRACKERS) and all(np.isclose(got[k], ref[k], rtol=1e-4, atol=1e-4) for k in TRACKERS),
            "test_step (evaluate, validation) reports a different loss than train_step minimises: compute the loss "
            "in compute_losses and call that same method inside train_step's tape (no second copy).",
        )

    def noisy_step_matches_reference():
        # real noise: the model's sampling layer (seed 0) draws the same ε as a fresh Sampling(seed=0) here
        from course_utils.layers import Sampling

        model, enc, dec = make(probe_beta, quiet=False, seed=5)
        batch = x[:8]
        m, lv = (_np(t) for t in enc(batch))
        eps = _np(Sampling(seed=0)([np.zeros_like(m, "float32"), np.zeros_like(lv, "float32")]))
        t = batch.reshape(len(batch), -1).astype(np.float64)

        def rec64(z):
            logits = _np(dec(z.astype("float32"))).reshape(len(batch), -1)
            return float(np.mean(np.sum(np.logaddexp(0.0, logits) - t * logits, axis=1)))

        sampled, at_mean = rec64(m + np.exp(0.5 * lv) * eps), rec64(m)

        def loss():
            zm, zlv = enc(batch)
            logits = tf.reshape(dec(zm + tf.exp(0.5 * zlv) * tf.constant(eps, "float32")), (len(batch), -1))
            rec = tf.reduce_mean(tf.reduce_sum(tf.nn.softplus(logits) - t.astype("float32") * logits, axis=1))
            kl = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(zm) + tf.exp(zlv) - 1.0 - zlv, axis=1))
            return rec + probe_beta * kl

        _, new = sgd_reference_step(enc.trainable_variables + dec.trainable_variables, loss, lr)
        logs = model.train_step(tf.constant(batch))
        got = float(_np(logs["reconstruction_loss"]))
        if not np.isclose(got, sampled, rtol=1e-4, atol=1e-4):
            expect(
                not np.isclose(got, at_mean, rtol=1e-4, atol=1e-4),
                "the reconstruction is computed from z_mean: decode the reparameterized sample "
                "z = self.sampling([z_mean, z_log_var]), or the z_log_var head never learns from the reconstruction.",
            )
            expect(
                False,
                "with real noise the reconstruction differs from one that decodes z = self.sampling([z_mean, "
                "z_log_var]), drawn once per step: sample once inside the tape and decode that z.",
            )
        expect_weights_match(
            enc.trainable_variables + dec.trainable_variables,
            new,
            "with real noise the weights after one step differ from an SGD step through the sampled z: build z with "
            "self.sampling inside the tape so that the gradient reaches z_mean and z_log_var.",
            atol=1e-5,
        )

    return run_checks(
        "VAE train_step",
        [
            overrides_train_step,
            one_step_losses,
            one_step_update,
            compiled_steps_and_trackers,
            test_step_same_loss,
            noisy_step_matches_reference,
        ],
    )
