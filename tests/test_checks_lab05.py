"""Lab 05 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from check_helpers import run
from keras import layers, ops

from course_utils.checks import lab05
from course_utils.regularizers import KLSparsity as PackageKLSparsity

# ----------------------------------------------------------------------------------------------
# Exercise 1: KL sparsity, a regularizer class with switches for typical mistakes
# ----------------------------------------------------------------------------------------------


def make_kl(mistake=None):
    class KL(keras.regularizers.Regularizer):
        def __init__(self, rho=0.05, weight=1.0, eps=1e-6):
            self.rho, self.weight, self.eps = float(rho), float(weight), float(eps)

        def penalty(self, activations):
            a = activations
            if mistake == "numpy":
                a = np.asarray(a)
            if mistake == "stop-gradient":
                a = tf.stop_gradient(a)
            axis = 1 if mistake == "unit-mean" else 0
            rho_hat = ops.sum(a, axis=0) if mistake == "batch-sum" else ops.mean(a, axis=axis)
            if mistake == "wide-clip":
                rho_hat = ops.clip(rho_hat, 0.01, 0.99)
            elif mistake != "no-clip":
                rho_hat = ops.clip(rho_hat, self.eps, 1 - self.eps)
            p, q = (rho_hat, self.rho) if mistake == "swapped" else (self.rho, rho_hat)
            log = {"log2": lambda t: ops.log(t) / np.log(2.0), "log10": lambda t: ops.log(t) / np.log(10.0)}.get(
                mistake, ops.log
            )
            kl = p * log(p / q)
            if mistake != "first-term-only":
                kl = kl + (1 - p) * log((1 - p) / (1 - q))
            if mistake == "squared-difference":
                kl = ops.square(self.rho - rho_hat)
            weight = {"no-weight": 1.0, "weight-twice": self.weight**2, "minus": -self.weight}.get(mistake, self.weight)
            if mistake == "no-sum":
                return weight * kl
            total = ops.mean(kl) if mistake == "unit-average" else ops.sum(kl)
            return weight * total

        def __call__(self, activations):
            value = self.penalty(activations)
            if mistake == "no-batch-factor":
                return value
            return value * ops.cast(ops.shape(activations)[0], value.dtype)

        def get_config(self):
            if mistake == "no-config":
                return {}
            return {"rho": self.rho, "weight": self.weight, "eps": self.eps}

    KL.__name__ = f"KL_{mistake}"
    return keras.saving.register_keras_serializable(package="test_lab05")(KL)


def test_kl_passes_on_correct_solution(capsys):
    ok, out = run(lab05.check_kl_sparsity, make_kl(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ KL sparsity penalty")


def test_kl_passes_on_the_package_copy(capsys):
    ok, out = run(lab05.check_kl_sparsity, PackageKLSparsity, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("swapped", "swapped"),
        ("unit-mean", "averaged over the units"),
        ("batch-sum", "sum over the batch"),
        ("no-clip", "clip ρ̂"),
        ("wide-clip", "not to a wider range"),
        ("first-term-only", "second term"),
        ("unit-average", "do not average"),
        ("no-weight", "weight is missing"),
        ("weight-twice", "applied twice"),
        ("squared-difference", "squared difference"),
        ("log2", "natural logs"),
        ("log10", "natural logs"),
        ("minus", "sign is flipped"),
        ("no-sum", "one number per batch"),
        ("stop-gradient", "no gradient reaches the activations"),
        ("numpy", "inside tf.function"),
        ("no-batch-factor", "batch size"),
        ("no-config", "get_config"),
    ],
)
def test_kl_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab05.check_kl_sparsity, make_kl(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ KL sparsity penalty")
    assert hint in out, out


def test_kl_reports_not_implemented(capsys):
    class Stub(keras.regularizers.Regularizer):
        def __init__(self, rho=0.05, weight=1.0, eps=1e-6):
            pass

        def penalty(self, activations):
            raise NotImplementedError("Exercise: ...")

    ok, out = run(lab05.check_kl_sparsity, Stub, capsys=capsys)
    assert not ok and "not implemented" in out


# ----------------------------------------------------------------------------------------------
# Exercise 2: the regularizer on the code's activations
# ----------------------------------------------------------------------------------------------


def make_builder(mistake=None):
    def build_sparse_autoencoder(code_dim, code_regularizer=None, image_shape=(28, 28), name="autoencoder"):
        units = 8 if mistake == "fixed-width" else code_dim
        where = {"kernel": "kernel_regularizer", "bias": "bias_regularizer"}.get(mistake, "activity_regularizer")
        reg = None if mistake == "dropped" else code_regularizer
        if mistake == "own-regularizer":
            reg = keras.regularizers.L1(0.1)
        act = {"relu": "relu", "linear": "linear"}.get(mistake, "sigmoid")
        image = keras.Input(image_shape, name="image")
        flat = layers.Flatten(name="flatten")(image)
        if mistake == "before-sigmoid":
            pre = layers.Dense(units, activity_regularizer=reg, name="pre")(flat)
            code = layers.Activation("sigmoid", name="code")(pre)
        else:
            extra = {"kernel_regularizer": code_regularizer} if mistake == "also-kernel" else {}
            if mistake == "weight-decay":
                extra = {"kernel_regularizer": keras.regularizers.L2(0.01)}
            code = layers.Dense(
                units, activation=act, name="unnamed" if mistake == "name" else "code", **({where: reg} | extra)
            )(flat)
        out_reg = code_regularizer if mistake in ("on-output", "both") else None
        if mistake == "on-output":
            code_layer = code._keras_history[0]
            code_layer.activity_regularizer = None
        pixels = layers.Dense(
            int(np.prod(image_shape)),
            activation="linear" if mistake == "linear-output" else "sigmoid",
            activity_regularizer=out_reg,
            name="pixels",
        )(code)
        if mistake == "flat-output":
            return keras.Model(image, pixels, name=name)
        return keras.Model(image, layers.Reshape(image_shape, name="reconstruction")(pixels), name=name)

    return build_sparse_autoencoder


def test_builder_passes_on_correct_solution(capsys):
    ok, out = run(lab05.check_sparse_autoencoder, make_builder(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ sparse autoencoder")


def test_builder_passes_with_weight_decay(capsys):
    """Weight decay on the kernels beside the activity penalty is right (the lab uses it)."""
    ok, out = run(lab05.check_sparse_autoencoder, make_builder("weight-decay"), capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("kernel", "penalises its weights"),
        ("bias", "penalises its weights"),
        ("also-kernel", "penalises its weights"),
        ("dropped", "no penalty reaches the code"),
        ("own-regularizer", "do not build one inside"),
        ("on-output", "another layer than the code"),
        ("both", "another layer than the code"),
        ("before-sigmoid", "another layer than the code"),
        ("relu", "sigmoid outputs"),
        ("linear", "sigmoid outputs"),
        ("fixed-width", "code_dim units"),
        ("linear-output", "end the decoder with a sigmoid"),
        ("flat-output", "reshape the decoder's output"),
        ("name", "name the code layer"),
    ],
)
def test_builder_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab05.check_sparse_autoencoder, make_builder(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ sparse autoencoder")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: the k-sparse layer
# ----------------------------------------------------------------------------------------------


def make_k_sparse(mistake=None):
    class KSparse(layers.Layer):
        def __init__(self, k, **kwargs):
            super().__init__(**kwargs)
            self.k = int(k)

        def call(self, inputs):
            k = {"k-plus-one": self.k + 1, "k-minus-one": max(self.k - 1, 0), "fixed-k": 3}.get(mistake, self.k)
            x = inputs
            if mistake == "numpy":
                x = tf.constant(np.asarray(x))
            if mistake == "over-batch":
                values, _ = tf.math.top_k(tf.transpose(x), k=k)
                return tf.where(x >= values[:, -1][None, :], x, 0.0)
            score = {"smallest": -x, "magnitude": tf.abs(x)}.get(mistake, x)
            values, indices = tf.math.top_k(score, k=k)
            if mistake == "threshold":
                return tf.where(x >= values[:, -1:], x, tf.zeros_like(x))
            mask = tf.reduce_sum(tf.one_hot(indices, tf.shape(x)[-1], dtype=x.dtype), axis=1)
            if mistake == "mask-only":
                return mask
            if mistake == "sorted-values":
                return tf.concat([values, tf.zeros_like(x[:, k:])], axis=1)
            if mistake == "rescaled":
                return x * mask / k
            if mistake == "straight-through":
                return x - tf.stop_gradient(x - x * mask)
            if mistake == "stop-gradient":
                return tf.stop_gradient(x * mask)
            return x * mask

        def get_config(self):
            return super().get_config() | ({} if mistake == "no-config" else {"k": self.k})

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            return cls(config.pop("k", 1), **config)

    KSparse.__name__ = f"KSparse_{mistake}"
    return keras.saving.register_keras_serializable(package="test_lab05")(KSparse)


def test_k_sparse_passes_on_correct_solution(capsys):
    ok, out = run(lab05.check_k_sparse, make_k_sparse(), capsys=capsys)
    assert ok, out
    assert out.startswith("✔ k-sparse layer")


def test_k_sparse_passes_with_scatter(capsys):
    """Another correct answer: scatter the top_k values back into a zero tensor."""

    class Scatter(layers.Layer):
        def __init__(self, k, **kwargs):
            super().__init__(**kwargs)
            self.k = k

        def call(self, inputs):
            values, indices = ops.top_k(inputs, self.k)
            rows = ops.repeat(ops.arange(ops.shape(inputs)[0])[:, None], self.k, axis=1)
            index = ops.stack([ops.reshape(rows, (-1,)), ops.reshape(indices, (-1,))], axis=1)
            return ops.scatter(index, ops.reshape(values, (-1,)), ops.shape(inputs))

        def get_config(self):
            return super().get_config() | {"k": self.k}

    cls = keras.saving.register_keras_serializable(package="test_lab05")(Scatter)
    ok, out = run(lab05.check_k_sparse, cls, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("over-batch", "over the batch"),
        ("smallest", "k smallest"),
        ("magnitude", "magnitudes"),
        ("threshold", "ties"),
        ("k-plus-one", "keep exactly self.k"),
        ("k-minus-one", "keep exactly self.k"),
        ("fixed-k", "keep exactly self.k"),
        ("mask-only", "kept values are changed"),
        ("rescaled", "kept values are changed"),
        ("sorted-values", "wrong positions"),
        ("straight-through", "units that were zeroed"),
        ("stop-gradient", "no gradient flows"),
        ("numpy", "inside tf.function"),
        ("no-config", "get_config"),
    ],
)
def test_k_sparse_catches_mistake(capsys, mistake, hint):
    ok, out = run(lab05.check_k_sparse, make_k_sparse(mistake), capsys=capsys)
    assert not ok
    assert out.startswith("✘ k-sparse layer")
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Each check passes twice in a row (a first run must leave nothing behind that breaks a second)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, answer",
    [
        (lab05.check_kl_sparsity, make_kl()),
        (lab05.check_sparse_autoencoder, make_builder()),
        (lab05.check_k_sparse, make_k_sparse()),
    ],
)
def test_each_check_passes_twice(capsys, check, answer):
    run(check, answer, capsys=capsys)
    ok, out = run(check, answer, capsys=capsys)
    assert ok, out
