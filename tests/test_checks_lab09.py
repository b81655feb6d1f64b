"""Lab 09 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import run

from course_utils.checks import lab09

# ----------------------------------------------------------------------------------------------
# Reference solutions, written independently of the notebook, with switches for typical mistakes
# ----------------------------------------------------------------------------------------------


def make_windows(series, window, stride, start=0, stop=None, mistake=None):
    if mistake == "in-place":
        series -= 0.0  # harmless arithmetic, then a real in-place change
        series[0] = -1.0
    stop = len(series) if stop is None else stop
    if mistake == "ignore-stop":
        stop = len(series)
    if mistake == "ignore-start":
        start = 0
    last = stop - window + 1
    if mistake == "missing-last":
        last = stop - window
    if mistake == "partial-windows":
        last = stop - window + 1 + stride  # one window runs past stop (still inside the series)
    step = {"stride-one": 1, "stride-window": window}.get(mistake, stride)
    positions = list(range(start, last, step))
    if mistake == "split-after":  # windows of the whole series, kept when they *start* inside [start, stop)
        positions = [i for i in range(0, len(series) - window + 1, stride) if start <= i < stop]
    if not positions:
        if mistake == "empty":
            return np.zeros((0, window))
        raise ValueError("no window fits")
    length = window - 1 if mistake == "short" else window
    out = np.stack([np.asarray(series[i : i + length]) for i in positions])
    if mistake == "transposed":
        return out.T
    if mistake == "channel":
        return out[..., None]
    if mistake == "shuffled":
        return out[np.random.default_rng(0).permutation(len(out))]
    if mistake == "reversed":
        return out[:, ::-1]
    return out


def build_lstm(window, units=32, latent_dim=8, mistake=None):
    series = keras.Input((window,) if mistake == "no-channel" else (window, 1), name="window")
    h = keras.layers.Reshape((window, 1), name="add_channel")(series) if mistake == "no-channel" else series
    rnn = keras.layers.GRU if mistake == "gru" else keras.layers.LSTM
    if mistake == "no-repeat":
        h = rnn(units, return_sequences=True, name="encoder_lstm")(h)
        h = keras.layers.Dense(latent_dim, name="code")(h)
    else:
        h = rnn(units, return_sequences=mistake == "encoder-sequences", name="encoder_lstm")(h)
        if mistake != "no-code":
            h = keras.layers.Dense(3 * latent_dim if mistake == "code-size" else latent_dim, name="code")(h)
        h = keras.layers.RepeatVector(24 if mistake == "fixed-repeat" else window, name="repeat_code")(h)
    dec_units = units // 2 if mistake == "units" else units
    h = rnn(dec_units, return_sequences=mistake != "last-step", name="decoder_lstm")(h)
    if mistake == "last-step":  # one value copied along time
        h = keras.layers.RepeatVector(window, name="copy_along_time")(h)
    activation = {"sigmoid": "sigmoid", "relu": "relu"}.get(mistake)
    out = keras.layers.Dense(units if mistake == "no-output-dense" else 1, activation=activation, name="reconstruction")
    y = out(h)
    name = "autoencoder" if mistake == "model-name" else "lstm_autoencoder"
    if mistake == "default-names":
        x = keras.Input((window, 1))
        h = keras.layers.LSTM(units)(x)
        h = keras.layers.RepeatVector(window)(keras.layers.Dense(latent_dim)(h))
        return keras.Model(x, keras.layers.Dense(1)(keras.layers.LSTM(units, return_sequences=True)(h)), name=name)
    return keras.Model(series, y, name=name)


def choose_threshold(train_scores, val_scores, test_scores, fpr, mistake=None):
    val = np.asarray(val_scores, dtype=np.float64)
    n = len(val)
    k = int(np.ceil((1 - fpr) * n - 1e-9))
    if mistake == "max-train":
        return float(np.max(train_scores))
    if mistake == "mean-std-train":
        return float(np.mean(train_scores) + np.std(train_scores))
    if mistake == "test-quantile":
        return float(np.quantile(test_scores, 1 - fpr, method="inverted_cdf"))
    if mistake == "train-quantile":
        return float(np.quantile(train_scores, 1 - fpr, method="inverted_cdf"))
    if mistake == "pooled":
        return float(np.quantile(np.concatenate([train_scores, val, test_scores]), 1 - fpr, method="inverted_cdf"))
    if mistake == "max-val":
        return float(val.max())
    if mistake == "mean-std-val":
        return float(val.mean() + val.std())
    if mistake == "low-quantile":
        return float(np.quantile(val, fpr, method="inverted_cdf"))
    if mistake == "linear":
        return float(np.quantile(val, 1 - fpr))
    if mistake == "unsorted":
        return float(val[max(k, 1) - 1])
    if mistake == "in-place-sort":
        val_scores.sort()
        return float(val_scores[max(k, 1) - 1])
    if mistake == "array":
        return np.sort(val)[max(k, 1) - 1 :]
    ranked = np.sort(val)
    if mistake == "one-high":
        return float(ranked[min(k, n - 1)])
    if mistake == "one-low":
        return float(ranked[max(k - 2, 0)])
    if mistake == "floor":
        return float(ranked[max(int((1 - fpr) * n), 1) - 1])
    if mistake == "percent":
        return float(np.quantile(val, 100 * (1 - fpr)))
    return float(ranked[max(k, 1) - 1])


# ----------------------------------------------------------------------------------------------
# Exercise 1: windows
# ----------------------------------------------------------------------------------------------


def test_windows_pass_on_the_solution(capsys):
    ok, out = run(lab09.check_make_windows, make_windows, capsys=capsys)
    assert ok and "✔ make_windows" in out


WINDOW_MISTAKES = {
    "in-place": "in place",
    "ignore-stop": "past `stop`",
    "ignore-start": "begins before `start`",
    "missing-last": "last window that fits is missing",
    "partial-windows": "same shape",  # a ragged last window: np.stack fails, the crash hint stops the notebook
    "stride-one": "1 step apart",
    "stride-window": "`window` steps apart",
    "split-after": "past `stop`",
    "empty": "raise a ValueError",
    "short": "`window` = 5 values",
    "transposed": "transposed",
    "channel": "channel axis",
    "shuffled": "time order",
    "reversed": "contiguous stretch",
}


@pytest.mark.parametrize("mistake", sorted(WINDOW_MISTAKES))
def test_windows_catch_mistake(mistake, capsys):
    def student(series, window, stride, start=0, stop=None):
        return make_windows(series, window, stride, start=start, stop=stop, mistake=mistake)

    ok, out = run(lab09.check_make_windows, student, capsys=capsys)
    assert not ok
    assert WINDOW_MISTAKES[mistake] in out, out


def test_windows_not_done(capsys):
    def student(series, window, stride, start=0, stop=None):
        raise NotImplementedError("Exercise")

    ok, out = run(lab09.check_make_windows, student, capsys=capsys)
    assert not ok and "not implemented yet" in out


# ----------------------------------------------------------------------------------------------
# Exercise 2: the LSTM autoencoder
# ----------------------------------------------------------------------------------------------


def test_lstm_passes_on_the_solution(capsys):
    ok, out = run(lab09.check_lstm_autoencoder, build_lstm, capsys=capsys)
    assert ok and "✔ LSTM autoencoder" in out


LSTM_MISTAKES = {
    "no-channel": "keras.Input((window, 1))",
    "gru": "two LSTM layers",
    "no-repeat": "one RepeatVector",
    "encoder-sequences": "",  # RepeatVector on a sequence crashes: any hint that stops the notebook will do
    "no-code": "latent_dim=3",
    "code-size": "latent_dim=3",
    "fixed-repeat": "not a fixed length",
    "units": "`units` units",
    "last-step": "one RepeatVector",
    "sigmoid": "linear activation",
    "relu": "linear activation",
    "no-output-dense": "Dense(1)",
    "model-name": "lstm_autoencoder",
    "default-names": "name=",
}


@pytest.mark.parametrize("mistake", sorted(LSTM_MISTAKES))
def test_lstm_catches_mistake(mistake, capsys):
    def student(window, units=32, latent_dim=8):
        return build_lstm(window, units, latent_dim, mistake=mistake)

    ok, out = run(lab09.check_lstm_autoencoder, student, capsys=capsys)
    assert not ok
    assert LSTM_MISTAKES[mistake] in out, out


def test_lstm_flags_a_constant_output_along_time(capsys):
    def student(window, units=32, latent_dim=8):
        series = keras.Input((window, 1), name="window")
        h = keras.layers.LSTM(units, name="encoder_lstm")(series)
        code = keras.layers.Dense(latent_dim, name="code")(h)
        h = keras.layers.RepeatVector(window, name="repeat_code")(code)
        h = keras.layers.LSTM(units, return_sequences=True, name="decoder_lstm")(h)
        h = keras.layers.GlobalAveragePooling1D(keepdims=True, name="mean_over_time")(h)
        h = keras.layers.UpSampling1D(window, name="copy")(h)
        return keras.Model(series, keras.layers.Dense(1, name="reconstruction")(h), name="lstm_autoencoder")

    ok, out = run(lab09.check_lstm_autoencoder, student, capsys=capsys)
    assert not ok and "same at every time step" in out


# ----------------------------------------------------------------------------------------------
# Exercise 3: the threshold
# ----------------------------------------------------------------------------------------------


def test_threshold_passes_on_the_solution(capsys):
    ok, out = run(lab09.check_choose_threshold, choose_threshold, capsys=capsys)
    assert ok and "✔ choose_threshold" in out


def test_inverted_cdf_quantile_is_the_order_statistic():
    rng = np.random.default_rng(0)
    for n in range(1, 300):
        val = rng.permutation(np.arange(n, dtype=np.float64))
        for fpr in (0.0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.5):
            tau = np.quantile(val, 1 - fpr, method="inverted_cdf")
            assert np.sum(val > tau) <= round(fpr * n, 9) < np.sum(val >= tau), (n, fpr)


THRESHOLD_MISTAKES = {
    "max-train": "keras.io rule",
    "mean-std-train": "TensorFlow tutorial",
    "test-quantile": "test scores changed",
    "train-quantile": "training scores changed",
    "pooled": "changed",
    "max-val": "largest validation score",
    "mean-std-val": "mean + 1 std of the validation",
    "low-quantile": "1 - fpr quantile",
    "linear": "interpolates",
    "unsorted": "sort the validation scores first",
    "in-place-sort": "in place",
    "array": "one number",
    "one-high": "higher than needed",
    "one-low": "too low by one",
    "floor": "too low by one",
    "percent": "",  # np.quantile raises for q > 1: the crash hint stops the notebook
}


@pytest.mark.parametrize("mistake", sorted(THRESHOLD_MISTAKES))
def test_threshold_catches_mistake(mistake, capsys):
    def student(train_scores, val_scores, test_scores, fpr):
        return choose_threshold(train_scores, val_scores, test_scores, fpr, mistake=mistake)

    ok, out = run(lab09.check_choose_threshold, student, capsys=capsys)
    assert not ok
    assert THRESHOLD_MISTAKES[mistake] in out, out
