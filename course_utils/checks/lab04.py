"""Checks for Lab 04, denoising autoencoders.

Each check runs the student's code on small synthetic batches (flat grey images, tiny seeded models) and
compares what comes out with properties computed here: the fraction of zeroed pixels, the spread of the added
noise, one and two plain SGD steps of the denoising ``train_step`` recomputed with ``tf.GradientTape``, a float64
reference of the consistency objective and of its gradient. The model checks replace ``corrupt`` with fixed
corruptions that depend on their input, so that what is corrupted, and how often, shows. Typical mistakes are
recognised by the numbers they produce, so the hint names the mistake; no hint prints an expected value.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import (
    compiled,
    expect_updated_once,
    expect_weights_match,
    keras_round_trip,
    sgd_reference_step,
    tiny_images,
    to_numpy,
    tracker_counts,
)

# --------------------------------------------------------------------------------------------------
# Exercise 1: a masking-noise layer
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_build() -> Iterator[None]:
    """Silence Keras's note that a probe model holding an unbuilt layer (the masking layer) was built implicitly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*`build\(\)` was called on layer", category=UserWarning)
        yield


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
# Exercise 3: the denoising train_step
# --------------------------------------------------------------------------------------------------

DAE_LR = 0.1  # plain SGD, so that one step can be recomputed here


def _tiny_autoencoder(seed: int = 21):
    """A seeded image → image model, (28, 28) → (28, 28): a tanh convolution, then a linear one.

    The linear output leaves [0, 1] on many pixels, where a loss taken on a clipped output loses its gradient.
    """
    import keras

    image = keras.Input((28, 28), name="image")
    h = keras.layers.Reshape((28, 28, 1), name="add_channel")(image)
    h = keras.layers.Conv2D(
        3,
        3,
        padding="same",
        activation="tanh",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=seed),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=seed + 1),
        name="conv",
    )(h)
    h = keras.layers.Conv2D(
        1,
        3,
        padding="same",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=seed + 2),
        bias_initializer=keras.initializers.Constant(0.3),
        name="pixels",
    )(h)
    return keras.Model(image, keras.layers.Reshape((28, 28), name="denoised")(h), name="autoencoder")


def _dae_pattern() -> np.ndarray:
    """The fixed pattern that the probe corruption adds, once more at every call (call n adds n times it)."""
    return np.random.default_rng(22).normal(scale=0.3, size=(28, 28)).astype("float32")


def _counting_corruption(pattern: np.ndarray):
    """``corrupt(x) = x + n·pattern`` at the n-th call, counted in a variable (so also inside a compiled step)."""
    import tensorflow as tf

    calls = tf.Variable(0.0, trainable=False, dtype="float32", name="corrupt_calls")
    p = tf.constant(pattern)

    def corrupt(x):
        return tf.convert_to_tensor(x, dtype="float32") + calls.assign_add(1.0) * p

    return corrupt, calls


def _dae_reference(autoencoder, x: np.ndarray, pattern: np.ndarray, n: int):
    """The loss of the n-th step (input x + n·pattern, target x) as a TensorFlow function, for sgd_reference_step."""
    import tensorflow as tf

    noisy, clean = tf.constant(x + n * pattern), tf.constant(x)

    def loss():
        return tf.reduce_mean(tf.square(autoencoder(noisy) - clean))

    return loss


def _dae_loss_mistakes(autoencoder, x: np.ndarray, pattern: np.ndarray) -> tuple[float, list[tuple[float, str]]]:
    """The first step's loss (float64) and (value, hint) of typical wrong losses, the probe corrupting once per call."""
    out0, out1, out2 = (to_numpy(autoencoder(x + n * pattern)) for n in (0, 1, 2))
    clean, p = x.astype(np.float64), pattern.astype(np.float64)
    err = out1 - clean
    ref = float(np.mean(err**2))
    once = "call self.corrupt(x) once per step and use that copy as the input"
    return ref, [
        (
            np.mean((out1 - (clean + p)) ** 2),
            "the loss compares the output with the noisy input (noisy → noisy): the target is the clean batch x.",
        ),
        (
            np.mean((out0 - clean) ** 2),
            "the model is fed the clean batch (clean → clean): feed it the corrupted "
            "copy and compare its output with the clean x.",
        ),
        (
            np.mean((out0 - (clean + p)) ** 2),
            "input and target are swapped: the model's input is the corrupted copy, the target the clean x.",
        ),
        (
            np.mean((out1 - (clean + 2 * p)) ** 2),
            "the target is a second corrupted copy (self.corrupt called again): "
            f"the target is the clean batch x; {once}.",
        ),
        (np.mean((out2 - clean) ** 2), f"the model's input comes from a second call of self.corrupt: {once}."),
        (np.sum(err**2), "the loss is summed over pixels and images: average the squared error (keras.ops.mean)."),
        (ref * err[0].size, "the loss sums the squared error over the pixels: average it over the pixels too."),
        (ref * len(x), "the loss is summed over the images: average it over the batch."),
        (np.mean(np.abs(err)), "the loss is the mean absolute error: use the mean squared error."),
        (np.sqrt(ref), "the loss is the root of the mean squared error: use the mean squared error itself."),
        (
            np.mean((np.clip(out1, 0, 1) - clean) ** 2),
            "the loss is taken on a clipped output: no gradient flows "
            "where the output leaves [0, 1]. Compare the raw output with x.",
        ),
        (-ref, "the loss is negative: minimise the mean squared error itself (gradient descent, not ascent)."),
    ]


