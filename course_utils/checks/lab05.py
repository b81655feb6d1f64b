"""Checks for Lab 05, sparse autoencoders.

Each check runs the student's code on tiny batches (a few units, a few examples, 3×4 "images") and compares it with
a float64 NumPy reference written here independently. Typical mistakes are recognised by the number they produce,
so the hint names the mistake; no hint prints an expected value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import compiled, keras_round_trip, tiny_images, to_numpy

IMAGE = (3, 4)
EPS = 1e-6

# --------------------------------------------------------------------------------------------------
# Exercise 1: the KL(ρ‖ρ̂) sparsity penalty
# --------------------------------------------------------------------------------------------------


def _kl(p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """Elementwise KL between Bernoulli(p) and Bernoulli(q), natural log, float64."""
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def reference_kl_sparsity(activations: np.ndarray, rho: float, weight: float, eps: float = EPS) -> float:
    """weight · Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the batch mean of unit j clipped to [eps, 1 − eps] (float64)."""
    rho_hat = np.clip(np.asarray(activations, np.float64).mean(axis=0), eps, 1 - eps)
    return float(weight * _kl(rho, rho_hat).sum())


def _kl_mistakes(a: np.ndarray, rho: float, weight: float) -> list[tuple[str, float]]:
    """(hint, the value that this mistake computes) for typical wrong penalties on activations ``a``."""
    a = np.asarray(a, np.float64)
    rho_hat = np.clip(a.mean(axis=0), EPS, 1 - EPS)
    kl = _kl(rho, rho_hat)
    per_example = np.clip(a.mean(axis=1), EPS, 1 - EPS)
    summed = np.clip(a.sum(axis=0), EPS, 1 - EPS)
    return [
        (
            "ρ and ρ̂ are swapped: the penalty is KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂)), "
            "with the target ρ in front of each log.",
            weight * _kl(rho_hat, rho).sum(),
        ),
        (
            "ρ̂ is averaged over the units of each example: ρ̂_j is the mean of unit j over the batch (axis 0).",
            weight * _kl(rho, per_example).sum(),
        ),
        (
            "ρ̂ is a sum over the batch, not a mean: ρ̂_j is the *mean* activation of unit j (axis 0).",
            weight * _kl(rho, summed).sum(),
        ),
        ("the second term (1−ρ) log((1−ρ)/(1−ρ̂)) is missing.", weight * (rho * np.log(rho / rho_hat)).sum()),
        ("sum the KL over the units j, do not average it.", weight * kl.mean()),
        ("the weight is missing: multiply the summed KL by self.weight.", kl.sum()),
        ("the weight is applied twice (or squared): multiply by self.weight once.", weight**2 * kl.sum()),
        (
            "this is a squared difference (ρ − ρ̂)², not the KL divergence between Bernoulli(ρ) and Bernoulli(ρ̂).",
            weight * ((rho - rho_hat) ** 2).sum(),
        ),
        ("the logs are not natural logs: use ops.log (base e).", weight * kl.sum() / np.log(2)),
        ("the logs are not natural logs: use ops.log (base e).", weight * kl.sum() / np.log(10)),
        ("the sign is flipped: KL ≥ 0 and the penalty adds +weight · Σ_j KL.", -weight * kl.sum()),
    ]


def _activations(seed: int, n: int, units: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, units)).astype("float32")


def check_kl_sparsity(kl_cls: Callable[..., Any]) -> bool:
    """`kl_cls(rho, weight)`: a Keras regularizer whose `penalty(a)` is weight · Σ_j KL(ρ ‖ ρ̂_j), ρ̂ = batch mean."""
    import keras
    import tensorflow as tf

    cases = [(0.1, 3.0, _activations(1, 6, 5)), (0.05, 0.5, _activations(2, 9, 4)), (0.3, 1.7, _activations(3, 5, 7))]
    cases[2][2][:, 0] *= 0.2  # a rarely active unit and a busy one: the two terms of the KL differ a lot
    cases[2][2][:, 1] = 0.5 + 0.5 * cases[2][2][:, 1]

    def penalty(reg: Any, a: np.ndarray) -> np.ndarray:
        out = reg.penalty(tf.constant(a))
        expect(out is not None, "penalty returned None: end it with `return …`.")
        return to_numpy(out)

    def one_number_per_batch():
        for rho, weight, a in cases[:2]:
            got = penalty(kl_cls(rho=rho, weight=weight), a)
            expect(
                got.size == 1,
                f"for a batch of shape {a.shape} the penalty has shape {got.shape}: sum the KL over the units, "
                "so that the penalty is one number per batch.",
            )

    def matches_the_kl():
        for rho, weight, a in cases:
            got = float(penalty(kl_cls(rho=rho, weight=weight), a).reshape(-1)[0])
            ref = reference_kl_sparsity(a, rho, weight)
            expect(np.isfinite(got), "the penalty is NaN or inf on activations strictly between 0 and 1.")
            if np.isclose(got, ref, rtol=1e-4):
                continue
            mistakes = _kl_mistakes(a, rho, weight)
            gaps = [abs(got - value) / max(abs(value), 1e-12) for _, value in mistakes]
            best = int(np.argmin(gaps))
            expect(gaps[best] > 2e-2, mistakes[best][0])  # loose: float32 rounding near the clipping bounds
            expect(
                False,
                "the value differs from weight · Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the batch mean of unit j, computed "
                "here in float64.",
            )

    def dead_and_saturated_units_are_finite():
        a = _activations(4, 6, 5)
        a[:, 1] = 0.0  # a unit that is off for the whole batch: ρ̂ = 0, log(0) without clipping
        a[:, 3] = 1.0  # a unit that is always on: 1 − ρ̂ = 0
        reg = kl_cls(rho=0.1, weight=1.0)
        got = float(penalty(reg, a).reshape(-1)[0])
        expect(
            np.isfinite(got),
            "a unit that is off (or on) for the whole batch makes the penalty NaN or inf: clip ρ̂ to "
            "[eps, 1 − eps] (self.eps) before taking logs.",
        )
        expect(
            np.isclose(got, reference_kl_sparsity(a, 0.1, 1.0), rtol=1e-3),
            "with a dead unit the value is wrong: clip ρ̂ (the batch means) to [eps, 1 − eps] with eps = self.eps, "
            "not the activations themselves, and not to a wider range.",
        )
        av = tf.Variable(a)
        with tf.GradientTape() as tape:
            value = reg.penalty(av)
        grad = tape.gradient(value, av)
        expect(
            grad is None or np.all(np.isfinite(to_numpy(grad))),
            "the gradient is NaN or inf when a unit is dead: clip ρ̂ before the logs.",
        )

    def gradient_reaches_the_activations():
        rho, weight, a = cases[0]
        av = tf.Variable(a)
        with tf.GradientTape() as tape:
            value = kl_cls(rho=rho, weight=weight).penalty(av)
        grad = tape.gradient(value, av)
        expect(
            grad is not None and np.abs(to_numpy(grad)).sum() > 0,
            "no gradient reaches the activations: keep everything a tensor (keras.ops, no NumPy, no stop_gradient).",
        )
        rho_hat = a.astype(np.float64).mean(axis=0)
        ref = weight * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / len(a)  # d/da_bj, the same for every b
        expect(
            np.allclose(to_numpy(grad), np.broadcast_to(ref, a.shape), rtol=1e-3, atol=1e-6),
            "the value is right but its gradient is not: is part of the formula cut from the tape?",
        )

    def works_in_tf_function():
        rho, weight, a = cases[1]
        reg = kl_cls(rho=rho, weight=weight)
        try:
            got = to_numpy(compiled(reg.penalty)(tf.constant(a)))
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"works eagerly but fails inside tf.function (how fit runs it): {type(exc).__name__}. Use keras.ops "
                "on tensors only: no .numpy(), no NumPy functions, no float() of a tensor.",
            )
        expect(
            np.isclose(float(got.reshape(-1)[0]), reference_kl_sparsity(a, rho, weight), rtol=1e-4),
            "inside tf.function (how fit runs it) the value changes: use keras.ops only.",
        )

    def layer_loss_and_round_trip():
        keras.utils.set_random_seed(5)
        inp = keras.Input((6,), name="x")
        code = keras.layers.Dense(4, activation="sigmoid", name="code", activity_regularizer=kl_cls(0.2, 1.5))(inp)
        model = keras.Model(inp, code, name="encoder")
        x = np.random.default_rng(6).normal(size=(8, 6)).astype("float32")
        h = to_numpy(model(x))
        expect(
            np.isclose(float(to_numpy(sum(model.losses))), reference_kl_sparsity(h, 0.2, 1.5), rtol=1e-4),
            "used as a layer's activity_regularizer, the loss that the layer adds is not weight · Σ_j KL: Keras "
            "divides the value of __call__ by the batch size, so __call__ must return the penalty times the batch "
            "size.",
        )
        loaded = keras_round_trip(model)
        reg = loaded.get_layer("code").activity_regularizer
        expect(
            reg is not None
            and np.isclose(float(getattr(reg, "rho", np.nan)), 0.2)
            and np.isclose(float(getattr(reg, "weight", np.nan)), 1.5),
            "after a .keras round trip ρ or the weight is lost: return rho, weight and eps from get_config.",
        )

    return run_checks(
        "KL sparsity penalty",
        [
            one_number_per_batch,
            matches_the_kl,
            dead_and_saturated_units_are_finite,
            works_in_tf_function,
            gradient_reaches_the_activations,
            layer_loss_and_round_trip,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: L1 (or KL) on the code's activations
# --------------------------------------------------------------------------------------------------


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def check_sparse_autoencoder(build_sparse_autoencoder: Callable[..., Any]) -> bool:
    """`build_sparse_autoencoder(code_dim, code_regularizer, image_shape)`: sigmoid code layer named "code" that
    carries the regularizer on its activations, a sigmoid decoder back to ``image_shape``."""
    import keras

    x = tiny_images(5, IMAGE, seed=8)
    weight = 0.3

    def build(code_dim: int, regularizer: Any, seed: int = 9):
        keras.utils.set_random_seed(seed)
        model = build_sparse_autoencoder(code_dim, regularizer, image_shape=IMAGE)
        expect(model is not None, "build_sparse_autoencoder returned None: end it with `return autoencoder`.")
        expect(isinstance(model, keras.Model), f"return a keras.Model; got {type(model).__name__}.")
        return model

    def code_layer(model: Any) -> Any:
        names = [layer.name for layer in model.layers]
        expect("code" in names, f"name the code layer 'code' (name=\"code\"); the model's layers are {names}.")
        return model.get_layer("code")

    def shapes_and_activations():
        for code_dim in (7,):  # the penalty test below uses another width
            model = build(code_dim, None)
            out = to_numpy(model(x))
            expect(
                out.shape == x.shape,
                f"the reconstruction has shape {out.shape[1:]} per example, the input {x.shape[1:]}: reshape the "
                "decoder's output back to image_shape.",
            )
            expect(
                np.all(out >= 0) and np.all(out <= 1),
                "the reconstruction leaves [0, 1]: end the decoder with a sigmoid, like the pixels.",
            )
            layer = code_layer(model)
            encoder = keras.Model(model.input, layer.output)
            h = to_numpy(encoder(x))
            expect(
                h.shape == (len(x), code_dim),
                f"with code_dim={code_dim} the code has shape {h.shape[1:]}: use code_dim units, not a fixed number.",
            )
            expect(
                np.all(h > 0) and np.all(h < 1) and not np.allclose(h, 0.5),
                'the code layer\'s activations are not sigmoid outputs in (0, 1): use activation="sigmoid" on the '
                "code layer itself (ρ̂ and 'active' only make sense for a sigmoid code).",
            )
            expect(
                not any(getattr(lay, "activity_regularizer", None) is not None for lay in model.layers),
                "with code_regularizer=None a layer still carries an activity regularizer: pass code_regularizer "
                "through, do not build one inside.",
            )

    def penalty_on_the_codes():
        for regularizer, name in ((keras.regularizers.L1(weight), "L1"), (_ReferenceKL(0.1, weight), "KL")):
            model = build(6, regularizer)
            layer = code_layer(model)
            expect(
                getattr(layer, "kernel_regularizer", None) is not regularizer
                and getattr(layer, "bias_regularizer", None) is not regularizer,
                "the code layer penalises its weights (kernel_regularizer or bias_regularizer): sparsity is a "
                "penalty on the activations, so pass the regularizer as activity_regularizer.",
            )
            out_layers = [lay for lay in model.layers if lay is not layer]
            expect(
                not any(getattr(lay, "activity_regularizer", None) is not None for lay in out_layers)
                and not any(getattr(lay, "kernel_regularizer", None) is regularizer for lay in out_layers),
                "another layer than the code carries a regularizer: put it on the code layer's activations only.",
            )
            expect(
                getattr(layer, "activity_regularizer", None) is not None,
                f"no penalty reaches the code ({name}): pass code_regularizer as the code layer's "
                "activity_regularizer.",
            )
            model(x)
            h = to_numpy(keras.Model(model.input, layer.output)(x))
            expect(
                h.shape == (len(x), 6),
                f"with code_dim=6 the code has shape {h.shape[1:]}: use code_dim units, not a fixed number.",
            )
            pre = x.reshape(len(x), -1).astype(np.float64) @ to_numpy(layer.kernel) + to_numpy(layer.bias)
            ref = weight * np.abs(h).sum(1).mean() if name == "L1" else reference_kl_sparsity(h, 0.1, weight)
            decay = sum(  # weight decay on the kernels (the same for every model) is allowed beside the penalty
                float(to_numpy(lay.kernel_regularizer(lay.kernel)))
                for lay in model.layers
                if getattr(lay, "kernel_regularizer", None) is not None
            )
            got = float(to_numpy(sum(model.losses))) - decay
            if name == "L1" and np.isclose(got, weight * np.abs(pre).sum(1).mean(), rtol=1e-4):
                expect(
                    False,
                    "the penalty sees the pre-activations: put the regularizer on the layer whose output is the "
                    'sigmoid code (Dense with activation="sigmoid"), not before the sigmoid.',
                )
            expect(
                np.isclose(got, ref, rtol=1e-4),
                f"the loss that the model adds with {name} on the code is not the penalty of the sigmoid codes: "
                "pass code_regularizer once, as activity_regularizer of the code layer.",
            )
            expect(
                np.allclose(_sigmoid(pre), h, atol=1e-5),
                "the code layer's output is not sigmoid(x · kernel + bias) of the flattened image: one Dense "
                'layer with activation="sigmoid" on the flat input.',
            )

    return run_checks("sparse autoencoder", [shapes_and_activations, penalty_on_the_codes])


class _ReferenceKL:
    """A minimal KL(ρ‖ρ̂) activity regularizer for the builder's check (independent of the student's)."""

    def __init__(self, rho: float, weight: float) -> None:
        self.rho, self.weight = rho, weight

    def __call__(self, a: Any) -> Any:
        from keras import ops

        rho_hat = ops.clip(ops.mean(a, axis=0), EPS, 1 - EPS)
        kl = self.rho * ops.log(self.rho / rho_hat) + (1 - self.rho) * ops.log((1 - self.rho) / (1 - rho_hat))
        return self.weight * ops.sum(kl) * ops.cast(ops.shape(a)[0], a.dtype)

    def get_config(self) -> dict[str, float]:
        return {"rho": self.rho, "weight": self.weight}


# --------------------------------------------------------------------------------------------------
# Exercise 3: the k-sparse layer
# --------------------------------------------------------------------------------------------------


def reference_k_sparse(a: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest values of each row (by value, ties broken by position), zero the rest (float64)."""
    a = np.asarray(a, np.float64)
    order = np.argsort(-a, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(a)
    np.put_along_axis(out, order, np.take_along_axis(a, order, axis=1), axis=1)
    return out


def _top_k_mask(a: np.ndarray, k: int) -> np.ndarray:
    """True at the k largest values of each row (ties broken by position)."""
    mask = np.zeros(a.shape, bool)
    np.put_along_axis(mask, np.argsort(-np.asarray(a, np.float64), axis=1, kind="stable")[:, :k], True, axis=1)
    return mask


def check_k_sparse(k_sparse_cls: Callable[..., Any]) -> bool:
    """`k_sparse_cls(k)`: a Keras layer that keeps the k largest activations of each example and zeroes the rest."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(10)
    a = rng.normal(size=(6, 9)).astype("float32")
    a[0] = np.linspace(-3.1, 0.9, 9)[::-1].copy()  # large negative values: 'largest' is by value, not by magnitude
    a[1] = -np.abs(a[1]) - 0.1  # a row with only negative values: they are kept all the same
    a[2, :] = 1.0 - 0.1 * np.arange(9)
    a[3, :6] = 2.0 + 0.01 * np.arange(6)
    a[3, 6:] = -5.0 + 0.01 * np.arange(3)  # six large values and three very negative ones

    def layer_out(k: int, inputs: np.ndarray) -> np.ndarray:
        layer = k_sparse_cls(k)
        out = layer(tf.constant(inputs))
        expect(out is not None, "call returned None: end it with `return …`.")
        return to_numpy(out)

    def keeps_the_k_largest_per_example():
        for k in (3, 1, 5):
            got = layer_out(k, a)
            expect(got.shape == a.shape, f"the output has shape {got.shape}, the input {a.shape}: keep the shape.")
            kept = np.count_nonzero(got, axis=1)
            ref = reference_k_sparse(a, k)
            if np.allclose(got, ref, atol=1e-6):
                continue
            batch_ref = np.where(a >= np.sort(a, axis=0)[-k][None, :], a, 0.0)
            expect(
                not np.allclose(got, batch_ref, atol=1e-6),
                "the k largest are taken over the batch (axis 0) for each unit: keep the k largest units of each "
                "example (the last axis).",
            )
            expect(
                not np.allclose(got, reference_k_sparse(-a, k) * -1, atol=1e-6),
                "the k smallest activations are kept: keep the k largest (ops.top_k returns the largest).",
            )
            by_magnitude = np.zeros_like(a)
            idx = np.argsort(-np.abs(a), axis=1)[:, :k]
            np.put_along_axis(by_magnitude, idx, np.take_along_axis(a, idx, axis=1), axis=1)
            expect(
                not np.allclose(got, by_magnitude, atol=1e-6),
                "the k largest *magnitudes* are kept: keep the k largest values (no abs).",
            )
            expect(
                np.all(kept == k),
                f"with k={k} the examples keep {sorted(set(kept.tolist()))} units each: keep exactly self.k per "
                "example (read k from self.k, not a fixed number; top_k's k-th value is index k − 1).",
            )
            expect(
                np.allclose(np.sort(got, axis=1), np.sort(ref, axis=1), atol=1e-6),
                "the kept values are changed: copy the k largest activations unchanged (no mask of ones, no "
                "rescaling).",
            )
            expect(
                False,
                "the kept values are at the wrong positions: each stays at its own unit (scatter the top_k values "
                "back, or multiply the input by a 0/1 mask of the top_k indices).",
            )

    def exactly_k_with_ties():
        tied = np.array([[0.5, 0.9, 0.5, 0.5, 0.1], [0.2, 0.2, 0.2, 0.2, 0.2]], "float32")
        got = layer_out(2, tied)
        kept = np.count_nonzero(got, axis=1)
        expect(
            np.all(kept == 2),
            "when several activations equal the k-th largest, more than k units survive: a threshold "
            "(a >= k-th value) keeps all ties. Build the mask from the indices that top_k returns.",
        )

    def gradients_only_through_kept_units():
        k = 3
        av = tf.Variable(a)
        w = tf.constant(rng.normal(size=a.shape).astype("float32"))
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(k_sparse_cls(k)(av) * w)
        grad = tape.gradient(total, av)
        mask = _top_k_mask(a, k)
        expect(
            grad is not None and np.abs(to_numpy(grad)).sum() > 0,
            "no gradient flows through the layer: keep the kept values connected to the input (no "
            "stop_gradient on the output, no NumPy).",
        )
        g = to_numpy(grad)
        expect(
            np.allclose(g[~mask], 0.0),
            "gradients reach units that were zeroed: only the k kept units may pass a gradient (multiply by the "
            "mask or scatter the kept values; no straight-through trick).",
        )
        expect(
            np.allclose(g[mask], to_numpy(w)[mask], atol=1e-6),
            "the kept units do not pass the gradient unchanged: the output of a kept unit is its input.",
        )

    def works_in_tf_function():
        layer = k_sparse_cls(2)
        fn = tf.function(lambda t: layer(t), input_signature=[tf.TensorSpec((None, 9), tf.float32)])
        try:
            got = to_numpy(fn(tf.constant(a)))
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"works eagerly but fails inside tf.function with an unknown batch size (how fit runs it): "
                f"{type(exc).__name__}. Use keras.ops on tensors, no .numpy().",
            )
        expect(
            np.allclose(got, reference_k_sparse(a, 2), atol=1e-6),
            "inside tf.function the result changes: use keras.ops only.",
        )

    def round_trips():
        inp = keras.Input((9,), name="x")
        model = keras.Model(inp, k_sparse_cls(4, name="code")(inp), name="encoder")
        loaded = keras_round_trip(model)
        expect(
            getattr(loaded.get_layer("code"), "k", None) == 4,
            'after a .keras round trip k is lost: return it from get_config (super().get_config() | {"k": …}).',
        )
        expect(
            np.allclose(to_numpy(loaded(a)), reference_k_sparse(a, 4), atol=1e-6),
            "the reloaded layer keeps a different number of units: rebuild it from its config.",
        )

    return run_checks(
        "k-sparse layer",
        [
            keeps_the_k_largest_per_example,
            exactly_k_with_ties,
            works_in_tf_function,
            gradients_only_through_kept_units,
            round_trips,
        ],
    )
