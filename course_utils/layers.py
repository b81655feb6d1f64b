"""Custom Keras layers of the course, one home for all of them.

* :class:`DenseTranspose`: a decoder layer tied to an encoder ``Dense``, reusing its kernel transposed (Lab 02);
* :class:`Sampling`: the reparameterization trick ``z = μ + exp(½ log σ²) · ε`` (Lab 07);
* :class:`ClusteringLayer`: Student-t soft assignments to trainable centroids (Lab 08);
* :class:`RandomJitter`: training-time augmentation of image batches, random shifts and rotations (Lab 08);
* :class:`SeedStateMixin`: keeps a layer's random stream across a ``.keras`` save/load round trip.

Every layer is registered with ``keras.saving.register_keras_serializable(package="course_utils")`` and has a
``get_config``, so models that contain it can be saved and loaded.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from course_utils.clustering import soft_assignment

__all__ = ["SeedStateMixin", "DenseTranspose", "Sampling", "ClusteringLayer", "RandomJitter"]

_SEED_STATE_KEY = "seed_generator_state"


class SeedStateMixin:
    """Keep a layer's random stream across a ``.keras`` round trip.

    Keras 3.15 does not write a ``keras.random.SeedGenerator``'s state into ``.keras`` files (a layer's variable
    store holds only its weights), so a reloaded layer would restart its noise from the seed. A layer that owns
    ``self.seed_generator`` lists this mixin first among its bases; the state is stored beside its weights.
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(np.asarray(store[_SEED_STATE_KEY]))
        weights = {k: store[k] for k in keys if k != _SEED_STATE_KEY}
        if weights or self.weights:
            super().load_own_variables(weights)


