"""Checks for Lab 01, undercomplete autoencoders.

Every check builds tiny models or uses small synthetic arrays, tests the student's function by what it
does (shapes, layer by layer activations, gradients, invariants, agreement with a float64 computation done here
independently) and prints one pass line or a hint. None of them prints the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import compiled, expect_gradients_reach, tiny_images, tiny_vectors, to_numpy

__all__ = ["check_encoder", "check_decoder", "check_loss_choice", "check_pca_comparison"]

IMAGE_SHAPE = (28, 28)
N_PIXELS = 28 * 28
# two hidden layers of different sizes: reversed or misapplied sizes change the layer sizes
PROBE_UNITS = (32, 16)


def _keras():
    import keras

    return keras


def _np(t: Any) -> np.ndarray:
    return to_numpy(t, dtype=np.float64)


def _images(n: int, seed: int) -> np.ndarray:
    """Random images in [0, 1] with some blank and some saturated pixels, float32, shape (n, 28, 28)."""
    return tiny_images(n, IMAGE_SHAPE, seed=seed)


def _expect_model(model: Any, what: str, name: str) -> None:
    keras = _keras()
    expect(model is not None, f"`build_{what}` returned None: end it with `return keras.Model(...)`.")
    expect(isinstance(model, keras.Model), f"`build_{what}` should return a keras.Model, got {type(model).__name__}.")
    expect(model.name == name, f'name the model: keras.Model(inputs, outputs, name="{name}") (it is "{model.name}").')


def _dense_layers(model: Any) -> list:
    keras = _keras()
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _layer_trace(model: Any, inputs: np.ndarray, what: str) -> tuple[list, list[np.ndarray], list[np.ndarray]]:
    """The model's Dense layers, each one's pre-activation ``x @ W + b`` and its activation (float64).

    The activation of Dense layer ``i`` is the input of layer ``i + 1``; for the last one, the model's output
    (flattened per example). Fails with a hint for a model that is not a graph of layers.
    """
    keras = _keras()
    dense = _dense_layers(model)
    expect(len(dense) > 0, f"the {what} has no Dense layers: build it from keras.layers.Dense.")
    try:
        probe = keras.Model(model.inputs[0], [layer.input for layer in dense] + [model.outputs[0]])
    except Exception:  # anything that is not a plain graph of layers
        expect(False, f"build the {what} as a graph of layers from keras.Input (functional or Sequential).")
    outs = [_np(o) for o in probe(inputs)]
    pre = []
    for layer, x_in in zip(dense, outs[:-1]):
        u = x_in.reshape(len(x_in), -1) @ _np(layer.kernel)
        pre.append(u + _np(layer.bias) if layer.bias is not None else u)
    post = [o.reshape(len(o), -1) for o in outs[1:]]
    return dense, pre, post


def _expect_sees_raw_input(model: Any, inputs: np.ndarray, what: str, hint: str) -> None:
    """The first Dense layer must receive the model's input unchanged (flattened): no rescaling before it."""
    keras = _keras()
    first = _dense_layers(model)[0]
    seen = _np(keras.Model(model.inputs[0], first.input)(inputs)).reshape(len(inputs), -1)
    expect(np.allclose(seen, inputs.reshape(len(inputs), -1), atol=1e-6), f"the {what}'s first Dense layer {hint}")


def _is_affine_image(a: np.ndarray, u: np.ndarray) -> bool:
    """True if ``a`` is (up to rounding) a per-unit affine function of ``u`` on this batch."""
    if a.shape != u.shape:
        return False
    for j in range(u.shape[1]):
        design = np.stack([u[:, j], np.ones(len(u))], axis=1)
        coef, *_ = np.linalg.lstsq(design, a[:, j], rcond=None)
        if np.abs(design @ coef - a[:, j]).max() > 1e-4 * max(1.0, float(np.abs(a[:, j]).max())):
            return False
    return True


