"""Tests for course_utils.layers.DenseTranspose: one kernel shared by an encoder Dense and its mirror, also after
a .keras round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.layers import DenseTranspose


def _tied_autoencoder(nested: bool = False) -> keras.Model:
    """6 → 4 → 2 → 4 → 6, every decoder layer the mirror of an encoder layer; optionally as encoder/decoder models."""
    x = keras.Input(shape=(6,), name="x")
    d0 = keras.layers.Dense(4, activation="relu", name="enc_0")
    d1 = keras.layers.Dense(2, name="enc_1")
    code = d1(d0(x))
    if nested:
        encoder = keras.Model(x, code, name="encoder")
        z = keras.Input(shape=(2,), name="z")
        h = DenseTranspose(d1, activation="relu", name="dec_1")(z)
        decoder = keras.Model(z, DenseTranspose(d0, activation="sigmoid", name="dec_0")(h), name="decoder")
        images = keras.Input(shape=(6,), name="images")
        return keras.Model(images, decoder(encoder(images)), name="tied_nested")
    h = DenseTranspose(d1, activation="relu", name="dec_1")(code)
    return keras.Model(x, DenseTranspose(d0, activation="sigmoid", name="dec_0")(h), name="tied")


def _find(model: keras.Model, name: str) -> keras.layers.Layer:
    for layer in model._flatten_layers(include_self=False):
        if layer.name == name:
            return layer
    raise KeyError(name)


def _inputs(n: int = 5) -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(n, 6)).astype("float32")


def test_forward_matches_a_float64_reference():
    dense = keras.layers.Dense(3, name="enc")
    dense.build((None, 5))
    dense.kernel.assign(np.random.default_rng(1).normal(size=(5, 3)).astype("float32"))
    layer = DenseTranspose(dense, activation="tanh", name="dec")
    z = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(z))
    layer.bias.assign(np.arange(5, dtype="float32") / 10)
    out_bias = keras.ops.convert_to_numpy(layer(z))
    w = keras.ops.convert_to_numpy(dense.kernel).astype(np.float64)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out, np.tanh(z.astype(np.float64) @ w.T), atol=1e-5)
    np.testing.assert_allclose(out_bias, np.tanh(z.astype(np.float64) @ w.T + np.arange(5) / 10), atol=1e-5)


def test_the_layer_owns_only_its_bias_and_the_model_counts_the_kernel_once():
    model = _tied_autoencoder()
    assert _find(model, "dec_0").count_params() == 6
    assert _find(model, "dec_1").count_params() == 4
    # encoder 6*4+4 + 4*2+2, decoder biases 4 + 6
    assert model.count_params() == (6 * 4 + 4) + (4 * 2 + 2) + 4 + 6
    assert len(model.trainable_weights) == 6
    no_bias = DenseTranspose(_find(model, "enc_0"), use_bias=False)
    assert no_bias(np.zeros((1, 4), "float32")).shape == (1, 6) and no_bias.count_params() == 0


def test_gradient_reaches_the_shared_kernel_from_both_sides():
    model = _tied_autoencoder()
    kernel = _find(model, "enc_0").kernel
    x = tf.constant(_inputs())
    with tf.GradientTape(persistent=True) as tape:
        # the encoder's first layer alone, and the last decoder layer alone on a fixed code
        enc_only = tf.reduce_sum(_find(model, "enc_0")(x) ** 2)
        dec_only = tf.reduce_sum(_find(model, "dec_0")(tf.ones((3, 4))) ** 2)
        both = tf.reduce_sum((model(x) - x) ** 2)
    for loss in (enc_only, dec_only, both):
        grad = tape.gradient(loss, kernel)
        assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0


def test_round_trip_keeps_one_shared_kernel(tmp_path):
    model = _tied_autoencoder()
    x = _inputs()
    before = keras.ops.convert_to_numpy(model(x))
    path = tmp_path / "tied.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), before, atol=1e-6)
    assert loaded.count_params() == model.count_params()
    enc, dec = _find(loaded, "enc_0"), _find(loaded, "dec_0")
    assert dec.dense is enc, "after loading, the mirror must use the reloaded encoder layer itself"
    # changing the one kernel changes both sides: the decoder's output moves with it
    z = np.ones((2, 4), "float32")
    dec_before = keras.ops.convert_to_numpy(dec(z))
    enc.kernel.assign(enc.kernel * 2.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dec.dense.kernel), keras.ops.convert_to_numpy(enc.kernel))
    assert not np.allclose(keras.ops.convert_to_numpy(dec(z)), dec_before)
    kernels = [w for w in loaded.weights if w.path.endswith("kernel")]
    assert len(kernels) == 2, f"expected the two encoder kernels only, found {[w.path for w in kernels]}"


def test_training_the_loaded_model_updates_both_sides(tmp_path):
    model = _tied_autoencoder()
    model.save(tmp_path / "tied.keras")
    loaded = keras.saving.load_model(tmp_path / "tied.keras")
    loaded.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    kernel_before = keras.ops.convert_to_numpy(_find(loaded, "enc_0").kernel).copy()
    loaded.fit(_inputs(8), _inputs(8), epochs=1, batch_size=8, verbose=0)
    kernel_after = keras.ops.convert_to_numpy(_find(loaded, "dec_0").dense.kernel)
    assert not np.allclose(kernel_before, kernel_after)


def test_bad_arguments_name_the_problem():
    with pytest.raises(TypeError, match="keras.layers.Dense"):
        DenseTranspose(keras.layers.Conv1D(2, 3))
    with pytest.raises(ValueError, match="not built"):
        DenseTranspose(keras.layers.Dense(3, name="fresh"))(np.zeros((1, 3), "float32"))
    dense = keras.layers.Dense(3, name="enc")
    dense.build((None, 5))
    with pytest.raises(ValueError, match="3 features"):
        DenseTranspose(dense)(np.zeros((1, 4), "float32"))


def test_nested_encoder_and_decoder_models_fail_loudly_instead_of_untying(tmp_path):
    """The documented limitation: a Dense inside a nested model loses its shared-object tag (Keras 3.15)."""
    model = _tied_autoencoder(nested=True)
    model.save(tmp_path / "nested.keras")
    with pytest.raises(ValueError, match="could not be loaded"):
        keras.saving.load_model(tmp_path / "nested.keras")


def test_an_encoder_sharing_the_layers_of_a_flat_tied_model_trains_the_same_kernel():
    model = _tied_autoencoder()
    encoder = keras.Model(model.input, _find(model, "enc_1").output, name="encoder")
    assert encoder.get_layer("enc_0") is _find(model, "dec_0").dense
