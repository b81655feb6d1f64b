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
    compiled,
    expect_gradients_reach,
    expect_updated_once,
    expect_weights_match,
    keras_round_trip,
    sgd_reference_step,
    tiny_images,
    tiny_vectors,
    to_numpy,
    tracker_counts,
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
# Exercise 3: the contractive loss and the train_step that minimises it
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
    """Float64 batch values of the right terms and of the terms that typical mistakes compute instead."""
    h, j_enc = reference_jacobian(enc, x)
    x_hat, j_dec = reference_jacobian(dec, h)
    j_whole = np.einsum("bpk,bkd->bpd", j_dec, j_enc)
    squared_error = (x_hat - x.reshape(len(x), -1)) ** 2
    per_example = (j_enc**2).sum(axis=(1, 2))
    return {
        "reconstruction": float(squared_error.mean()),
        "contractive": float(per_example.mean()),
        "pixel_sum": float(squared_error.sum(axis=1).mean()),
        "batch_sum": float(per_example.sum()),
        "not_squared": float(np.sqrt(per_example).mean()),
        "decoder": float(np.mean((j_dec**2).sum(axis=(1, 2)))),
        "whole": float(np.mean((j_whole**2).sum(axis=(1, 2)))),
    }


def _tf_loss(enc: Any, dec: Any, x: np.ndarray, w_rec: float, w_pen: float) -> Callable[[], Any]:
    """w_rec · MSE + w_pen · mean ‖J_f‖²_F in TensorFlow (the closed form is exact for a one-layer sigmoid encoder)."""
    import tensorflow as tf

    def fn():
        xt = tf.constant(x)
        h = enc(xt)
        kernel = enc.get_layer("code").kernel
        pen = tf.reduce_mean(tf.reduce_sum(tf.square(h * (1 - h)) * tf.reduce_sum(tf.square(kernel), 0), 1))
        return w_rec * tf.reduce_mean(tf.square(dec(h) - xt)) + w_pen * pen

    return fn


def _own_method(model_cls: type, name: str) -> bool:
    """True if ``model_cls`` (or a class between it and MultiLossModel) defines ``name`` itself."""
    for klass in model_cls.__mro__:
        if klass.__module__.startswith(("course_utils.models", "keras")):
            return False
        if name in vars(klass):
            return True
    return False


