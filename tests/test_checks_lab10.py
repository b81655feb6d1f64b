"""Lab 10 checks: each passes on a correct solution and names the typical mistakes it is given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import run
from scipy.stats import rankdata

from course_utils import data
from course_utils.checks import lab10

# ----------------------------------------------------------------------------------------------
# Reference solutions, written independently of the notebook, with switches for typical mistakes
# ----------------------------------------------------------------------------------------------


def split(x_train, y_train, x_test, y_test, normal, n_train, seed=0, mistake=None):
    if mistake == "in-place":
        np.random.default_rng(seed).shuffle(x_train)
    keep = y_train != normal if mistake == "anomalies-train" else y_train == normal
    if mistake == "class-zero":
        keep = y_train == 0
    if mistake == "all-classes":
        keep = np.ones(len(y_train), dtype=bool)
    x_normal = x_train[keep]
    if mistake == "val-from-test":
        x_fit, x_val = x_normal, x_test[y_test == normal]
    elif mistake == "val-from-all":
        x_fit = x_normal
        _, _, x_val, _ = data.split_validation(x_train, y_train, fraction=0.1, seed=seed)
    elif mistake == "val-is-train":
        x_fit = x_val = x_normal
    elif mistake == "cap-before-val":
        x_fit, _, x_val, _ = data.split_validation(x_normal[:n_train], np.zeros(min(n_train, len(x_normal))), 0.1)
    elif mistake == "global-rng":
        order = np.random.permutation(len(x_normal))
        n_val = max(1, round(0.1 * len(x_normal)))
        x_val, x_fit = x_normal[order[:n_val]], x_normal[order[n_val:]]
    else:
        x_fit, _, x_val, _ = data.split_validation(x_normal, np.zeros(len(x_normal)), fraction=0.1, seed=seed)
    if mistake != "no-cap":
        x_fit = x_fit[:n_train]
    labels = (y_test != normal).astype("int64")
    x_te = x_test
    if mistake == "inverted":
        labels = 1 - labels
    elif mistake == "class-ids":
        labels = y_test
    elif mistake == "normal-test-only":
        x_te, labels = x_test[y_test == normal], labels[y_test == normal]
    elif mistake == "shuffled-test":
        order = np.random.default_rng(0).permutation(len(x_test))
        x_te = x_test[order]
    elif mistake == "wrong-order":
        return x_fit, x_val, labels, x_te
    return x_fit, x_val, x_te, labels


def mse_score(autoencoder, x, batch_size=256, mistake=None):
    x = np.asarray(x, dtype="float32")
    if mistake == "first-batch":
        x = x[:batch_size]
    if mistake == "training":
        x_hat = np.concatenate(
            [np.asarray(autoencoder(x[i : i + batch_size], training=True)) for i in range(0, len(x), batch_size)]
        )
    elif mistake == "self":
        x_hat = x
    else:
        x_hat = autoencoder.predict(x, batch_size=batch_size, verbose=0)
    d = x_hat - x
    if mistake == "no-reduction":
        return d**2
    if mistake == "last-axis":
        return (d**2).mean(axis=-1)
    if mistake == "batch-mean":
        return float((d**2).mean())
    if mistake == "abs":
        return np.abs(d).mean(axis=(1, 2, 3))
    if mistake == "sum":
        return (d**2).sum(axis=(1, 2, 3))
    if mistake == "mean-first":
        return d.mean(axis=(1, 2, 3)) ** 2
    mse = (d**2).mean(axis=(1, 2, 3))
    if mistake == "negative":
        return -mse
    if mistake == "psnr":
        return 10 * np.log10(1.0 / mse)
    if mistake == "sqrt":
        return np.sqrt(mse)
    if mistake == "squeeze":
        return np.squeeze(mse)
    return mse


def auroc(labels, scores, mistake=None):
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    pos = labels == 1
    if mistake != "no-error" and (pos.all() or not pos.any()):
        raise ValueError("auroc needs both anomalies (1) and normal images (0).")
    n1, n0, n = int(pos.sum()), int((~pos).sum()), len(labels)
    if mistake == "pairs-strict":
        return float((scores[pos][:, None] > scores[~pos][None, :]).mean())
    if mistake == "pairs-ge":
        return float((scores[pos][:, None] >= scores[~pos][None, :]).mean())
    method = {"ordinal": "ordinal", "min-rank": "min", "max-rank": "max", "dense": "dense"}.get(mistake, "average")
    ranks = rankdata(scores, method=method)
    if mistake == "zero-based":
        ranks = ranks - 1
    if mistake == "argsort-once":
        ranks = np.argsort(scores) + 1.0
    if mistake == "descending":
        ranks = rankdata(-scores)
    if mistake == "normal-ranks":
        pos = ~pos
        n1, n0 = n0, n1
    r1 = ranks[pos].sum()
    u = r1 if mistake == "no-subtract" else r1 - n1 * (n1 + 1) / 2
    if mistake == "unnormalized":
        return float(u)
    if mistake == "divide-n2":
        return float(u / n**2)
    if mistake == "no-error" and (n1 == 0 or n0 == 0):
        return float("nan")
    return float(u / (n1 * n0))


# ----------------------------------------------------------------------------------------------
# Exercise 1
# ----------------------------------------------------------------------------------------------


def test_split_passes_on_correct_solution(capsys):
    ok, out = run(lab10.check_one_class_split, split, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ one-class split")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("in-place", "in place"),
        ("anomalies-train", "other classes"),
        ("class-zero", "other classes"),
        ("all-classes", "other classes"),
        ("val-from-test", "holds test images"),
        ("val-from-all", "other classes"),
        ("val-is-train", "both in training and in validation"),
        ("cap-before-val", "carved before n_train"),
        ("no-cap", "at most"),
        ("global-rng", "same seed"),
        ("inverted", "inverted"),
        ("class-ids", "binary"),
        ("normal-test-only", "whole test"),
        ("shuffled-test", "original order"),
        ("wrong-order", "in that order"),
    ],
)
def test_split_catches_mistakes(mistake, hint, capsys):
    def student(*args, **kwargs):
        args = [a.copy() if isinstance(a, np.ndarray) and mistake != "in-place" else a for a in args]
        return split(*args, **kwargs, mistake=mistake)

    ok, out = run(lab10.check_one_class_split, student, capsys=capsys)
    assert not ok
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 2
# ----------------------------------------------------------------------------------------------


def test_mse_score_passes_on_correct_solution(capsys):
    ok, out = run(lab10.check_mse_score, mse_score, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ reconstruction-error score")


def test_mse_score_passes_with_a_direct_call(capsys):
    def direct(autoencoder, x, batch_size=256):
        return np.mean(np.square(np.asarray(autoencoder(x, training=False)) - x), axis=(1, 2, 3))

    ok, out = run(lab10.check_mse_score, direct, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("batch-mean", "single number"),
        ("squeeze", "batch of one"),
        ("no-reduction", "every axis but the first"),
        ("last-axis", "every axis but the first"),
        ("negative", "higher must mean more anomalous"),
        ("psnr", "differ from the mean"),
        ("self", "compare the input with the model's reconstruction"),
        ("abs", "mean absolute error"),
        ("sqrt", "no sqrt"),
        ("sum", "summed over the pixels"),
        ("mean-first", "squares the mean difference"),
        ("first-batch", "not only the first one"),
        ("training", "inference mode"),
    ],
)
def test_mse_score_catches_mistakes(mistake, hint, capsys):
    ok, out = run(
        lab10.check_mse_score, lambda m, x, batch_size=256: mse_score(m, x, batch_size, mistake), capsys=capsys
    )
    assert not ok
    assert hint in out, out


# ----------------------------------------------------------------------------------------------
# Exercise 3
# ----------------------------------------------------------------------------------------------


def test_auroc_passes_on_correct_solution(capsys):
    ok, out = run(lab10.check_auroc_by_ranking, auroc, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ AUROC by ranking")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("ordinal", "mid-ranks"),
        ("min-rank", "mid-ranks"),
        ("max-rank", "mid-ranks"),
        ("dense", "mid-ranks"),
        ("pairs-strict", "counts ½, not 0"),
        ("pairs-ge", "counts ½, not 1"),
        ("zero-based", "0-based ranks"),
        ("argsort-once", "argsort gives the order"),
        ("descending", "1 − AUROC"),
        ("normal-ranks", "1 − AUROC"),
        ("no-subtract", "subtract n₁(n₁ + 1)/2"),
        ("unnormalized", "divide U by n₁·n₀"),
        ("divide-n2", "not by n²"),
        ("no-error", "raise a ValueError"),
    ],
)
def test_auroc_catches_mistakes(mistake, hint, capsys):
    ok, out = run(lab10.check_auroc_by_ranking, lambda y, s: auroc(y, s, mistake), capsys=capsys)
    assert not ok
    assert hint in out, out


def test_checks_leave_keras_usable():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert model(np.zeros((1, 2), "float32")).shape == (1, 1)
