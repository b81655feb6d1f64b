"""Checks for Lab 01, undercomplete autoencoders.

Every check builds tiny models or uses small synthetic arrays, tests the student's function by what it
does (shapes, value ranges, gradients, invariants, agreement with a computation done here a different
way) and prints one pass line or a hint. None of them prints the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import expect_gradients_reach, tiny_images

__all__ = ["check_encoder", "check_decoder", "check_loss_choice", "check_pca_comparison"]

IMAGE_SHAPE = (28, 28)
N_PIXELS = 28 * 28


def _keras():
    import keras

    return keras


def _to_numpy(t: Any) -> np.ndarray:
    from course_utils.checks.probes import to_numpy

    return to_numpy(t, dtype=None)


def _images(n: int, seed: int) -> np.ndarray:
    """Random images in [0, 1] with some blank and some saturated pixels, float32, shape (n, 28, 28)."""
    return tiny_images(n, IMAGE_SHAPE, seed=seed)


def _expect_model(model: Any, what: str, name: str) -> None:
    keras = _keras()
    expect(model is not None, f"`build_{what}` returned None: end it with `return keras.Model(...)`.")
    expect(isinstance(model, keras.Model), f"`build_{what}` should return a keras.Model, got {type(model).__name__}.")
    expect(model.name == name, f'name the model: keras.Model(inputs, outputs, name="{name}") (it is "{model.name}").')


def _all_variables_get_gradients(model: Any, inputs: np.ndarray, what: str) -> None:
    import tensorflow as tf

    x = tf.constant(inputs)
    expect(len(model.trainable_variables) > 0, f"the {what} has no trainable weights: it needs Dense layers.")
    expect_gradients_reach(
        model.trainable_variables, lambda: tf.reduce_sum(tf.square(model(x, training=True) - 0.3)), what
    )


# --------------------------------------------------------------------------------------------------
# Exercise 1: encoder
# --------------------------------------------------------------------------------------------------


def check_encoder(build_encoder: Callable[..., Any]) -> bool:
    """`build_encoder(latent_dim, hidden_units=(256,))`: images (B, 28, 28) -> codes (B, latent_dim)."""
    x = _images(6, seed=1)

    def returns_named_model():
        _expect_model(build_encoder(4), "encoder", "encoder")

    def maps_images_to_codes():
        for latent in (2, 7):
            enc = build_encoder(latent)
            expect(
                tuple(enc.input_shape) == (None, *IMAGE_SHAPE),
                "the encoder's input should be a batch of 28×28 images, shape (None, 28, 28); it is "
                f"{enc.input_shape}. Start from keras.Input(shape=(28, 28)) and flatten inside the model.",
            )
            z = _to_numpy(enc(x))
            expect(
                z.shape == (len(x), latent),
                f"build_encoder({latent}) maps {len(x)} images to codes of shape {z.shape}; expected one vector of "
                f"`latent_dim` numbers per image.",
            )

    def layer_sizes_follow_arguments():
        no_hidden = build_encoder(3, hidden_units=())
        expect(
            no_hidden.count_params() == N_PIXELS * 3 + 3,
            "with hidden_units=() the encoder should be one Dense layer from the 784 pixels to the code "
            f"({no_hidden.count_params()} parameters found).",
        )
        one_hidden = build_encoder(3, hidden_units=(16,))
        expect(
            one_hidden.count_params() == (N_PIXELS * 16 + 16) + (16 * 3 + 3),
            "with hidden_units=(16,) the encoder should be 784 → 16 → latent_dim, Dense layers with biases "
            f"({one_hidden.count_params()} parameters found).",
        )

    def codes_depend_on_input():
        z = _to_numpy(build_encoder(5)(x))
        expect(np.all(np.isfinite(z)), "the encoder produced NaN or inf codes.")
        expect(np.std(z, axis=0).max() > 1e-6, "every image gets the same code: the encoder ignores its input.")

    def hidden_layers_are_nonlinear():
        # an affine map satisfies f(a + b) - f(0) = (f(a) - f(0)) + (f(b) - f(0)); a nonlinear one does not
        enc = build_encoder(5, hidden_units=(32,))
        a, b = x[:3], x[3:6]
        f0 = _to_numpy(enc(np.zeros_like(a)))
        lhs = _to_numpy(enc(a + b)) - f0
        rhs = (_to_numpy(enc(a)) - f0) + (_to_numpy(enc(b)) - f0)
        expect(
            not np.allclose(lhs, rhs, atol=1e-4),
            "the encoder behaves like a linear map: give the hidden Dense layers a nonlinear activation such as ReLU.",
        )

    def gradients_flow():
        _all_variables_get_gradients(build_encoder(3), x, "encoder")

    return run_checks(
        "encoder",
        [
            returns_named_model,
            maps_images_to_codes,
            layer_sizes_follow_arguments,
            codes_depend_on_input,
            hidden_layers_are_nonlinear,
            gradients_flow,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: decoder
# --------------------------------------------------------------------------------------------------


def check_decoder(build_decoder: Callable[..., Any]) -> bool:
    """`build_decoder(latent_dim, hidden_units=(256,))`: codes (B, latent_dim) -> images (B, 28, 28) in [0, 1]."""
    rng = np.random.default_rng(2)

    def returns_named_model():
        _expect_model(build_decoder(4), "decoder", "decoder")

    def maps_codes_to_images():
        for latent in (2, 7):
            dec = build_decoder(latent)
            expect(
                tuple(dec.input_shape) == (None, latent),
                f"build_decoder({latent}) should take codes of shape (None, {latent}); its input is {dec.input_shape}.",
            )
            out = _to_numpy(dec(rng.normal(size=(5, latent)).astype("float32")))
            expect(
                out.shape == (5, *IMAGE_SHAPE),
                f"the decoder turns 5 codes into an array of shape {out.shape}; expected 5 images of 28×28 "
                "(reshape the 784 outputs).",
            )

    def layer_sizes_follow_arguments():
        no_hidden = build_decoder(3, hidden_units=())
        expect(
            no_hidden.count_params() == 3 * N_PIXELS + N_PIXELS,
            "with hidden_units=() the decoder should be one Dense layer from the code to the 784 pixels "
            f"({no_hidden.count_params()} parameters found).",
        )
        mirrored = build_decoder(3, hidden_units=(16, 8))
        expect(
            mirrored.count_params() == (3 * 8 + 8) + (8 * 16 + 16) + (16 * N_PIXELS + N_PIXELS),
            "with hidden_units=(16, 8) the decoder should mirror the encoder: latent_dim → 8 → 16 → 784 "
            f"({mirrored.count_params()} parameters found).",
        )

    def outputs_are_pixel_intensities():
        dec = build_decoder(6)
        out = _to_numpy(dec(rng.normal(scale=30.0, size=(16, 6)).astype("float32")))
        expect(np.all(np.isfinite(out)), "the decoder produced NaN or inf.")
        expect(
            out.min() >= 0.0 and out.max() <= 1.0,
            f"for large codes the decoder outputs values in [{out.min():.2f}, {out.max():.2f}]; pixels live in [0, 1]. "
            "Which activation on the last layer guarantees that range?",
        )

    def output_depends_on_code():
        out = _to_numpy(build_decoder(4)(rng.normal(size=(6, 4)).astype("float32")))
        expect(
            np.std(out, axis=0).max() > 1e-6, "every code is decoded to the same image: the decoder ignores its input."
        )

    def gradients_flow():
        _all_variables_get_gradients(build_decoder(3), rng.normal(scale=0.5, size=(6, 3)).astype("float32"), "decoder")

    return run_checks(
        "decoder",
        [
            returns_named_model,
            maps_codes_to_images,
            layer_sizes_follow_arguments,
            outputs_are_pixel_intensities,
            output_depends_on_code,
            gradients_flow,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: reconstruction loss (MSE or BCE)
# --------------------------------------------------------------------------------------------------


def _per_image_mean(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1).mean(axis=1)


def check_loss_choice(reconstruction_loss: Callable[..., Any]) -> bool:
    """`reconstruction_loss(x, x_hat, kind)`: one loss value per image, kind "mse" or "bce"."""
    import tensorflow as tf

    x = _images(4, seed=3)
    x_hat = np.clip(x + np.random.default_rng(4).normal(scale=0.2, size=x.shape), 0.02, 0.98).astype("float32")

    def call(a, b, kind):
        return _to_numpy(reconstruction_loss(tf.constant(a), tf.constant(b), kind)).astype(np.float64)

    def one_value_per_image():
        for kind in ("mse", "bce"):
            out = call(x, x_hat, kind)
            expect(
                out.shape == (len(x),),
                f'kind="{kind}": for {len(x)} images the loss has shape {out.shape}; return one number per image '
                "(average over the pixels, not over the batch).",
            )

    def mse_value():
        expected = _per_image_mean((x.astype(np.float64) - x_hat) ** 2)
        got = call(x, x_hat, "mse")
        expect(
            np.allclose(got, expected, rtol=1e-4, atol=1e-7),
            'kind="mse" gives wrong values: it should be the mean over pixels of the squared difference.',
        )

    def bce_value():
        p = x_hat.astype(np.float64)
        t = x.astype(np.float64)
        expected = _per_image_mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))
        got = call(x, x_hat, "bce")
        # on targets away from 0 and 1 a swapped formula is finite and easy to recognise
        t_in = np.clip(t, 0.05, 0.95)
        swapped = _per_image_mean(-(p * np.log(t_in) + (1 - p) * np.log(1 - t_in)))
        if np.allclose(call(t_in.astype("float32"), x_hat, "bce"), swapped, rtol=1e-3):
            expect(
                False, 'kind="bce": target and prediction are swapped; the logarithm applies to the prediction x_hat.'
            )
        if np.allclose(got, call(x, x_hat, "mse"), rtol=1e-4):
            expect(False, 'kind="bce" returns the same values as kind="mse": the two kinds are mixed up.')
        expect(
            np.allclose(got, expected, rtol=1e-3, atol=1e-5),
            'kind="bce" gives wrong values: average −[x·log x̂ + (1−x)·log(1−x̂)] over the pixels of each image.',
        )

    def bce_is_finite_at_0_and_1():
        hard = x_hat.copy()
        hard[:, 10, :] = 0.0
        hard[:, 11, :] = 1.0
        out = call(x, hard, "bce")
        expect(
            np.all(np.isfinite(out)),
            'kind="bce" gives inf or NaN when a predicted pixel is exactly 0 or 1: clip x_hat to [ε, 1−ε] before '
            "the log.",
        )

    def bce_minimised_at_the_target():
        # for gray targets BCE is not zero at x_hat = x, but nothing does better than x_hat = x
        at_target = call(x, np.clip(x, 1e-3, 1 - 1e-3), "bce")
        for shift in (-0.05, 0.05):
            moved = call(x, np.clip(x + shift, 1e-3, 1 - 1e-3).astype("float32"), "bce")
            expect(
                np.all(at_target <= moved + 1e-6),
                'kind="bce": predicting the target itself should give the smallest loss; check the formula.',
            )

    def differentiable():
        for kind in ("mse", "bce"):
            v = tf.Variable(x_hat)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(reconstruction_loss(tf.constant(x), v, kind))
            g = tape.gradient(loss, v)
            expect(
                g is not None and np.all(np.isfinite(g.numpy())) and float(tf.reduce_sum(tf.abs(g))) > 0,
                f'kind="{kind}": no gradient flows from the loss to x_hat; use keras.ops (not NumPy) so Keras can '
                "train with it.",
            )

    def rejects_unknown_kind():
        try:
            reconstruction_loss(tf.constant(x), tf.constant(x_hat), "mae")
        except ValueError:
            return
        expect(False, 'an unknown kind such as "mae" should raise a ValueError instead of silently picking a loss.')

    return run_checks(
        "reconstruction loss",
        [
            one_value_per_image,
            mse_value,
            bce_value,
            bce_is_finite_at_0_and_1,
            bce_minimised_at_the_target,
            differentiable,
            rejects_unknown_kind,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 4: PCA, the linear baseline
# --------------------------------------------------------------------------------------------------


def _toy_data(seed: int, n: int = 400, d: int = 30) -> np.ndarray:
    """Anisotropic Gaussian data far from the origin, so centring matters."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(5.0, 0.05, d)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    offset = rng.uniform(2.0, 4.0, size=d)
    return (rng.normal(size=(n, d)) * scales @ basis.T + offset).astype("float64")