def check_contractive_train_step(model_cls: type, lam: float = 0.3) -> bool:
    """`model_cls(encoder, decoder, lam=…, penalty=…)`: compute_losses = MSE + λ·mean ‖J_f‖²_F; train_step minimises it.

    One student step on a probe batch of six different images is compared with a reference step computed here
    (the losses in float64 with the chain rule, the new weights with plain SGD on a loss written here); the step
    must be the class's own `train_step`; `evaluate` (the base test_step, through compute_losses) must give the
    same losses on another batch without changing any weight.
    """
    import keras
    import tensorflow as tf

    x = tiny_images(6, IMAGE, seed=7)
    x_other = tiny_images(4, IMAGE, seed=8)
    lr = 0.5

    def make(seed: int = 11, penalty: str = "exact"):
        enc, dec = _tiny_parts(seed)
        model = model_cls(enc, dec, lam=lam, penalty=penalty, name="contractive_autoencoder")
        model.compile(optimizer=keras.optimizers.SGD(lr))
        return model, enc, dec

    def overrides_the_step():
        expect(
            _own_method(model_cls, "train_step"),
            "the class has no train_step of its own: write it (the base class's step is not the exercise).",
        )
        expect(
            _own_method(model_cls, "compute_losses"),
            "the class has no compute_losses of its own: write the contractive loss there, so that train_step "
            "and evaluate (test_step) share it.",
        )

    def tracker_values_match(logs: dict, ref: dict) -> None:
        expect(
            isinstance(logs, dict), f"train_step should return a dict of tracker results; got {type(logs).__name__}."
        )
        expect(set(TRACKERS) <= set(logs), f"train_step should return {list(TRACKERS)}; got {sorted(logs)}.")
        got = {k: float(to_numpy(logs[k])) for k in TRACKERS}
        expect(all(np.isfinite(v) for v in got.values()), "a returned loss is NaN or inf.")
        rec, con, total = got["reconstruction_loss"], got["contractive_loss"], got["loss"]
        rec_ref, con_ref = ref["reconstruction"], ref["contractive"]

        def near(a, b):
            return bool(np.isclose(a, b, rtol=1e-3, atol=1e-9))

        wrong_penalty = [
            (
                "decoder",
                "the contractive term is the decoder's Jacobian (pixels w.r.t. codes): it should be the "
                "encoder's, codes w.r.t. the input x.",
            ),
            (
                "whole",
                "the contractive term is the Jacobian of the whole autoencoder (reconstruction w.r.t. input): "
                "it should be the encoder's, codes w.r.t. the input x.",
            ),
            ("not_squared", "the contractive term is the mean of ‖J_f‖_F, not of its square ‖J_f‖²_F."),
            (
                "batch_sum",
                "the contractive term is summed over the batch: take the batch mean of the per-example penalty.",
            ),
        ]
        for key, hint in wrong_penalty:
            if near(con, ref[key]):
                expect(False, hint)
        if near(con, lam * con_ref):
            expect(
                False,
                "contractive_loss holds λ·penalty: the tracker shows the penalty itself (the batch mean of "
                "‖J_f‖²_F); λ enters only the total.",
            )
        expect(near(con, con_ref), "contractive_loss is not the batch mean of ‖∂h/∂x‖²_F of the encoder.")
        if near(rec, ref["pixel_sum"]):
            expect(
                False,
                "reconstruction_loss is summed over the pixels: the lab's MSE is the mean over pixels and images.",
            )
        if near(rec, rec_ref + lam * con_ref):
            expect(False, "reconstruction_loss holds the total: it should be the MSE alone.")
        expect(
            near(rec, rec_ref), "reconstruction_loss is not the mean squared error between x and its reconstruction."
        )
        wrong_total = [
            (rec_ref, "the total 'loss' is the reconstruction alone: add λ·penalty."),
            (lam * con_ref, "the total 'loss' is λ·penalty alone: add the reconstruction MSE."),
            (
                rec_ref + con_ref,
                "the total 'loss' weights the penalty by 1: it is reconstruction + λ·penalty (λ = self.lam).",
            ),
            (
                lam * rec_ref + con_ref,
                "λ multiplies the reconstruction: it weights the penalty, reconstruction + λ·penalty.",
            ),
            (
                rec_ref - lam * con_ref,
                "the penalty is subtracted: the total is reconstruction + λ·penalty (the "
                "penalty is a price on sensitivity).",
            ),
            (rec_ref + 2 * lam * con_ref, "the penalty is weighted by 2λ: λ is applied twice."),
        ]
        for value, hint in wrong_total:
            if near(total, value):
                expect(False, hint)
        expect(near(total, rec_ref + lam * con_ref), "'loss' should be reconstruction_loss + λ·contractive_loss.")

    def one_step_matches_the_reference():
        model, enc, dec = make()
        ref = _reference_losses(enc, dec, x)
        variables = enc.trainable_variables + dec.trainable_variables
        before = [to_numpy(v) for v in variables]
        steps = {
            w: sgd_reference_step(variables, _tf_loss(enc, dec, x, *w), lr)[1]
            for w in ((1.0, lam), (1.0, 0.0), (0.0, lam))
        }
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
        for name in TRACKERS:
            expect(
                name in tracker_counts(model),
                f"model.metrics does not list the tracker '{name}': keep MultiLossModel's trackers.",
            )
        expect_updated_once(model, TRACKERS)
        tracker_values_match(logs, ref)
        after = [to_numpy(v) for v in variables]
        moved = [not np.allclose(a, b) for a, b in zip(after, before)]
        expect(
            any(moved),
            "the step changed no weight: apply the gradients with "
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

        def same(ref_weights):
            return all(np.allclose(a, r, atol=2e-6) for a, r in zip(after, ref_weights))

        expect(
            not same(steps[(1.0, 0.0)]),
            "the step follows the reconstruction loss only: the penalty's gradient does not reach the weights "
            "(is the penalty cut from the tape by stop_gradient or NumPy, or missing from what you differentiate?).",
        )
        expect(
            not same(steps[(0.0, lam)]),
            "the step follows the penalty only: differentiate the total, reconstruction + λ·penalty.",
        )
        expect_weights_match(
            after,
            steps[(1.0, lam)],
            "one SGD step does not move the weights along −∇(reconstruction + λ·penalty): compute the losses "
            "under the tape, differentiate the total 'loss' with respect to self.trainable_variables, apply once.",
            atol=2e-6,
        )

    def compiled_steps_with_the_closed_form():
        model, enc, dec = make(seed=12, penalty="sigmoid")
        variables = enc.trainable_variables + dec.trainable_variables
        expected = sgd_reference_step(variables, _tf_loss(enc, dec, x, 1.0, lam), lr)[1]
        model.optimizer.build(model.trainable_variables)
        step = compiled(model.train_step)
        try:
            step(tf.constant(x))
        except Exception as exc:  # noqa: BLE001  (any graph-mode failure gets the same hint)
            expect(
                False,
                f"train_step works when called directly but fails compiled, as fit runs it ({type(exc).__name__}): "
                "no float(), .numpy() or print of tensor values.",
            )
        expect_weights_match(
            variables,
            expected,
            'with penalty="sigmoid" (how the lab trains) one compiled step differs from the reference: use '
            'contractive_penalty_sigmoid(h, kernel of the encoder\'s "code" layer) for that case.',
            atol=2e-6,
        )
        step(tf.constant(x_other))
        counts = tracker_counts(model)
        for name in TRACKERS:
            expect(
                counts.get(name) == 2,
                f"after 2 compiled steps the tracker '{name}' was updated {counts.get(name, 0):g} times: update "
                "each tracker once per step (self.update_trackers, once).",
            )

    def evaluate_gives_the_same_losses():
        model, enc, dec = make(seed=13)
        ref = _reference_losses(enc, dec, x_other)
        before = [to_numpy(v) for v in model.trainable_variables]
        scores = model.evaluate(x_other, batch_size=len(x_other), verbose=0, return_dict=True)
        expect(
            all(np.allclose(to_numpy(v), b) for v, b in zip(model.trainable_variables, before)),
            "evaluate changed the weights: compute_losses must only compute the losses (no optimizer there).",
        )
        expected = {
            "loss": ref["reconstruction"] + lam * ref["contractive"],
            "reconstruction_loss": ref["reconstruction"],
            "contractive_loss": ref["contractive"],
        }
        expect(
            all(name in scores and np.isclose(scores[name], v, rtol=1e-3) for name, v in expected.items()),
            "evaluate (the base test_step, which calls compute_losses) gives other losses than the training step: "
            "compute the contractive loss in compute_losses and call it from train_step, so that both share it.",
        )
        out = model.predict(x_other, verbose=0)
        expect(out.shape == x_other.shape, f"predict should return reconstructions shaped like x; got {out.shape}.")
        loaded = keras_round_trip(model)
        expect(
            np.isclose(float(getattr(loaded, "lam", np.nan)), lam),
            "after a .keras round trip λ is lost: return it from get_config.",
        )
        expect(
            np.allclose(to_numpy(loaded(x_other)), out, atol=1e-6),
            "the reloaded model reconstructs differently: save the encoder and decoder in get_config.",
        )

    return run_checks(
        "contractive train_step",
        [
            overrides_the_step,
            one_step_matches_the_reference,
            compiled_steps_with_the_closed_form,
            evaluate_gives_the_same_losses,
        ],
    )
