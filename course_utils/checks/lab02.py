"""Checks for Lab 02, deep autoencoders: the tied-weight layer, one greedy layer-wise step, a balanced few-label split.

Every check builds tiny layers and models or small synthetic arrays, compares the student's code with a float64
computation done here independently, tries several configurations, and prints one pass line or a hint. None of
them prints the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import CheckFailed, expect, run_checks
from course_utils.checks.probes import expect_gradients_reach, tiny_vectors, to_numpy

__all__ = ["check_dense_transpose", "check_greedy_step", "check_few_label_split"]


def _keras():
    import keras

    return keras


def _act64(name: str | None, a: np.ndarray) -> np.ndarray:
    if name in (None, "linear"):
        return a
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "tanh":
        return np.tanh(a)
    raise ValueError(name)


def _built_dense(n_in: int, n_out: int, seed: int, activation: str | None = None, use_bias: bool = True) -> Any:
    """A built Dense with a random, clearly asymmetric kernel (and a random bias)."""
    keras = _keras()
    dense = keras.layers.Dense(n_out, activation=activation, use_bias=use_bias, name=f"enc_{n_in}_{n_out}_{seed}")
    dense.build((None, n_in))
    rng = np.random.default_rng(seed)
    dense.kernel.assign(rng.normal(size=(n_in, n_out)).astype("float32"))
    if use_bias:
        dense.bias.assign(rng.normal(size=(n_out,)).astype("float32"))
    return dense


def _keras2_idiom(exc: Exception) -> bool:
    return isinstance(exc, AttributeError) and any(s in str(exc) for s in ("input_shape", "output_shape"))


# --------------------------------------------------------------------------------------------------
# Exercise 1: the tied-weight layer
# --------------------------------------------------------------------------------------------------


def check_dense_transpose(layer_cls: type) -> bool:
    """`layer_cls(dense, activation=None, **kwargs)`: y = activation(x @ dense.kernelᵀ + own bias), kernel shared."""
    import tensorflow as tf

    keras = _keras()

    def keras2_guarded(fn, *args, **kwargs):
        """Run ``fn``; turn the Keras 2 ``input_shape`` idiom's AttributeError into a hint."""
        try:
            return fn(*args, **kwargs)
        except AttributeError as exc:
            if _keras2_idiom(exc):
                raise CheckFailed(
                    "Keras 3 layers have no `input_shape`/`output_shape` attribute (a Keras 2 idiom): read the sizes "
                    "from `dense.kernel.shape` instead."
                ) from None
            raise

    def make(dense, activation=None, name="mirror"):
        return keras2_guarded(layer_cls, dense, activation=activation, name=name)

    def call(layer, z):
        return to_numpy(keras2_guarded(layer, z))

    def own_variables(layer, dense):
        theirs = {id(v) for v in dense.weights}
        return [v for v in layer.weights if id(v) not in theirs]

    def is_a_layer():
        layer = make(_built_dense(4, 3, seed=0))
        expect(isinstance(layer, keras.layers.Layer), "DenseTranspose should subclass keras.layers.Layer.")

    def transposes_the_right_way():
        # a square kernel: forgetting the transpose runs without error, so compare values
        dense = _built_dense(4, 4, seed=1)
        z = tiny_vectors(6, 4, seed=2)
        layer = make(dense)
        got = call(layer, z) - call(layer, np.zeros_like(z))  # whatever the bias, only the matrix product is left
        w = to_numpy(dense.kernel)
        untransposed = z.astype(np.float64) @ w
        expect(
            not np.allclose(got, untransposed, atol=1e-4),
            "the layer multiplies by the kernel itself; a mirror maps the Dense's outputs back to its inputs, so it "
            "must use the kernel transposed (x @ Wᵀ).",
        )
        expect(
            np.allclose(got, z.astype(np.float64) @ w.T, atol=1e-4),
            "without activation the output minus the output for x = 0 should be x @ Wᵀ exactly; check the matrix "
            "product.",
        )

    def maps_back_to_the_dense_inputs():
        for n_in, n_out in ((5, 3), (3, 7)):
            dense = _built_dense(n_in, n_out, seed=n_in)
            out = call(make(dense), tiny_vectors(4, n_out, seed=3))
            expect(
                out.shape == (4, n_in),
                f"mirroring a Dense({n_out}) that reads {n_in} features, 4 inputs gave shape {out.shape}; expected "
                f"(4, {n_in}): one output per *input* unit of the Dense.",
            )

    def no_kernel_of_its_own():
        dense = _built_dense(4, 4, seed=4)
        layer = make(dense)
        call(layer, tiny_vectors(2, 4))
        own = own_variables(layer, dense)
        expect(
            not any(len(v.shape) == 2 for v in own),
            "the layer created a kernel of its own: it must not copy or re-create the matrix, only read "
            "`dense.kernel` (transposed) in `call`.",
        )
        expect(
            len(own) > 0,
            "the layer has no bias of its own (reusing the Dense's bias does not fit: it has one entry per output "
            "of the Dense). Add one with self.add_weight in build.",
        )

    def exactly_one_own_weight_the_bias():
        dense = _built_dense(5, 3, seed=4)
        layer = make(dense)
        call(layer, tiny_vectors(2, 3))
        own = own_variables(layer, dense)
        shapes = [tuple(v.shape) for v in own]
        expect(
            shapes == [(5,)],
            f"the layer's own weights have shapes {shapes}; it should own exactly one bias with one entry per "
            "input unit of the Dense.",
        )
        expect(bool(own[0].trainable), "the layer's own bias is not trainable: create it with trainable=True.")

    def values_match_a_float64_reference():
        for (n_in, n_out), act, dense_act in (
            ((5, 3), None, "relu"),
            ((3, 6), "sigmoid", None),
            ((4, 2), "relu", None),
        ):
            dense = _built_dense(n_in, n_out, seed=10 + n_in, activation=dense_act)
            layer = make(dense, activation=act)
            z = tiny_vectors(5, n_out, seed=n_out)
            call(layer, z)
            bias = np.random.default_rng(n_in).normal(size=(n_in,))
            own_variables(layer, dense)[0].assign(bias.astype("float32"))
            got = call(layer, z)
            pre = z.astype(np.float64) @ to_numpy(dense.kernel).T + bias
            if dense_act is not None and np.allclose(got, _act64(dense_act, pre), atol=1e-4):
                expect(
                    False,
                    "the layer applies the Dense's activation; it has its own `activation` argument (the mirror of a "
                    "ReLU encoder layer may well be linear or a sigmoid).",
                )
            expect(
                not np.allclose(got, _act64(act, z.astype(np.float64) @ to_numpy(dense.kernel).T), atol=1e-4),
                "the output does not change with the layer's bias: add the bias in `call`.",
            )
            expect(
                np.allclose(got, _act64(act, pre), atol=1e-4),
                f"with activation={act!r} the output differs from activation(x @ Wᵀ + b); apply this layer's own "
                "activation after adding its bias.",
            )

    def shares_the_kernel():
        dense = _built_dense(4, 3, seed=5)
        layer = make(dense)
        z = tiny_vectors(3, 3, seed=6)
        call(layer, z)
        dense.kernel.assign(dense.kernel * -2.0 + 0.5)
        got = call(layer, z)
        bias = to_numpy(own_variables(layer, dense)[0])
        expect(
            np.allclose(got, z.astype(np.float64) @ to_numpy(dense.kernel).T + bias, atol=1e-4),
            "after the Dense's kernel changed, the layer still computes with the old values: it must share the kernel "
            "(read `dense.kernel` in `call`), not copy it.",
        )

    def gradient_reaches_the_kernel_from_both_sides():
        # linear tied autoencoder without biases: L = Σ C ∘ (X W Wᵀ) ⇒ dL/dW = Xᵀ C W + Cᵀ X W
        dense = _built_dense(5, 3, seed=7, use_bias=False)
        layer = make(dense)
        x = tiny_vectors(6, 5, seed=8)
        c = tiny_vectors(6, 5, seed=9)
        call(layer, dense(x))
        expect_gradients_reach(own_variables(layer, dense), lambda: tf.reduce_sum(c * layer(dense(x))), "mirror")
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(c * layer(dense(x)))
        grad = tape.gradient(loss, dense.kernel)
        w, x64, c64 = to_numpy(dense.kernel), x.astype(np.float64), c.astype(np.float64)
        encoder_side = x64.T @ c64 @ w
        expect(
            grad is not None,
            "no gradient reaches the Dense's kernel through the layer: use the variable itself (no NumPy copy, no "
            "constant) in `call`.",
        )
        grad = to_numpy(grad)
        expect(
            not np.allclose(grad, encoder_side, atol=1e-3),
            "in a tied autoencoder the gradient reaches the shared kernel only through the encoder: the decoder side "
            "is cut off (stop_gradient or a copy of the kernel?).",
        )
        expect(
            np.allclose(grad, encoder_side + c64.T @ x64 @ w, atol=1e-3),
            "the gradient of the shared kernel is wrong: it should be the sum of the encoder's and the decoder's "
            "contributions.",
        )

    def tied_model_counts_the_kernel_once():
        x = keras.Input(shape=(6,), name="x")
        d0 = keras.layers.Dense(4, activation="relu", name="enc_a")
        d1 = keras.layers.Dense(2, name="enc_b")
        h = make(d1, activation="relu", name="dec_b")(d1(d0(x)))
        out = make(d0, activation="sigmoid", name="dec_a")(h)
        model = keras.Model(x, out, name="tied_probe")
        expected = (6 * 4 + 4) + (4 * 2 + 2) + 4 + 6
        expect(
            model.count_params() == expected,
            f"a tied 6-4-2-4-6 autoencoder has {model.count_params()} parameters; the decoder should add only its "
            "biases (the kernels are the encoder's).",
        )

    return run_checks(
        "DenseTranspose",
        [
            is_a_layer,
            no_kernel_of_its_own,
            transposes_the_right_way,
            maps_back_to_the_dense_inputs,
            exactly_one_own_weight_the_bias,
            values_match_a_float64_reference,
            shares_the_kernel,
            gradient_reaches_the_kernel_from_both_sides,
            tied_model_counts_the_kernel_once,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: one greedy layer-wise step
# --------------------------------------------------------------------------------------------------


def _probe_encoder(n_in: int, widths: tuple[int, ...], activation: str, seed: int) -> Any:
    """A small trained-looking encoder: inputs (n_in,) through Dense layers of `widths` (random weights)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(n_in,), name="probe_in")
    h = x
    for i, units in enumerate(widths):
        h = keras.layers.Dense(units, activation=activation, name=f"probe_enc_{seed}_{i}")(h)
    return keras.Model(x, h, name=f"probe_encoder_{seed}")


def _dense_layers(model: Any) -> list:
    keras = _keras()
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.Dense)]


def check_greedy_step(greedy_step: Callable[..., Any]) -> bool:
    """`greedy_step(encoder, x, units, activation, decoder_activation, epochs, lr, batch_size)` -> (grown, decoder)."""
    keras = _keras()
    configs = [
        # (input width, earlier widths, activation of the earlier layers, new units, new activation, decoder act.)
        (10, (8,), "relu", 6, "sigmoid", None),
        (9, (7, 5), "sigmoid", 5, "relu", "sigmoid"),
    ]
    runs = {}

    def run(i):
        if i not in runs:
            n_in, widths, prev_act, units, act, dec_act = configs[i]
            encoder = _probe_encoder(n_in, widths, prev_act, seed=i)
            x = np.random.default_rng(20 + i).uniform(size=(96, n_in)).astype("float32")
            before = [to_numpy(w) for w in encoder.weights]
            codes = to_numpy(encoder(x))
            out = greedy_step(
                encoder, x, units, activation=act, decoder_activation=dec_act, epochs=4, lr=0.05, batch_size=16
            )
            expect(
                isinstance(out, tuple) and len(out) == 2,
                "greedy_step should return a pair (grown encoder, step decoder).",
            )
            runs[i] = (encoder, x, before, codes, *out)
        return runs[i]

    def returns_models_with_names():
        _, _, _, _, grown, decoder = run(0)
        for model, what in ((grown, "grown encoder"), (decoder, "step decoder")):
            expect(isinstance(model, keras.Model), f"the {what} should be a keras.Model, got {type(model).__name__}.")
        expect(
            grown.name == "encoder_2" and decoder.name == "decoder_step_2",
            'name the models after the number of Dense layers in the grown encoder: "encoder_<n>" and '
            f'"decoder_step_<n>" (here "encoder_2" and "decoder_step_2"; got "{grown.name}" and "{decoder.name}").',
        )

    def grown_encoder_maps_inputs_to_new_codes():
        for i, (n_in, widths, _, units, _, _) in enumerate(configs):
            _, x, _, codes, grown, decoder = run(i)
            expect(
                tuple(grown.input_shape) == (None, n_in),
                f"the grown encoder should read the original inputs, shape (None, {n_in}); it reads {grown.input_shape}"
                ". Call the new layer on `encoder.output` and build keras.Model(encoder.input, …).",
            )
            out = to_numpy(grown(x))
            expect(
                out.shape == (len(x), units),
                f"the grown encoder gives codes of shape {out.shape}; expected "
                f"({len(x)}, {units}): one new layer of `units` units on top.",
            )
            expect(
                tuple(decoder.input_shape) == (None, units) and tuple(decoder.output_shape) == (None, widths[-1]),
                f"the step decoder should map the new codes ({units}) back to the previous layer's codes "
                f"({widths[-1]}); it maps {decoder.input_shape} to {decoder.output_shape}. It reconstructs the codes "
                "of the layer below, not the images.",
            )

    def keeps_and_freezes_the_earlier_layers():
        for i in range(len(configs)):
            encoder, x, before, _, grown, _ = run(i)
            denses = _dense_layers(grown)
            earlier = _dense_layers(encoder)
            expect(
                len(denses) == len(earlier) + 1 and all(a is b for a, b in zip(denses, earlier)),
                "the grown encoder should reuse the trained layers of `encoder` (the same layer objects) plus one "
                "new Dense layer; do not rebuild or copy the earlier layers.",
            )
            after = [to_numpy(w) for w in encoder.weights]
            expect(
                all(np.allclose(a, b) for a, b in zip(after, before)),
                "the earlier layers' weights changed: a greedy step trains only the new layer. Freeze the encoder "
                "(encoder.trainable = False) and train the new layer on its codes.",
            )
            expect(
                not any(layer.trainable for layer in earlier),
                "the earlier layers are still marked trainable: set encoder.trainable = False so that later code "
                "(and fit) cannot change them by accident.",
            )
            expect(
                denses[-1].trainable,
                "the new layer is frozen: only the earlier layers should be; the new one is fine-tuned later.",
            )

    def new_layer_computes_activation_of_affine_map():
        for i, (_, _, _, _, act, _) in enumerate(configs):
            _, x, _, codes, grown, _ = run(i)
            new = _dense_layers(grown)[-1]
            ref = _act64(act, codes @ to_numpy(new.kernel) + to_numpy(new.bias))
            expect(
                np.allclose(to_numpy(grown(x)), ref, atol=1e-4),
                f"with activation={act!r} the new layer should compute activation(h @ W + b) on the codes h of the "
                "previous layer; check that it uses the `activation` argument and sits on encoder.output.",
            )

    def decoder_uses_its_activation():
        for i, (_, _, _, _, _, dec_act) in enumerate(configs):
            _, _, _, _, grown, decoder = run(i)
            denses = _dense_layers(decoder)
            expect(len(denses) == 1, f"the step decoder should be one Dense layer, found {len(denses)}.")
            z = tiny_vectors(4, int(decoder.input_shape[-1]), seed=i, scale=3.0)
            ref = _act64(dec_act, z.astype(np.float64) @ to_numpy(denses[0].kernel) + to_numpy(denses[0].bias))
            expect(
                np.allclose(to_numpy(decoder(z)), ref, atol=1e-4),
                f"with decoder_activation={dec_act!r} the step decoder should end in that activation: it must "
                "produce codes like those of the layer below.",
            )

    def trained_to_reconstruct_the_codes():
        for i in range(len(configs)):
            _, x, _, codes, grown, decoder = run(i)
            new, dec = _dense_layers(grown)[-1], _dense_layers(decoder)[0]
            expect(
                np.any(to_numpy(new.bias) != 0.0) and np.any(to_numpy(dec.bias) != 0.0),
                "a layer of the step has never been trained (its bias is still all zeros): fit the new layer and the "
                "step decoder together, then put that same layer object on top of the encoder.",
            )
            err = np.mean((to_numpy(decoder(grown(x))) - codes) ** 2)
            # the same two layers, freshly initialized: what the step starts from
            untrained = []
            for seed in range(3):
                keras.utils.set_random_seed(100 + seed)
                fresh_new = keras.layers.Dense.from_config(new.get_config())
                fresh_dec = keras.layers.Dense.from_config(dec.get_config())
                untrained.append(np.mean((to_numpy(fresh_dec(fresh_new(codes))) - codes) ** 2))
            expect(
                err < 0.5 * float(np.mean(untrained)),
                "decoder(grown encoder(x)) reconstructs the previous layer's codes no better than untrained layers: "
                "train the new layer and the step decoder together (fit on codes → codes, for `epochs` epochs, with "
                "Adam at learning rate `lr`), and use that same new layer in the grown encoder.",
            )

    return run_checks(
        "greedy step",
        [
            grown_encoder_maps_inputs_to_new_codes,
            returns_models_with_names,
            keeps_and_freezes_the_earlier_layers,
            new_layer_computes_activation_of_affine_map,
            decoder_uses_its_activation,
            trained_to_reconstruct_the_codes,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: a balanced few-label split
# --------------------------------------------------------------------------------------------------


def _pool(counts: dict[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first pixel is their row number (so a returned image can be traced), labels with `counts`."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.concatenate([np.full(n, c) for c, n in counts.items()])).astype("int64")
    x = rng.uniform(size=(len(y), 3, 3)).astype("float32")
    x[:, 0, 0] = np.arange(len(y))
    return x, y


def check_few_label_split(few_label_split: Callable[..., Any]) -> bool:
    """`few_label_split(x, y, n_labels, seed)` -> (x_few, y_few): n_labels / n_classes random images per class."""
    x, y = _pool({c: 30 + 7 * c for c in range(10)}, seed=0)
    odd_x, odd_y = _pool({2: 12, 5: 40, 9: 25}, seed=1)

    def split(xs, ys, n, seed):
        out = few_label_split(xs, ys, n, seed=seed)
        expect(isinstance(out, tuple) and len(out) == 2, "few_label_split should return a pair (x_few, y_few).")
        xf, yf = (np.asarray(a) for a in out)
        expect(
            xf.ndim == xs.ndim and xf.shape[1:] == xs.shape[1:] and yf.shape == (len(xf),),
            f"x_few should be images shaped like x ({xs.shape[1:]}) and y_few one label per image; got shapes "
            f"{xf.shape} and {yf.shape}. Return (x_few, y_few) in that order.",
        )
        return xf, yf

    def rows(xf):
        return xf[:, 0, 0].astype(np.int64)

    def balanced_counts():
        for xs, ys, n in ((x, y, 20), (x, y, 50), (odd_x, odd_y, 9), (odd_x, odd_y, 30)):
            xf, yf = split(xs, ys, n, 0)
            classes = np.unique(ys)
            counts = {int(c): int(np.sum(yf == c)) for c in classes}
            expect(
                len(xf) == n and set(counts.values()) == {n // len(classes)},
                f"asked for {n} labelled images of {len(classes)} classes, got {len(xf)} with per-class counts "
                f"{sorted(counts.values())}: take n_labels / n_classes images of *each* class (the classes are "
                "np.unique(y), not always 0–9).",
            )

    def images_come_from_the_pool_with_their_labels():
        for xs, ys in ((x, y), (odd_x, odd_y)):
            xf, yf = split(xs, ys, 3 * len(np.unique(ys)), 1)
            r = rows(xf)
            expect(
                np.all((r >= 0) & (r < len(xs))) and np.allclose(xf, xs[r]),
                "the returned images are not rows of the given x: draw the labelled images from the training pool "
                "you were given (never from the test set).",
            )
            expect(
                np.array_equal(yf, ys[r]),
                "the returned labels do not belong to the returned images: index x and y with the same indices.",
            )

    def no_duplicates():
        xf, _ = split(x, y, 200, 2)
        expect(len(np.unique(rows(xf))) == len(xf), "an image was picked twice: sample without replacement.")

    def random_and_reproducible():
        a, b, c = (rows(split(x, y, 30, s)[0]) for s in (3, 3, 4))
        first = np.concatenate([np.flatnonzero(y == k)[:3] for k in range(10)])
        expect(
            not np.array_equal(np.sort(a), np.sort(first)),
            "the split takes the first images of each class: draw them at random, otherwise every draw is the same.",
        )
        expect(
            np.array_equal(a, b),
            "the same seed gave two different splits: draw with "
            "np.random.default_rng(seed), not the global NumPy state.",
        )
        expect(
            not np.array_equal(np.sort(a), np.sort(c)),
            "different seeds gave the same images: the draw must "
            "depend on `seed` (the lab averages over several random draws).",
        )

    def leaves_the_inputs_alone():
        xc, yc = x.copy(), y.copy()
        split(xc, yc, 20, 5)
        expect(
            np.array_equal(xc, x) and np.array_equal(yc, y),
            "few_label_split modified x or y in place (e.g. "
            "shuffled them): work on indices and leave the training arrays unchanged.",
        )

    def rejects_impossible_requests():
        # 25 labels for 10 classes cannot be balanced; 13 per class is more than class 2 of the odd pool holds (12)
        for xs, ys, n, why in (
            (x, y, 25, "not a multiple of the number of classes"),
            (odd_x, odd_y, 39, "more per class than the smallest class holds"),
        ):
            try:
                few_label_split(xs, ys, n, seed=0)
            except ValueError:
                continue
            expect(
                False,
                f"n_labels={n} asks for {why}: raise a ValueError that says so instead of returning an "
                "unbalanced split.",
            )

    return run_checks(
        "few-label split",
        [
            leaves_the_inputs_alone,
            balanced_counts,
            images_come_from_the_pool_with_their_labels,
            no_duplicates,
            random_and_reproducible,
            rejects_impossible_requests,
        ],
    )
