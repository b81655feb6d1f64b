"""Lab 02 self-checks: the model solutions pass, and typical mistakes are caught with the right hint."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import verdict
from keras import ops

from course_utils import layers
from course_utils.checks import lab02

# ----------------------------------------------------------------------------------------------
# Exercise 1: DenseTranspose, the model answer and its typical mistakes
# ----------------------------------------------------------------------------------------------


class GoodTranspose(keras.layers.Layer):
    """The notebook's answer: reads the Dense's kernel transposed, owns a bias and an activation."""

    def __init__(self, dense, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.dense.kernel.shape[0],), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.bias)


class NoTranspose(GoodTranspose):
    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.dense.kernel) + self.bias)


class CopiedKernel(GoodTranspose):
    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_weight(shape=tuple(self.dense.kernel.shape), name="kernel")
        self.kernel.assign(self.dense.kernel)

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.kernel)) + self.bias)


class NewKernel(GoodTranspose):
    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_weight(shape=(input_shape[-1], self.dense.kernel.shape[0]), name="kernel")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.kernel) + self.bias)


class NoBias(GoodTranspose):
    def build(self, input_shape):
        pass

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)))


class BorrowedBias(GoodTranspose):
    """Reuses the Dense's bias (wrong size except for square kernels)."""

    def build(self, input_shape):
        pass

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.dense.bias)


class BiasNotAdded(GoodTranspose):
    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)))


class IgnoresActivation(GoodTranspose):
    def call(self, inputs):
        return ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.bias


class DensesActivation(GoodTranspose):
    def call(self, inputs):
        return self.dense.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.bias)


class ActivationBeforeBias(GoodTranspose):
    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel))) + self.bias


class FrozenCopy(GoodTranspose):
    """Takes a constant snapshot of the kernel in build."""

    def build(self, input_shape):
        super().build(input_shape)
        self.frozen = ops.convert_to_tensor(keras.ops.convert_to_numpy(self.dense.kernel))

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.frozen)) + self.bias)


class StopGradient(GoodTranspose):
    def call(self, inputs):
        kernel = ops.stop_gradient(self.dense.kernel)
        return self.activation(ops.matmul(inputs, ops.transpose(kernel)) + self.bias)


class Keras2InputShape(GoodTranspose):
    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.dense.input_shape[-1],), initializer="zeros", name="bias")


class FrozenBias(GoodTranspose):
    def build(self, input_shape):
        self.bias = self.add_weight(
            shape=(self.dense.kernel.shape[0],), initializer="zeros", name="bias", trainable=False
        )


class WrongBiasSize(GoodTranspose):
    """A bias per *output* of the Dense; only fits where the mirror is square."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.dense.kernel.shape[1],), initializer="zeros", name="bias")

    def call(self, inputs):
        out = ops.matmul(inputs, ops.transpose(self.dense.kernel))
        return self.activation(out + ops.mean(self.bias))


def test_dense_transpose_teaching_answer_passes(capsys):
    assert verdict(lab02.check_dense_transpose, GoodTranspose), capsys.readouterr().out


def test_dense_transpose_package_copy_passes_within_two_seconds(capsys):
    assert verdict(lab02.check_dense_transpose, layers.DenseTranspose), capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (NoTranspose, "kernel transposed"),
        (CopiedKernel, "created a kernel of its own"),
        (NewKernel, "created a kernel of its own"),
        (NoBias, "no bias of its own"),
        (BorrowedBias, "no bias of its own"),
        (BiasNotAdded, "add the bias in `call`"),
        (IgnoresActivation, "own activation"),
        (DensesActivation, "applies the Dense's activation"),
        (ActivationBeforeBias, "activation after adding its bias"),
        (FrozenCopy, "not copy it"),
        (StopGradient, "decoder side is cut off"),
        (Keras2InputShape, "Keras 2 idiom"),
        (FrozenBias, "not trainable"),
        (WrongBiasSize, "one entry per input unit"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_dense_transpose_mistakes_are_caught(capsys, wrong, phrase):
    assert not verdict(lab02.check_dense_transpose, wrong)
    out = capsys.readouterr().out
    assert out.startswith("✘ DenseTranspose"), out
    assert phrase in out, out


def test_dense_transpose_not_implemented_is_reported(capsys):
    class Stub(keras.layers.Layer):
        def __init__(self, dense, activation=None, **kwargs):
            super().__init__(**kwargs)
            raise NotImplementedError("Exercise: ...")

    assert not verdict(lab02.check_dense_transpose, Stub)
    assert "not implemented" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# Exercise 2: one greedy step
# ----------------------------------------------------------------------------------------------


def good_greedy_step(
    encoder,
    x,
    units,
    activation="relu",
    decoder_activation=None,
    epochs=5,
    lr=1e-3,
    batch_size=256,
    *,
    freeze=True,
    train=True,
    on_codes=True,
    new_act=None,
    dec_act=None,
    rebuild=False,
    fresh_layer_in_grown=False,
    freeze_new=False,
    names=True,
    reconstruct_inputs=False,
):
    """The notebook's answer, with switches that reproduce typical mistakes."""
    n = sum(isinstance(layer, keras.layers.Dense) for layer in encoder.layers) + 1
    if freeze:
        encoder.trainable = False
    new_act = activation if new_act is None else new_act
    dec_act = decoder_activation if dec_act is None else dec_act
    new_layer = keras.layers.Dense(units, activation=new_act, name=f"greedy_enc_{n}")
    width = encoder.output_shape[-1] if not reconstruct_inputs else encoder.input_shape[-1]
    step_decoder_layer = keras.layers.Dense(width, activation=dec_act, name=f"greedy_dec_{n}")
    code_in = keras.Input(shape=(units,), name=f"code_{n}")
    decoder = keras.Model(code_in, step_decoder_layer(code_in), name=f"decoder_step_{n}" if names else "decoder")
    source = encoder
    if rebuild:
        inp = keras.Input(shape=encoder.input_shape[1:])
        h = inp
        for layer in encoder.layers[1:]:
            h = keras.layers.Dense(layer.units, activation=layer.activation)(h)
        source = keras.Model(inp, h)
    if on_codes:
        codes = source.predict(x, verbose=0)
        h_in = keras.Input(shape=(codes.shape[1],))
        step = keras.Model(h_in, decoder(new_layer(h_in)))
        targets = x if reconstruct_inputs else codes
        inputs = codes
    else:  # trains through the earlier layers, on the images
        step = keras.Model(source.input, decoder(new_layer(source.output)))
        inputs, targets = x, source.predict(x, verbose=0)
    if freeze_new:
        new_layer.trainable = False
    if train:
        step.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
        step.fit(inputs, targets, epochs=epochs, batch_size=batch_size, verbose=0)
    top = new_layer if not fresh_layer_in_grown else keras.layers.Dense(units, activation=new_act)
    grown = keras.Model(source.input, top(source.output), name=f"encoder_{n}" if names else "encoder")
    return grown, decoder


