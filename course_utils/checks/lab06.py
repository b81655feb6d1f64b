"""Checks for Lab 06, contractive autoencoders.

Each check builds tiny encoders (a few Dense units on 3×4 "images" or 6-vectors), runs the student's code on
them, and compares with a float64 NumPy reference written here independently: the Jacobian of a Dense stack is
built layer by layer with the chain rule. Typical mistakes are recognised by the number they produce, so the
hint names the mistake; no hint prints an expected value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import (
    expect_gradients_reach,
    expect_weights_match,
    keras_round_trip,
    sgd_reference_step,
    tiny_images,
    tiny_vectors,
    to_numpy,
)

IMAGE = (3, 4)

# --------------------------------------------------------------------------------------------------
# Tiny encoders and the float64 reference
# --------------------------------------------------------------------------------------------------


def _dense_stack(input_shape: tuple[int, ...], layers_spec: list[tuple[int, str]], seed: int, name: str = "encoder"):
    """A functional model: Flatten (if needed) then Dense layers ``(units, activation)``; the last is "code"."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="x")
    h = keras.layers.Flatten(name="flatten")(inp) if len(input_shape) > 1 else inp
    for i, (units, act) in enumerate(layers_spec):
        last = i == len(layers_spec) - 1
        h = keras.layers.Dense(
            units,
            activation=act,
            name="code" if last else f"hidden_{i}",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.8),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.3),
        )(h)
    return keras.Model(inp, h, name=name)


_ACTIVATIONS = {
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda a, h: h * (1 - h)),
    "tanh": (np.tanh, lambda a, h: 1 - h**2),
    "relu": (lambda a: np.maximum(a, 0), lambda a, h: (a > 0).astype(np.float64)),
    "linear": (lambda a: a, lambda a, h: np.ones_like(a)),
}


def _activation_name(layer: Any) -> str:
    name = getattr(layer.activation, "__name__", "linear")
    return name if name in _ACTIVATIONS else "linear"


def reference_jacobian(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 outputs ``(B, k)`` and Jacobians ``(B, k, d)`` of a Flatten + Dense stack, by the chain rule."""
    import keras

    h = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    jac = np.broadcast_to(np.eye(h.shape[1]), (len(h), h.shape[1], h.shape[1])).copy()
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense):
            continue
        w, b = to_numpy(layer.kernel), to_numpy(layer.bias)
        act, dact = _ACTIVATIONS[_activation_name(layer)]
        a = h @ w + b
        h = act(a)
        jac = dact(a, h)[:, :, None] * np.einsum("ik,bid->bkd", w, jac)
    return h, jac


def _penalty_call(fn: Callable, *args: Any) -> np.ndarray:
    """Call the student's function; turn a tape that returned None into a hint about ``tape.watch``."""
    try:
        out = fn(*args)
    except (TypeError, ValueError, AttributeError) as exc:
        if "None" in str(exc):
            expect(
                False,
                "the tape returned None for the Jacobian: the input is a constant, not a variable, so "
                "call tape.watch(x) before running the encoder.",
            )
        raise
    expect(out is not None, "the function returned None: end it with `return …`.")
    return to_numpy(out)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=1e-9 + rtol * 1e-3 * np.abs(b).max())


# --------------------------------------------------------------------------------------------------
# Exercise 1: the exact penalty with batch_jacobian
# --------------------------------------------------------------------------------------------------


