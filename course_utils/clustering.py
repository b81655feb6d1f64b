"""Deep embedded clustering (DEC) building blocks: a Student-t clustering layer and the target distribution.

The clustering layer holds K centroids ``mu_j`` in the embedding space and turns an embedding ``z_i`` into a
soft assignment over clusters with a Student-t kernel (as in t-SNE and DEC):

    q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2) / sum_j' (same for j').

The target distribution sharpens ``q`` and divides by the soft cluster sizes ``f_j = sum_i q_ij`` so that large
clusters do not swallow small ones:

    p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j').

Training then pulls ``Q`` towards ``P`` by minimizing ``KL(P || Q)`` with ``P`` held fixed.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from course_utils.seeded import SeedStateMixin

__all__ = [
    "ClusteringLayer",
    "soft_assignment",
    "target_distribution",
    "kl_divergence",
    "assignment_change",
    "RandomShift",
    "RandomJitter",
]


def soft_assignment(z: Any, centroids: Any, alpha: float = 1.0) -> Any:
    """Student-t soft assignment of embeddings ``z`` (N, d) to ``centroids`` (K, d); rows sum to 1.

    Works on NumPy arrays and backend tensors alike (it uses ``keras.ops``).
    """
    z = ops.convert_to_tensor(z)
    centroids = ops.cast(ops.convert_to_tensor(centroids), z.dtype)
    sq_dist = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(centroids, 0)), axis=-1)
    kernel = ops.power(1.0 + sq_dist / alpha, -(alpha + 1.0) / 2.0)
    return kernel / ops.sum(kernel, axis=1, keepdims=True)


def target_distribution(q: Any) -> np.ndarray:
    """Sharpened, frequency-normalized target ``p`` for soft assignments ``q`` (N, K); rows sum to 1.

    Returns a NumPy array: ``P`` is a constant during training, never something to differentiate.
    """
    q = np.asarray(keras.ops.convert_to_numpy(q), dtype=np.float64)
    if q.ndim != 2:
        raise ValueError(f"q must have shape (N, K), got {q.shape}.")
    freq = q.sum(axis=0)  # soft cluster sizes f_j
    weight = q**2 / freq
    return (weight / weight.sum(axis=1, keepdims=True)).astype(np.float32)


def kl_divergence(p: Any, q: Any, eps: float = 1e-10) -> Any:
    """Mean over samples of ``KL(P_i || Q_i) = sum_j p_ij log(p_ij / q_ij)`` (a backend scalar)."""
    p = ops.convert_to_tensor(p)
    q = ops.cast(ops.convert_to_tensor(q), p.dtype)
    return ops.mean(ops.sum(p * (ops.log(p + eps) - ops.log(q + eps)), axis=1))


def assignment_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Share of samples whose hard cluster label differs between two assignments."""
    previous, current = np.asarray(previous), np.asarray(current)
    if previous.shape != current.shape:
        raise ValueError(f"Label arrays differ in shape: {previous.shape} vs {current.shape}.")
    return float(np.mean(previous != current))


