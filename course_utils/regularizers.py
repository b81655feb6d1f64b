"""Keras regularizers of the course (activity penalties that a layer adds to the training loss).

* :class:`KLSparsity`: the KL(ρ‖ρ̂) sparsity penalty of a sigmoid code (Lab 05).

Every regularizer is registered with ``keras.saving.register_keras_serializable(package="course_utils")`` and has
a ``get_config``, so a layer that carries it can be saved to a ``.keras`` file and loaded back.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["KLSparsity"]


@keras.saving.register_keras_serializable(package="course_utils")
class KLSparsity(keras.regularizers.Regularizer):
    """Sparsity penalty ``weight · Σ_j KL(ρ ‖ ρ̂_j)`` on a layer's activations (use as ``activity_regularizer``).

    ``ρ̂_j`` is the mean activation of unit ``j`` over the batch (axis 0), so the penalty asks each unit to be
    active (near 1, for a sigmoid unit) in a fraction ``ρ`` of the examples:

        KL(ρ ‖ ρ̂) = ρ log(ρ / ρ̂) + (1 − ρ) log((1 − ρ) / (1 − ρ̂)).

    ``ρ̂`` is clipped to ``[eps, 1 − eps]`` first, so that a unit that is off (or on) for the whole batch gives a
    large but finite penalty instead of log(0). Activations must lie in [0, 1] (a sigmoid code).

    Keras divides an activity regularizer's value by the batch size (it expects a sum over examples, such as
    L1). ρ̂ is already a batch mean, so ``__call__`` returns the penalty times the batch size: the loss that the
    layer adds is exactly ``weight · Σ_j KL(ρ ‖ ρ̂_j)``. :meth:`penalty` returns that value directly.

    Taught in Lab 05, Exercise 1 (the student writes ``KLSparsity``).

    Args:
        rho: target mean activation ρ, strictly between 0 and 1 (for example 0.05 or 0.1).
        weight: the penalty's weight β, at least 0.
        eps: clipping margin for ρ̂, between 0 and 0.5.
    """

    def __init__(self, rho: float = 0.05, weight: float = 1.0, eps: float = 1e-6) -> None:
        rho, weight, eps = float(rho), float(weight), float(eps)
        if not 0.0 < rho < 1.0:
            raise ValueError(f"KLSparsity: rho={rho:g} must lie strictly between 0 and 1 (a target mean activation).")
        if weight < 0.0:
            raise ValueError(f"KLSparsity: weight={weight:g} is negative; a penalty's weight must be >= 0.")
        if not 0.0 < eps < 0.5:
            raise ValueError(f"KLSparsity: eps={eps:g} must lie between 0 and 0.5 (e.g. 1e-6).")
        self.rho, self.weight, self.eps = rho, weight, eps

    def mean_activation(self, activations: Any) -> Any:
        """ρ̂: the batch mean of every unit (axis 0), clipped to ``[eps, 1 − eps]``."""
        activations = ops.convert_to_tensor(activations)
        if len(activations.shape) < 2:
            raise ValueError(
                f"KLSparsity: activations have shape {tuple(activations.shape)}; pass a batch (batch, units)."
            )
        flat = ops.reshape(activations, (ops.shape(activations)[0], -1))
        return ops.clip(ops.mean(flat, axis=0), self.eps, 1.0 - self.eps)

    def penalty(self, activations: Any) -> Any:
        """``weight · Σ_j KL(ρ ‖ ρ̂_j)`` for a batch of activations (batch, units): a scalar tensor."""
        rho_hat = self.mean_activation(activations)
        rho = ops.cast(self.rho, rho_hat.dtype)
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
        return self.weight * ops.sum(kl)

    def __call__(self, activations: Any) -> Any:
        """The penalty times the batch size (Keras divides an activity regularizer's value by the batch size)."""
        value = self.penalty(activations)
        return value * ops.cast(ops.shape(activations)[0], value.dtype)

    def get_config(self) -> dict[str, Any]:
        """``rho``, ``weight`` and ``eps``: everything needed to rebuild the regularizer."""
        return {"rho": self.rho, "weight": self.weight, "eps": self.eps}
