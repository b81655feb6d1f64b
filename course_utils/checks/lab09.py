"""Self-checks for Lab 09 (sequence autoencoders and an honest anomaly threshold).

Each check runs the student's function on small deterministic inputs whose values reveal where they came from
(a window's values are its time steps; training, validation and test scores live in separate ranges), and names the
typical mistake it recognises. A check prints a pass line or a hint, never an expected value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import to_numpy

__all__ = ["check_make_windows", "check_lstm_autoencoder", "check_choose_threshold"]

OFFSET = 1000.0  # the probe series holds OFFSET + t at time t, so every value names its time step


# --------------------------------------------------------------------------------------------------
# Exercise 1: windows
# --------------------------------------------------------------------------------------------------


def check_make_windows(make_windows: Callable[..., Any]) -> bool:
    """`make_windows(series, window, stride, start=0, stop=None)` -> (n, window) windows inside series[start:stop]."""
    series = OFFSET + np.arange(40, dtype=np.float64)

    def call(window: int, stride: int, start: int = 0, stop: int | None = None, length: int = 40) -> np.ndarray:
        probe = series[:length].copy()
        out = make_windows(probe, window, stride, start=start, stop=stop)
        expect(
            np.array_equal(probe, series[:length]),
            "make_windows changed the series it was given (in place): read it, do not modify it.",
        )
        out = np.asarray(to_numpy(out, dtype=None))
        expect(out.ndim != 3, f"got shape {out.shape}: return (n_windows, window); the model adds the channel axis.")
        expect(out.ndim == 2, f"make_windows should return a 2-D array (n_windows, window), got shape {out.shape}.")
        return out

    def expected_starts(window, stride, start, stop):
        return np.arange(start, stop - window + 1, stride)

    def windows_have_the_right_shape():
        out = call(5, 2)
        n = len(expected_starts(5, 2, 0, 40))
        expect(
            out.shape != (5, n),
            "the array is transposed: one row per window, shape (n_windows, window), not (window, n_windows).",
        )
        expect(
            out.shape[1] == 5,
            f"each window should hold `window` = 5 values, got {out.shape[1]}: take series[i : i + window].",
        )

    def windows_are_contiguous_stretches_in_time_order():
        out = call(6, 3)
        steps = out - OFFSET
        expect(
            np.allclose(np.diff(steps, axis=1), 1.0),
            "a window is not a contiguous stretch series[i : i + window] (reversed, shuffled or strided inside).",
        )
        expect(
            np.all(np.diff(steps[:, 0]) > 0),
            "the windows are not in time order: keep them sorted by start (no shuffling here).",
        )

    def count_and_stride():
        for window, stride in ((5, 2), (6, 3), (4, 1), (3, 5), (8, 8), (7, 4)):
            out = call(window, stride)
            want = expected_starts(window, stride, 0, 40)
            got = np.rint(out[:, 0] - OFFSET).astype(int)
            if len(got) > 1:
                step = int(np.median(np.diff(got)))
                expect(
                    step == stride or stride == 1 or step != 1,
                    "consecutive windows start 1 step apart: use the stride (positions start, start + stride, …).",
                )
                expect(
                    step == stride or step != window,
                    "consecutive windows start `window` steps apart: they should start `stride` steps apart.",
                )
                expect(step == stride, f"consecutive windows should start `stride` = {stride} steps apart.")
            expect(
                len(got) != len(want) - 1,
                "the last window that fits is missing: a window may end exactly at the end (positions up to and "
                "including len - window, i.e. range(start, stop - window + 1, stride)).",
            )
            expect(
                len(got) == len(want),
                f"{len(got)} windows of length {window} with stride {stride} in a series of 40 points: count "
                "floor((T - window) / stride) + 1, and never let a window run past the end.",
            )

    def start_and_stop_bound_every_window():
        for window, stride, start, stop in ((4, 3, 0, 20), (5, 2, 12, 40), (4, 3, 5, 21), (6, 1, 10, 30)):
            out = call(window, stride, start, stop)
            got = np.rint(out - OFFSET).astype(int)
            expect(
                got.min() >= start,
                f"with start={start} a window begins before `start`: the first window starts at `start`.",
            )
            expect(
                got.max() < stop,
                f"with stop={stop} a window reaches past `stop`: every window must lie inside series[start:stop], so "
                "none crosses a split boundary.",
            )
            want = expected_starts(window, stride, start, stop)
            expect(
                np.array_equal(got[:, 0], want),
                f"the windows of series[{start}:{stop}] should start at start, start + stride, … (the last one "
                "ending at or before stop).",
            )

    def a_split_leaves_no_window_across_the_cut():
        before, after = call(8, 3, stop=25), call(8, 3, start=25)
        expect(
            (before - OFFSET).max() < 25 and (after - OFFSET).min() >= 25,
            "a window crosses the split at t = 25: window the two parts separately.",
        )

    def raises_when_no_window_fits():
        try:
            out = make_windows(series[:6].copy(), 8, 1)
        except ValueError:
            return
        expect(
            False,
            f"a series of 6 points cannot hold a window of 8, yet make_windows returned {type(out).__name__}: raise "
            "a ValueError that says so.",
        )

    return run_checks(
        "make_windows",
        [
            windows_have_the_right_shape,
            windows_are_contiguous_stretches_in_time_order,
            count_and_stride,
            start_and_stop_bound_every_window,
            a_split_leaves_no_window_across_the_cut,
            raises_when_no_window_fits,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: the LSTM autoencoder
# --------------------------------------------------------------------------------------------------

_DEFAULT_NAME = re.compile(r"^(input_layer|lstm|gru|simple_rnn|dense|repeat_vector|time_distributed)(_\d+)?$")


def check_lstm_autoencoder(build_lstm_autoencoder: Callable[..., Any]) -> bool:
    """`build_lstm_autoencoder(window, units, latent_dim)` -> keras.Model (window, 1) → (window, 1)."""
    import keras

    built: dict[int, Any] = {}

    def model(window: int = 12):
        if window not in built:
            keras.utils.set_random_seed(window)
            m = build_lstm_autoencoder(window, units=6, latent_dim=3)
            expect(isinstance(m, keras.Model), f"build_lstm_autoencoder should return a keras.Model, got {type(m)}.")
            built[window] = m
        return built[window]

    def kinds(m, cls):
        return [layer for layer in m.layers if isinstance(layer, cls)]

    def input_and_output_shapes():
        for window in (12,):
            m = model(window)
            expect(
                tuple(m.input_shape) == (None, window, 1),
                f"the input should be keras.Input((window, 1)) (one value per step), got {m.input_shape}.",
            )
            out = tuple(m.output_shape)
            expect(
                len(out) == 3,
                f"the output has shape {out}: the decoder LSTM must return the whole sequence "
                "(return_sequences=True), one output per time step.",
            )
            expect(
                out[1] == window,
                f"for window={window} the output has {out[1]} steps: RepeatVector(window) must use the argument, "
                "not a fixed length.",
            )
            expect(out[2] == 1, f"the output has {out[2]} values per step: end with Dense(1), one value per step.")

    def repeat_vector_copies_the_code_window_times():
        for window in (12,):
            m = model(window)
            repeats = kinds(m, keras.layers.RepeatVector)
            expect(
                len(repeats) == 1,
                "use one RepeatVector between encoder and decoder: the code is a single vector, copied to every step.",
            )
            expect(repeats[0].n == window, f"RepeatVector repeats {repeats[0].n} times, the window has {window} steps.")
            code_shape = tuple(repeats[0].input.shape)
            expect(
                len(code_shape) == 2,
                f"RepeatVector receives shape {code_shape}: the encoder must end in one vector per window "
                "(encoder LSTM with return_sequences=False, then the Dense code).",
            )
            expect(
                code_shape[-1] == 3,
                f"the code has {code_shape[-1]} numbers with latent_dim=3: put Dense(latent_dim) before RepeatVector.",
            )

    def two_lstms_of_the_given_size():
        m = model(12)
        lstms = kinds(m, keras.layers.LSTM)
        expect(len(lstms) == 2, f"expected two LSTM layers (encoder and decoder), found {len(lstms)}.")
        expect(all(layer.units == 6 for layer in lstms), "both LSTM layers should have `units` units (units=6 here).")
        encoder, decoder = lstms
        expect(not encoder.return_sequences, "the encoder LSTM should return only its last output.")
        expect(decoder.return_sequences, "the decoder LSTM should return its whole sequence (return_sequences=True).")

    def reconstructs_every_step_of_the_window():
        m = model(12)
        x = np.random.default_rng(0).normal(size=(5, 12, 1)).astype("float32")
        y = to_numpy(m(x, training=False))
        expect(y.shape == (5, 12, 1) and np.all(np.isfinite(y)), f"on 5 windows the output is {y.shape} or not finite.")
        expect(
            float(np.std(y, axis=1).max()) > 1e-6,
            "the output is the same at every time step: reconstruct the full window (decoder LSTM over the "
            "repeated code, return_sequences=True), not one value copied along time.",
        )
        y2 = to_numpy(m(x + 1.0, training=False))
        expect(not np.allclose(y, y2), "the output does not depend on the input window: connect the layers to it.")

    def output_is_linear():
        m = model(12)
        last = m.layers[-1]
        weights = last.get_weights()
        expect(len(weights) == 2, "the last layer should be the Dense(1) output (with a bias).")
        last.set_weights([np.zeros_like(weights[0]), np.full_like(weights[1], -2.5)])
        try:
            y = to_numpy(m(np.zeros((2, 12, 1), "float32"), training=False))
        finally:
            last.set_weights(weights)
        expect(
            np.allclose(y, -2.5, atol=1e-5),
            "the output cannot reach a value of -2.5: standardised series are negative half the time, so the last "
            "Dense(1) needs a linear activation (no sigmoid, tanh or relu).",
        )

    def named_model_and_layers():
        m = model(12)
        expect(m.name == "lstm_autoencoder", f"name the model 'lstm_autoencoder' (it is called {m.name!r}).")
        unnamed = [layer.name for layer in m.layers if _DEFAULT_NAME.match(layer.name)]
        expect(not unnamed, f"give every layer a name= (these kept Keras' default names: {unnamed}).")

    return run_checks(
        "LSTM autoencoder",
        [
            input_and_output_shapes,
            repeat_vector_copies_the_code_window_times,
            two_lstms_of_the_given_size,
            reconstructs_every_step_of_the_window,
            output_is_linear,
            named_model_and_layers,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: the threshold
# --------------------------------------------------------------------------------------------------


def _scores(n: int, seed: int, low: float, high: float) -> np.ndarray:
    """n distinct scores in [low, high), in random order."""
    rng = np.random.default_rng(seed)
    return low + (high - low) * rng.permutation(np.linspace(0.0, 1.0, n, endpoint=False) + rng.uniform(0, 1e-3, n) / n)


def check_choose_threshold(choose_threshold: Callable[..., Any]) -> bool:
    """`choose_threshold(train_scores, val_scores, test_scores, fpr)` -> τ from the validation scores only."""
    train = _scores(60, 1, 0.0, 1.0)  # training errors: the smallest
    test = _scores(50, 3, 0.5, 6.0)  # test scores: a mix, larger

    def call(val: np.ndarray, fpr: float, tr: np.ndarray = train, te: np.ndarray = test) -> float:
        copies = [a.copy() for a in (tr, val, te)]
        tau = choose_threshold(tr, val, te, fpr)
        expect(
            all(np.array_equal(a, b) for a, b in zip(copies, (tr, val, te))),
            "choose_threshold changed a score array in place (e.g. val_scores.sort()): use np.sort, which copies.",
        )
        arr = np.asarray(to_numpy(tau))
        expect(arr.size == 1, f"return one number, the threshold, not an array of shape {arr.shape}.")
        return float(arr.reshape(()))

    def uses_only_the_validation_scores():
        val = _scores(40, 2, 0.8, 2.0)
        tau = call(val, 0.1)
        expect(
            not np.isclose(tau, train.max()),
            "τ is the largest training error: that is the keras.io rule, which sets no false-positive rate; use the "
            "validation scores.",
        )
        expect(
            not np.isclose(tau, train.mean() + train.std()),
            "τ is mean + 1 std of the training errors: that is the TensorFlow tutorial's rule; use a quantile of "
            "the validation scores.",
        )
        for what, kwargs in (("test", {"te": test * 3 + 1}), ("training", {"tr": train * 0.5})):
            expect(
                np.isclose(call(val, 0.1, **kwargs), tau),
                f"τ changed when only the {what} scores changed: the threshold must come from the validation scores "
                + ("alone (the test set is for the final numbers only)." if what == "test" else "alone."),
            )

    def validation_quantile_at_the_target_rate():
        cases = ((40, 0.1), (37, 0.05), (100, 0.05), (20, 0.05), (7, 0.2), (250, 0.01), (33, 0.1), (16, 0.0))
        for k, (n, fpr) in enumerate(cases):
            val = _scores(n, 10 + k, 0.8, 2.0)
            tau = call(val, fpr)
            allowed = round(fpr * n, 9)
            above, at_or_above = int(np.sum(val > tau)), int(np.sum(val >= tau))
            if np.any(np.isclose(tau, val, rtol=0, atol=1e-12)) and above <= allowed < at_or_above:
                continue
            k = max(int(np.ceil((1 - fpr) * n - 1e-9)), 1)
            near = np.sort(val)[max(k - 2, 0) : k + 1]  # the unsorted k-th may by chance sit next to the right one
            expect(
                not np.isclose(tau, val[k - 1]) or np.isclose(tau, near).any(),
                "τ is the k-th score of the unsorted array: sort the validation scores first.",
            )
            expect(
                not np.isclose(tau, val.max()) or allowed < 2,
                "τ is the largest validation score, which flags no validation window at all: aim for a fraction "
                "`fpr` above τ.",
            )
            expect(
                not np.isclose(tau, val.mean() + val.std()),
                "τ is mean + 1 std of the validation scores: that sets no false-positive rate; take a quantile.",
            )
            expect(
                not np.isclose(tau, np.quantile(val, fpr, method="inverted_cdf")),
                "τ is the `fpr` quantile, at the low end: it flags most windows; use the 1 - fpr quantile.",
            )
            expect(
                np.any(np.isclose(tau, val, rtol=0, atol=1e-12)),
                "τ is not one of the validation scores: take the order statistic s_(k) (np.sort, or np.quantile with "
                "method='inverted_cdf'); np.quantile's default interpolates between two scores.",
            )
            expect(
                above <= allowed,
                f"with fpr={fpr} and {n} validation scores, more than a fraction fpr of them lie above τ: the rank is "
                "too low by one or more (k = ceil((1 - fpr)·n), 1-based; floor rounds the wrong way).",
            )
            expect(
                at_or_above > allowed,
                f"with fpr={fpr} and {n} validation scores τ is higher than needed (fewer than allowed above it): "
                "off by one in the rank (k = ceil((1 - fpr)·n) is 1-based: index k - 1).",
            )

    def ties_are_handled():
        val = np.repeat(_scores(10, 5, 0.8, 2.0), 4)  # 40 scores, each value four times
        tau = call(val, 0.1)
        expect(
            np.sum(val > tau) <= 4 and np.any(np.isclose(tau, val)),
            "with tied validation scores τ lets more than a fraction fpr lie above it.",
        )

    return run_checks(
        "choose_threshold",
        [uses_only_the_validation_scores, validation_quantile_at_the_target_rate, ties_are_handled],
    )
