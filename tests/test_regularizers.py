"""Unit tests for course_utils.regularizers.KLSparsity, against a float64 NumPy reference."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from course_utils.regularizers import KLSparsity


def kl_reference(activations, rho, weight, eps=1e-6):
    rho_hat = np.clip(np.asarray(activations, np.float64).mean(axis=0), eps, 1 - eps)
    return weight * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))


def test_penalty_matches_the_formula():
    a = np.random.default_rng(0).uniform(0, 1, size=(7, 5)).astype("float32")
    reg = KLSparsity(rho=0.1, weight=3.0)
    assert float(reg.penalty(a)) == pytest.approx(kl_reference(a, 0.1, 3.0), rel=1e-5)


def test_call_is_the_penalty_times_the_batch_size():
    a = np.random.default_rng(1).uniform(0, 1, size=(6, 4)).astype("float32")
    reg = KLSparsity(rho=0.05, weight=0.5)
    assert float(reg(a)) == pytest.approx(6 * kl_reference(a, 0.05, 0.5), rel=1e-5)


def test_zero_when_every_unit_hits_its_target():
    a = np.zeros((10, 3), "float32")
    a[:2] = 1.0  # every unit is on in 2 of 10 examples: ρ̂ = 0.2
    assert float(KLSparsity(rho=0.2, weight=1.0).penalty(a)) == pytest.approx(0.0, abs=1e-6)


def test_dead_unit_gives_a_finite_penalty_and_gradient():
    import tensorflow as tf

    a = tf.Variable(np.zeros((4, 3), "float32"))
    with tf.GradientTape() as tape:
        value = KLSparsity(rho=0.1, weight=1.0).penalty(a)
    grad = tape.gradient(value, a)
    assert np.isfinite(float(value)) and float(value) > 1.0
    assert np.all(np.isfinite(grad.numpy()))


def test_layer_loss_equals_the_penalty_whatever_the_batch():
    layer = keras.layers.Dense(4, activation="sigmoid", activity_regularizer=KLSparsity(0.1, 2.0))
    for n in (1, 8):
        x = np.random.default_rng(n).normal(size=(n, 3)).astype("float32")
        h = layer(x)
        assert float(sum(layer.losses)) == pytest.approx(kl_reference(h.numpy(), 0.1, 2.0), rel=1e-4)


def test_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,))
    code = keras.layers.Dense(3, activation="sigmoid", activity_regularizer=KLSparsity(0.2, 0.7, eps=1e-5))(inp)
    model = keras.Model(inp, code)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    reg = loaded.layers[-1].activity_regularizer
    assert isinstance(reg, KLSparsity)
    assert reg.get_config() == {"rho": 0.2, "weight": 0.7, "eps": 1e-5}
    x = np.ones((2, 5), "float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"rho": 0.0}, "strictly between 0 and 1"),
        ({"rho": 1.2}, "strictly between"),
        ({"weight": -1}, "negative"),
        ({"eps": 0.7}, "between 0 and 0.5"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        KLSparsity(**kwargs)


def test_unbatched_input_is_refused():
    with pytest.raises(ValueError, match="pass a batch"):
        KLSparsity().penalty(np.ones(3, "float32"))
