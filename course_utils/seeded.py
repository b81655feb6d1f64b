"""Keep a layer's random stream across a ``.keras`` save/load round trip.

Keras 3.15 does not write a ``keras.random.SeedGenerator``'s state into ``.keras`` files by itself (a layer's
variable store holds only its trainable and non-trainable weights), so a reloaded layer would restart its noise
sequence from the seed. Layers of this course that draw random numbers inherit :class:`SeedStateMixin`, which
stores ``self.seed_generator``'s state beside the layer's weights and restores it on load.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeedStateMixin"]

_KEY = "seed_generator_state"


class SeedStateMixin:
    """Mixin for ``keras.layers.Layer`` subclasses that own a ``self.seed_generator``; list it first."""

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _KEY in keys:
            self.seed_generator.state.assign(np.asarray(store[_KEY]))
        weights = {k: store[k] for k in keys if k != _KEY}
        if weights or self.weights:
            super().load_own_variables(weights)
