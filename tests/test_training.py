"""Unit tests for course_utils.training.fit, the one fit helper (tiny dense models, a few epochs each)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils import training


def _data(n=64, d=8, seed=0):
    return np.random.default_rng(seed).random((n, d)).astype("float32")


def _model(seed=0, lr=1e-2, compiled=True):
    keras.utils.set_random_seed(seed)  # the same initial weights for the same seed
    inp = keras.Input((8,), name="x")
    code = keras.layers.Dense(3, activation="relu", name="code")(inp)
    model = keras.Model(inp, keras.layers.Dense(8, name="out")(code), name="autoencoder")
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    return model


class WeightsPerEpoch(keras.callbacks.Callback):
    """Keeps a copy of the weights at the end of every epoch (epoch k at index k - 1)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_early_stopping_restores_the_weights_of_the_best_epoch():
    x, x_val = _data(), _data(32, seed=1)
    model, seen = _model(), WeightsPerEpoch()
    # min_delta this large: no epoch after the first counts as an improvement, so epoch 1 stays the best
    history = training.fit(
        model, x, x, validation_data=(x_val, x_val), max_epochs=20, patience=2, min_delta=1e9, callbacks=[seen]
    )
    assert (history.stopped_by, history.best_epoch, history.epochs_run) == ("patience", 1, 3)
    assert _same(model.get_weights(), seen.weights[0]) and not _same(model.get_weights(), seen.weights[-1])


def test_best_epoch_is_the_lowest_validation_loss_and_its_weights_come_back_at_max_epochs():
    x, x_val = _data(), _data(32, seed=1)
    model, seen = _model(lr=0.05), WeightsPerEpoch()
    history = training.fit(
        model, x, x, validation_data=(x_val, x_val), max_epochs=6, patience=6, batch_size=16, callbacks=[seen]
    )
    val = history.history["val_loss"]
    assert history.stopped_by == "max_epochs" and history.epochs_run == len(val) == 6
    assert history.best_epoch == int(np.argmin(val)) + 1
    assert _same(model.get_weights(), seen.weights[history.best_epoch - 1])
    assert model.evaluate(x_val, x_val, verbose=0) == pytest.approx(min(val), rel=1e-5)


def test_validation_fraction_carves_from_the_training_data_and_leaves_the_arrays_alone(monkeypatch):
    x = _data(40)
    y = np.arange(40, dtype="float32")[:, None] * np.ones((1, 8), "float32")  # row i of y holds i: traceable
    x_before, y_before = x.copy(), y.copy()
    model, calls = _model(), []
    original = model.fit

    def spy(x_fit, y_fit, **kwargs):
        calls.append((x_fit, y_fit, kwargs["validation_data"]))
        return original(x_fit, y_fit, **kwargs)

    monkeypatch.setattr(model, "fit", spy)
    training.fit(model, x, y, validation_fraction=0.25, max_epochs=1, seed=3)
    ((x_fit, y_fit, (x_val, y_val)),) = calls
    assert np.array_equal(x, x_before) and np.array_equal(y, y_before)  # nothing changed in place
    assert (len(x_fit), len(x_val)) == (30, 10)
    rows_fit, rows_val = y_fit[:, 0].astype(int), y_val[:, 0].astype(int)
    assert sorted([*rows_fit, *rows_val]) == list(range(40))  # disjoint, together everything
    np.testing.assert_array_equal(x_fit, x[rows_fit])  # inputs and targets stay paired
    np.testing.assert_array_equal(x_val, x[rows_val])
    training.fit(model, x, y, validation_fraction=0.25, max_epochs=1, seed=3)  # the same seed, the same split
    np.testing.assert_array_equal(calls[-1][2][1], y_val)


def test_given_validation_data_is_passed_through_and_training_data_is_not_carved(monkeypatch):
    x, x_val = _data(40), _data(8, seed=1)
    model, calls = _model(), []
    original = model.fit

    def spy(x_fit, y_fit, **kwargs):
        calls.append((x_fit, kwargs["validation_data"]))
        return original(x_fit, y_fit, **kwargs)

    monkeypatch.setattr(model, "fit", spy)
    training.fit(model, x, x, validation_data=(x_val, x_val), max_epochs=1)
    ((x_fit, validation),) = calls
    assert x_fit is x and validation[0] is x_val and len(validation) == 2


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"validation_data": "both", "validation_fraction": 0.1}, "exactly one of validation_data"),
        ({}, "exactly one of validation_data"),
        ({"validation_fraction": 0.1, "monitor": "loss"}, "monitor a validation metric"),
        ({"validation_fraction": 1.5}, "strictly between 0 and 1"),
        ({"validation_fraction": 0.1, "patience": 0}, "must be positive"),
    ],
)
def test_bad_arguments_raise_with_the_fix(kwargs, phrase):
    x = _data(20)
    if kwargs.get("validation_data") == "both":
        kwargs["validation_data"] = (x, x)
    with pytest.raises(ValueError, match=phrase):
        training.fit(_model(), x, x, max_epochs=1, **kwargs)


def test_an_uncompiled_model_is_refused():
    x = _data(20)
    with pytest.raises(ValueError, match="compile 'autoencoder' first"):
        training.fit(_model(compiled=False), x, x, validation_fraction=0.2, max_epochs=1)


def test_a_metric_the_model_never_reports_is_refused():
    x = _data(20)
    with pytest.raises(ValueError, match="val_mae"):
        training.fit(_model(), x, x, validation_fraction=0.2, max_epochs=1, monitor="val_mae")


def test_time_budget_stops_training_and_says_so():
    x = _data(32)
    history = training.fit(_model(), x, x, validation_fraction=0.25, max_epochs=50, time_budget_s=1e-3)
    assert history.stopped_by == "time budget" and history.epochs_run == 1 and history.best_epoch == 1
    with pytest.raises(ValueError, match="positive number of seconds"):
        training.TimeBudget(0)


def test_the_same_seed_repeats_the_history_exactly():
    x = _data(48)

    def run(seed):
        h = training.fit(_model(), x, x, validation_fraction=0.25, max_epochs=2, patience=2, batch_size=8, seed=seed)
        return h.history

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first["loss"] != other["loss"]  # another seed shuffles and carves differently


def test_a_multi_loss_model_trains_without_targets():
    from course_utils.models import VAE

    keras.utils.set_random_seed(0)
    xi = keras.Input((8,))
    enc = keras.Model(xi, [keras.layers.Dense(2)(xi), keras.layers.Dense(2)(xi)], name="encoder")
    zi = keras.Input((2,))
    dec = keras.Model(zi, keras.layers.Dense(8)(zi), name="decoder")
    vae = VAE(enc, dec, name="vae")
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = (_data(32) > 0.5).astype("float32")
    history = training.fit(vae, x, validation_data=x[:8], max_epochs=2, batch_size=16)
    assert {"val_loss", "val_reconstruction_loss", "val_kl_loss"} <= set(history.history)
    assert history.stopped_by in ("patience", "max_epochs") and 1 <= history.best_epoch <= 2


def test_min_epochs_run_before_patience_counts_and_bound_the_best_epoch():
    x = _data()
    model = _model(lr=1e-6)  # a tiny step: the validation loss barely moves, patience 1 alone would stop at once
    history = training.fit(
        model, x, x, validation_data=(x, x), max_epochs=6, min_epochs=6, patience=1, batch_size=64, seed=0
    )
    assert history.epochs_run == 6 and history.best_epoch == 6
    with pytest.raises(ValueError, match="min_epochs"):
        training.fit(model, x, x, validation_data=(x, x), max_epochs=3, min_epochs=4)
