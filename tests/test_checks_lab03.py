"""Lab 03 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import run
from keras import layers, ops

from course_utils import metrics
from course_utils.checks import lab03

# ----------------------------------------------------------------------------------------------
# Reference solutions, written independently of the notebook, with switches for typical mistakes
# ----------------------------------------------------------------------------------------------


def encoder_with(mistake=None):
    def build_encoder(code_channels, *, filters=(32, 64), name="encoder"):
        shape = (28, 28) if mistake == "no-channel-axis" else (28, 28, 1)
        image = keras.Input(shape, name="image")
        h = image
        if mistake == "hard-coded-filters":
            filters = (32, 64)
        if mistake == "reversed-filters":
            filters = tuple(filters)[::-1]
        for i, f in enumerate(filters):
            stride = 1 if mistake == "no-stride" or (mistake == "one-stride" and i == 1) else 2
            padding = "valid" if mistake == "valid-padding" else "same"
            act = None if mistake == "linear-body" else "relu"
            h = layers.Conv2D(f, 3, strides=stride, padding=padding, activation=act, name=f"down_{i}")(h)
            if mistake == "pooling":
                h = layers.MaxPooling2D(name=f"pool_{i}")(h)
        channels = 16 if mistake == "hard-coded-code" else code_channels
        code_activation = {"relu-code": "relu", "sigmoid-code": "sigmoid", "tanh-code": "tanh"}.get(mistake)
        code = layers.Conv2D(channels, 3, padding="same", activation=code_activation, name="code")(h)
        if mistake == "relu-layer-after-code":
            code = layers.ReLU(name="code_relu")(code)
        if mistake == "flatten":
            code = layers.Flatten(name="flat")(code)
        return keras.Model(image, code, name="encoder" if mistake == "fixed-name" else name)

    return build_encoder


def decoder_with(mistake=None):
    def build_decoder(code_channels, *, filters=(64, 32), name="decoder"):
        channels = filters[0] if mistake == "input-filters" else code_channels
        code = keras.Input((7, 7, channels), name="code")
        h = code
        for i, f in enumerate(filters):
            if mistake == "upsampling":
                h = layers.UpSampling2D(name=f"up_{i}")(h)
                h = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv_{i}")(h)
                continue
            stride = 1 if mistake == "no-stride" else 2
            padding = "valid" if mistake == "valid-padding" else "same"
            act = None if mistake == "linear-body" else "relu"
            h = layers.Conv2DTranspose(f, 3, strides=stride, padding=padding, activation=act, name=f"up_{i}")(h)
        if mistake == "no-output-conv":
            return keras.Model(code, h, name=name)
        activation = {"linear-output": None, "tanh-output": "tanh", "relu-output": "relu"}.get(mistake, "sigmoid")
        out = layers.Conv2D(1, 3, padding="same", activation=activation, name="pixels")(h)
        return keras.Model(code, out, name=name)

    return build_decoder


def hole_mse(x, x_hat, mask, mistake=None):
    if mistake == "numpy":
        x, x_hat, mask = (np.asarray(a) for a in (x, x_hat, mask))
        err = (mask * (x - x_hat) ** 2).sum(axis=(1, 2, 3))
        return err / np.maximum(mask.sum(axis=(1, 2, 3)), 1.0)
    if mistake == "inverted":
        mask = 1.0 - mask
    sq = ops.abs(x - x_hat) if mistake == "abs" else ops.square(x - x_hat)
    if mistake == "no-mask":
        return ops.mean(sq, axis=(1, 2, 3))
    err = ops.sum(mask * sq, axis=(1, 2, 3))
    count = ops.sum(mask, axis=(1, 2, 3))
    if mistake == "whole-image":
        return err / 784.0
    if mistake == "known-count":
        return err / ops.maximum(ops.sum(1.0 - mask, axis=(1, 2, 3)), 1.0)
    if mistake == "sum":
        return err
    if mistake == "batch-count":
        return err / ops.sum(mask)
    if mistake == "count-plus-one":
        return err / (count + 1.0)
    if mistake == "no-guard":
        return err / count
    if mistake == "batch-scalar":
        return ops.sum(err) / ops.maximum(ops.sum(count), 1.0)
    if mistake == "keep-channel":
        return ops.sum(mask * sq, axis=(1, 2)) / ops.maximum(ops.sum(mask, axis=(1, 2)), 1.0)
    out = err / ops.maximum(count, 1.0)
    return ops.sqrt(out) if mistake == "sqrt" else out


def psnr(x, x_hat, mistake=None):
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    axes = tuple(range(1, x.ndim))
    if mistake == "axes-123":
        axes = (1, 2, 3)
    diff = x - x_hat
    mse = np.mean(np.abs(diff) if mistake == "mae" else diff**2, axis=axes)
    if mistake == "pooled":
        return float(10 * np.log10(1 / np.mean(mse)))
    peak = {"range-255": 255.0, "peak-of-x": np.max(x, axis=axes)}.get(mistake, 1.0)
    with np.errstate(divide="ignore"):
        if mistake == "eps":
            per = 10 * np.log10(1 / (mse + 1e-8))
        elif mistake == "eps-ok":
            per = 10 * np.log10(1 / (mse + 1e-10))
        elif mistake == "twenty":
            per = 20 * np.log10(1 / mse)
        elif mistake == "rmse":
            per = 10 * np.log10(1 / np.sqrt(mse))
        elif mistake == "ln":
            per = 10 * np.log(1 / mse)
        elif mistake == "sign":
            per = 10 * np.log10(mse)
        else:
            per = 10 * np.log10(peak**2 / mse)
    if mistake not in ("no-cap", "eps", "eps-ok"):
        per = np.minimum(per, 100.0)
    if mistake == "per-image":
        return per
    return float(np.mean(per))


# ----------------------------------------------------------------------------------------------
# Exercise 1: encoder and decoder
# ----------------------------------------------------------------------------------------------


def test_conv_autoencoder_passes_on_correct_solution(capsys):
    ok, out = run(lab03.check_conv_autoencoder, encoder_with(), decoder_with(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ convolutional encoder and decoder")


def test_conv_autoencoder_passes_with_sequential_models(capsys):
    def build_encoder(code_channels, *, filters=(32, 64), name="encoder"):
        stack = [keras.Input((28, 28, 1))]
        stack += [layers.Conv2D(f, 4, strides=2, padding="same", activation="elu") for f in filters]
        return keras.Sequential([*stack, layers.Conv2D(code_channels, 1)], name=name)

    def build_decoder(code_channels, *, filters=(64, 32), name="decoder"):
        stack = [keras.Input((7, 7, code_channels))]
        stack += [layers.Conv2DTranspose(f, 4, strides=2, padding="same", activation="elu") for f in filters]
        return keras.Sequential([*stack, layers.Conv2D(1, 3, padding="same", activation="sigmoid")], name=name)

    ok, out = run(lab03.check_conv_autoencoder, build_encoder, build_decoder, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("no-channel-axis", "(28, 28, 1)"),
        ("no-stride", "still 28×28"),
        ("one-stride", "halved only once"),
        ("valid-padding", 'padding="same"'),
        ("pooling", "pooling"),
        ("flatten", "feature map"),
        ("hard-coded-code", "code_channels"),
        ("hard-coded-filters", "filters[i]"),
        ("reversed-filters", "filters[i]"),
        ("fixed-name", "name"),
        ("relu-code", "the code layer has an activation (relu)"),
        ("sigmoid-code", "the code layer has an activation (sigmoid)"),
        ("tanh-code", "the code layer has an activation (tanh)"),
        ("relu-layer-after-code", "the code layer has an activation (relu)"),
        ("linear-body", "stride-2 Conv2D layers of the encoder"),
    ],
)
def test_conv_autoencoder_catches_encoder_mistake(capsys, mistake, hint):
    ok, out = run(lab03.check_conv_autoencoder, encoder_with(mistake), decoder_with(), capsys=capsys)
    assert not ok
    assert out.startswith("✘ convolutional encoder and decoder")
    assert hint in out, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("input-filters", "keras.Input((7, 7, code_channels))"),
        ("no-stride", "still 7×7"),
        ("valid-padding", 'padding="same"'),
        ("upsampling", "Conv2DTranspose"),
        ("no-output-conv", "one filter"),
        ("linear-output", "sigmoid"),
        ("tanh-output", "sigmoid"),
        ("relu-output", "sigmoid"),
        ("linear-body", "stride-2 Conv2DTranspose layers of the decoder"),
    ],
)
def test_conv_autoencoder_catches_decoder_mistake(capsys, mistake, hint):
    ok, out = run(lab03.check_conv_autoencoder, encoder_with(), decoder_with(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ convolutional encoder and decoder")
    assert hint in out, out


def test_conv_autoencoder_passes_with_activation_layers_after_linear_convolutions(capsys):
    def build_encoder(code_channels, *, filters=(32, 64), name="encoder"):
        stack = [keras.Input((28, 28, 1))]
        for f in filters:
            stack += [layers.Conv2D(f, 3, strides=2, padding="same"), layers.LeakyReLU(0.1)]
        return keras.Sequential([*stack, layers.Conv2D(code_channels, 3, padding="same")], name=name)

    def build_decoder(code_channels, *, filters=(64, 32), name="decoder"):
        stack = [keras.Input((7, 7, code_channels))]
        for f in filters:
            stack += [layers.Conv2DTranspose(f, 3, strides=2, padding="same"), layers.Activation("relu")]
        return keras.Sequential([*stack, layers.Conv2D(1, 3, padding="same", activation="sigmoid")], name=name)

    ok, out = run(lab03.check_conv_autoencoder, build_encoder, build_decoder, capsys=capsys)
    assert ok, out


def test_conv_autoencoder_passes_with_positional_or_keyword_filters(capsys):
    """A builder whose `filters` may also be passed by position still follows the convention when called by keyword."""
    reference = encoder_with()

    def build_encoder(code_channels, filters=(32, 64), name="encoder"):
        return reference(code_channels, filters=filters, name=name)

    ok, out = run(lab03.check_conv_autoencoder, build_encoder, decoder_with(), capsys=capsys)
    assert ok, out


def _filters_first_encoder(filters=(32, 64), code_channels=4, name="encoder"):
    return encoder_with()(code_channels, filters=filters, name=name)


def _renamed_filters_decoder(code_channels, *, filter_counts=(64, 32), name="decoder"):
    return decoder_with()(code_channels, filters=filter_counts, name=name)


def _no_name_encoder(code_channels, *, filters=(32, 64)):
    return encoder_with()(code_channels, filters=filters)


@pytest.mark.parametrize(
    "encoder, decoder, hint",
    [
        (_filters_first_encoder, decoder_with(), "build_encoder(code_channels, *, filters=..."),
        (encoder_with(), _renamed_filters_decoder, "build_decoder(code_channels, *, filters=..."),
        (_no_name_encoder, decoder_with(), "`filters` and `name` as keyword arguments"),
    ],
    ids=["filters-first", "renamed-filters", "no-name-argument"],
)
def test_conv_autoencoder_catches_signature_mistake(capsys, encoder, decoder, hint):
    ok, out = run(lab03.check_conv_autoencoder, encoder, decoder, capsys=capsys)
    assert not ok
    assert out.startswith("✘ convolutional encoder and decoder")
    assert hint in out, out


def test_conv_autoencoder_reports_not_implemented(capsys):
    def stub(code_channels, *, filters=(32, 64), name="encoder"):
        raise NotImplementedError("Exercise: ...")

    ok, out = run(lab03.check_conv_autoencoder, stub, decoder_with(), capsys=capsys)
    assert not ok and "not implemented" in out


# ----------------------------------------------------------------------------------------------
# Exercise 2: hole MSE
# ----------------------------------------------------------------------------------------------


def test_hole_mse_passes_on_correct_solution(capsys):
    ok, out = run(lab03.check_hole_mse, hole_mse, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ loss on the hole pixels")


def test_hole_mse_passes_with_divide_no_nan(capsys):
    import tensorflow as tf

    def with_divide_no_nan(x, x_hat, mask):
        err = tf.reduce_sum(mask * tf.square(x - x_hat), axis=[1, 2, 3])
        return tf.math.divide_no_nan(err, tf.reduce_sum(mask, axis=[1, 2, 3]))

    ok, out = run(lab03.check_hole_mse, with_divide_no_nan, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("whole-image", "averaged over the whole image"),
        ("inverted", "inverted"),
        ("no-mask", "mask is ignored"),
        ("known-count", "not by the number of known pixels"),
        ("sum", "divide it by the hole size"),
        ("abs", "square the errors"),
        ("sqrt", "square root"),
        ("batch-count", "of each image separately"),
        ("count-plus-one", "maximum(count, 1)"),
        ("no-guard", "0 / 0"),
        ("batch-scalar", "single number"),
        ("keep-channel", "channel"),
        ("numpy", "no NumPy"),
    ],
)
def test_hole_mse_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab03.check_hole_mse, lambda x, h, m: hole_mse(x, h, m, mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ loss on the hole pixels")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: PSNR
# ----------------------------------------------------------------------------------------------


def test_psnr_passes_on_correct_solution_and_the_package_copy(capsys):
    for fn in (psnr, lambda x, h: psnr(x, h, "eps-ok"), metrics.psnr):
        ok, out = run(lab03.check_psnr, fn, capsys=capsys)
        assert ok, out
        assert out.startswith("✔ PSNR per image")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("pooled", "batch's mean squared error"),
        ("range-255", "not 255"),
        ("peak-of-x", "brightest pixel"),
        ("twenty", "not 20·log10(1 / MSE)"),
        ("rmse", "do not take the square root"),
        ("ln", "base-10"),
        ("sign", "sign is flipped"),
        ("mae", "mean absolute error"),
        ("no-cap", "cap each image's PSNR"),
        ("eps", "100 dB"),
        ("per-image", "one number"),
        ("axes-123", "AxisError"),
    ],
)
def test_psnr_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab03.check_psnr, lambda x, h: psnr(x, h, mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ PSNR per image")
    assert hint in out, out
