"""Unit tests for the DEC pieces: clustering formulas, losses.clustering_kl, and the clustering/augmentation layers."""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np
import pytest

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.clustering import assignment_change, soft_assignment, target_distribution
from course_utils.layers import ClusteringLayer, RandomJitter
from course_utils.losses import clustering_kl


def _reference_q(z, mu, alpha):
    d2 = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    k = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return k / k.sum(1, keepdims=True)


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")


@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
def test_soft_assignment_matches_formula(points, alpha):
    z, mu = points
    q = keras.ops.convert_to_numpy(soft_assignment(z, mu, alpha))
    np.testing.assert_allclose(q, _reference_q(z, mu, alpha), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-5)


def test_nearer_centroid_gets_more_mass():
    mu = np.array([[0.0, 0.0], [5.0, 0.0]], dtype="float32")
    z = np.array([[0.5, 0.0], [4.0, 1.0]], dtype="float32")
    q = keras.ops.convert_to_numpy(soft_assignment(z, mu))
    assert q[0, 0] > q[0, 1] and q[1, 1] > q[1, 0]


def test_target_distribution_formula_and_properties(points):
    z, mu = points
    q = _reference_q(z, mu, 1.0)
    p = target_distribution(q)
    f = q.sum(0)
    expected = (q**2 / f) / (q**2 / f).sum(1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-5)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert p.dtype == np.float32
    # sharper: the largest entry of each row grows (or stays) when clusters are balanced
    balanced = np.array([[0.6, 0.4], [0.4, 0.6]])
    pb = target_distribution(balanced)
    assert np.all(pb.max(1) > balanced.max(1))


def test_target_distribution_divides_by_cluster_frequency():
    # identical rows, but cluster 0 is much more popular overall: p moves mass towards the rarer cluster
    q = np.array([[0.5, 0.5]] + [[0.9, 0.1]] * 9)
    p = target_distribution(q)
    assert p[0, 1] > p[0, 0]


def test_target_distribution_rejects_bad_shape():
    with pytest.raises(ValueError):
        target_distribution(np.ones(5))


def test_clustering_kl():
    p = np.array([[0.7, 0.3], [0.2, 0.8]], dtype="float32")
    assert float(clustering_kl(p, p)) == pytest.approx(0.0, abs=1e-6)
    q = np.array([[0.5, 0.5], [0.5, 0.5]], dtype="float32")
    expected = np.mean((p * np.log(p / q)).sum(1))
    assert float(clustering_kl(p, q)) == pytest.approx(expected, rel=1e-5)


def test_assignment_change():
    assert assignment_change(np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0])) == 0.5
    with pytest.raises(ValueError):
        assignment_change(np.zeros(3), np.zeros(4))


def test_layer_initial_centroids_and_output(points):
    z, mu = points
    layer = ClusteringLayer(3, alpha=2.0, initial_centroids=mu, name="clusters")
    q = keras.ops.convert_to_numpy(layer(z))
    assert q.shape == (50, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.centroids), mu)
    np.testing.assert_allclose(q, _reference_q(z, mu, 2.0), rtol=1e-5, atol=1e-6)
    assert len(layer.trainable_weights) == 1


def test_layer_set_centroids_and_validation(points):
    z, mu = points
    layer = ClusteringLayer(3)
    layer(z)
    layer.set_centroids(mu + 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.centroids), mu + 1)
    with pytest.raises(ValueError):
        layer.set_centroids(np.zeros((2, 4)))
    with pytest.raises(ValueError):
        ClusteringLayer(3, initial_centroids=np.zeros((2, 4)))
    with pytest.raises(ValueError):
        ClusteringLayer(0)
    with pytest.raises(ValueError):
        ClusteringLayer(3, alpha=0.0)
    with pytest.raises(ValueError):
        ClusteringLayer(3, initial_centroids=np.zeros((3, 5)))(z)


def test_centroids_receive_gradients(points):
    import tensorflow as tf

    z, mu = points
    layer = ClusteringLayer(3, initial_centroids=mu)
    p = target_distribution(_reference_q(z, mu, 1.0) ** 0.5 / (_reference_q(z, mu, 1.0) ** 0.5).sum(1, keepdims=True))
    with tf.GradientTape() as tape:
        loss = clustering_kl(p, layer(z))
    (grad,) = tape.gradient(loss, layer.trainable_weights)
    assert np.abs(grad.numpy()).sum() > 0


def test_keras_round_trip(tmp_path, points):
    z, mu = points
    inp = keras.Input((4,))
    out = ClusteringLayer(3, alpha=1.5, initial_centroids=mu, name="clusters")(inp)
    model = keras.Model(inp, out, name="dec_head")
    before = keras.ops.convert_to_numpy(model(z))
    path = tmp_path / "head.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("clusters")
    assert isinstance(layer, ClusteringLayer) and layer.alpha == 1.5 and layer.n_clusters == 3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(z)), before, rtol=1e-6)