def _fit_one_epoch(model: Any, x: np.ndarray, batch_size: int) -> tuple[Any, list[dict[str, float]]]:
    """``fit(x)`` for one unshuffled epoch, as the lab trains (y=None: ``data`` is the batch itself); returns the
    History and what ``train_step`` returned at each step (the raw logs, which the progress bar shows)."""
    import keras

    returned: list[dict[str, float]] = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: returned.append({k: float(np.asarray(v)) for k, v in logs.items()})
    )
    history = model.fit(x, epochs=1, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[record])
    return history, returned


def check_denoising_train_step(model_class: type) -> bool:
    """`model_class(autoencoder)`: `train_step` takes one SGD step on MSE(autoencoder(self.corrupt(x)), x), the clean x.

    The probe replaces the instance's ``corrupt`` by a deterministic corruption that depends on its input and counts
    its calls (the n-th call adds n times a fixed pattern). It runs one eager step, then one compiled epoch of two
    batches, both with ``fit(x)`` and y=None as the lab trains (``data`` is the batch itself), and compares the
    loss, the tracker and the weights with one (then two) plain SGD steps computed here with ``tf.GradientTape``.
    It relies on: the constructor's first argument (the image → image model), ``corrupt`` (replaced), ``metrics``
    (a ``Mean`` tracker named ``loss``) and ``train_step``.
    """
    import keras

    x = tiny_images(8, seed=20)
    pattern = _dae_pattern()
    state: dict[str, Any] = {}

    def make(run_eagerly: bool):
        autoencoder = _tiny_autoencoder()
        model = model_class(autoencoder)
        corrupt, calls = _counting_corruption(pattern)
        model.corrupt = corrupt
        model.compile(optimizer=keras.optimizers.SGD(DAE_LR), run_eagerly=run_eagerly)
        return model, autoencoder, calls

    def one_step_loss_and_tracker():
        model, autoencoder, calls = make(run_eagerly=True)
        batch = x[:4]
        ref, mistakes = _dae_loss_mistakes(autoencoder, batch, pattern)
        variables = autoencoder.trainable_variables
        old = [to_numpy(v) for v in variables]
        _, new = sgd_reference_step(variables, _dae_reference(autoencoder, batch, pattern, 1), DAE_LR)
        _, returned = _fit_one_epoch(model, batch, len(batch))
        state.update(old=old, new=new, got=[to_numpy(v) for v in variables], ref=ref)
        logs = returned[-1]
        expect(
            "loss" in logs,
            f"train_step should return {{'loss': self.loss_tracker.result()}}; fit received the keys {sorted(logs)}.",
        )
        counts = tracker_counts(model)
        expect("loss" in counts, "list the Mean tracker named 'loss' in the `metrics` property.")
        expect_updated_once(model, ["loss"])
        tracker = float(to_numpy(next(m for m in model.metrics if m.name == "loss").result()))
        got = logs["loss"]
        expect(
            np.isclose(got, tracker, rtol=1e-5, atol=1e-7),
            "train_step returns a 'loss' that is not the tracker's result after this step: update the tracker "
            "first, then return self.loss_tracker.result().",
        )
        n_calls = int(to_numpy(calls))
        if not np.isclose(got, ref, rtol=1e-4, atol=1e-6):
            for value, hint in mistakes:
                expect(not np.isclose(got, value, rtol=1e-4, atol=1e-6), hint)
            expect(
                n_calls > 0,
                "self.corrupt was never called: corrupt the clean batch with self.corrupt(x) (it draws fresh noise "
                "of every kind the model trains on).",
            )
            expect(
                False,
                "the loss of one step differs from the mean squared error between the model's output on "
                "self.corrupt(x) and the clean x.",
            )
        expect(
            n_calls > 0,
            "self.corrupt was never called: corrupt the clean batch with self.corrupt(x) before the forward pass.",
        )

    def one_step_update():
        old, new, got = state["old"], state["new"], state["got"]

        def same(a, b):
            return all(np.allclose(p, q, rtol=0, atol=1e-6) for p, q in zip(a, b))

        expect(
            not same(got, old),
            "train_step changed no weight: apply the gradients with self.optimizer.apply(grads, "
            "self.trainable_variables).",
        )
        frozen = [i for i, (g, o) in enumerate(zip(got, old)) if np.allclose(g, o, rtol=0, atol=1e-7)]
        expect(
            not frozen,
            "some of the autoencoder's weights did not move: take the gradients with respect to all of "
            "self.trainable_variables and apply them to the same list.",
        )
        expect(
            not same(got, [2 * o - w for o, w in zip(old, new)]),
            "the weights moved uphill: the step increased the loss. Apply the gradients of the loss as they are.",
        )
        expect(
            not same(got, [2 * w - o for o, w in zip(old, new)]),
            "the gradients were applied twice: call self.optimizer.apply once per step.",
        )
        expect_weights_match(
            got,
            new,
            "the weights after one step differ from one SGD step on the mean squared error between the model's "
            "output on the corrupted copy and the clean x: compute that loss inside the GradientTape, "
            "differentiate it with respect to self.trainable_variables and apply the gradients once.",
            atol=1e-5,
        )

    def compiled_epoch():
        model, autoencoder, calls = make(run_eagerly=False)
        reference = _tiny_autoencoder()
        variables = reference.trainable_variables
        per_step = []
        for n, batch in enumerate((x[:4], x[4:]), start=1):
            loss, new = sgd_reference_step(variables, _dae_reference(reference, batch, pattern, n), DAE_LR)
            per_step.append(loss)
            for var, value in zip(variables, new):
                var.assign(value.astype("float32"))
        try:
            history, returned = _fit_one_epoch(model, x, 4)
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"train_step fails inside fit, which runs it as a compiled graph ({type(exc).__name__}): use "
                "keras.ops on tensors, no float(), .numpy() or NumPy.",
            )
        n_calls = int(to_numpy(calls))
        expect(
            n_calls == 2,
            f"in two compiled steps (fit) self.corrupt ran {n_calls} times: call it once per step, inside "
            "train_step (not at trace time only, not once for the whole run).",
        )
        count = tracker_counts(model).get("loss", 2)
        expect(
            count == 2,
            f"after an epoch of 2 steps the 'loss' tracker holds {count:g} updates: update it once per step and "
            "never reset it inside train_step (Keras resets it at every epoch).",
        )
        mean = float(np.mean(per_step))
        expect(
            np.isclose(float(history.history["loss"][-1]), mean, rtol=1e-4, atol=1e-6),
            "after an epoch of 2 compiled steps the 'loss' tracker does not hold the mean of the steps' losses: "
            "update it once per step with that step's loss.",
        )
        last = returned[-1].get("loss", np.nan)
        if not np.isclose(last, mean, rtol=1e-4, atol=1e-6):
            expect(
                not np.isclose(last, per_step[-1], rtol=1e-4, atol=1e-6),
                "train_step returns the batch's loss, not the tracker's running mean (what the progress bar and "
                "callbacks show): return {'loss': self.loss_tracker.result()}.",
            )
            expect(False, "train_step returns a 'loss' that is not the tracker's result after the step.")
        expect_weights_match(
            autoencoder.trainable_variables,
            [to_numpy(v) for v in variables],
            "in compiled steps (as fit runs them) the weights differ from plain SGD steps on the mean squared error "
            "against the clean x, although one eager step was right: keep NumPy and Python-side state out of "
            "train_step.",
            atol=1e-5,
        )

    with _quiet_build():
        return run_checks("denoising train_step", [one_step_loss_and_tracker, one_step_update, compiled_epoch])


