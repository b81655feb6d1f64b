"""Checks for Lab 03 (convolutional autoencoders, super-resolution) and Lab 03b (inpainting: `check_hole_mse`).

Each check runs the student's code on tiny inputs (small filter counts, a handful of images) and compares what it
does with a float64 NumPy reference written here independently. Typical mistakes are recognised by the shape or the
number they produce, so that the hint names the mistake; no hint prints an expected value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import compiled, expect_gradients_reach, tiny_images, to_numpy

__all__ = ["check_conv_autoencoder", "check_hole_mse", "check_psnr"]

IMAGE = (28, 28, 1)
CODE_SIDE = 7
# small, distinct sizes: a builder that ignores its arguments, or reverses them, shows it in the shapes
PROBE_CODE_CHANNELS = 3
PROBE_ENCODER_FILTERS = (5, 7)
PROBE_DECODER_FILTERS = (6, 4)


def _keras():
    import keras

    return keras


def _np(t: Any) -> np.ndarray:
    return to_numpy(t, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Exercise 1: the convolutional encoder / decoder pair
# --------------------------------------------------------------------------------------------------


def _expect_model(model: Any, what: str, name: str) -> None:
    keras = _keras()
    expect(model is not None, f"`build_{what}` returned None: end it with `return keras.Model(...)`.")
    expect(isinstance(model, keras.Model), f"`build_{what}` should return a keras.Model, got {type(model).__name__}.")
    expect(
        model.name == name,
        f'name the model with the `name` argument: keras.Model(..., name=name) (got "{model.name}").',
    )


def _shape(tensor: Any) -> tuple:
    return tuple(tensor.shape[1:])


def _layers_of(model: Any, *kinds: str) -> list:
    return [layer for layer in model.layers if type(layer).__name__ in kinds]


def _expect_encoder_shapes(encoder: Any, code_channels: int, filters: tuple[int, ...]) -> None:
    expect(
        _shape(encoder.inputs[0]) == IMAGE,
        f"the encoder's input has shape {_shape(encoder.inputs[0])}: take images shaped (28, 28, 1), "
        "keras.Input((28, 28, 1)).",
    )
    expect(
        not _layers_of(encoder, "MaxPooling2D", "AveragePooling2D"),
        "the encoder downsamples with a pooling layer: here each downsampling stage is a Conv2D with strides=2.",
    )
    out = _shape(encoder.outputs[0])
    expect(
        len(out) == 3,
        f"the code has shape {out}: keep it a feature map (7, 7, code_channels), no Flatten or Dense layer.",
    )
    side = out[0]
    expect(side != 28, "the code is still 28×28: both downsampling Conv2D layers need strides=2.")
    expect(side != 14, "the code is 14×14: the image is halved only once; two Conv2D layers with strides=2 give 7×7.")
    expect(
        side == CODE_SIDE and out[1] == CODE_SIDE,
        (
            f'the code is {out[0]}×{out[1]}, not 7×7: use padding="same" so that a stride-2 layer halves 28 to 14 '
            "and 14 to 7 exactly."
        ),
    )
    expect(
        out[2] == code_channels,
        f"the code has {out[2]} channels for code_channels={code_channels}: the last encoder layer needs "
        "`code_channels` filters (use the argument, do not hard-code it).",
    )
    strided = [layer for layer in _layers_of(encoder, "Conv2D") if tuple(layer.strides) == (2, 2)]
    expect(len(strided) == len(filters), "the encoder should have one Conv2D with strides=2 per entry of `filters`.")
    sizes = [(_shape(layer.output)[0], _shape(layer.output)[2]) for layer in strided]
    expected = [(28 // 2 ** (i + 1), f) for i, f in enumerate(filters)]
    expect(
        [s for s, _ in sizes] == [s for s, _ in expected],
        "the stride-2 stages should take 28×28 to 14×14, then to 7×7.",
    )
    expect(
        [f for _, f in sizes] == list(filters),
        f"with filters={filters} the stride-2 stages have {[f for _, f in sizes]} filters: the i-th stage uses "
        "filters[i] (use the argument, in its order).",
    )


def _expect_decoder_shapes(decoder: Any, code_channels: int, filters: tuple[int, ...]) -> None:
    code_shape = (CODE_SIDE, CODE_SIDE, code_channels)
    expect(
        _shape(decoder.inputs[0]) == code_shape,
        f"the decoder's input has shape {_shape(decoder.inputs[0])}: it must take the encoder's code, "
        "keras.Input((7, 7, code_channels)).",
    )
    expect(
        not _layers_of(decoder, "UpSampling2D", "Resizing"),
        "the decoder upsamples with UpSampling2D: this exercise asks for Conv2DTranspose(…, strides=2) "
        "(section 3 compares the two).",
    )
    out = _shape(decoder.outputs[0])
    expect(len(out) == 3, f"the decoder's output has shape {out}: return images shaped (28, 28, 1).")
    expect(out[0] != CODE_SIDE, "the output is still 7×7: the Conv2DTranspose layers need strides=2.")
    expect(out[0] != 14, "the output is 14×14: the code is doubled only once; two stride-2 stages give 28×28.")
    expect(
        out[:2] == (28, 28),
        f'the output is {out[0]}×{out[1]}, not 28×28: use padding="same" in Conv2DTranspose so that each '
        "stride-2 stage doubles the size exactly.",
    )
    expect(out[2] == 1, f"the output has {out[2]} channels: end with a Conv2D with one filter (grey images).")
    transposed = [layer for layer in _layers_of(decoder, "Conv2DTranspose") if tuple(layer.strides) == (2, 2)]
    expect(
        len(transposed) == len(filters),
        "the decoder should have one Conv2DTranspose with strides=2 per entry of `filters`.",
    )
    got = [_shape(layer.output)[2] for layer in transposed]
    expect(
        got == list(filters),
        f"with filters={filters} the Conv2DTranspose stages have {got} filters: the i-th stage uses filters[i].",
    )


_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")


def _activation_of(model: Any, layer: Any) -> str:
    """The name of the nonlinearity applied to `layer`'s output: its own activation, or an activation layer that
    follows it directly in `model.layers` ("linear" if neither)."""
    own = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if own != "linear":
        return own
    following = model.layers[model.layers.index(layer) + 1 :]
    if following and type(following[0]).__name__ in _ACTIVATION_LAYERS:
        nxt = following[0]
        return getattr(getattr(nxt, "activation", None), "__name__", type(nxt).__name__.lower())
    return "linear"


def _expect_activations(model: Any, kind: str, what: str) -> None:
    """Every stride-2 `kind` layer of `model` (the body) is followed by a nonlinearity."""
    body = [layer for layer in _layers_of(model, kind) if tuple(layer.strides) == (2, 2)]
    linear = [layer.name for layer in body if _activation_of(model, layer) == "linear"]
    expect(
        not linear,
        f"the stride-2 {kind} layers of the {what} ({', '.join(linear)}) have no activation: without one, "
        'stacked layers collapse into a single linear map; give each activation="relu".',
    )


def _expect_linear_code(encoder: Any) -> None:
    """The layer that makes the code has no activation, and the code can take negative values."""
    last = encoder.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "linear")
    if type(last).__name__ in _ACTIVATION_LAYERS:  # a separate ReLU / Activation layer after the code Conv2D
        activation = activation if activation != "linear" else type(last).__name__.lower()
    expect(
        activation == "linear",
        f"the code layer has an activation ({activation}): the last Conv2D of the encoder, to code_channels, "
        "is linear (no activation), so that the code can take any real value.",
    )
    x = tiny_images(8, IMAGE[:2], seed=4)[..., None]
    code = _np(encoder(x))
    expect(
        code.min() < 0.0,
        "the code is never negative: the code layer must be linear (no activation, no ReLU after it).",
    )


def _expect_convention(builder: Callable[..., Any], what: str) -> None:
    """The course's builder convention: `build_x(code_channels, *, filters=..., name=...)`."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # a builtin or an odd callable: let the calls below speak
        return
    usage = f'build_{what}(code_channels, *, filters=..., name="{what}")'
    try:
        signature.bind(PROBE_CODE_CHANNELS, filters=(1, 2), name=what)
    except TypeError as exc:
        expect(
            False,
            f"`build_{what}` cannot be called as {usage} ({exc}): keep the signature of the exercise, the number of "
            "code channels first, `filters` and `name` as keyword arguments.",
        )


