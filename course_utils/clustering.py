"""Deep embedded clustering (DEC): soft assignments, the target distribution, assignment changes.

With K centroids ``mu_j`` in the embedding space and turns an embedding ``z_i`` into a
soft assignment over clusters with a Student-t kernel (as in t-SNE and DEC):

    q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2) / sum_j' (same for j').

The target distribution sharpens ``q`` and divides by the soft cluster sizes ``f_j = sum_i q_ij`` so that large
clusters do not swallow small ones:

    p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j').

Training then pulls ``Q`` towards ``P`` by minimizing ``KL(P || Q)`` with ``P`` held fixed
(:func:`course_utils.losses.clustering_kl`). The layer holding the centroids is
:class:`course_utils.layers.ClusteringLayer`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["soft_assignment", "target_distribution", "assignment_change"]


def soft_assignment(z: Any, centroids: Any, alpha: float = 1.0) -> Any:
    """Student-t soft assignment of embeddings ``z`` (N, d) to ``centroids`` (K, d); rows sum to 1.

    Works on NumPy arrays and backend tensors alike (it uses ``keras.ops``). Taught in Lab 08, Exercise 1;
    :class:`course_utils.layers.ClusteringLayer` applies it to its trainable centroids.
    """
    z = ops.convert_to_tensor(z)
    centroids = ops.cast(ops.convert_to_tensor(centroids), z.dtype)
    sq_dist = ops.sum(ops.square(ops.expand_dims(z, 1) - ops.expand_dims(centroids, 0)), axis=-1)
    kernel = ops.power(1.0 + sq_dist / alpha, -(alpha + 1.0) / 2.0)
    return kernel / ops.sum(kernel, axis=1, keepdims=True)


def target_distribution(q: Any) -> np.ndarray:
    """Sharpened, frequency-normalized target ``p`` for soft assignments ``q`` (N, K); rows sum to 1.

    Returns a NumPy array: ``P`` is a constant during training, never something to differentiate. Taught in
    Lab 08, Exercise 2.
    """
    q = np.asarray(keras.ops.convert_to_numpy(q), dtype=np.float64)
    if q.ndim != 2:
        raise ValueError(f"q must have shape (N, K), got {q.shape}.")
    freq = q.sum(axis=0)  # soft cluster sizes f_j
    weight = q**2 / freq
    return (weight / weight.sum(axis=1, keepdims=True)).astype(np.float32)


def assignment_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Share of samples whose hard cluster label differs between two assignments."""
    previous, current = np.asarray(previous), np.asarray(current)
    if previous.shape != current.shape:
        raise ValueError(f"Label arrays differ in shape: {previous.shape} vs {current.shape}.")
    return float(np.mean(previous != current))