# --------------------------------------------------------------------------------------------------
# Exercise 4: the consistency objective
# --------------------------------------------------------------------------------------------------

SHAPE = (4, 4)
TERMS = ("loss", "reconstruction_loss", "consistency_loss")


def _tiny_models(seed: int):
    """A Dense encoder (image → 3-unit code, layer "code") and decoder, and the image → image autoencoder made of
    the same layers (so its weights are theirs)."""
    import keras

    keras.utils.set_random_seed(seed)
    init = keras.initializers.RandomNormal(stddev=0.5, seed=seed)
    code_layer = keras.layers.Dense(3, activation="tanh", kernel_initializer=init, name="code")
    pixels_layer = keras.layers.Dense(16, activation="sigmoid", kernel_initializer=init, name="pixels")
    reshape = keras.layers.Reshape(SHAPE, name="reshaped")
    inp = keras.Input(SHAPE, name="image")
    code = code_layer(keras.layers.Flatten(name="flatten")(inp))
    encoder = keras.Model(inp, code, name="encoder")
    code_in = keras.Input((3,), name="code_in")
    decoder = keras.Model(code_in, reshape(pixels_layer(code_in)), name="decoder")
    autoencoder = keras.Model(inp, reshape(pixels_layer(code)), name="autoencoder")
    return encoder, decoder, autoencoder