def _reference_shift(x, max_shift, seed):
    """What the former ``layers.RandomShift(max_shift, seed)`` did, in NumPy: offsets drawn as it drew them."""
    offsets = keras.ops.convert_to_numpy(
        keras.random.randint((len(x), 2), 0, 2 * max_shift + 1, seed=keras.random.SeedGenerator(seed))
    )
    s = max_shift
    pad = [(0, 0), (s, s), (s, s)] + [(0, 0)] * (x.ndim - 3)
    padded = np.pad(x, pad)
    h, w = x.shape[1:3]
    return np.stack([p[r : r + h, c : c + w] for p, (r, c) in zip(padded, offsets)])


def test_random_jitter_without_rotation_moves_whole_images():
    x = np.zeros((64, 12, 12), dtype="float32")
    x[:, 5:7, 5:7] = 1.0
    layer = RandomJitter(2, max_degrees=0, seed=1)
    assert layer.rotation is None
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)  # inference: identity
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    assert out.shape == x.shape
    np.testing.assert_allclose(out.sum((1, 2)), 4.0)  # the blob stays whole (shift <= 2 keeps it inside)
    rows = np.array([np.argwhere(o)[:, 0].min() for o in out])
    cols = np.array([np.argwhere(o)[:, 1].min() for o in out])
    assert set(rows) == set(range(3, 8)) and set(cols) == set(range(3, 8))  # every offset in [-2, 2] occurs


@pytest.mark.parametrize("shape", [(6, 8, 8), (6, 8, 8, 1), (6, 8, 8, 3)])
def test_random_jitter_with_max_degrees_0_shifts_like_the_former_random_shift(shape):
    x = np.random.default_rng(0).random(shape).astype("float32")
    out = keras.ops.convert_to_numpy(RandomJitter(2, max_degrees=0, seed=5)(x, training=True))
    np.testing.assert_allclose(out, _reference_shift(x, 2, seed=5), atol=1e-6)
    x0 = RandomJitter(0, max_degrees=0, seed=5)(x, training=True)  # no shift, no rotation: the identity
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(x0), x)
    with pytest.raises(ValueError, match="max_shift"):
        RandomJitter(-1)


def test_random_jitter_rotates_and_shifts_only_in_training():
    x = np.zeros((64, 28, 28), dtype="float32")
    x[:, 6:22, 13:15] = 1.0  # a vertical bar through the centre
    layer = RandomJitter(max_shift=2, max_degrees=30, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    assert out.shape == x.shape and np.isfinite(out).all()
    assert 0.0 <= out.min() and out.max() <= 1.0 + 1e-6  # bilinear interpolation and zero fill stay in range
    # the bar's ink is kept (no part leaves the frame) but its orientation varies: measure the tilt by PCA
    np.testing.assert_allclose(out.sum((1, 2)), x[0].sum(), rtol=0.05)
    angles = []
    for img in out:
        r, c = np.nonzero(img > 0.5)
        cov = np.cov(np.stack([r, c]))
        vec = np.linalg.eigh(cov)[1][:, -1]
        angles.append(np.degrees(np.arctan2(abs(vec[1]), abs(vec[0]))))
    assert max(angles) > 10 and max(angles) <= 32  # some bars tilt, none beyond the limit (+ pixel slack)


def test_random_jitter_round_trips_through_a_keras_file():
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, RandomJitter(1, 15.0, seed=3, name="jitter")(inp))
    assert keras.ops.convert_to_numpy(model(x, training=True)).shape == x.shape
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "jitter.keras")
        model.save(path)
        layer = keras.models.load_model(path).get_layer("jitter")
    assert isinstance(layer, RandomJitter) and (layer.max_shift, layer.max_degrees, layer.seed) == (1, 15.0, 3)
    assert layer.get_config()["max_shift"] == 1 and layer.get_config()["max_degrees"] == 15.0
    for bad in (-1.0, 181.0):
        with pytest.raises(ValueError, match="max_degrees"):
            RandomJitter(1, bad)


def test_random_jitter_shift_round_trip_continues_the_same_random_stream():
    x = np.random.default_rng(0).random((16, 8, 8)).astype("float32")
    inp = keras.Input((8, 8))
    model = keras.Model(inp, RandomJitter(2, max_degrees=0, seed=5, name="jitter")(inp))
    model(x, training=True)  # advance the stream once before saving
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "jitter.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    for _ in range(2):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(model(x, training=True)), keras.ops.convert_to_numpy(loaded(x, training=True))
        )