def check_contractive_penalty_exact(contractive_penalty_exact: Callable[[Any, Any], Any]) -> bool:
    """`contractive_penalty_exact(encoder, x)`: ‖∂encoder(x)/∂x‖²_F, one value per example, for any encoder."""
    import tensorflow as tf

    sigmoid_enc = _dense_stack(IMAGE, [(5, "sigmoid")], seed=1)
    deep_enc = _dense_stack((6,), [(7, "tanh"), (4, "relu")], seed=2)
    tanh_enc = _dense_stack((6,), [(5, "tanh"), (3, "tanh")], seed=3)
    x_img = tiny_images(5, IMAGE, seed=4)
    x_vec = tiny_vectors(4, 6, seed=5)

    def one_value_per_example():
        for n in (5, 1):
            got = _penalty_call(contractive_penalty_exact, sigmoid_enc, tf.constant(x_img[:n]))
            expect(
                got.ndim > 0 or n > 1,
                "with a batch of one the result is a scalar: keep the batch axis (no squeeze), one value per example.",
            )
            expect(
                got.ndim > 0,
                "the result is a single number: return one value per example (sum over the "
                "Jacobian's entries of each example, not over the batch).",
            )
            expect(
                got.shape == (n,),
                f"for a batch of {n} the result has shape {got.shape}: return one value per "
                "example, summing over every other axis of the Jacobian.",
            )

    def matches_on_a_sigmoid_encoder():
        got = _penalty_call(contractive_penalty_exact, sigmoid_enc, tf.constant(x_img))
        _, jac = reference_jacobian(sigmoid_enc, x_img)
        squared = (jac**2).sum(axis=(1, 2))
        expect(np.all(np.isfinite(got)), "the penalty is NaN or inf on a small sigmoid encoder.")
        expect(
            np.abs(got).max() > 0,
            "the penalty is zero for every example: the tape did not see x. The input is "
            "a constant, not a variable: call tape.watch(x) before running the encoder.",
        )
        if _close(got, np.sqrt(squared)):
            expect(
                False,
                "this is the Frobenius norm ‖J‖_F, not its square ‖J‖²_F: the penalty is squared "
                "(drop the square root).",
            )
        if _close(got, (jac.sum(axis=1) ** 2).sum(axis=1)):
            expect(
                False,
                "this is ‖Jᵀ1‖², the gradient of Σ_j h_j: tape.gradient sums the outputs first. The "
                "penalty needs every entry ∂h_j/∂x_i: use tape.batch_jacobian(h, x).",
            )
        if _close(got, squared / jac[0].size):
            expect(
                False,
                "the values are too small by the number of Jacobian entries: sum the squared entries, "
                "do not average them.",
            )
        expect(
            _close(got, squared),
            "the values differ from ‖∂h/∂x‖²_F on a one-layer sigmoid encoder: square "
            "every entry of the batch Jacobian of the codes w.r.t. the input and sum them "
            "per example.",
        )

    def matches_on_other_encoders():
        for enc, x in ((deep_enc, x_vec), (tanh_enc, x_vec[:1])):
            got = _penalty_call(contractive_penalty_exact, enc, tf.constant(x))
            _, jac = reference_jacobian(enc, x)
            expect(
                _close(got, (jac**2).sum(axis=(1, 2))),
                "right on a one-layer sigmoid encoder but wrong on a tanh→ReLU or tanh→tanh encoder: the exact "
                "penalty must not assume an activation (h(1−h) is the sigmoid's derivative only) nor one layer. "
                "Let the tape differentiate the whole encoder.",
            )

    def gradients_reach_the_weights():
        x = tf.constant(x_img)
        expect_gradients_reach(
            sigmoid_enc.trainable_variables,
            lambda: tf.reduce_sum(contractive_penalty_exact(sigmoid_enc, x)),
            "encoder (through the penalty)",
        )
        # compare with the gradient of the closed form, written here with TensorFlow ops
        layer = sigmoid_enc.get_layer("code")
        with tf.GradientTape() as tape:
            student = tf.reduce_sum(contractive_penalty_exact(sigmoid_enc, x))
        g_student = tape.gradient(student, layer.kernel)
        with tf.GradientTape() as tape:
            h = sigmoid_enc(x)
            ref = tf.reduce_sum(tf.square(h * (1 - h)) * tf.reduce_sum(tf.square(layer.kernel), axis=0))
        g_ref = tape.gradient(ref, layer.kernel)
        expect(
            np.allclose(to_numpy(g_student), to_numpy(g_ref), rtol=1e-3, atol=1e-6),
            "the gradient of your penalty w.r.t. the kernel is wrong, although the value is right: is part of "
            "the computation cut from the tape (stop_gradient, NumPy)?",
        )

    def works_in_tf_function():
        fn = tf.function(lambda x: contractive_penalty_exact(tanh_enc, x))
        try:
            got = to_numpy(fn(tf.constant(x_vec)))
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"works eagerly but fails inside tf.function (how fit runs it): {type(exc).__name__}. "
                "Use tensor ops only: no .numpy(), no Python branches on tensor values.",
            )
        _, jac = reference_jacobian(tanh_enc, x_vec)
        expect(
            _close(got, (jac**2).sum(axis=(1, 2))),
            "inside tf.function (how fit runs it) the result changes: no .numpy(), no Python branches on values.",
        )

    return run_checks(
        "exact contractive penalty",
        [
            one_value_per_example,
            matches_on_a_sigmoid_encoder,
            matches_on_other_encoders,
            gradients_reach_the_weights,
            works_in_tf_function,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: the closed form for one sigmoid layer
# --------------------------------------------------------------------------------------------------


def _sigmoid_reference(h: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-example Σ_j (h_j(1−h_j))² Σ_i W_ij² and the gradients of its batch sum w.r.t. h and W (float64)."""
    d = h * (1 - h)
    s = (w**2).sum(axis=0)
    value = (d**2 * s).sum(axis=1)
    grad_h = 2 * d * (1 - 2 * h) * s
    grad_w = 2 * w * (d**2).sum(axis=0)
    return value, grad_h, grad_w


def check_contractive_penalty_sigmoid(contractive_penalty_sigmoid: Callable[[Any, Any], Any]) -> bool:
    """`contractive_penalty_sigmoid(h, kernel)`: h (B, k) sigmoid activations, kernel (d, k) -> (B,)."""
    import tensorflow as tf

    rng = np.random.default_rng(6)

    def case(n: int, d: int, k: int):
        h = rng.uniform(0.05, 0.95, size=(n, k))
        w = rng.normal(scale=0.7, size=(d, k))
        return h, w

    square = case(5, 4, 4)  # d == k: summing over the wrong kernel axis gives numbers, not an error
    wide = case(3, 9, 4)
    single = case(1, 3, 3)

    def call(h, w):
        return _penalty_call(contractive_penalty_sigmoid, tf.constant(h, tf.float32), tf.Variable(w, dtype=tf.float32))

    def one_value_per_example():
        for h, w in (square, single):
            got = call(h, w)
            expect(
                got.ndim > 0,
                "the result is a single number: return one value per example (sum over units, "
                "not over the batch; keep the batch axis for a batch of one).",
            )
            expect(
                got.shape == (len(h),),
                f"for {len(h)} examples the result has shape {got.shape}: return one value per example.",
            )

    def values_match():
        for h, w in (square, wide, single):
            got = call(h, w)
            ref, _, _ = _sigmoid_reference(h, w)
            s = (w**2).sum(axis=0)
            slope, sig = h * (1 - h), 1 / (1 + np.exp(-h))
            wrong = [  # (hint, what that mistake computes)
                ("the derivative of the sigmoid is h(1−h) and it enters squared: (h_j(1−h_j))².", (slope * s).sum(1)),
                (
                    "h is already the sigmoid's output: its derivative is h(1−h), do not apply the sigmoid again.",
                    ((sig * (1 - sig)) ** 2 * s).sum(1),
                ),
                ("1 − h² is the derivative of tanh; for a sigmoid unit it is h(1−h).", ((1 - h**2) ** 2 * s).sum(1)),
                ("the derivative of the sigmoid is h(1−h), not h.", (h**2 * s).sum(1)),
                ("square the weights: Σ_i W_ij², not Σ_i W_ij.", (slope**2 * w.sum(axis=0)).sum(1)),
                ("this is ‖J‖_F; the penalty is its square (no square root).", np.sqrt(ref)),
                ("sum over the units j, do not average.", ref / h.shape[1]),
            ]
            if w.shape[0] == w.shape[1]:
                wrong.append(
                    (
                        "sum W² over the kernel's input axis (axis 0; the kernel is inputs × units), one sum per unit.",
                        (slope**2 * (w**2).sum(axis=1)).sum(1),
                    )
                )
            for hint, value in wrong:
                if _close(got, value, rtol=1e-4):
                    expect(False, hint)
            expect(_close(got, ref), "the values differ from Σ_j (h_j(1−h_j))² Σ_i W_ij² computed here in float64.")

    def gradients_reach_h_and_kernel():
        h, w = wide
        hv, wv = tf.Variable(h, dtype=tf.float32), tf.Variable(w, dtype=tf.float32)
        with tf.GradientTape() as tape:
            out = contractive_penalty_sigmoid(hv, wv)
            total = tf.reduce_sum(out)
        g_h, g_w = tape.gradient(total, [hv, wv])
        expect(
            g_w is not None and np.abs(to_numpy(g_w)).sum() > 0,
            "no gradient reaches the kernel: read it as a tensor (a NumPy copy such as kernel.numpy() is frozen, "
            "so training could not shrink the weights).",
        )
        expect(
            g_h is not None and np.abs(to_numpy(g_h)).sum() > 0,
            "no gradient reaches h: keep h a tensor (no NumPy, no stop_gradient).",
        )
        _, ref_h, ref_w = _sigmoid_reference(h, w)
        expect(
            np.allclose(to_numpy(g_w), ref_w, rtol=1e-3, atol=1e-6)
            and np.allclose(to_numpy(g_h), ref_h, rtol=1e-3, atol=1e-6),
            "the value is right but its gradient is not: is part of the formula cut from the tape?",
        )

    def works_in_tf_function():
        h, w = wide
        fn = tf.function(contractive_penalty_sigmoid)
        try:
            got = to_numpy(fn(tf.constant(h, tf.float32), tf.constant(w, tf.float32)))
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"works eagerly but fails inside tf.function (how fit runs it): {type(exc).__name__}. "
                "Use tensor ops only, no .numpy().",
            )
        expect(
            _close(got, _sigmoid_reference(h, w)[0]),
            "inside tf.function (how fit runs it) the result changes: use tensor ops only, no .numpy().",
        )

    return run_checks(
        "sigmoid closed-form penalty",
        [one_value_per_example, values_match, gradients_reach_h_and_kernel, works_in_tf_function],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: train_step of the contractive autoencoder
# --------------------------------------------------------------------------------------------------

TRACKERS = ("loss", "reconstruction_loss", "contractive_loss")


def _tiny_parts(seed: int):
    import keras

    enc = _dense_stack(IMAGE, [(5, "sigmoid")], seed=seed)
    keras.utils.set_random_seed(seed + 100)
    code = keras.Input((5,), name="code_in")
    flat = keras.layers.Dense(IMAGE[0] * IMAGE[1], activation="sigmoid", name="pixels")(code)
    dec = keras.Model(code, keras.layers.Reshape(IMAGE, name="image")(flat), name="decoder")
    return enc, dec


def _reference_losses(enc: Any, dec: Any, x: np.ndarray) -> dict[str, float]:
    """Float64: reconstruction MSE, mean ‖J_f‖²_F, and two wrong penalties (decoder's and whole model's)."""
    h, j_enc = reference_jacobian(enc, x)
    x_hat, j_dec = reference_jacobian(dec, h)
    j_whole = np.einsum("bpk,bkd->bpd", j_dec, j_enc)
    return {
        "reconstruction": float(np.mean((x_hat - x.reshape(len(x), -1)) ** 2)),
        "contractive": float(np.mean((j_enc**2).sum(axis=(1, 2)))),
        "decoder": float(np.mean((j_dec**2).sum(axis=(1, 2)))),
        "whole": float(np.mean((j_whole**2).sum(axis=(1, 2)))),
    }


def check_contractive_train_step(model_cls: Callable[..., Any], lam: float = 0.3) -> bool:
    """`model_cls(encoder, decoder, lam=…)`: a MultiLossModel whose train_step minimises rec + λ·‖J_f‖²_F."""
    import keras
    import tensorflow as tf

    x = tiny_images(6, IMAGE, seed=7)
    lr = 0.5

    def make(seed: int = 11, lam: float = lam):
        enc, dec = _tiny_parts(seed)
        model = model_cls(enc, dec, lam=lam, name="contractive_autoencoder")
        model.compile(optimizer=keras.optimizers.SGD(lr))
        return model, enc, dec

    def step_returns_the_right_terms():
        model, enc, dec = make()
        ref = _reference_losses(enc, dec, x)
        try:
            logs = model.train_step(tf.constant(x))
        except ValueError as exc:
            if "No gradients" not in str(exc):
                raise
            expect(
                False,
                "no gradient reaches any weight: call compute_losses inside the `with tf.GradientTape()` "
                "block, so that the tape records how the loss depends on the weights.",
            )
        expect(
            isinstance(logs, dict), f"train_step should return a dict of tracker results; got {type(logs).__name__}."
        )
        expect(set(TRACKERS) <= set(logs), f"train_step should return {list(TRACKERS)}; got {sorted(logs)}.")
        logs = {k: float(to_numpy(logs[k])) for k in TRACKERS}
        expect(all(np.isfinite(v) for v in logs.values()), "a returned loss is NaN or inf.")
        rec, con, total = logs["reconstruction_loss"], logs["contractive_loss"], logs["loss"]
        if np.isclose(con, ref["decoder"], rtol=1e-3):
            expect(
                False,
                "the contractive term is the decoder's Jacobian (pixels w.r.t. codes): it should be the "
                "encoder's, codes w.r.t. the input.",
            )
        if np.isclose(con, ref["whole"], rtol=1e-3):
            expect(
                False,
                "the contractive term is the Jacobian of the whole autoencoder (reconstruction w.r.t. "
                "input): it should be the encoder's, codes w.r.t. the input.",
            )
        expect(
            np.isclose(con, ref["contractive"], rtol=1e-3),
            "contractive_loss is not the batch mean of ‖∂h/∂x‖²_F of the encoder.",
        )
        expect(
            np.isclose(rec, ref["reconstruction"], rtol=1e-3),
            "reconstruction_loss is not the mean squared error between x and its reconstruction.",
        )
        expect(
            np.isclose(total, rec + lam * con, rtol=1e-4),
            "'loss' should be reconstruction_loss + λ·contractive_loss (λ = self.lam).",
        )

    def one_sgd_step_matches():
        def loss_fn(enc, dec, weight):
            def fn():  # the tiny encoder is one sigmoid layer: the closed form is its exact penalty
                xt = tf.constant(x)
                h = enc(xt)
                kernel = enc.get_layer("code").kernel
                pen = tf.reduce_mean(tf.reduce_sum(tf.square(h * (1 - h)) * tf.reduce_sum(tf.square(kernel), 0), 1))
                rec = tf.reduce_mean(tf.square(dec(h) - xt))
                return rec + weight * pen

            return fn

        model, enc, dec = make()
        variables = enc.trainable_variables + dec.trainable_variables
        before = [to_numpy(v) for v in variables]
        refs = {w: sgd_reference_step(variables, loss_fn(enc, dec, w), lr)[1] for w in (lam, 0.0, 1.0, 2 * lam)}
        try:
            model.fit(x, epochs=1, batch_size=len(x), shuffle=False, verbose=0)  # one step inside tf.function
        except Exception as exc:  # noqa: BLE001
            expect(
                False,
                f"train_step works when called directly but fails inside fit, which runs it as a "
                f"tf.function ({type(exc).__name__}): no float(), .numpy() or print of tensor values.",
            )
        after = [to_numpy(v) for v in variables]
        moved = [not np.allclose(a, b) for a, b in zip(after, before)]
        expect(
            any(moved),
            "one step of fit changed no weight: apply the gradients with "
            "self.optimizer.apply(grads, self.trainable_variables).",
        )
        n_enc = len(enc.trainable_variables)
        expect(
            all(moved[n_enc:]),
            "the decoder's weights did not change: differentiate with respect to all of self.trainable_variables.",
        )
        expect(
            all(moved[:n_enc]),
            "the encoder's weights did not change: differentiate with respect to all of self.trainable_variables.",
        )

        def same(ref):
            return all(np.allclose(a, r, atol=2e-6) for a, r in zip(after, ref))

        expect(
            not same(refs[0.0]),
            "the step follows the reconstruction loss only: take the gradient of the total "
            "'loss', so that the penalty's gradient shrinks the encoder's Jacobian.",
        )
        expect(
            not same(refs[1.0]),
            "the step weights the penalty by 1: the total is reconstruction + λ·penalty "
            "(use losses['loss'] from compute_losses).",
        )
        expect(
            not same(refs[2 * lam]),
            "the penalty is weighted by 2λ: λ is applied twice (losses['loss'] already contains λ·penalty).",
        )
        expect_weights_match(
            after,
            refs[lam],
            "one SGD step does not move the weights along −∇(reconstruction + "
            "λ·penalty): record the losses under the tape, differentiate "
            "losses['loss'], apply once.",
            atol=2e-6,
        )

    def trackers_count_steps_and_the_model_round_trips():
        model, _, _ = make(seed=12)
        model.fit(x, epochs=1, batch_size=2, shuffle=False, verbose=0)  # three steps
        counts = {m.name: float(to_numpy(m.count)) for m in model.metrics if m.name in TRACKERS}
        expect(set(counts) == set(TRACKERS), f"model.metrics should list the trackers {list(TRACKERS)}.")
        for name, count in counts.items():
            expect(
                count == 3,
                f"after 3 training steps the tracker '{name}' was updated {count:g} times: update "
                "each tracker once per step (call self.update_trackers once).",
            )
        history = model.fit(x, epochs=1, batch_size=2, validation_data=(x,), verbose=0)
        expect(
            {"val_loss", "val_contractive_loss"} <= set(history.history),
            f"fit(validation_data=…) should report val_ losses; got {sorted(history.history)}.",
        )
        out = model.predict(x, verbose=0)
        expect(out.shape == x.shape, f"predict should return reconstructions shaped like x; got {out.shape}.")
        loaded = keras_round_trip(model)
        expect(
            np.isclose(float(getattr(loaded, "lam", np.nan)), lam),
            "after a .keras round trip λ is lost: return it from get_config.",
        )
        expect(
            np.allclose(to_numpy(loaded(x)), out, atol=1e-6),
            "the reloaded model reconstructs differently: save the encoder and decoder in get_config.",
        )

    return run_checks(
        "contractive train_step",
        [step_returns_the_right_terms, one_sgd_step_matches, trackers_count_steps_and_the_model_round_trips],
    )