def _expect_output_range(decoder: Any, code_channels: int) -> None:
    rng = np.random.default_rng(3)
    codes = rng.normal(scale=30.0, size=(6, CODE_SIDE, CODE_SIDE, code_channels)).astype("float32")
    out = _np(decoder(codes))
    expect(np.all(np.isfinite(out)), "the decoder's output has NaN or inf for large codes.")
    expect(
        out.min() >= 0.0 and out.max() <= 1.0,
        'the decoder\'s output leaves [0, 1] for large codes: end with activation="sigmoid" (pixels are in [0, 1]).',
    )
    expect(out.max() - out.min() > 1e-3, "the decoder's output does not depend on the code.")


def check_conv_autoencoder(build_encoder: Callable[..., Any], build_decoder: Callable[..., Any]) -> bool:
    """`build_encoder(code_channels, *, filters, name)`: 28×28×1 → 7×7×code_channels with two stride-2 Conv2D;
    `build_decoder(code_channels, *, filters, name)`: back with two stride-2 Conv2DTranspose, output in [0, 1].

    The builders are called as the course's convention says: the code size first, the other sizes as keywords."""
    keras = _keras()
    parts: dict[str, Any] = {}

    def build():
        for builder, what in ((build_encoder, "encoder"), (build_decoder, "decoder")):
            _expect_convention(builder, what)
        keras.utils.set_random_seed(5)
        try:
            parts["encoder"] = build_encoder(PROBE_CODE_CHANNELS, filters=PROBE_ENCODER_FILTERS, name="probe_encoder")
        except ValueError as exc:
            if "min_ndim=4" not in str(exc):
                raise
            expect(
                False,
                "a Conv2D received images without a channel axis: take images shaped (28, 28, 1), "
                "keras.Input((28, 28, 1)).",
            )
        _expect_model(parts["encoder"], "encoder", "probe_encoder")
        parts["decoder"] = build_decoder(PROBE_CODE_CHANNELS, filters=PROBE_DECODER_FILTERS, name="probe_decoder")
        _expect_model(parts["decoder"], "decoder", "probe_decoder")

    def encoder_shapes():
        _expect_encoder_shapes(parts["encoder"], PROBE_CODE_CHANNELS, PROBE_ENCODER_FILTERS)

    def decoder_shapes():
        _expect_decoder_shapes(parts["decoder"], PROBE_CODE_CHANNELS, PROBE_DECODER_FILTERS)

    def activations():
        _expect_activations(parts["encoder"], "Conv2D", "encoder")
        _expect_linear_code(parts["encoder"])
        _expect_activations(parts["decoder"], "Conv2DTranspose", "decoder")

    def other_sizes():
        enc = build_encoder(2, filters=(3, 4), name="encoder_2")
        dec = build_decoder(2, filters=(4, 3), name="decoder_2")
        _expect_encoder_shapes(enc, 2, (3, 4))
        _expect_decoder_shapes(dec, 2, (4, 3))

    def output_range():
        _expect_output_range(parts["decoder"], PROBE_CODE_CHANNELS)

    def end_to_end():
        enc, dec = parts["encoder"], parts["decoder"]
        x = tiny_images(4, IMAGE[:2], seed=1)[..., None]
        out = _np(dec(enc(x)))
        expect(out.shape == x.shape, f"decoder(encoder(x)) has shape {out.shape}, not the images' {x.shape}.")
        expect(
            np.abs(_np(enc(x[:1])) - _np(enc(x[1:2]))).max() > 0,
            "the encoder gives the same code for different images.",
        )
        expect_gradients_reach(
            enc.trainable_variables + dec.trainable_variables,
            lambda: keras.ops.mean(keras.ops.square(dec(enc(x)) - x)),
            "encoder and decoder",
        )

    return run_checks(
        "convolutional encoder and decoder",
        [build, encoder_shapes, decoder_shapes, activations, other_sizes, output_range, end_to_end],
    )