def _expect_hidden_nonlinear(pre: list[np.ndarray], post: list[np.ndarray], what: str, call: str) -> None:
    for i, (u, a) in enumerate(zip(pre[:-1], post[:-1])):
        expect(
            not _is_affine_image(a, u),
            f"{call}: hidden Dense layer {i + 1} of the {what} is linear (no activation). Every hidden layer needs a "
            "nonlinear activation such as ReLU, otherwise the layers collapse into one linear map.",
        )


def _expect_sizes(model: Any, expected: list[int], what: str, call: str, arrow: str) -> None:
    dense = _dense_layers(model)
    units = [int(layer.units) for layer in dense]
    hidden = expected[:-1]
    if len(hidden) > 1 and units == hidden[::-1] + expected[-1:]:
        expect(False, f"{call}: the hidden layers come in the wrong order; the {what} should be {arrow}.")
    expect(
        units == expected,
        f"{call}: the {what}'s Dense layers have {units} units; it should be {arrow}: one Dense layer per entry of "
        "hidden_units, in that order, then the last layer.",
    )
    expect(
        all(layer.bias is not None for layer in dense),
        f"{call}: a Dense layer of the {what} has no bias (use_bias=False); keep the biases.",
    )


def _expect_responds(model: Any, inputs: np.ndarray, n_units: int, what: str, unit: str) -> None:
    """Every output unit must change when the input changes (per unit, so one dead unit shows)."""
    rng = np.random.default_rng(11)
    base = _np(model(inputs)).reshape(len(inputs), -1)
    moved = np.zeros(base.shape[1], dtype=bool)
    for _ in range(3):
        other = (inputs + rng.normal(scale=0.3, size=inputs.shape)).astype("float32")
        moved |= np.abs(_np(model(other)).reshape(len(inputs), -1) - base).max(axis=0) > 1e-7
    dead = int((~moved).sum())
    expect(
        dead == 0,
        f"{dead} of the {n_units} {unit}s of the {what} never change with the input: each must depend on it "
        "(no activation that clamps them, nothing constant).",
    )


def _all_variables_get_gradients(model: Any, inputs: np.ndarray, what: str) -> None:
    import tensorflow as tf

    frozen = len(model.weights) - len(model.trainable_weights)
    expect(frozen == 0, f"{frozen} weight(s) of the {what} are frozen (trainable=False): every layer must train.")
    x = tf.constant(inputs)
    expect_gradients_reach(
        model.trainable_variables, lambda: tf.reduce_sum(tf.square(model(x, training=True) - 0.3)), what
    )


# --------------------------------------------------------------------------------------------------
# Exercise 1: encoder
# --------------------------------------------------------------------------------------------------