@keras.saving.register_keras_serializable(package="course_utils")
class DenseTranspose(keras.layers.Layer):
    """The mirror of an encoder ``Dense`` layer: ``y = activation(x @ Wᵀ + b)`` with ``W`` the Dense's own kernel.

    A tied autoencoder decodes with the transposes of its encoder's weight matrices. This layer holds no kernel of
    its own: it reads ``dense.kernel`` at every call, so both sides train one shared matrix (its gradient is the sum
    of the encoder's and the decoder's contributions). It owns only its bias (one per *input* unit of ``dense``)
    and its activation. ``count_params()`` of the layer is therefore the bias alone, and a model that contains
    both the Dense and its mirror counts the kernel once.

    Args:
        dense: the built ``keras.layers.Dense`` to mirror (call it on its input before building this layer).
        activation: activation of this layer (not of ``dense``); ``None`` for linear.
        use_bias: whether to add a bias of its own.

    Saving: ``get_config`` writes the Dense's config; inside ``model.save`` / ``keras.saving.load_model`` Keras
    shares an object serialized twice, so after loading a model that holds both layers this layer mirrors the
    reloaded Dense itself (one kernel, not a copy). Save the encoder together with the decoder: a decoder saved
    alone would come back with a fresh, untrained Dense. Keep the Dense and its mirror in **one** functional model
    (an ``encoder`` model for later use may share those layers): in Keras 3.15 a Dense inside a nested encoder
    model loses its shared-object tag when the config is copied, and loading such a file fails (it never unties
    the weights silently).

    Taught in Lab 02, Exercise 1 (the student's copy is ``DenseTranspose`` in the notebook).
    """

    def __init__(self, dense: Any, activation: Any = None, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(dense, dict):  # from a saved config; inside load_model this returns the shared instance
            dense = keras.saving.deserialize_keras_object(dense)
        if not isinstance(dense, keras.layers.Dense):
            raise TypeError(
                f"DenseTranspose mirrors a keras.layers.Dense, got {type(dense).__name__}: pass the encoder layer "
                "object itself, e.g. DenseTranspose(encoder.get_layer('enc_dense_0'))."
            )
        # set past Keras' attribute tracking, so the Dense is not a sub-layer of this one: its kernel belongs to
        # the encoder and is counted, saved and trained there, once
        object.__setattr__(self, "_tied", (dense,))
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)

    @property
    def dense(self) -> keras.layers.Dense:
        """The encoder layer whose kernel this layer uses transposed."""
        return self._tied[0]

    def build(self, input_shape):
        if not self.dense.built:
            raise ValueError(
                f"the Dense layer '{self.dense.name}' is not built yet, so it has no kernel to share: call it on its "
                "input (or build the encoder) before calling DenseTranspose."
            )
        in_units, out_units = self.dense.kernel.shape
        if input_shape[-1] is not None and int(input_shape[-1]) != int(out_units):
            raise ValueError(
                f"DenseTranspose of '{self.dense.name}' takes inputs with {out_units} features (the Dense's units), "
                f"got {input_shape[-1]}."
            )
        self.bias = self.add_weight(shape=(int(in_units),), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, inputs):
        outputs = ops.matmul(inputs, ops.transpose(self.dense.kernel))
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], int(self.dense.kernel.shape[0]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "dense": keras.saving.serialize_keras_object(self.dense),
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class Sampling(SeedStateMixin, keras.layers.Layer):
    """Draw ``z ~ N(z_mean, exp(z_log_var))`` differentiably: ``z = z_mean + exp(½ z_log_var) · ε``.

    Call it on ``[z_mean, z_log_var]``. The noise ``ε ~ N(0, I)`` comes from a ``keras.random.SeedGenerator``
    owned by the layer, so runs are reproducible; its state is saved with the model (``SeedStateMixin``).

    Taught in Lab 07, Exercise 1 (the student's copy is ``Sampling`` in the notebook).
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class ClusteringLayer(keras.layers.Layer):
    """Maps embeddings (N, d) to Student-t soft assignments (N, K) over K trainable centroids.

    Args:
        n_clusters: number of clusters K.
        alpha: degrees of freedom of the Student-t kernel (1 in DEC).
        initial_centroids: optional (K, d) array, e.g. k-means centres; otherwise Glorot-uniform.

    Its formula is :func:`course_utils.clustering.soft_assignment`, taught in Lab 08, Exercise 1.
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
class RandomJitter(SeedStateMixin, keras.layers.Layer):
    """Small random shifts (whole pixels, at most ``max_shift`` each way, zero fill) then rotations (at most
    ``max_degrees``).

    The augmentation behind DEC-DA-style clustering of digits: an embedding that must place a digit and its
    jittered copies together cannot spend its few dimensions on position or slant. Active only when called with
    ``training=True``, otherwise the identity; accepts (N, H, W) or (N, H, W, C) batches. ``max_degrees=0`` leaves
    a pure shift, ``max_shift=0`` a pure rotation. The shift is two one-hot matrix products (cheap on a CPU, and it
    runs inside a compiled ``train_step``); rotation is Keras' ``RandomRotation`` (zero fill, bilinear).

    Randomness: the shift draws from a ``SeedGenerator`` seeded with ``seed`` and owned by this layer, whose state is
    saved with the model (``SeedStateMixin``), so it continues after a ``.keras`` round trip; the rotation's generator
    (inside Keras' ``RandomRotation``, seeded with ``seed`` too) restarts from the seed.
    """

    def __init__(self, max_shift: int = 3, max_degrees: float = 10.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if int(max_shift) < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}.")
        if float(max_degrees) < 0 or float(max_degrees) > 180:
            raise ValueError(f"max_degrees must be between 0 and 180, got {max_degrees}.")
        self.max_shift = int(max_shift)
        self.max_degrees = float(max_degrees)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.rotation = (
            keras.layers.RandomRotation(self.max_degrees / 360.0, fill_mode="constant", seed=seed, name="rotation")
            if self.max_degrees > 0
            else None
        )

    def build(self, input_shape):
        if self.rotation is not None:
            self.rotation.build(tuple(input_shape) + (1,) if len(input_shape) == 3 else tuple(input_shape))
        self.built = True

    def _shift(self, images):
        """Move each image by a random whole number of pixels in [-max_shift, max_shift] on each axis."""
        if self.max_shift == 0:
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

    def call(self, images, training=False):
        if not training:
            return images
        x = self._shift(images)
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
