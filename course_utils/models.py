"""Model builders shared by two or more labs, and the base class of every model with a custom ``train_step``.

:class:`MultiLossModel` is the one home for what the course's custom-step models (the VAE of Lab 07, the
clustering autoencoder of Lab 08, the contractive autoencoder of Lab 06) have in common:

* one ``keras.metrics.Mean`` tracker per loss term, named ``<term>_loss``, plus ``loss`` for the total,
  listed by the ``metrics`` property so that Keras resets them at every epoch and at the start of ``evaluate``;
* ``compute_losses(data, training)``, the single place where the loss is computed; ``test_step`` is derived
  from it, and so is the default ``train_step`` (a lab's exercise overrides ``train_step`` with its own);
* ``get_config`` / ``from_config`` that serialize the sub-models named in ``sub_models`` (for example the encoder
  and the decoder), so a subclass registered with ``keras.saving.register_keras_serializable`` round-trips
  through a ``.keras`` file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import keras
from keras import ops

__all__ = ["MultiLossModel", "VAE", "model_inputs"]


def model_inputs(data: Any) -> Any:
    """The inputs of a batch as ``fit``/``evaluate`` hand it to a step: ``x`` from ``x``, ``(x,)``, ``(x, y)``…"""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


class MultiLossModel(keras.Model):
    """Base for models whose loss is a weighted sum of named terms, trained with a custom ``train_step``.

    Subclasses set ``loss_terms`` (e.g. ``("reconstruction", "kl")``) and ``sub_models`` (the constructor
    arguments that are Keras models, e.g. ``("encoder", "decoder")``), and implement
    ``compute_losses(data, training)``, which returns a dict with the key ``"loss"`` (the total to minimize)
    and one key ``"<term>_loss"`` per term. Extra constructor arguments (weights such as ``beta``) are returned by
    the subclass's ``get_config`` through ``super().get_config() | {...}``.
    """

    loss_terms: ClassVar[tuple[str, ...]] = ()
    sub_models: ClassVar[tuple[str, ...]] = ("encoder", "decoder")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracker_names()}

    @classmethod
    def tracker_names(cls) -> list[str]:
        """``["loss", "<term>_loss", …]``: the keys that every step returns."""
        return ["loss"] + [f"{term}_loss" for term in cls.loss_terms]

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def compute_losses(self, data: Any, training: bool = False) -> dict[str, Any]:
        """Return ``{"loss": total, "<term>_loss": value, …}`` for one batch (scalars)."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_losses(data, training).")

    def update_trackers(self, losses: Mapping[str, Any]) -> dict[str, Any]:
        """Update each tracker once with its value from ``losses`` and return every tracker's result."""
        missing = [name for name in self.trackers if name not in losses]
        if missing:
            raise KeyError(
                f"compute_losses returned {sorted(losses)} but the trackers need {missing}: return one value per "
                f"tracker ({', '.join(self.trackers)})."
            )
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: Any) -> dict[str, Any]:
        """One gradient step on ``compute_losses(data, training=True)["loss"]`` (TensorFlow backend)."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
        grads = tape.gradient(losses["loss"], self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self.update_trackers(losses)

    def test_step(self, data: Any) -> dict[str, Any]:
        """The same losses as training, without gradients (used by ``evaluate`` and ``validation_data``)."""
        return self.update_trackers(self.compute_losses(data, training=False))

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "trainable": self.trainable}
        for attr in self.sub_models:
            config[attr] = keras.saving.serialize_keras_object(getattr(self, attr))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiLossModel:
        config = dict(config)
        for attr in cls.sub_models:
            config[attr] = keras.saving.deserialize_keras_object(config[attr])
        return cls(**config)


@keras.saving.register_keras_serializable(package="course_utils")
class VAE(MultiLossModel):
    """Variational autoencoder with a Gaussian posterior, a N(0, I) prior and a Bernoulli decoder (logits).

    ``encoder(x)`` returns ``(z_mean, z_log_var)``; ``decoder(z)`` returns Bernoulli logits shaped like ``x``. The loss
    per batch is the negative ELBO with a weight on its KL term, in nats per image::

        reconstruction = −mean_i Σ_pixels log p(x_i | z_i),   z_i ~ q(z | x_i) (one reparameterised sample)
        kl             =  mean_i KL(q(z | x_i) ‖ N(0, I))      (summed over latent dimensions)
        loss           =  reconstruction + beta · kl

    ``call`` returns the logits of one sampled reconstruction. ``test_step`` evaluates the same loss. Taught in
    Lab 07 (the student writes this model's ``train_step``); Lab 10 uses it to score anomalies.
    """

    loss_terms = ("reconstruction", "kl")

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0, seed: int = 0, **kwargs: Any):
        from course_utils.layers import Sampling

        super().__init__(**kwargs)
        if float(beta) < 0:
            raise ValueError(f"VAE: beta weighs the KL term and must be >= 0, got {beta}.")
        self.encoder, self.decoder = encoder, decoder
        self.beta, self.seed = float(beta), seed
        self.sampling = Sampling(seed=seed, name="sampling")

    def call(self, x: Any, training: bool = False) -> Any:
        z_mean, z_log_var = self.encoder(x, training=training)
        return self.decoder(self.sampling([z_mean, z_log_var]), training=training)

    def compute_losses(self, data: Any, training: bool = False) -> dict[str, Any]:
        from course_utils.losses import bernoulli_log_likelihood, gaussian_kl

        x = model_inputs(data)
        z_mean, z_log_var = self.encoder(x, training=training)
        logits = self.decoder(self.sampling([z_mean, z_log_var]), training=training)
        reconstruction = -ops.mean(bernoulli_log_likelihood(x, logits))
        kl = ops.mean(gaussian_kl(z_mean, z_log_var))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"beta": self.beta, "seed": self.seed}