def check_encoder(build_encoder: Callable[..., Any]) -> bool:
    """`build_encoder(latent_dim, *, hidden_units=(128,))`: images (B, 28, 28) -> codes (B, latent_dim)."""
    import tensorflow as tf

    x = _images(16, seed=1)
    call = f"build_encoder(3, hidden_units={PROBE_UNITS})"

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
            for batch in (x[:6], x[:1]):
                z = _np(enc(tf.constant(batch)))
                expect(
                    z.shape == (len(batch), latent),
                    f"build_encoder({latent}) maps {len(batch)} image(s) to codes of shape {z.shape}; expected one "
                    "vector of `latent_dim` numbers per image.",
                )

    def layer_sizes_follow_arguments():
        _expect_sizes(
            build_encoder(3, hidden_units=()), [3], "encoder", "build_encoder(3, hidden_units=())", "784 → latent_dim"
        )
        _expect_sizes(
            build_encoder(3, hidden_units=PROBE_UNITS), [*PROBE_UNITS, 3], "encoder", call, "784 → 32 → 16 → latent_dim"
        )

    def codes_depend_on_input():
        z = _np(build_encoder(5)(x))
        expect(np.all(np.isfinite(z)), "the encoder produced NaN or inf codes.")
        expect(np.std(z, axis=0).max() > 1e-6, "every image gets the same code: the encoder ignores its input.")

    def hidden_layers_are_nonlinear():
        enc = build_encoder(3, hidden_units=PROBE_UNITS)
        _, pre, post = _layer_trace(enc, x, "encoder")
        _expect_sees_raw_input(
            enc,
            x,
            "encoder",
            "does not see the pixels as they are: only flatten them (they are already in [0, 1]; no rescaling).",
        )
        _expect_hidden_nonlinear(pre, post, "encoder", call)

    def code_layer_is_linear():
        for units in ((), PROBE_UNITS):
            _, pre, post = _layer_trace(build_encoder(3, hidden_units=units), x, "encoder")
            u, z = pre[-1], post[-1]
            expect(
                z.shape == u.shape and np.allclose(z, u, rtol=1e-4, atol=1e-5),
                "the code layer applies an activation: the last Dense layer (latent_dim units) must be linear "
                "(no activation), so codes can take any real value, negative ones included.",
            )

    def every_code_unit_responds():
        _expect_responds(build_encoder(6, hidden_units=PROBE_UNITS), x, 6, "encoder", "code unit")

    def gradients_flow():
        _all_variables_get_gradients(build_encoder(3, hidden_units=PROBE_UNITS), x[:6], "encoder")

    return run_checks(
        "encoder",
        [
            returns_named_model,
            maps_images_to_codes,
            layer_sizes_follow_arguments,
            codes_depend_on_input,
            hidden_layers_are_nonlinear,
            code_layer_is_linear,
            every_code_unit_responds,
            gradients_flow,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: decoder
# --------------------------------------------------------------------------------------------------


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def check_decoder(build_decoder: Callable[..., Any]) -> bool:
    """`build_decoder(latent_dim, *, hidden_units=(128,))`: codes (B, latent_dim) -> images (B, 28, 28) in (0, 1)."""
    import tensorflow as tf

    codes = tiny_vectors(16, 3, seed=2)
    call = f"build_decoder(3, hidden_units={PROBE_UNITS})"

    def returns_named_model():
        _expect_model(build_decoder(4), "decoder", "decoder")

    def maps_codes_to_images():
        for latent in (2, 7):
            dec = build_decoder(latent)
            expect(
                tuple(dec.input_shape) == (None, latent),
                f"build_decoder({latent}) should take codes of shape (None, {latent}); its input is {dec.input_shape}.",
            )
            for n in (5, 1):
                out = _np(dec(tf.constant(tiny_vectors(n, latent, seed=3))))
                expect(
                    out.shape == (n, *IMAGE_SHAPE),
                    f"the decoder turns {n} code(s) into an array of shape {out.shape}; expected {n} image(s) of "
                    "28×28 (reshape the 784 outputs to (28, 28)).",
                )

    def layer_sizes_follow_arguments():
        _expect_sizes(
            build_decoder(3, hidden_units=()),
            [N_PIXELS],
            "decoder",
            "build_decoder(3, hidden_units=())",
            "latent_dim → 784",
        )
        _expect_sizes(
            build_decoder(3, hidden_units=PROBE_UNITS),
            [*PROBE_UNITS[::-1], N_PIXELS],
            "decoder",
            call,
            "latent_dim → 16 → 32 → 784, the encoder's sizes mirrored",
        )

    def outputs_are_pixel_intensities():
        out = _np(build_decoder(3)(tf.constant(30.0 * codes)))
        expect(np.all(np.isfinite(out)), "the decoder produced NaN or inf.")
        expect(
            out.min() >= 0.0 and out.max() <= 1.0,
            f"for large codes the decoder outputs values in [{out.min():.2f}, {out.max():.2f}]; pixels live in [0, 1]. "
            "Which activation on the last layer guarantees that range?",
        )

    def hidden_layers_are_nonlinear():
        dec = build_decoder(3, hidden_units=PROBE_UNITS)
        _, pre, post = _layer_trace(dec, codes, "decoder")
        _expect_sees_raw_input(dec, codes, "decoder", "does not see the codes as they are: feed them straight in.")
        _expect_hidden_nonlinear(pre, post, "decoder", call)

    def output_is_sigmoid_of_last_layer():
        for units in ((), PROBE_UNITS):
            _, pre, post = _layer_trace(build_decoder(3, hidden_units=units), codes, "decoder")
            u, out = pre[-1], post[-1]
            expect(out.shape == u.shape, "the last Dense layer should have 784 units, one per pixel.")
            if np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
                expect(
                    False,
                    "the 784 outputs of each image sum to 1 (a softmax): pixels are not competing "
                    "classes; each pixel needs its own sigmoid.",
                )
            expect(
                np.allclose(out, _sigmoid(u), rtol=1e-4, atol=1e-6),
                "the output is not the sigmoid of the last Dense layer: each pixel should be σ(w·h + b), a smooth "
                "function strictly inside (0, 1) (not a clip, not a hard sigmoid, not applied twice).",
            )

    def every_pixel_responds():
        _expect_responds(build_decoder(3, hidden_units=PROBE_UNITS), codes, N_PIXELS, "decoder", "output pixel")

    def gradients_flow():
        _all_variables_get_gradients(build_decoder(3, hidden_units=PROBE_UNITS), 0.5 * codes[:6], "decoder")

    return run_checks(
        "decoder",
        [
            returns_named_model,
            maps_codes_to_images,
            layer_sizes_follow_arguments,
            outputs_are_pixel_intensities,
            hidden_layers_are_nonlinear,
            output_is_sigmoid_of_last_layer,
            every_pixel_responds,
            gradients_flow,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: reconstruction loss (MSE or BCE)
# --------------------------------------------------------------------------------------------------


def _per_image_mean(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1).mean(axis=1)


def _mse64(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _per_image_mean((x.astype(np.float64) - p.astype(np.float64)) ** 2)


def _bce64(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, p = x.astype(np.float64), p.astype(np.float64)
    return _per_image_mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


def _diagnose(got: np.ndarray, ref: np.ndarray, kind: str) -> None:
    """Fail with the hint of the first known mistake whose values match ``got``; return if none does."""
    close = lambda a: a.shape == got.shape and np.allclose(got, a, rtol=1e-3, atol=1e-6)  # noqa: E731
    known = [
        (ref * N_PIXELS, "the loss is summed over the pixels; average it over the pixels of each image"),
        (-ref, "the sign is flipped: a loss is positive and smallest for a perfect reconstruction"),
        (ref / np.log(2.0), "the logarithm has the wrong base: use the natural logarithm (nats)"),
    ]
    for values, hint in known:
        if close(values):
            expect(False, f'kind="{kind}": {hint}.')


def check_loss_choice(reconstruction_loss: Callable[..., Any]) -> bool:
    """`reconstruction_loss(x, x_hat, kind)`: one loss value per image, kind "mse" or "bce"."""
    import tensorflow as tf

    x = _images(4, seed=3)
    x_hat = np.clip(x + np.random.default_rng(4).normal(scale=0.2, size=x.shape), 0.02, 0.98).astype("float32")

    def call(a, b, kind):
        return _np(reconstruction_loss(tf.constant(a), tf.constant(b), kind))

    def one_value_per_image():
        for kind in ("mse", "bce"):
            for a, b in ((x, x_hat), (x[:1], x_hat[:1])):
                out = call(a, b, kind)
                expect(
                    out.shape == (len(a),),
                    f'kind="{kind}": for {len(a)} image(s) the loss has shape {out.shape}; return one number per '
                    "image (average over the pixels of each image, not over the batch).",
                )

    def kinds_not_mixed_up():
        mse, bce = call(x, x_hat, "mse"), call(x, x_hat, "bce")
        expect(
            not (np.allclose(mse, _bce64(x, x_hat), rtol=1e-3) and np.allclose(bce, _mse64(x, x_hat), rtol=1e-3)),
            'kind="mse" and kind="bce" are mixed up: each name must select its own formula.',
        )
        expect(not np.allclose(bce, mse, rtol=1e-4), 'kind="bce" returns the same values as kind="mse".')

    def mse_value():
        ref = _mse64(x, x_hat)
        got = call(x, x_hat, "mse")
        _diagnose(got, ref, "mse")
        diff = (x.astype(np.float64) - x_hat).reshape(len(x), -1)
        expect(
            not np.allclose(got, np.sqrt(ref), rtol=1e-3),
            'kind="mse" takes a square root at the end (RMSE); the mean squared error has none.',
        )
        expect(
            not np.allclose(got, np.abs(diff).mean(axis=1), rtol=1e-3),
            'kind="mse" uses the absolute difference; the mean squared error squares it.',
        )
        expect(
            np.allclose(got, ref, rtol=1e-4, atol=1e-7),
            'kind="mse" gives wrong values: it should be the mean over the pixels of each image of the squared '
            "difference.",
        )

    def bce_value():
        ref = _bce64(x, x_hat)
        got = call(x, x_hat, "bce")
        # on targets away from 0 and 1 a swapped formula is finite and easy to recognise
        t_in = np.clip(x, 0.05, 0.95).astype("float32")
        if np.allclose(call(t_in, x_hat, "bce"), _bce64(x_hat, t_in), rtol=1e-3):
            expect(
                False, 'kind="bce": target and prediction are swapped; the logarithm applies to the prediction x_hat.'
            )
        _diagnose(got, ref, "bce")
        t, p = x.astype(np.float64), x_hat.astype(np.float64)
        expect(
            not np.allclose(got, _per_image_mean(-t * np.log(p)), rtol=1e-3),
            'kind="bce" only has the x·log x̂ term: the (1 − x)·log(1 − x̂) term, which rewards dark pixels, is missing.',
        )
        expect(
            np.allclose(got, ref, rtol=1e-3, atol=1e-5),
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
        # one pixel predicted 0 where the target is 1: it should cost about −log ε with a tiny ε (1e-7 is usual)
        one = np.zeros((1, *IMAGE_SHAPE), "float32")
        one[0, 5, 5] = 1.0
        blank = np.zeros_like(one)
        cost = float(call(one, blank, "bce")[0] - call(blank, blank, "bce")[0]) * N_PIXELS
        expect(
            cost >= 9.0,
            'kind="bce": a pixel predicted 0 where the target is 1 costs too little: clip with a tiny ε such as 1e-7 '
            "(a large ε hides confident mistakes).",
        )

    def bce_minimised_at_the_target():
        at_target = call(x, np.clip(x, 1e-3, 1 - 1e-3), "bce")
        for shift in (-0.05, 0.05):
            moved = call(x, np.clip(x + shift, 1e-3, 1 - 1e-3).astype("float32"), "bce")
            expect(
                np.all(at_target <= moved + 1e-6),
                'kind="bce": predicting the target itself should give the smallest loss; check the formula.',
            )

    def differentiable_in_a_graph():
        @compiled
        def grad(kind, v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                loss = tf.reduce_mean(reconstruction_loss(tf.constant(x), v, kind))
            return tape.gradient(loss, v)

        for kind in ("mse", "bce"):
            try:
                g = grad(kind, tf.constant(x_hat))
            except Exception:  # NumPy code on a symbolic tensor, inside the compiled function
                g = None
            ok = g is not None and np.all(np.isfinite(_np(g))) and np.all(np.abs(_np(g)) > 0)
            expect(
                ok,
                f'kind="{kind}": no gradient flows from the loss to every pixel of x_hat inside a compiled '
                "function (as in fit): use keras.ops (not NumPy) on the tensors.",
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
            kinds_not_mixed_up,
            mse_value,
            bce_value,
            bce_is_finite_at_0_and_1,
            bce_minimised_at_the_target,
            differentiable_in_a_graph,
            rejects_unknown_kind,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 4: PCA, the linear baseline
# --------------------------------------------------------------------------------------------------


def _toy_data(seed: int, n: int = 400, d: int = 30) -> np.ndarray:
    """Anisotropic Gaussian data far from the origin, so centring matters; features on different scales."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(5.0, 0.05, d)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    offset = rng.uniform(2.0, 4.0, size=d)
    feature_scale = np.geomspace(0.3, 3.0, d)[rng.permutation(d)]
    return ((rng.normal(size=(n, d)) * scales @ basis.T + offset) * feature_scale).astype("float64")


def _eig_desc(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = np.linalg.eigh(x.T @ x)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def _top_subspace(x: np.ndarray, k: int) -> np.ndarray:
    return _eig_desc(x - x.mean(axis=0))[1][:, :k]  # (d, k), orthonormal columns


def _pca_mistakes(x: np.ndarray, k: int) -> list[tuple[np.ndarray, str]]:
    """Subspaces that typical mistakes span, each with the hint that names the mistake."""
    xc = x - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(xc.T @ xc)  # ascending, eigenvectors in the columns
    return [
        (_eig_desc(x)[1][:, :k], "the data were not centred before the decomposition: subtract the mean first"),
        (vecs[:, :k], "these are the directions of smallest variance: keep the k largest eigenvalues"),
        (
            vecs[np.argsort(vals)[::-1][:k]].T,
            "these are rows of the eigenvector matrix; np.linalg.eigh returns the eigenvectors as its columns",
        ),
        (_top_subspace(x / x.std(axis=0), k), "PCA works on the centred data, not on standardised (÷ std) data"),
    ]


def check_pca_comparison(pca_fit: Callable[..., Any], pca_reconstruct: Callable[..., Any]) -> bool:
    """`pca_fit(x, k) -> (mean (d,), components (k, d))`, `pca_reconstruct(x, mean, components) -> x_hat`."""
    from scipy.linalg import subspace_angles

    train, test = _toy_data(5), _toy_data(6, n=100)
    k = 4

    def fit():
        out = pca_fit(train.copy(), k)
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

        def angle(basis):
            return np.degrees(subspace_angles(comps.T, basis).max())

        if angle(_top_subspace(train, k)) < 0.1:
            return
        for basis, hint in _pca_mistakes(train, k):
            expect(angle(basis) >= 0.1, f"the components span the wrong directions: {hint}.")
        expect(
            False,
            "the components do not span the directions of largest variance of the centred data: centre, decompose, "
            "take the eigenvectors (columns) of the k largest eigenvalues.",
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
        if np.allclose(x_hat, expected - mu, atol=1e-6):
            expect(False, "pca_reconstruct forgets to add the mean back after mapping the codes back.")
        if np.allclose(x_hat, test @ basis @ basis.T + mu, atol=1e-6):
            expect(False, "pca_reconstruct projects the raw data: subtract the mean before projecting.")
        own = test.mean(axis=0)
        if np.allclose(x_hat, (test - own) @ basis @ basis.T + own, atol=1e-6):
            expect(False, "pca_reconstruct centres with the mean of its own input; use the training mean it is given.")
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

    def leaves_inputs_unchanged():
        data = train.copy()
        mean, comps = pca_fit(data, k)
        expect(np.array_equal(data, train), "pca_fit changed its input array in place (x -= mean): work on a copy.")
        probe = test.copy()
        pca_reconstruct(probe, np.asarray(mean), np.asarray(comps))
        expect(np.array_equal(probe, test), "pca_reconstruct changed its input array in place: work on a copy.")

    return run_checks(
        "PCA",
        [
            shapes,
            leaves_inputs_unchanged,
            centres_the_data,
            orthonormal_rows,
            spans_top_variance_directions,
            sorted_by_variance,
            reconstructs_like_pca,
            projection_is_idempotent,
            works_on_float32_pixels,
        ],
    )
