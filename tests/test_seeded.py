"""Tests for course_utils.layers.SeedStateMixin: a layer's SeedGenerator state survives a .keras round trip."""

from __future__ import annotations

import keras
import numpy as np

from course_utils.layers import SeedStateMixin


@keras.saving.register_keras_serializable(package="test_seeded")
class NoisyScale(SeedStateMixin, keras.layers.Layer):
    """A layer with a weight *and* a random stream: x * w + noise."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w + keras.random.normal(keras.ops.shape(x), seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def test_weights_and_stream_both_survive_the_round_trip(tmp_path):
    inp = keras.Input((3,))
    model = keras.Model(inp, NoisyScale(seed=1, name="noisy")(inp))
    model.get_layer("noisy").w.assign([2.0, 3.0, 4.0])
    x = np.ones((5, 3), "float32")
    model(x)  # move the stream away from its seed
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.get_layer("noisy").w), [2.0, 3.0, 4.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(loaded(x)))


def test_fresh_layer_with_the_same_seed_would_differ(tmp_path):
    """Guards the test above: without the saved state, a reloaded layer restarts the stream."""
    x = np.ones((5, 3), "float32")
    a = NoisyScale(seed=1)
    a(x)
    b = NoisyScale(seed=1)
    assert not np.allclose(keras.ops.convert_to_numpy(a(x)), keras.ops.convert_to_numpy(b(x)))