def _top_subspace(x: np.ndarray, k: int) -> np.ndarray:
    xc = x - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(xc.T @ xc)
    return vecs[:, np.argsort(vals)[::-1][:k]]  # (d, k), orthonormal columns


def check_pca_comparison(pca_fit: Callable[..., Any], pca_reconstruct: Callable[..., Any]) -> bool:
    """`pca_fit(x, k) -> (mean (d,), components (k, d))`, `pca_reconstruct(x, mean, components) -> x_hat`."""
    from scipy.linalg import subspace_angles

    train, test = _toy_data(5), _toy_data(6, n=100)
    k = 4

    def fit():
        out = pca_fit(train, k)
        expect(isinstance(out, tuple) and len(out) == 2, "pca_fit should return a pair (mean, components).")
        mean, comps = (np.asarray(a, dtype=np.float64) for a in out)
        return mean, comps

    def shapes():
        mean, comps = fit()
        d = train.shape[1]
        expect(mean.shape == (d,), f"the mean should have one entry per feature, shape ({d},); got {mean.shape}.")
        expect(
            comps.shape == (k, d),
            f"components should have shape (k, d) = ({k}, {d}), one direction per row; got {comps.shape}.",
        )

    def centres_the_data():
        mean, _ = fit()
        expect(
            np.allclose(mean, train.mean(axis=0), atol=1e-6),
            "the returned mean is not the mean of the training data: PCA works on centred data.",
        )

    def orthonormal_rows():
        _, comps = fit()
        expect(
            np.allclose(comps @ comps.T, np.eye(k), atol=1e-5),
            "the components are not orthonormal rows (components @ components.T should be the identity).",
        )

    def spans_top_variance_directions():
        _, comps = fit()
        angles = subspace_angles(comps.T, _top_subspace(train, k))
        expect(
            np.degrees(angles.max()) < 0.1,
            "the components do not span the directions of largest variance of the centred data: did you centre "
            "before the decomposition, take directions from the right factor, and keep the k largest?",
        )

    def sorted_by_variance():
        mean, comps = fit()
        var = ((train - mean) @ comps.T).var(axis=0)
        expect(
            np.all(np.diff(var) <= 1e-9 * var.max()),
            "the components should come in order of decreasing variance (first row = largest).",
        )

    def reconstructs_like_pca():
        mean, comps = fit()
        x_hat = np.asarray(pca_reconstruct(test, mean, comps), dtype=np.float64)
        expect(
            x_hat.shape == test.shape,
            f"pca_reconstruct should return an array shaped like its input {test.shape}; got {x_hat.shape}.",
        )
        basis = _top_subspace(train, k)
        mu = train.mean(axis=0)
        expected = (test - mu) @ basis @ basis.T + mu
        expect(
            np.allclose(x_hat, expected, atol=1e-6),
            "pca_reconstruct is off: project the centred data onto the components, map back, and add the mean.",
        )

    def projection_is_idempotent():
        mean, comps = fit()
        once = np.asarray(pca_reconstruct(test, mean, comps), dtype=np.float64)
        twice = np.asarray(pca_reconstruct(once, mean, comps), dtype=np.float64)
        expect(
            np.allclose(once, twice, atol=1e-6),
            "reconstructing a reconstruction should change nothing (it already lies in the PCA subspace).",
        )

    def works_on_float32_pixels():
        imgs = _images(40, seed=7)[:, 10:18, 10:18].reshape(40, -1)  # (40, 64) float32 in [0, 1]
        mean, comps = (np.asarray(a) for a in pca_fit(imgs, 3))
        expect(comps.shape == (3, 64), "pca_fit on a (40, 64) float32 array should give components of shape (3, 64).")
        err = [np.mean((imgs - np.asarray(pca_reconstruct(imgs, *pca_fit(imgs, j)))) ** 2) for j in (1, 3, 6)]
        expect(
            err[0] >= err[1] - 1e-9 >= err[2] - 2e-9,
            "the reconstruction error should not grow when k grows: keeping more components can only help.",
        )

    return run_checks(
        "PCA",
        [
            shapes,
            centres_the_data,
            orthonormal_rows,
            spans_top_variance_directions,
            sorted_by_variance,
            reconstructs_like_pca,
            projection_is_idempotent,
            works_on_float32_pixels,
        ],
    )