def _unfrozen_but_untouched(encoder, x, units, **kwargs):
    """Trains on codes (so the earlier weights cannot change) but never marks them frozen."""
    return good_greedy_step(encoder, x, units, freeze=False, **kwargs)


def _through_the_stack(encoder, x, units, **kwargs):
    """Trains new layer and earlier layers together (no freezing)."""
    return good_greedy_step(encoder, x, units, freeze=False, on_codes=False, **kwargs)


def _returns_only_grown(encoder, x, units, **kwargs):
    return good_greedy_step(encoder, x, units, **kwargs)[0]


def _returns_swapped(encoder, x, units, **kwargs):
    grown, decoder = good_greedy_step(encoder, x, units, **kwargs)
    return decoder, grown


def _new_layer_only(encoder, x, units, **kwargs):
    """Returns a model of the new layer on the codes instead of the grown encoder."""
    grown, decoder = good_greedy_step(encoder, x, units, **kwargs)
    new = grown.layers[-1]
    inp = keras.Input(shape=(encoder.output_shape[-1],))
    return keras.Model(inp, new(inp), name=grown.name), decoder


def _whole_model_frozen(encoder, x, units, **kwargs):
    grown, decoder = good_greedy_step(encoder, x, units, **kwargs)
    grown.trainable = False
    return grown, decoder


def test_greedy_step_answer_passes(capsys):
    assert verdict(lab02.check_greedy_step, good_greedy_step), capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (_unfrozen_but_untouched, "still marked trainable"),
        (_through_the_stack, "weights changed"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, rebuild=True, **k), "reuse the trained layers"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, train=False, **k), "never been trained"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, fresh_layer_in_grown=True, **k), "same layer object"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, freeze_new=True, **k), "new layer is frozen"),
        (_whole_model_frozen, "new layer is frozen"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, new_act="linear", **k), "`activation` argument"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, new_act="relu", **k), "`activation` argument"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, dec_act="linear", **k), "decoder_activation="),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, reconstruct_inputs=True, **k), "not the images"),
        (lambda e, x, u, **k: good_greedy_step(e, x, u, names=False, **k), "name the models"),
        (_returns_only_grown, "return a pair"),
        (_returns_swapped, "keras.Model(encoder.input"),
        (_new_layer_only, "original inputs"),
    ],
    ids=[
        "not-marked-frozen",
        "trains-earlier-layers",
        "rebuilds-stack",
        "not-trained",
        "fresh-layer-in-grown",
        "new-layer-frozen",
        "grown-model-frozen",
        "linear-new-layer",
        "ignores-activation",
        "ignores-decoder-activation",
        "reconstructs-images",
        "unnamed",
        "returns-one-model",
        "swapped-outputs",
        "new-layer-alone",
    ],
)
def test_greedy_step_mistakes_are_caught(capsys, wrong, phrase):
    assert not verdict(lab02.check_greedy_step, wrong)
    out = capsys.readouterr().out
    assert out.startswith("✘ greedy step"), out
    assert phrase in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3: a balanced few-label split