@keras.saving.register_keras_serializable(package="course_utils")
class ClusteringLayer(keras.layers.Layer):
    """Maps embeddings (N, d) to Student-t soft assignments (N, K) over K trainable centroids.

    Args:
        n_clusters: number of clusters K.
        alpha: degrees of freedom of the Student-t kernel (1 in DEC).
        initial_centroids: optional (K, d) array, e.g. k-means centres; otherwise Glorot-uniform.
    """

    def __init__(self, n_clusters: int, alpha: float = 1.0, initial_centroids: Any = None, **kwargs):
        super().__init__(**kwargs)
        if int(n_clusters) < 1:
            raise ValueError(f"n_clusters must be positive, got {n_clusters}.")
        if float(alpha) <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}.")
        self.n_clusters = int(n_clusters)
        self.alpha = float(alpha)
        self._initial = None if initial_centroids is None else np.asarray(initial_centroids, dtype="float32")
        if self._initial is not None and (self._initial.ndim != 2 or self._initial.shape[0] != self.n_clusters):
            raise ValueError(f"initial_centroids must have shape ({self.n_clusters}, d), got {self._initial.shape}.")

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if self._initial is not None:
            if self._initial.shape[1] != dim:
                raise ValueError(f"initial_centroids have {self._initial.shape[1]} dims, embeddings have {dim}.")
            init = keras.initializers.Constant(self._initial)
        else:
            init = "glorot_uniform"
        self.centroids = self.add_weight(shape=(self.n_clusters, dim), initializer=init, name="centroids")
        self._initial = None  # the weights carry the values from here on (and are what gets saved)

    def set_centroids(self, centres: Any) -> None:
        """Overwrite the centroids, e.g. with k-means centres (the layer must be built)."""
        centres = np.asarray(centres, dtype="float32")
        if tuple(centres.shape) != tuple(self.centroids.shape):
            raise ValueError(f"centres must have shape {tuple(self.centroids.shape)}, got {centres.shape}.")
        self.centroids.assign(centres)

    def call(self, z):
        return soft_assignment(z, self.centroids, self.alpha)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"n_clusters": self.n_clusters, "alpha": self.alpha})
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class RandomShift(SeedStateMixin, keras.layers.Layer):
    """Moves each image by a random whole number of pixels (at most ``max_shift`` each way, zero fill).

    Active only when called with ``training=True``; otherwise the identity. Accepts (N, H, W) or
    (N, H, W, C) batches. The shift is done with two one-hot matrix products, so it is cheap on a CPU and
    runs inside a compiled ``train_step``. Randomness comes from a ``SeedGenerator`` owned by the layer, whose
    state is saved with the model (``SeedStateMixin``).
    """

    def __init__(self, max_shift: int = 3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if int(max_shift) < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}.")
        self.max_shift = int(max_shift)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training or self.max_shift == 0:
            return images
        squeeze = len(images.shape) == 3
        x = ops.expand_dims(images, -1) if squeeze else images
        s = self.max_shift
        h, w = x.shape[1], x.shape[2]
        n = ops.shape(x)[0]
        padded = ops.pad(x, [[0, 0], [s, s], [s, s], [0, 0]])
        offsets = keras.random.randint((n, 2), 0, 2 * s + 1, seed=self.seed_generator)
        # row selector (N, H, H + 2s): output row i reads padded row i + offset
        rows = ops.one_hot(offsets[:, :1] + ops.arange(h)[None, :], h + 2 * s, dtype=x.dtype)
        cols = ops.one_hot(offsets[:, 1:] + ops.arange(w)[None, :], w + 2 * s, dtype=x.dtype)
        out = ops.einsum("nip,npqc->niqc", rows, padded)
        out = ops.einsum("njq,niqc->nijc", cols, out)
        return ops.squeeze(out, -1) if squeeze else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"max_shift": self.max_shift, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class RandomJitter(keras.layers.Layer):
    """Small random shifts (whole pixels, at most ``max_shift``) then rotations (at most ``max_degrees``).

    The augmentation behind DEC-DA-style clustering of digits: an embedding that must place a digit and its
    jittered copies together cannot spend its few dimensions on position or slant. Active only when called with
    ``training=True``; accepts (N, H, W) or (N, H, W, C) batches; rotation fills with zeros and interpolates
    bilinearly. Both parts draw from ``SeedGenerator``s seeded from ``seed``; the shift's stream survives a
    ``.keras`` round trip, the rotation's (a Keras ``RandomRotation``) restarts from the seed.
    """

    def __init__(self, max_shift: int = 3, max_degrees: float = 10.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if float(max_degrees) < 0 or float(max_degrees) > 180:
            raise ValueError(f"max_degrees must be between 0 and 180, got {max_degrees}.")
        self.max_degrees = float(max_degrees)
        self.seed = seed
        self.shift = RandomShift(max_shift, seed=seed, name="shift")
        self.max_shift = self.shift.max_shift
        self.rotation = (
            keras.layers.RandomRotation(self.max_degrees / 360.0, fill_mode="constant", seed=seed, name="rotation")
            if self.max_degrees > 0
            else None
        )

    def build(self, input_shape):
        self.shift.build(input_shape)
        if self.rotation is not None:
            self.rotation.build(tuple(input_shape) + (1,) if len(input_shape) == 3 else tuple(input_shape))
        self.built = True

    def call(self, images, training=False):
        if not training:
            return images
        x = self.shift(images, training=True)
        if self.rotation is None:
            return x
        if len(x.shape) == 3:
            return ops.squeeze(self.rotation(ops.expand_dims(x, -1), training=True), -1)
        return self.rotation(x, training=True)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"max_shift": self.max_shift, "max_degrees": self.max_degrees, "seed": self.seed})
        return config