def _view_patterns() -> tuple[np.ndarray, np.ndarray]:
    """The fixed shift of the first view and the fixed mask of the second (one per pixel, shared by the images)."""
    rng = np.random.default_rng(9)
    return rng.normal(scale=0.3, size=SHAPE).astype("float32"), (rng.random(SHAPE) > 0.4).astype("float32")


def _views(x: np.ndarray, chained: bool = False) -> list[np.ndarray]:
    """What the probe's ``corrupt`` returns for ``x`` at its first and second call: clip(x + shift, 0, 1), x · mask.

    Both depend on their input, so ``chained=True`` gives the views of a model that corrupts the first view
    (view_b = corrupt(view_a)) instead of the clean x.
    """
    shift, keep = _view_patterns()
    a = np.clip(x + shift, 0, 1).astype("float32")
    return [a, ((a if chained else x) * keep).astype("float32")]


def _probe_class(cls: type) -> type:
    """``cls`` whose ``corrupt`` is deterministic: the first call of a ``compute_losses`` makes view a, the second b.

    The probe relies only on ``corrupt`` (replaced here) and ``compute_losses`` (wrapped to restart the count).
    """
    from keras import ops

    shift, keep = _view_patterns()

    class Probe(cls):
        calls = 0

        def compute_losses(self, data, training=False):
            Probe.calls = 0
            return super().compute_losses(data, training=training)

        def corrupt(self, inputs):  # view a, then view b, each a function of its input
            first = Probe.calls % 2 == 0
            Probe.calls += 1
            return ops.clip(inputs + shift, 0.0, 1.0) if first else inputs * keep

    Probe.__name__ = cls.__name__
    return Probe


def _build_consistent(cls: type, models: tuple[Any, Any, Any], **kwargs: Any) -> Any:
    """``cls(encoder=…, decoder=…, **kwargs)`` when the constructor takes both; otherwise
    ``cls(autoencoder, **kwargs)`` with the image → image model as first argument (plus ``encoder=`` when the
    constructor has that parameter). The autoencoder's code is the output of its layer named "code"."""
    import inspect

    encoder, decoder, autoencoder = models
    params = inspect.signature(cls).parameters
    if "encoder" in params and "decoder" in params:
        return cls(encoder=encoder, decoder=decoder, **kwargs)
    return cls(autoencoder, **kwargs, **({"encoder": encoder} if "encoder" in params else {}))


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
    """`ConsistentDAE(autoencoder, weight=…, seed=…).compute_losses(x)`: both views' MSE + weight·consistency.

    The first argument is an image → image autoencoder whose code is the output of its layer named "code" (a
    constructor that takes `encoder` and `decoder` gets those instead; one that also takes `encoder` gets it). The
    probe replaces `corrupt` by two fixed corruptions that depend on their input (the first and the second call of
    each `compute_losses`), so that a second view made from the first one shows. It relies on `corrupt`,
    `compute_losses`, `trainable_variables`, `metrics` (the MultiLossModel trackers) and `fit`.
    """
    import tensorflow as tf

    x = np.random.default_rng(10).uniform(0.0, 1.0, size=(6, *SHAPE)).astype("float32")
    weight = 0.7
    probe = _probe_class(ConsistentDAE)

    def build(seed: int = 11):
        models = _tiny_models(seed)
        model = _build_consistent(probe, models, weight=weight, seed=0, name="consistent_dae")
        return model, models[0], models[1]

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
        chained = to_numpy(encoder(tf.constant(_views(x, chained=True)[1])))
        expect(
            not np.isclose(got["consistency_loss"], np.mean(np.sum((to_numpy(h_a) - chained) ** 2, -1)), rtol=1e-4),
            "the second view is a corruption of the first view: corrupt the clean x for each view, "
            "self.corrupt(x) twice, so that the two views are independent corruptions of the same image.",
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

    with _quiet_build():
        return run_checks(
            "consistency objective",
            [two_views_and_the_values, gradients_flow_through_both_codes, trains_with_fit],
        )