# --------------------------------------------------------------------------------------------------
# Lab 03b, Exercise: the loss on the hole pixels only
# --------------------------------------------------------------------------------------------------


def _hole_mse64(x: np.ndarray, x_hat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    err = (mask * (x - x_hat) ** 2).reshape(len(x), -1).sum(axis=1)
    return err / np.maximum(mask.reshape(len(x), -1).sum(axis=1), 1.0)


def _hole_batch(n: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, reconstructions and masks (n, 28, 28, 1): holes of different sizes, errors larger in the holes."""
    rng = np.random.default_rng(seed)
    x = tiny_images(n, IMAGE[:2], seed=seed)[..., None]
    mask = np.zeros_like(x)
    for i in range(n):
        size = (4, 6, 8, 10, 12)[i % 5]
        top, left = rng.integers(0, 28 - size, size=2)
        mask[i, top : top + size, left : left + size] = 1.0
    noise = np.where(mask > 0, rng.normal(scale=0.4, size=x.shape), rng.normal(scale=0.05, size=x.shape))
    return x.astype("float32"), np.clip(x + noise, 0, 1).astype("float32"), mask.astype("float32")


def _hole_mistakes(x: np.ndarray, x_hat: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, str]]:
    n = len(x)
    flat = (x - x_hat).reshape(n, -1)
    m = mask.reshape(n, -1)
    count = m.sum(axis=1)
    ref = _hole_mse64(x, x_hat, mask)
    return [
        (
            (m * flat**2).mean(axis=1),
            "the squared errors are averaged over the whole image: divide the sum over the hole by the number "
            "of hole pixels, not by all 784 pixels.",
        ),
        (
            _hole_mse64(x, x_hat, 1.0 - mask),
            "the mask is inverted: this scores the pixels the network could see; mask is 1 inside the hole.",
        ),
        ((flat**2).mean(axis=1), "the mask is ignored: multiply the squared errors by the mask before summing."),
        (
            (m * flat**2).sum(axis=1) / np.maximum((1 - m).sum(axis=1), 1.0),
            "divide by the number of hole pixels (the sum of the mask), not by the number of known pixels.",
        ),
        ((m * flat**2).sum(axis=1), "this is the sum of the squared errors in the hole: divide it by the hole size."),
        ((m * np.abs(flat)).sum(axis=1) / count, "square the errors: the absolute error is not an MSE."),
        (np.sqrt(ref), "this is the root of the mean squared error: do not take the square root."),
        (
            (m * flat**2).sum(axis=1) / m.sum(),
            "each image is divided by the hole pixels of the whole batch: count the "
            "hole pixels of each image separately (sum over every axis but the batch).",
        ),
        (
            ref * count / (count + 1.0),
            "the guard against empty holes biases the mean (count + 1): use "
            "maximum(count, 1) instead, which leaves real holes untouched.",
        ),
        (((m * flat) ** 2).sum(axis=1) / count / count, "the error is divided by the hole size twice."),
    ]


def check_hole_mse(hole_mse: Callable[[Any, Any, Any], Any]) -> bool:
    """`hole_mse(x, x_hat, mask)`: per image, the mean squared error over the pixels where mask == 1 (0 if none)."""
    import tensorflow as tf

    x, x_hat, mask = _hole_batch(5, seed=0)

    def call(*args: Any) -> np.ndarray:
        out = hole_mse(*args)
        expect(out is not None, "hole_mse returned None: end it with `return …`.")
        return _np(out)

    def one_value_per_image():
        got = call(x, x_hat, mask)
        expect(got.ndim > 0, "the result is a single number: return one value per image, shape (batch,).")
        expect(
            got.shape == (len(x),),
            f"for {len(x)} images the result has shape {got.shape}: sum over every axis but the batch "
            "(rows, columns and the channel), one value per image.",
        )

    def values_match():
        got = call(x, x_hat, mask)
        expect(np.all(np.isfinite(got)), "the values are NaN or inf for images that all have a hole.")
        ref = _hole_mse64(x, x_hat, mask)
        for wrong, hint in _hole_mistakes(x, x_hat, mask):
            if got.shape == ref.shape and np.allclose(got, wrong, rtol=1e-4) and not np.allclose(wrong, ref, rtol=1e-4):
                expect(False, hint)
        expect(
            np.allclose(got, ref, rtol=1e-4, atol=1e-7),
            ("the values differ from the mean of (x − x_hat)² over each image's hole pixels (mask == 1)."),
        )

    def empty_hole_is_zero():
        empty = mask.copy()
        empty[1] = 0.0
        got = call(x, x_hat, empty)
        expect(
            np.all(np.isfinite(got)),
            "an image without a hole gives NaN (0 / 0): divide by maximum(number of hole pixels, 1).",
        )
        expect(abs(got[1]) < 1e-12, "an image without a hole should score 0: there is nothing to fill in.")
        expect(
            np.allclose(got[[0, 2, 3, 4]], _hole_mse64(x, x_hat, empty)[[0, 2, 3, 4]], rtol=1e-4),
            ("with one image without a hole, the other images' values change: treat each image on its own."),
        )

    def gradient_and_graph():
        xt, mt = tf.constant(x), tf.constant(mask)
        var = tf.Variable(x_hat)
        expect_gradients_reach([var], lambda: tf.reduce_sum(hole_mse(xt, var, mt)), "reconstruction (through the loss)")
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(hole_mse(xt, var, mt))
        grad = _np(tape.gradient(total, var))
        expect(
            np.all(grad[mask == 0] == 0), "the gradient reaches pixels outside the hole: only hole pixels may count."
        )
        try:
            got = _np(compiled(hole_mse)(xt, tf.constant(x_hat), mt))
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"works on NumPy arrays but fails inside tf.function (how fit runs a loss): "
                f"{type(exc).__name__}. Use keras.ops only, no NumPy and no .numpy().",
            )
        expect(np.allclose(got, _hole_mse64(x, x_hat, mask), rtol=1e-4), "inside tf.function the values change.")

    return run_checks(
        "loss on the hole pixels", [one_value_per_image, values_match, empty_hole_is_zero, gradient_and_graph]
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: PSNR per image
# --------------------------------------------------------------------------------------------------

PSNR_CAP = 100.0


def _psnr_per_image64(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    mse = ((x.astype(np.float64) - x_hat.astype(np.float64)) ** 2).reshape(len(x), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.minimum(10.0 * np.log10(1.0 / mse), PSNR_CAP)


def _psnr_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dim images (peak below 1) with errors of very different sizes: pooled and per-image PSNR differ."""
    rng = np.random.default_rng(seed)
    x = (0.6 * tiny_images(4, IMAGE[:2], seed=seed))[..., None].astype("float32")
    scales = np.array([0.01, 0.05, 0.2, 0.4])[:, None, None, None]
    x_hat = np.clip(x + scales * rng.normal(size=x.shape), 0, 1).astype("float32")
    return x, x_hat


def _psnr_mistakes(x: np.ndarray, x_hat: np.ndarray) -> list[tuple[float, str]]:
    d = (x.astype(np.float64) - x_hat.astype(np.float64)).reshape(len(x), -1)
    mse = (d**2).mean(axis=1)
    peak = x.reshape(len(x), -1).max(axis=1)
    return [
        (
            float(10 * np.log10(1 / mse.mean())),
            "this is the PSNR of the batch's mean squared error: compute one PSNR per image, then average.",
        ),
        (float(np.mean(10 * np.log10(255.0**2 / mse))), "the data range is 1 (pixels in [0, 1]), not 255."),
        (
            float(np.mean(10 * np.log10(peak**2 / mse))),
            "the peak is the data range, 1, not the brightest pixel of each image.",
        ),
        (
            float(np.mean(20 * np.log10(1 / mse))),
            "PSNR is 10·log10(1 / MSE) (or 20·log10(1 / RMSE)), not 20·log10(1 / MSE).",
        ),
        (float(np.mean(10 * np.log10(1 / np.sqrt(mse)))), "PSNR is 10·log10(1 / MSE): do not take the square root."),
        (float(np.mean(10 * np.log(1 / mse))), "use the base-10 logarithm (np.log10), not the natural log."),
        (float(np.mean(10 * np.log10(mse))), "the sign is flipped: PSNR is 10·log10(1 / MSE), higher is better."),
        (
            float(np.mean(10 * np.log10(1 / np.abs(d).mean(axis=1)))),
            "use the mean squared error, not the mean absolute error.",
        ),
        (
            float(np.mean(10 * np.log10(1 / mse) / len(x))),
            "average the per-image values (np.mean), do not divide twice.",
        ),
    ]


def check_psnr(psnr: Callable[[Any, Any], Any]) -> bool:
    """`psnr(x, x_hat)`: the mean over images of 10·log10(1 / MSE_i), each image capped at 100 dB."""
    x, x_hat = _psnr_batch(0)

    def call(*args: Any) -> Any:
        out = psnr(*args)
        expect(out is not None, "psnr returned None: end it with `return …`.")
        return out

    def one_number():
        got = np.asarray(to_numpy(call(x, x_hat)))
        expect(
            got.ndim == 0,
            f"psnr returned shape {got.shape}: return the mean over images, one number (like metrics.psnr).",
        )

    def values_match():
        got = float(to_numpy(call(x, x_hat)))
        expect(np.isfinite(got), "psnr is NaN or inf on images that are not perfect.")
        ref = float(np.mean(_psnr_per_image64(x, x_hat)))
        for wrong, hint in _psnr_mistakes(x, x_hat):
            if abs(got - wrong) < 1e-3 and abs(wrong - ref) > 1e-3:
                expect(False, hint)
        expect(abs(got - ref) < 1e-3, "the value differs from the mean over images of 10·log10(1 / MSE_i).")

    def channel_axis_and_single_image():
        for xs, hs in ((x[..., 0], x_hat[..., 0]), (x[:1], x_hat[:1])):
            got = float(to_numpy(call(xs, hs)))
            ref = float(np.mean(_psnr_per_image64(xs, hs)))
            expect(
                abs(got - ref) < 1e-3,
                (
                    "the value is wrong for images shaped (n, 28, 28) or for one image: average the squared error over "
                    "every axis but the first (the images), whatever their number."
                ),
            )

    def no_log_of_zero():
        perfect = x_hat.copy()
        perfect[0] = x[0]
        with np.errstate(all="ignore"):
            got = float(to_numpy(call(x, perfect)))
        expect(
            np.isfinite(got),
            (
                "a perfect image (MSE 0) gives an infinite or NaN PSNR: cap each image's PSNR at 100 dB "
                "(np.minimum), so that the mean stays finite."
            ),
        )
        ref = float(np.mean(_psnr_per_image64(x, perfect)))
        expect(
            abs(got - ref) < 1e-3,
            (
                "with one perfect image in the batch the mean is off: a perfect image scores the cap, 100 dB "
                "(an eps added to the MSE must not move other values, and must give 100 dB at MSE 0)."
            ),
        )

    return run_checks("PSNR per image", [one_number, values_match, channel_axis_and_single_image, no_log_of_zero])
