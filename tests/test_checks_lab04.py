"""Lab 04 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import run
from keras import ops

from course_utils.checks import lab04
from course_utils.models import MultiLossModel, model_inputs

# ----------------------------------------------------------------------------------------------
# Exercise 1: masking-noise layer, written independently of the notebook, with switches for mistakes
# ----------------------------------------------------------------------------------------------


def make_masking(mistake=None, register=True):
    class Masking(keras.layers.Layer):
        def __init__(self, q, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.q, self.seed = float(q), seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, x, training=None if mistake != "training-default-true" else True):
            if mistake == "always-on":
                training = True
            if not training and mistake != "always-on":
                return x
            shape = ops.shape(x)
            if mistake == "one-mask-per-batch":
                shape = (1, *shape[1:])
            elif mistake == "one-decision-per-image":
                shape = (shape[0],) + (1,) * (len(x.shape) - 1)
            if mistake == "int-seed":
                u = keras.random.uniform(shape, seed=self.seed)
            elif mistake == "global-seed":
                u = keras.random.uniform(shape)
            elif mistake == "numpy":
                u = np.random.default_rng().random(tuple(x.shape)).astype("float32")
            else:
                u = keras.random.uniform(shape, seed=self.seed_generator)
            keep = u < self.q if mistake == "keep-prob" else u >= self.q
            if mistake == "ones":
                return ops.where(keep, x, ops.ones_like(x))
            out = ops.where(keep, x, ops.zeros_like(x))
            if mistake == "rescale":
                out = out / (1.0 - self.q)
            if mistake == "half-q":
                out = ops.where(keras.random.uniform(ops.shape(x), seed=self.seed_generator) >= self.q / 2, x, 0.0)
            return out

        def get_config(self):
            config = super().get_config()
            if mistake != "no-config":
                config.update({"q": self.q, "seed": self.seed})
            return config

    if register:
        Masking = keras.saving.register_keras_serializable(package=f"test_lab04_{mistake}")(Masking)
    return Masking


def dropout_layer():
    @keras.saving.register_keras_serializable(package="test_lab04_dropout")
    class DropoutMasking(keras.layers.Dropout):
        def __init__(self, q, seed=None, **kwargs):
            kwargs.pop("rate", None)
            super().__init__(rate=q, seed=seed, **kwargs)
            self.q = q

    return DropoutMasking


def test_masking_passes_on_correct_solution(capsys):
    ok, out = run(lab04.check_masking_noise, make_masking(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ masking-noise layer")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("always-on", "identity at inference"),
        ("training-default-true", "default to training=False"),
        ("keep-prob", "1 − q"),
        ("rescale", "as Dropout does"),
        ("ones", "no pixel became 0"),
        ("half-q", "far from q"),
        ("one-mask-per-batch", "same mask"),
        ("one-decision-per-image", "not per image"),
        ("int-seed", "same mask"),
        ("global-seed", "same seed gave different masks"),
        ("numpy", "same seed gave different masks"),
        ("no-config", "get_config"),
    ],
)
def test_masking_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab04.check_masking_noise, make_masking(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ masking-noise layer")
    assert hint in out, out


def test_masking_catches_keras_dropout(capsys):
    ok, out = run(lab04.check_masking_noise, dropout_layer(), capsys=capsys)
    assert not ok
    assert "as Dropout does" in out, out


def test_masking_catches_unregistered_class(capsys):
    ok, out = run(lab04.check_masking_noise, make_masking(register=False), capsys=capsys)
    assert not ok
    assert "register the class" in out or "get_config" in out, out


def test_masking_reports_not_implemented(capsys):
    class Stub(keras.layers.Layer):
        def __init__(self, q, seed=None, **kwargs):
            super().__init__(**kwargs)

        def call(self, x, training=False):
            raise NotImplementedError("Exercise: ...")

    ok, out = run(lab04.check_masking_noise, Stub, capsys=capsys)
    assert not ok and "not implemented" in out


# ----------------------------------------------------------------------------------------------
# Exercise 2: training pairs
# ----------------------------------------------------------------------------------------------

_CACHE = {}


def pair(x, sigma, seed_generator, mistake=None):
    shape = ops.shape(x)
    if mistake == "int-seed":
        eps = keras.random.normal(shape, seed=0)
    elif mistake == "global-seed":
        eps = keras.random.normal(shape)
    elif mistake == "numpy":
        eps = np.random.default_rng().normal(size=tuple(x.shape)).astype("float32")
    elif mistake == "drawn-once":
        key = tuple(x.shape)
        if key not in _CACHE:
            _CACHE[key] = keras.random.normal(shape, seed=seed_generator)
        eps = _CACHE[key]
    elif mistake == "same-for-batch":
        eps = keras.random.normal((1, *shape[1:]), seed=seed_generator)
    elif mistake == "per-image":
        eps = keras.random.normal((shape[0], 1, 1), seed=seed_generator)
    elif mistake == "uniform":
        eps = keras.random.uniform(shape, seed=seed_generator)
    elif mistake == "uniform-centred":
        eps = (keras.random.uniform(shape, seed=seed_generator) - 0.5) * np.sqrt(12.0)
    else:
        eps = keras.random.normal(shape, seed=seed_generator)
    scale = {"variance": sigma**2 if not hasattr(sigma, "shape") else sigma * sigma, "global-sigma": 0.1}.get(
        mistake, sigma
    )
    noisy = x + scale * eps
    if mistake != "no-clip":
        noisy = ops.clip(noisy, 0.0, 1.0)
    if mistake == "clean-clean":
        return x, x
    if mistake == "noisy-noisy":
        return noisy, noisy
    if mistake == "single":
        return noisy
    if mistake == "swapped":
        return x, noisy
    return noisy, x


def test_pair_passes_on_correct_solution(capsys):
    ok, out = run(lab04.check_training_pair, pair, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ training pairs")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("clean-clean", "clean → clean"),
        ("noisy-noisy", "noisy → noisy"),
        ("swapped", "clean → clean"),
        ("single", "return a pair"),
        ("no-clip", "clip it back"),
        ("variance", "σ²"),
        ("uniform", "mean zero"),
        ("uniform-centred", "not Gaussian"),
        ("same-for-batch", "every image got the same noise"),
        ("per-image", "one noise value for all its pixels"),
        ("global-sigma", "multiply ε by the `sigma` argument"),
        ("drawn-once", "noise drawn once"),
        ("int-seed", "noise drawn once"),
        ("global-seed", "the same seed gave different noise"),
        ("numpy", "the same seed gave different noise"),
    ],
)
def test_pair_catches_mistake(capsys, mistake, hint):
    _CACHE.clear()
    ok, out = run(lab04.check_training_pair, lambda x, s, g: pair(x, s, g, mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ training pairs")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: consistency objective
# ----------------------------------------------------------------------------------------------


def make_consistent(mistake=None, save_weight=True):
    @keras.saving.register_keras_serializable(package=f"test_lab04_{mistake}_{save_weight}")
    class Consistent(MultiLossModel):
        loss_terms = ("reconstruction", "consistency")
        sub_models = ("encoder", "decoder")

        def __init__(self, encoder, decoder, weight=1.0, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.weight, self.seed = float(weight), seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def corrupt(self, x):
            return ops.clip(x + 0.2 * keras.random.normal(ops.shape(x), seed=self.seed_generator), 0.0, 1.0)

        def call(self, x, training=False):
            return self.decoder(self.encoder(x, training=training), training=training)

        def compute_losses(self, data, training=False):
            x = model_inputs(data)
            view_a = self.corrupt(x)
            view_b = view_a if mistake == "same-view" else self.corrupt(view_a if mistake == "chained" else x)
            h_a, h_b = self.encoder(view_a, training=training), self.encoder(view_b, training=training)
            h_x = self.encoder(x, training=training)
            mse_a = ops.mean(ops.square(self.decoder(h_a) - x))
            mse_b = ops.mean(ops.square(self.decoder(h_b) - x))
            reconstruction = {
                "one-view": mse_a,
                "sum-views": mse_a + mse_b,
                "noisy-target": 0.5
                * (ops.mean(ops.square(self.decoder(h_a) - view_a)) + ops.mean(ops.square(self.decoder(h_b) - view_b))),
                "clean-input": ops.mean(ops.square(self.decoder(h_x) - x)),
            }.get(mistake, 0.5 * (mse_a + mse_b))
            other = h_x if mistake == "clean-code" else h_b
            if mistake == "stop-both":
                h_a, other = ops.stop_gradient(h_a), ops.stop_gradient(other)
            if mistake == "stop-one":
                other = ops.stop_gradient(other)
            sq = ops.square(h_a - other)
            per = ops.mean(sq, axis=-1) if mistake == "unit-mean" else ops.sum(sq, axis=-1)
            if mistake == "not-squared":
                per = ops.sqrt(per)
            consistency = ops.sum(per) if mistake == "batch-sum" else ops.mean(per)
            total = {
                "weight-on-reconstruction": self.weight * reconstruction + consistency,
                "no-weight": reconstruction + consistency,
                "no-consistency": reconstruction,
                "weight-twice": reconstruction + self.weight * self.weight * consistency,
                "weight-both": self.weight * (reconstruction + consistency),
            }.get(mistake, reconstruction + self.weight * consistency)
            return {"loss": total, "reconstruction_loss": reconstruction, "consistency_loss": consistency}

        def get_config(self):
            config = super().get_config() | {"seed": self.seed}
            return config | {"weight": self.weight} if save_weight else config

    return Consistent


def test_consistency_passes_on_correct_solution(capsys):
    ok, out = run(lab04.check_consistency_losses, make_consistent(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ consistency objective")


def make_consistent_autoencoder(mistake=None, takes_encoder=False):
    """The same objective with the notebook's constructor: one image → image `autoencoder`, its encoder taken from
    the layer named "code" (or, with `takes_encoder`, passed as `encoder=`)."""

    @keras.saving.register_keras_serializable(package=f"test_lab04_autoencoder_{mistake}_{takes_encoder}")
    class Consistent(MultiLossModel):
        loss_terms, sub_models = ("reconstruction", "consistency"), ("autoencoder",)

        def __init__(self, autoencoder, weight=1.0, seed=None, **kwargs):
            encoder = kwargs.pop("encoder", None)
            super().__init__(**kwargs)
            self.autoencoder, self.weight, self.seed = autoencoder, float(weight), seed
            self.encoder = encoder or keras.Model(autoencoder.input, autoencoder.get_layer("code").output)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def corrupt(self, x):
            return ops.clip(x + 0.2 * keras.random.normal(ops.shape(x), seed=self.seed_generator), 0.0, 1.0)

        def call(self, x, training=False):
            return self.autoencoder(x, training=training)

        def compute_losses(self, data, training=False):
            x = model_inputs(data)
            view_a = self.corrupt(x)
            view_b = self.corrupt(view_a if mistake == "chained" else x)
            reconstruction = 0.5 * (
                ops.mean(ops.square(self(view_a, training=training) - x))
                + ops.mean(ops.square(self(view_b, training=training) - x))
            )
            h_a, h_b = self.encoder(view_a, training=training), self.encoder(view_b, training=training)
            difference = ops.reshape(h_a - h_b, (ops.shape(x)[0], -1))
            consistency = ops.mean(ops.sum(ops.square(difference), axis=-1))
            total = reconstruction + self.weight * consistency
            return {"loss": total, "reconstruction_loss": reconstruction, "consistency_loss": consistency}

        def get_config(self):
            return super().get_config() | {"weight": self.weight, "seed": self.seed}

    if takes_encoder:
        base = Consistent

        class Consistent(base):  # noqa: F811  (a constructor with an explicit `encoder` parameter)
            def __init__(self, autoencoder, encoder=None, weight=1.0, seed=None, **kwargs):
                super().__init__(autoencoder, weight=weight, seed=seed, encoder=encoder, **kwargs)

    return Consistent


@pytest.mark.parametrize("takes_encoder", [False, True])
def test_consistency_passes_with_one_autoencoder(capsys, takes_encoder):
    ok, out = run(
        lab04.check_consistency_losses, make_consistent_autoencoder(takes_encoder=takes_encoder), capsys=capsys
    )
    assert ok, out
    assert out.startswith("✔ consistency objective")


def test_consistency_catches_chained_views_with_one_autoencoder(capsys):
    ok, out = run(lab04.check_consistency_losses, make_consistent_autoencoder("chained"), capsys=capsys)
    assert not ok
    assert "a corruption of the first view" in out, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("same-view", "Call self.corrupt(x) twice"),
        ("chained", "a corruption of the first view"),
        ("clean-code", "not a view with the clean image"),
        ("unit-mean", "do not average them"),
        ("batch-sum", "do not sum them"),
        ("not-squared", "not the distance itself"),
        ("noisy-target", "noisy → noisy"),
        ("clean-input", "clean → clean"),
        ("one-view", "*both* views"),
        ("sum-views", "do not add them"),
        ("weight-on-reconstruction", "not the reconstruction"),
        ("no-weight", "misses the weight"),
        ("no-consistency", "misses the consistency term"),
        ("weight-twice", "applied twice"),
        ("weight-both", "multiplies both terms"),
        ("stop-both", "do not stop the gradient of both codes"),
        ("stop-one", "stop_gradient on one code"),
    ],
)
def test_consistency_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab04.check_consistency_losses, make_consistent(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ consistency objective")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: the denoising train_step (a model shaped like the notebook's, with switches for mistakes)
# ----------------------------------------------------------------------------------------------


def make_dae(mistake=None):
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package=f"test_lab04_dae_{mistake}")
    class DenoisingAutoencoder(keras.Model):
        def __init__(self, autoencoder, sigma_min=0.0, sigma_max=0.55, mask_rate=0.0, q=0.4, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.autoencoder = autoencoder
            self.sigma_min, self.sigma_max, self.mask_rate, self.q, self.seed = sigma_min, sigma_max, mask_rate, q, seed
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def corrupt(self, x):
            sigma = keras.random.uniform(
                (ops.shape(x)[0], 1, 1), self.sigma_min, self.sigma_max, seed=self.seed_generator
            )
            return ops.clip(x + sigma * keras.random.normal(ops.shape(x), seed=self.seed_generator), 0.0, 1.0)

        def call(self, x, training=False):
            return self.autoencoder(x, training=training)

        def train_step(self, data):
            x = model_inputs(data)
            noisy = (
                x if mistake in ("no-corrupt", "corrupt-in-tape", "autoencoder-clean", "own-noise") else self.corrupt(x)
            )
            if mistake == "own-noise":  # noise drawn here instead of by self.corrupt
                noisy = x + 0.3 * keras.random.normal(ops.shape(x), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                if mistake == "corrupt-in-tape":
                    noisy = self.corrupt(x)
                inputs, target = noisy, x
                if mistake in ("clean-input", "swapped"):
                    inputs = x
                elif mistake == "input-corrupt-again":
                    inputs = self.corrupt(x)
                if mistake in ("noisy-target", "swapped"):
                    target = noisy
                elif mistake == "target-corrupt-again":
                    target = self.corrupt(x)
                if mistake == "autoencoder-clean":
                    out = self.autoencoder(x)
                else:
                    out = self(inputs, training=mistake != "training-false")
                if mistake == "clip-output":
                    out = ops.clip(out, 0.0, 1.0)
                err = out - target
                loss = {
                    "sum": lambda: ops.sum(ops.square(err)),
                    "pixel-sum": lambda: ops.mean(ops.sum(ops.square(err), axis=(1, 2))),
                    "batch-sum": lambda: ops.sum(ops.mean(ops.square(err), axis=(1, 2))),
                    "mae": lambda: ops.mean(ops.abs(err)),
                    "rmse": lambda: ops.sqrt(ops.mean(ops.square(err))),
                    "negative": lambda: -ops.mean(ops.square(err)),
                }.get(mistake, lambda: ops.mean(ops.square(err)))()
            if mistake == "loss-outside-tape":
                loss = ops.mean(ops.square(self(noisy) - x))
            variables = self.trainable_variables
            if mistake == "last-layer-only":
                variables = self.autoencoder.get_layer("pixels").trainable_variables
            grads = tape.gradient(loss, variables)
            if mistake == "ascent":
                grads = [-g for g in grads]
            if mistake != "no-apply":
                self.optimizer.apply(grads, variables)
            if mistake == "step-twice":
                self.optimizer.apply(grads, variables)
            if mistake == "stale-result":
                result = self.loss_tracker.result()
                self.loss_tracker.update_state(loss)
                return {"loss": result}
            if mistake == "reset-tracker":
                self.loss_tracker.reset_state()
            if mistake == "numpy":
                self.loss_tracker.update_state(float(loss))
            elif mistake != "no-tracker-update":
                self.loss_tracker.update_state(loss)
            if mistake == "batch-loss":
                return {"loss": loss}
            if mistake == "wrong-key":
                return {"reconstruction_loss": self.loss_tracker.result()}
            return {"loss": self.loss_tracker.result()}

        def test_step(self, data):
            noisy, clean = data
            self.loss_tracker.update_state(ops.mean(ops.square(self(noisy) - clean)))
            return {"loss": self.loss_tracker.result()}

        def get_config(self):
            return super().get_config() | {
                "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
                "sigma_min": self.sigma_min,
                "sigma_max": self.sigma_max,
                "mask_rate": self.mask_rate,
                "q": self.q,
                "seed": self.seed,
            }

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"])
            return cls(**config)

    return DenoisingAutoencoder


@pytest.mark.parametrize("variant", [None, "corrupt-in-tape", "training-false"])
def test_denoising_train_step_passes_on_correct_solution(capsys, variant):
    ok, out = run(lab04.check_denoising_train_step, make_dae(variant), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ denoising train_step")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("noisy-target", "noisy → noisy"),
        ("no-corrupt", "clean → clean"),
        ("clean-input", "clean → clean"),
        ("autoencoder-clean", "clean → clean"),
        ("swapped", "swapped"),
        ("target-corrupt-again", "second corrupted copy"),
        ("input-corrupt-again", "second call of self.corrupt"),
        ("sum", "summed over pixels and images"),
        ("pixel-sum", "over the pixels too"),
        ("batch-sum", "average it over the batch"),
        ("mae", "mean absolute error"),
        ("rmse", "root of the mean squared error"),
        ("clip-output", "clipped output"),
        ("negative", "the loss is negative"),
        ("ascent", "moved uphill"),
        ("no-apply", "changed no weight"),
        ("last-layer-only", "did not move"),
        ("step-twice", "applied twice"),
        ("no-tracker-update", "holds 0 updates"),
        ("stale-result", "not the tracker's result"),
        ("wrong-key", "fit received the keys"),
        ("batch-loss", "not the tracker's running mean"),
        ("reset-tracker", "never reset it"),
        ("numpy", "compiled graph"),
        ("own-noise", "self.corrupt was never called"),
        ("loss-outside-tape", "GradientTape"),
    ],
)
def test_denoising_train_step_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab04.check_denoising_train_step, make_dae(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ denoising train_step")
    assert hint in out, out


def test_denoising_train_step_reports_not_implemented(capsys):
    class Stub(make_dae()):
        def train_step(self, data):
            raise NotImplementedError("Exercise: ...")

    ok, out = run(lab04.check_denoising_train_step, Stub, capsys=capsys)
    assert not ok and "not implemented" in out