# ----------------------------------------------------------------------------------------------


def good_split(x, y, n_labels, seed=0):
    classes = np.unique(y)
    if n_labels % len(classes):
        raise ValueError(f"{n_labels} labels cannot be split evenly over {len(classes)} classes")
    per_class = n_labels // len(classes)
    rng = np.random.default_rng(seed)
    picks = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if per_class > len(members):
            raise ValueError(f"class {c} has only {len(members)} images, {per_class} requested")
        picks.append(rng.choice(members, size=per_class, replace=False))
    idx = rng.permutation(np.concatenate(picks))
    return x[idx], y[idx]


def _first_per_class(x, y, n_labels, seed=0):
    classes = np.unique(y)
    if n_labels % len(classes):
        raise ValueError("uneven")
    idx = np.concatenate([np.flatnonzero(y == c)[: n_labels // len(classes)] for c in classes])
    return x[idx], y[idx]


def _unbalanced(x, y, n_labels, seed=0):
    idx = np.random.default_rng(seed).choice(len(y), size=n_labels, replace=False)
    return x[idx], y[idx]


def _with_replacement(x, y, n_labels, seed=0):
    classes = np.unique(y)
    if n_labels % len(classes):
        raise ValueError("uneven")
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), n_labels // len(classes)) for c in classes])
    return x[idx], y[idx]


def _global_state(x, y, n_labels, seed=0):
    classes = np.unique(y)
    if n_labels % len(classes):
        raise ValueError("uneven")
    idx = np.concatenate(
        [np.random.choice(np.flatnonzero(y == c), n_labels // len(classes), replace=False) for c in classes]
    )
    return x[idx], y[idx]


def _fixed_seed(x, y, n_labels, seed=0):
    return good_split(x, y, n_labels, seed=0)


def _labels_shuffled_apart(x, y, n_labels, seed=0):
    xf, yf = good_split(x, y, n_labels, seed)
    return xf, np.random.default_rng(1).permutation(yf)


def _per_class_means_total(x, y, n_labels, seed=0):
    """Reads n_labels as a per-class count."""
    return good_split(x, y, n_labels * len(np.unique(y)), seed)


def _assumes_ten_classes(x, y, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    picks = [np.flatnonzero(y == c) for c in range(10)]
    idx = np.concatenate([rng.choice(p, size=min(n_labels // 10, len(p)), replace=False) for p in picks])
    return x[idx], y[idx]


def _no_divisibility_error(x, y, n_labels, seed=0):
    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), n_labels // len(classes), replace=False) for c in classes])
    return x[idx], y[idx]


def _caps_small_classes(x, y, n_labels, seed=0):
    """Takes what a small class has instead of refusing the request."""
    classes = np.unique(y)
    if n_labels % len(classes):
        raise ValueError("uneven")
    rng = np.random.default_rng(seed)
    idx = []
    for c in classes:
        members = np.flatnonzero(y == c)
        idx.append(rng.choice(members, size=min(n_labels // len(classes), len(members)), replace=False))
    idx = np.concatenate(idx)
    return x[idx], y[idx]


def _shuffles_in_place(x, y, n_labels, seed=0):
    order = np.random.default_rng(seed).permutation(len(y))
    x[:] = x[order]
    y[:] = y[order]
    return good_split(x, y, n_labels, seed)


def _swapped(x, y, n_labels, seed=0):
    xf, yf = good_split(x, y, n_labels, seed)
    return yf, xf


def _flattened(x, y, n_labels, seed=0):
    xf, yf = good_split(x, y, n_labels, seed)
    return xf.reshape(len(xf), -1), yf


def test_few_label_split_answer_passes(capsys):
    assert verdict(lab02.check_few_label_split, good_split), capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (_first_per_class, "first images of each class"),
        (_unbalanced, "of *each* class"),
        (_with_replacement, "without replacement"),
        (_global_state, "np.random.default_rng(seed)"),
        (_fixed_seed, "must depend on `seed`"),
        (_labels_shuffled_apart, "do not belong to the returned images"),
        (_per_class_means_total, "of *each* class"),
        (_assumes_ten_classes, "np.unique(y)"),
        (_no_divisibility_error, "not a multiple of the number of classes"),
        (_caps_small_classes, "more per class than the smallest class holds"),
        (_shuffles_in_place, "modified x or y in place"),
        (_swapped, "(x_few, y_few) in that order"),
        (_flattened, "shaped like x"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_few_label_split_mistakes_are_caught(capsys, wrong, phrase):
    assert not verdict(lab02.check_few_label_split, wrong)
    out = capsys.readouterr().out
    assert out.startswith("✘ few-label split"), out
    assert phrase in out, out
