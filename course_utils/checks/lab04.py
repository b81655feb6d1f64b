"""Checks for Lab 04, denoising autoencoders.

Each check runs the student's code on small synthetic batches (flat grey images, tiny Dense encoders) and
compares what comes out with properties computed here: the fraction of zeroed pixels, the spread of the added
noise, a float64 reference of the consistency objective and of its gradient. Typical mistakes are recognised by
the numbers they produce, so the hint names the mistake; no hint prints an expected value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import compiled, expect_updated_once, keras_round_trip, to_numpy

# --------------------------------------------------------------------------------------------------
# Exercise 1: a masking-noise layer
# --------------------------------------------------------------------------------------------------


def _bright_images(n: int, shape: tuple[int, ...] = (28, 28), seed: int = 0) -> np.ndarray:
    """Images with no zero pixel, so that every zero in a layer's output was put there by the layer."""
    return np.random.default_rng(seed).uniform(0.1, 1.0, size=(n, *shape)).astype("float32")


def check_masking_noise(MaskingNoise: type) -> bool:  # noqa: N803  (the student's class is passed in)
    """`MaskingNoise(q, seed)`: in training, each pixel set to 0 with probability q (fresh, seeded); else identity."""
    import keras

    x = _bright_images(32)
    x4 = _bright_images(8, (28, 28, 1), seed=1)

    def masked(layer: Any, inputs: np.ndarray, **kwargs: Any) -> np.ndarray:
        out = to_numpy(layer(inputs, **kwargs))
        expect(out.shape == inputs.shape, f"the layer changed the shape {inputs.shape} into {out.shape}.")
        return out

    def identity_at_inference():
        layer = MaskingNoise(0.5, seed=1)
        expect(
            np.array_equal(masked(layer, x, training=False), x),
            "with training=False the layer changed its input: masking noise is a training-time corruption, the "
            "identity at inference (return the input unchanged unless training).",
        )
        expect(
            np.array_equal(masked(layer, x), x),
            "called without `training` the layer changed its input: default to training=False (Keras sets "
            "training=True itself inside fit).",
        )

    def zeros_a_fraction_q_and_keeps_the_rest():
        for q in (0.25, 0.5):
            out = masked(MaskingNoise(q, seed=2), x, training=True)
            zero = out == 0
            frac = float(zero.mean())
            expect(frac > 0, f"with q = {q} and training=True no pixel became 0: zero the masked pixels.")
            expect(
                np.allclose(out[~zero], x[~zero], atol=1e-6) or not np.allclose(out[~zero], x[~zero] / (1 - q)),
                "the pixels that are kept were rescaled by 1/(1 − q), as Dropout does: masking noise only zeros "
                "pixels and leaves the others as they are.",
            )
            expect(
                np.allclose(out[~zero], x[~zero], atol=1e-6),
                "pixels that are not masked changed value: keep them exactly as they are.",
            )
            if q != 0.5 and abs(frac - (1 - q)) < 0.02:
                expect(False, "the fraction of zeroed pixels is 1 − q: q is the probability of *masking* a pixel.")
            expect(
                abs(frac - q) < 0.02,
                "the fraction of zeroed pixels is far from q: set each pixel to 0 with probability q.",
            )
        expect(
            np.array_equal(masked(MaskingNoise(0.0, seed=3), x, training=True), x),
            "with q = 0 the layer still changed pixels: nothing should be masked.",
        )
        out4 = masked(MaskingNoise(0.5, seed=3), x4, training=True)
        expect(abs(float((out4 == 0).mean()) - 0.5) < 0.05, "on (N, 28, 28, 1) batches the fraction of zeros is wrong.")

    def one_decision_per_pixel():
        out = masked(MaskingNoise(0.5, seed=4), x, training=True)
        zero = out == 0
        expect(zero.any(), "with q = 0.5 and training=True no pixel became 0: zero the masked pixels.")
        expect(
            not all(np.array_equal(zero[0], z) for z in zero[1:]),
            "every image of the batch got the same mask: draw the mask with the full shape of the batch, one "
            "decision per pixel of every image.",
        )
        per_image = zero.reshape(len(x), -1).mean(axis=1)
        expect(
            not np.all((per_image == 0) | (per_image == 1)),
            "whole images are zeroed or kept: draw one keep/mask decision per pixel, not per image.",
        )

    def fresh_and_seeded_noise():
        layer = MaskingNoise(0.5, seed=5)
        first, second = masked(layer, x, training=True), masked(layer, x, training=True)
        expect(
            not np.array_equal(first, second),
            "two training calls gave the same mask, so the model would see one fixed corruption: draw with the "
            "layer's keras.random.SeedGenerator (seed=self.seed_generator), not with an integer seed.",
        )
        again = masked(MaskingNoise(0.5, seed=5), x, training=True)
        keras.random.uniform((3,))  # moves the global seed generator between the two layers
        other = masked(MaskingNoise(0.5, seed=5), x, training=True)
        expect(
            np.array_equal(first, again) and np.array_equal(first, other),
            "two layers made with the same seed gave different masks: draw the noise from the layer's own "
            "SeedGenerator (made in __init__ from `seed`), not from NumPy or the global generator.",
        )

    def works_inside_fit():
        layer = MaskingNoise(0.5, seed=6)
        step = compiled(lambda t: layer(t, training=True))
        try:
            first, second = to_numpy(step(x)), to_numpy(step(x))
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"the layer fails inside tf.function (how fit runs it): {type(exc).__name__}. Use keras.random "
                "and keras.ops, no NumPy and no Python `if` on tensor values.",
            )
        expect(abs(float((first == 0).mean()) - 0.5) < 0.02, "inside tf.function the fraction of zeros is wrong.")
        expect(
            not np.array_equal(first, second),
            "inside tf.function (how fit runs it) the mask is the same at every step: a NumPy draw happens once, "
            "when the function is traced. Draw with keras.random and the layer's SeedGenerator.",
        )

    def saved_and_loaded():
        layer = MaskingNoise(0.25, seed=7)
        try:
            config = layer.get_config()
            copy = MaskingNoise.from_config(config)
        except Exception as exc:  # noqa: BLE001
            expect(False, f"from_config(get_config()) failed ({type(exc).__name__}): return q and seed in get_config.")
        expect(
            np.isclose(float(getattr(copy, "q", np.nan)), 0.25) and getattr(copy, "seed", None) == 7,
            "a layer rebuilt from its get_config() lost q or seed: add both to the config.",
        )
        inp = keras.Input((28, 28), name="image")
        model = keras.Model(inp, MaskingNoise(0.25, seed=7, name="masking")(inp), name="masking_model")
        try:
            loaded = keras_round_trip(model)
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"a model holding the layer cannot be loaded from a .keras file ({type(exc).__name__}): register the "
                "class with @keras.saving.register_keras_serializable and return q and seed from get_config.",
            )
        expect(
            np.isclose(float(getattr(loaded.get_layer("masking"), "q", np.nan)), 0.25),
            "after a .keras round trip q is lost: register the class and return q from get_config.",
        )

    return run_checks(
        "masking-noise layer",
        [
            identity_at_inference,
            one_decision_per_pixel,
            zeros_a_fraction_q_and_keeps_the_rest,
            fresh_and_seeded_noise,
            works_inside_fit,
            saved_and_loaded,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: the training pairs
# --------------------------------------------------------------------------------------------------


def check_training_pair(training_pair: Callable[[Any, Any, Any], Any]) -> bool:
    """`training_pair(x, sigma, seed_generator)` -> (clip(x + sigma·ε, 0, 1), x), ε ~ N(0, I), fresh at every call."""
    import keras

    grey = np.full((16, 28, 28), 0.5, dtype="float32")  # 0.5 ± 5σ stays in [0, 1] for σ = 0.1: no clipping
    x = _bright_images(16, seed=8)

    def pair(images: np.ndarray, sigma: Any, seed: int = 0, generator: Any = None) -> tuple[np.ndarray, np.ndarray]:
        gen = keras.random.SeedGenerator(seed) if generator is None else generator
        out = training_pair(keras.ops.convert_to_tensor(images), sigma, gen)
        expect(
            isinstance(out, (tuple, list)) and len(out) == 2,
            "return a pair (noisy input, clean target), as fit expects (x, y).",
        )
        noisy, target = to_numpy(out[0]), to_numpy(out[1])
        expect(
            noisy.shape == images.shape and target.shape == images.shape,
            f"the pair has shapes {noisy.shape} and {target.shape}; both must have the batch's shape {images.shape}.",
        )
        return noisy, target

    def input_noisy_target_clean():
        noisy, target = pair(x, 0.2)
        expect(
            not np.allclose(noisy, x),
            "the input of the pair is the clean image (clean → clean): the network could simply copy it. "
            "Corrupt the input.",
        )
        expect(
            not np.allclose(target, noisy),
            "the target is the noisy input itself (noisy → noisy): the network would learn to reproduce the "
            "noise. The target is the clean image.",
        )
        expect(
            np.allclose(target, x),
            "the target is not the clean image: return x unchanged as the second element.",
        )
        expect(
            noisy.min() >= 0.0 and noisy.max() <= 1.0,
            "the noisy input leaves [0, 1]: clip it back to the range of the pixels (keras.ops.clip).",
        )

    def one_draw_per_pixel():
        noisy, _ = pair(grey, 0.1, seed=2)
        noise = noisy - grey
        expect(
            not np.allclose(noise[0], noise[1]),
            "every image got the same noise: draw ε with the batch's full shape.",
        )
        expect(
            float(noise[0].std()) > 1e-6,
            "each image got one noise value for all its pixels: draw ε with the batch's full shape.",
        )

    def gaussian_noise_with_std_sigma():
        noises = {sigma: (pair(grey, sigma, seed=1)[0] - grey).ravel() for sigma in (0.05, 0.1)}
        stds = {sigma: float(noise.std()) for sigma, noise in noises.items()}
        expect(
            abs(stds[0.1] / max(stds[0.05], 1e-12) - 1) > 0.2,
            "the noise is the same for σ = 0.05 and σ = 0.1: multiply ε by the `sigma` argument, not by a constant.",
        )
        for sigma, noise in noises.items():
            std = stds[sigma]
            expect(
                abs(float(noise.mean())) < 0.1 * sigma,
                "the noise does not have mean zero: use keras.random.normal (zero mean), not uniform noise.",
            )
            if abs(std - sigma**2) < 0.2 * sigma**2:
                expect(False, "the noise has standard deviation σ²: σ is the standard deviation, multiply by σ.")
            if abs(std - np.sqrt(sigma)) < 0.1 * np.sqrt(sigma):
                expect(False, "the noise has standard deviation √σ: σ is the standard deviation, multiply by σ.")
            expect(
                abs(std / sigma - 1) < 0.05,
                "the noise's standard deviation differs from σ: add σ·ε with ε ~ N(0, 1) drawn by keras.random.normal.",
            )
            kurtosis = float(np.mean(noise**4) / np.mean(noise**2) ** 2)
            expect(abs(kurtosis - 3) < 0.3, "the noise is not Gaussian: draw ε with keras.random.normal.")

    def one_sigma_per_image():
        sigmas = np.linspace(0.0, 0.15, 16, dtype="float32").reshape(16, 1, 1)
        noisy, _ = pair(grey, keras.ops.convert_to_tensor(sigmas), seed=3)
        stds = (noisy - grey).reshape(16, -1).std(axis=1)
        expect(
            np.allclose(stds, sigmas.ravel(), atol=0.015),
            "with one σ per image (sigma shaped (batch, 1, 1)) the noise does not follow each image's σ: multiply "
            "ε by the `sigma` argument (it broadcasts), do not use a global constant.",
        )

    def fresh_noise_at_every_call():
        generator = keras.random.SeedGenerator(4)
        first, _ = pair(x, 0.2, generator=generator)
        second, _ = pair(x, 0.2, generator=generator)
        expect(
            not np.allclose(first, second),
            "two calls with the same SeedGenerator gave the same noise (noise drawn once): every training step "
            "must see fresh noise. Pass the generator itself, seed=seed_generator, to keras.random.normal.",
        )
        again, _ = pair(x, 0.2, seed=4)
        keras.random.normal((3,))  # moves the global seed generator
        other, _ = pair(x, 0.2, seed=4)
        expect(
            np.allclose(first, again) and np.allclose(first, other),
            "the same seed gave different noise: draw from the seed_generator argument, not from NumPy or the "
            "global generator, so that runs repeat.",
        )

    def works_inside_fit():
        generator = keras.random.SeedGenerator(5)
        step = compiled(lambda t: training_pair(t, 0.2, generator))
        try:
            first, second = step(x), step(x)
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"training_pair fails inside tf.function (how fit runs it): {type(exc).__name__}. Use keras.random "
                "and keras.ops on tensors, no NumPy.",
            )
        expect(
            not np.allclose(to_numpy(first[0]), to_numpy(second[0])),
            "inside tf.function (how fit runs it) the noise is the same at every step: a NumPy draw happens once, "
            "when the function is traced. Use keras.random.normal with the seed_generator.",
        )
        expect(np.allclose(to_numpy(first[1]), x), "inside tf.function the target is not the clean image.")

    return run_checks(
        "training pairs",
        [
            input_noisy_target_clean,
            one_draw_per_pixel,
            gaussian_noise_with_std_sigma,
            one_sigma_per_image,
            fresh_noise_at_every_call,
            works_inside_fit,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: the consistency objective
# --------------------------------------------------------------------------------------------------

SHAPE = (4, 4)
TERMS = ("loss", "reconstruction_loss", "consistency_loss")


def _tiny_models(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    init = keras.initializers.RandomNormal(stddev=0.5, seed=seed)
    inp = keras.Input(SHAPE, name="image")
    code = keras.layers.Dense(3, activation="tanh", kernel_initializer=init, name="code")(
        keras.layers.Flatten(name="flatten")(inp)
    )
    encoder = keras.Model(inp, code, name="encoder")
    code_in = keras.Input((3,), name="code")
    pixels = keras.layers.Dense(16, activation="sigmoid", kernel_initializer=init, name="pixels")(code_in)
    decoder = keras.Model(code_in, keras.layers.Reshape(SHAPE, name="reshaped")(pixels), name="decoder")
    return encoder, decoder


def _views(x: np.ndarray) -> list[np.ndarray]:
    """Two fixed, different corruptions of ``x``: the probe model returns them in turn from ``corrupt``."""
    rng = np.random.default_rng(9)
    a = np.clip(x + rng.normal(scale=0.3, size=x.shape), 0, 1).astype("float32")
    b = (x * (rng.random(x.shape) > 0.4)).astype("float32")
    return [a, b]


def _probe_class(cls: type, x: np.ndarray) -> type:
    views = _views(x)

    class Probe(cls):
        calls = 0

        def corrupt(self, inputs):  # deterministic views, in turn
            view = views[Probe.calls % 2]
            Probe.calls += 1
            return view[: inputs.shape[0]] if inputs.shape[0] is not None else view

    Probe.__name__ = cls.__name__
    return Probe


def _reference(encoder, decoder, x, weight, stop=""):
    """Total, reconstruction and consistency (TF tensors, differentiable) with optional stop-gradients."""
    import tensorflow as tf

    a, b = (tf.constant(v) for v in _views(x))
    h_a, h_b = encoder(a), encoder(b)
    reconstruction = 0.5 * (tf.reduce_mean(tf.square(decoder(h_a) - x)) + tf.reduce_mean(tf.square(decoder(h_b) - x)))
    ca = tf.stop_gradient(h_a) if "a" in stop else h_a
    cb = tf.stop_gradient(h_b) if "b" in stop else h_b
    consistency = tf.reduce_mean(tf.reduce_sum(tf.square(ca - cb), axis=-1))
    return reconstruction + weight * consistency, reconstruction, consistency


def check_consistency_losses(ConsistentDAE: type) -> bool:  # noqa: N803
    """`ConsistentDAE(encoder, decoder, weight=…, seed=…).compute_losses(x)`: both views' MSE + weight·consistency."""
    import tensorflow as tf

    x = np.random.default_rng(10).uniform(0.0, 1.0, size=(6, *SHAPE)).astype("float32")
    weight = 0.7
    probe = _probe_class(ConsistentDAE, x)

    def build(seed: int = 11):
        encoder, decoder = _tiny_models(seed)
        return probe(encoder, decoder, weight=weight, seed=0, name="consistent_dae"), encoder, decoder

    def losses_of(model):
        out = model.compute_losses(tf.constant(x), training=True)
        expect(isinstance(out, dict), "compute_losses must return a dict of losses.")
        missing = [k for k in TERMS if k not in out]
        expect(not missing, f"compute_losses must return the keys {list(TERMS)}; missing {missing}.")
        values = {k: to_numpy(out[k]) for k in TERMS}
        for k, v in values.items():
            expect(v.ndim == 0, f"'{k}' has shape {v.shape}: average over the batch, return one number.")
        return out, {k: float(v) for k, v in values.items()}

    def two_views_and_the_values():
        model, encoder, decoder = build()
        _, got = losses_of(model)
        total, rec, con = (float(to_numpy(t)) for t in _reference(encoder, decoder, x, weight))
        a, b = (tf.constant(v) for v in _views(x))
        h_a, h_b, h_x = encoder(a), encoder(b), encoder(tf.constant(x))
        expect(
            got["consistency_loss"] != 0.0,
            "the consistency term is 0: the two views are the same tensor. Call self.corrupt(x) twice, "
            "one call per view.",
        )
        sq = to_numpy(tf.reduce_sum(tf.square(h_a - h_b), axis=-1))
        clean = [to_numpy(tf.reduce_mean(tf.reduce_sum(tf.square(h - h_x), axis=-1))) for h in (h_a, h_b)]
        wrong_consistency = [
            ("compare the codes of the two corrupted views, not a view with the clean image.", clean[0]),
            ("compare the codes of the two corrupted views, not a view with the clean image.", clean[1]),
            ("sum the squared differences over the code units (do not average them).", sq.mean() / 3),
            ("average the per-image distances over the batch, do not sum them.", sq.sum()),
            ("use the squared distance ‖h_a − h_b‖², not the distance itself.", np.sqrt(sq).mean()),
        ]
        for hint, value in wrong_consistency:
            if np.isclose(got["consistency_loss"], value, rtol=1e-4):
                expect(False, hint)
        expect(
            np.isclose(got["consistency_loss"], con, rtol=1e-4),
            "consistency_loss differs from the batch mean of ‖h_a − h_b‖² between the codes of the two views.",
        )
        mse = [to_numpy(tf.reduce_mean(tf.square(decoder(h) - t))) for h, t in ((h_a, x), (h_b, x), (h_x, x))]
        noisy_target = 0.5 * (
            to_numpy(tf.reduce_mean(tf.square(decoder(h_a) - a)))
            + to_numpy(tf.reduce_mean(tf.square(decoder(h_b) - b)))
        )
        wrong_reconstruction = [
            ("the target of the reconstruction is the clean x, not the corrupted view (noisy → noisy).", noisy_target),
            ("reconstruct from the corrupted views, not from the clean x (clean → clean).", mse[2]),
            ("average the reconstruction errors of *both* views, not one.", mse[0]),
            ("average the reconstruction errors of *both* views, not one.", mse[1]),
            ("average the two views' errors (½ each), do not add them.", mse[0] + mse[1]),
        ]
        for hint, value in wrong_reconstruction:
            if np.isclose(got["reconstruction_loss"], value, rtol=1e-4):
                expect(False, hint)
        expect(
            np.isclose(got["reconstruction_loss"], rec, rtol=1e-4),
            "reconstruction_loss differs from the mean squared error between each view's reconstruction and the "
            "clean x, averaged over the two views.",
        )
        wrong_total = [
            ("the weight multiplies the consistency term, not the reconstruction.", weight * rec + con),
            ("the total misses the weight: loss = reconstruction + weight · consistency.", rec + con),
            ("the total misses the consistency term: loss = reconstruction + weight · consistency.", rec),
            ("the weight is applied twice: loss = reconstruction + weight · consistency.", rec + weight**2 * con),
            ("the weight multiplies both terms: only the consistency term is weighted.", weight * (rec + con)),
        ]
        for hint, value in wrong_total:
            if np.isclose(got["loss"], value, rtol=1e-4):
                expect(False, hint)
        expect(np.isclose(got["loss"], total, rtol=1e-4), "loss differs from reconstruction + weight · consistency.")

    def gradients_flow_through_both_codes():
        model, encoder, decoder = build()
        variables = encoder.trainable_variables
        with tf.GradientTape() as tape:
            out, _ = losses_of(model)
            consistency = out["consistency_loss"]
        grads = tape.gradient(consistency, variables)
        expect(
            all(g is not None for g in grads) and sum(float(np.abs(to_numpy(g)).sum()) for g in grads) > 0,
            "no gradient reaches the encoder through the consistency term: do not stop the gradient of both codes "
            "(nor compute it with NumPy), or the term cannot pull the codes together.",
        )
        got = [to_numpy(g) for g in grads]

        def ref_grads(stop):
            with tf.GradientTape() as tape:
                _, _, con = _reference(encoder, decoder, x, weight, stop)
            return [to_numpy(g) for g in tape.gradient(con, variables)]

        for stop in ("a", "b"):
            if all(np.allclose(g, r, rtol=1e-3, atol=1e-7) for g, r in zip(got, ref_grads(stop))):
                expect(
                    False,
                    "the gradient of the consistency term flows through one view only (stop_gradient on one code): "
                    "the two views are symmetric, both codes should move towards each other. Drop the stop_gradient.",
                )
        expect(
            all(np.allclose(g, r, rtol=1e-3, atol=1e-7) for g, r in zip(got, ref_grads(""))),
            "the gradient of the consistency term w.r.t. the encoder is wrong although its value is right: is "
            "part of it cut from the tape?",
        )
        with tf.GradientTape() as tape:
            out, _ = losses_of(model)
        grads = tape.gradient(out["loss"], model.trainable_variables)
        with tf.GradientTape() as tape:
            total, _, _ = _reference(encoder, decoder, x, weight)
        ref = tape.gradient(total, model.trainable_variables)
        expect(
            all(g is not None for g in grads)
            and all(np.allclose(to_numpy(g), to_numpy(r), rtol=1e-3, atol=1e-7) for g, r in zip(grads, ref)),
            "the gradient of the total loss is wrong although its value is right: no stop_gradient and no NumPy "
            "inside compute_losses.",
        )

    def trains_with_fit():
        import keras

        model, _, _ = build(seed=12)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        before = [to_numpy(v) for v in model.trainable_variables]
        try:
            model.fit(x, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"compute_losses fails inside fit, which runs it as a tf.function ({type(exc).__name__}): use "
                "keras.ops on tensors, no float(), .numpy() or NumPy.",
            )
        expect_updated_once(model, TERMS)
        after = [to_numpy(v) for v in model.trainable_variables]
        expect(any(not np.allclose(a, b) for a, b in zip(after, before)), "one step of fit changed no weight.")

    return run_checks(
        "consistency objective",
        [two_views_and_the_values, gradients_flow_through_both_codes, trains_with_fit],
    )
